//! Wire protocol shared by trackers, peers, `cluster` and the tests, plus the failover-aware
//! tracker client.
//!
//! # Layout
//! - [`types`]: value types shared by messages and tickets (the SHA-1 digest).
//! - [`frame`]: length-prefixed frames with a maximum size, and the bincode codec.
//! - [`error`]: [`ApiError`], the only error type that crosses the wire.
//! - [`tracker_msg`]: the client API's requests and responses; [`digest_list`]: how a manifest's
//!   chunk digests are encoded.
//! - [`ticket`]: the signed download ticket a seeder checks.
//! - [`peer_msg`]: the peer-to-peer frames.
//! - [`connection`]: one multiplexed TCP connection to a tracker (several requests in flight).
//! - [`shutdown`]: waiting for SIGTERM/SIGINT in every long-running binary.
//! - The global allocator of every binary in the workspace (mimalloc; see below).
//! - [`client`]: [`TrackerClient`], which follows the leader, fails over and retries writes with
//!   the same client id and serial number.
#![warn(clippy::unwrap_used, missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod client;
pub mod connection;
pub mod digest_list;
pub mod error;
pub mod frame;
pub mod peer_msg;
pub mod shutdown;
pub mod ticket;
pub mod tracker_msg;
pub mod types;

pub use client::{ClientConfig, TrackerClient};
pub use error::ApiError;
pub use tracker_msg::{ReplyMeta, Request, Response};

/// mimalloc for every binary in the workspace (each links this crate), so a peer or node run
/// inside `bench` or `chaos` allocates as the shipped `peer` and `tracker` do. glibc's malloc
/// gives each allocating thread an arena of its own, and memory freed on a node's Raft, apply and
/// sled threads stayed there, so a leader with a million peers held far more memory with glibc
/// and wrote less per second (see chaos-tests/reports/2026-11-22.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
