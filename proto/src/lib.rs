//! Wire protocol shared by trackers, peers, `cluster` and the tests, plus the failover-aware
//! tracker client.
//!
//! # Layout
//! - [`types`]: value types shared by messages and tickets (the SHA-1 digest, the session token).
//! - [`frame`]: length-prefixed frames with a maximum size, and the bincode codec.
//! - [`error`]: [`ApiError`], the only error type that crosses the wire.
//! - [`limits`]: the named maximum of every client-supplied field; bounded error messages.
//! - [`chunk_size`]: the chunk size a file is cut into by default (it grows with the file), and
//!   the check of one the user gives.
//! - [`tracker_msg`]: the client API's requests and responses; [`digest_list`]: how a manifest's
//!   chunk digests are encoded.
//! - [`byte_buf`]: a byte vector as one byte string on the wire (snapshot chunks).
//! - [`ticket`]: the signed download ticket a seeder checks.
//! - [`peer_msg`]: the peer-to-peer frames.
//! - [`pages`]: reading a whole list page by page.
//! - [`quota`]: the per-owner limits a cluster enforces and their defaults.
//! - [`tls`]: TLS 1.3 on the tracker's ports: the cluster CA, the names certificates are checked
//!   for, the client's and the node's rustls configurations.
//! - [`connection`]: one multiplexed TLS connection to a tracker (several requests in flight).
//! - [`shutdown`]: waiting for SIGTERM/SIGINT in every long-running binary.
//! - `logging` (feature `subscriber`): the log subscriber every binary installs, text or JSON.
//! - `cli` (feature `cli`): the command-line conventions every binary shares: `--config` and
//!   `--print-config`, `completions SHELL`, the exit codes.
//! - [`accept`]: the accept loop of every listener: a task per connection, its error chain logged;
//!   [`conn_limits`]: the caps on open connections it enforces.
//! - `fuzz_entry` (hidden): the decoders as the fuzz targets and the corpus replay tests call them.
//! - [`client`]: [`TrackerClient`], which follows the leader, fails over and retries writes with
//!   the same client id and serial number.
#![warn(clippy::unwrap_used, missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod accept;
pub mod byte_buf;
pub mod chunk_size;
#[cfg(feature = "cli")]
pub mod cli;
pub mod client;
pub mod conn_limits;
pub mod connection;
pub mod digest_list;
pub mod error;
pub mod frame;
#[doc(hidden)]
pub mod fuzz_entry;
pub mod limits;
#[cfg(feature = "subscriber")]
pub mod logging;
pub mod pages;
pub mod peer_msg;
pub mod quota;
pub mod shutdown;
pub mod ticket;
pub mod tls;
pub mod tracker_msg;
pub mod types;

pub use client::{ClientConfig, TrackerClient};
pub use error::ApiError;
pub use tracker_msg::{ReplyMeta, Request, Response};
