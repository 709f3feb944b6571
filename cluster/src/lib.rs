//! Launching and administering tracker clusters on one machine; shared by the `cluster` binary,
//! the integration tests and the chaos suite.
//!
//! # Layout
//! - [`cluster_file`]: `DIR/cluster.json`, what `cluster up` records for scripts.
//! - [`pki`]: the cluster CA, node certificates and the admin credential, as files in DIR.
//! - [`process`]: spawning tracker processes, signalling and reaping them by PID.
//! - [`peer_process`]: peers as separate processes (demo, benchmarks, chaos runs).
//! - [`local`]: [`local::LocalCluster`], N trackers on 127.0.0.1 with their own data dirs.
#![warn(clippy::unwrap_used, missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod cluster_file;
pub mod local;
pub mod peer_process;
pub mod pki;
pub mod process;

pub use local::{LocalCluster, NodeSpec};
