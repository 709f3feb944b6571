//! Integration tests: real tracker processes and real peer daemons on 127.0.0.1.

mod cli_flow;
mod cli_json;
mod discovery;
mod disk_safety;
mod duplicates;
mod faults;
mod find;
mod group_admin;
mod http_client;
mod http_guard;
mod http_walk;
mod limits;
mod links;
mod openapi_check;
mod pages;
mod peer_tls;
mod schemathesis;
mod seeder_bounds;
mod shell;
mod source_choice;
mod swarm;
mod tickets;
mod unpublish;
mod util;
mod web_ui;
mod webdriver;
