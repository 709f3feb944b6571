//! TLS on the tracker's ports: TLS 1.3 only, rustls with the `ring` provider, every certificate
//! chaining to one cluster CA; and on the peer port, where each daemon's Ed25519 key, recorded by
//! the tracker, is its identity ([`peer`]).
//!
//! The names a certificate is checked for are fixed ([`TRACKER_NAME`], [`ADMIN_NAME`],
//! [`raft_name`]); a connection's role follows from the names its certificate is valid for, checked
//! with webpki after rustls has verified the chain. The PKI that issues these certificates is
//! `cluster`'s (`cluster/src/pki/`); this module only loads and checks them.
//!
//! # Layout
//! - [`pem`]: reading certificate, key and CA files (bounded, errors name the file).
//! - [`names`]: whether a verified peer certificate is valid for a name.
//! - [`client`]: [`ClientTls`], what a client of the client API port presents and trusts.
//! - [`node`]: [`NodeTls`], a tracker node's server and Raft client configurations.
//! - [`peer`]: [`PeerTls`], the peer port: self-signed Ed25519 certificates, the seeder's key
//!   pinned by the downloader, the downloader's key checked against its ticket.
//! - [`peer_verify`]: the peer port's certificate verifiers.

pub mod client;
pub mod names;
pub mod node;
pub mod peer;
pub mod peer_verify;
pub mod pem;

use std::path::PathBuf;
use std::sync::Arc;

pub use client::ClientTls;
pub use node::NodeTls;
pub use peer::PeerTls;

/// The name every tracker's certificate carries and every client of the client API checks.
pub const TRACKER_NAME: &str = "tracker";

/// The name of the admin credential: a client certificate valid for it is an admin connection.
pub const ADMIN_NAME: &str = "admin.tracker";

/// The Raft identity of node `id`: its certificate is valid for this name, and no other node's.
pub fn raft_name(id: u64) -> String {
    format!("node-{id}.raft")
}

/// The crypto provider of every TLS configuration in the workspace.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The only protocol version offered or accepted.
pub(crate) static VERSIONS: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13];

/// Why TLS material could not be loaded or a configuration built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file cannot be read.
    #[error("cannot read {what} {path}: {cause}")]
    Read {
        /// What the file should hold ("CA certificate", "node key", ...).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Cause (in the message, so not a separate source: callers embed this error's text).
        cause: std::io::Error,
    },
    /// A file does not hold what it should.
    #[error("{path} is not a valid {what}: {reason}")]
    Invalid {
        /// What the file should hold.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong and what to do.
        reason: String,
    },
    /// rustls refused the material (e.g. the key does not belong to the certificate).
    #[error("cannot use {what}: {reason}")]
    Config {
        /// Which configuration.
        what: &'static str,
        /// rustls's reason.
        reason: String,
    },
}
