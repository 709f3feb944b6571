//! A tracker node: one member of the Raft group that replicates users, sessions, groups, files
//! and chunk availability.
//!
//! # Layout
//! - [`raft_types`]: openraft type config and the replicated command.
//! - [`store`]: sled log store, state machine, snapshots, digest.
//! - [`domain`]: the rules (pure, deterministic) and the reads.
#![warn(clippy::unwrap_used)]

pub mod domain;
pub mod raft_types;
pub mod store;
