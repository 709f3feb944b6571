//! Integration tests: real tracker processes on 127.0.0.1, started through the `cluster` binary.

mod auth;
mod cli;
mod conn_limits;
mod failover;
mod formation;
mod http;
mod liveness;
mod login_throttle;
mod malformed;
mod members;
mod peer_prune;
mod quotas;
mod restored_leader;
mod security;
mod session_prune;
mod snapshot_backup;
mod snapshot_rejoin;
mod util;
mod validation;
