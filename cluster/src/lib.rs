//! Launching and administering tracker clusters on one machine; shared by the `cluster` binary,
//! the integration tests and the chaos suite.
//!
//! # Layout
//! - [`cluster_file`]: `DIR/cluster.json`, what `cluster up` records for scripts.
//! - [`http_probe`]: a minimal GET client for a tracker's HTTP surface (tests, benchmarks).
//! - [`pki`]: the cluster CA, node certificates and the admin credential, as files in DIR.
//! - [`process`]: spawning tracker processes, signalling and reaping them by PID.
//! - [`peer_process`]: peers as separate processes (demo, benchmarks, chaos runs).
//! - [`local`]: [`local::LocalCluster`], N trackers on 127.0.0.1 with their own data dirs.
//! - [`members`]: listing, adding (learner, caught up, voter) and removing members of any cluster.
//! - [`snapshot`]: saving a snapshot file from a node and restoring one into a new cluster.
#![warn(clippy::unwrap_used, missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod cluster_file;
pub mod http_probe;
pub mod local;
pub mod members;
pub mod peer_process;
pub mod pki;
pub mod process;
pub mod snapshot;

pub use local::{LocalCluster, NodeSpec};
