//! A tracker node: one member of the Raft group that replicates users, sessions, groups, files
//! and chunk availability.
//!
//! # Layout
//! - [`config`]: flags and their validation.
//! - [`node`]: wiring and lifecycle of one node.
//! - [`raft_types`]: openraft type config and the replicated command.
//! - [`store`]: sled log store, state machine, snapshots, digest.
//! - [`domain`]: the rules (pure, deterministic) and the reads.
//! - [`raft_net`]: Raft RPCs over TCP.
//! - [`api`] and [`app`]: the client API.
//! - [`liveness`]: peer heartbeats and batched offline marking.
//! - [`election_watchdog`]: breaks split-vote ties.
#![warn(clippy::unwrap_used)]

pub mod api;
pub mod app;
pub mod config;
pub mod domain;
pub mod election_watchdog;
pub mod liveness;
pub mod node;
pub mod raft_net;
pub mod raft_types;
pub mod store;
