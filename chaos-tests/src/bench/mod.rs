//! Benchmarks against real tracker processes and peer daemons on 127.0.0.1. Each scenario
//! starts what it needs in a temporary directory, runs for a bounded time, stops every process
//! it started, and prints one JSON object per result line followed by a short table.
//!
//! # Layout
//! - Scenarios: [`transfer`], [`sizes`], [`swarm`] (peer daemons); [`writes`], [`reads`],
//!   [`failover`], [`heartbeats`], [`ops`] (tracker cluster driven by `TrackerClient`s); [`etcd`] (the tracker's writes
//!   and etcd's puts in alternating rounds of one run).
//! - [`fixture`]: the cluster plus users, sessions, a group, peers and files to measure against.
//! - [`load`]: closed-loop clients that log every request.
//! - [`heartbeat_sim`]: many simulated peers multiplexed over a few connections.
//! - [`stats`]: percentiles, JSON lines, tables. [`procfs`]: CPU and memory from /proc.
//! - [`scraper`]: `/metrics` scraped every N ms during a run (`bench writes --scrape-metrics-ms`).

pub mod etcd;
pub mod failover;
pub mod fixture;
pub mod heartbeat_sim;
pub mod heartbeats;
pub mod load;
pub mod ops;
pub mod procfs;
pub mod reads;
pub mod scraper;
pub mod sizes;
pub mod stats;
pub mod swarm;
pub mod transfer;
pub mod writes;
