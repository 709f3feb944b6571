//! The cluster's local PKI, made with rcgen and kept as files in one directory:
//!
//! ```text
//! DIR/ca.pem, ca.key             the cluster CA (self-signed)
//! DIR/node-<id>.pem, .key        node <id>: DNS names `tracker` and `node-<id>.raft`, plus its
//!                                addresses; usable as server and as client (Raft)
//! DIR/admin.pem, admin.key       the admin credential: DNS name `admin.tracker`, client only
//! ```
//!
//! Keys are created with mode 0600 (never widened and narrowed later). Files that exist are
//! reused, so a restart keeps every identity; only what is missing is issued. The CA's subject is
//! derived from its key, so the CA can sign again from `ca.key` alone; every node certificate,
//! issued or reused, is checked against `ca.pem` and the node's names before it is handed out.
//!
//! # Layout
//! - this file: [`Pki`], the directory's CA and the files it issues.
//! - `issue.rs`: the rcgen parameters of each kind of certificate.
//! - `files.rs`: writing certificates and private keys.

mod files;
mod issue;

use std::path::{Path, PathBuf};

use proto::tls::{self, ClientTls, NodeTls};
use rcgen::KeyPair;

/// Why the PKI files cannot be read, issued or written.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// A file cannot be read or written.
    #[error("cannot access {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// A file does not hold what it should, or the directory is half a PKI.
    #[error("{0}")]
    Invalid(String),
    /// rcgen could not build a certificate.
    #[error("cannot issue {what}: {source}")]
    Issue {
        /// Which certificate.
        what: String,
        /// Cause.
        #[source]
        source: rcgen::Error,
    },
    /// The issued files cannot be used for TLS.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
}

/// Where one node's certificate and key are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeFiles {
    /// `node-<id>.pem`.
    pub cert: PathBuf,
    /// `node-<id>.key`.
    pub key: PathBuf,
    /// `ca.pem`.
    pub ca: PathBuf,
}

/// The CA of one PKI directory, able to issue certificates into it.
pub struct Pki {
    /// The directory.
    dir: PathBuf,
    /// The CA's key.
    ca_key: KeyPair,
    /// The CA's certificate as rcgen rebuilds it from the key (same subject and key as `ca.pem`).
    ca_cert: rcgen::Certificate,
}

impl Pki {
    /// Opens the PKI in `dir`, creating the directory and the CA if there is none yet.
    ///
    /// # Errors
    /// [`PkiError`] if the files cannot be read or written, or `ca.pem` exists without `ca.key`.
    pub fn open_or_create(dir: &Path) -> Result<Self, PkiError> {
        std::fs::create_dir_all(dir).map_err(|source| PkiError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let (cert_path, key_path) = (ca_file(dir), dir.join("ca.key"));
        let ca_key = if key_path.exists() {
            files::read_key(&key_path)?
        } else if cert_path.exists() {
            return Err(PkiError::Invalid(format!(
                "{} exists but {} does not: restore the CA key, or use an empty directory for a \
                 new CA",
                cert_path.display(),
                key_path.display()
            )));
        } else {
            let key = KeyPair::generate().map_err(|source| PkiError::Issue {
                what: "the CA key".into(),
                source,
            })?;
            files::write_key(&key_path, &key)?;
            key
        };
        let ca_cert = issue::ca(&ca_key)?;
        if !cert_path.exists() {
            files::write_cert(&cert_path, &ca_cert.pem())?;
        }
        Ok(Pki {
            dir: dir.to_path_buf(),
            ca_key,
            ca_cert,
        })
    }

    /// `ca.pem` of this PKI.
    pub fn ca_file(&self) -> PathBuf {
        ca_file(&self.dir)
    }

    /// Node `id`'s certificate and key, issued now (valid for its Raft name, `tracker` and the
    /// hosts of `addrs`) unless both files exist already.
    ///
    /// # Errors
    /// [`PkiError`] if it cannot be issued or written, or does not check against `ca.pem`.
    pub fn ensure_node(&self, id: u64, addrs: &[&str]) -> Result<NodeFiles, PkiError> {
        let files = NodeFiles {
            cert: self.dir.join(format!("node-{id}.pem")),
            key: self.dir.join(format!("node-{id}.key")),
            ca: self.ca_file(),
        };
        if !(files.cert.exists() && files.key.exists()) {
            let key = self.new_key(&format!("node {id}'s key"))?;
            let cert = issue::node(id, addrs, &key, &self.ca_cert, &self.ca_key)?;
            files::write_key(&files.key, &key)?;
            files::write_cert(&files.cert, &cert.pem())?;
        }
        NodeTls::load(id, &files.cert, &files.key, &files.ca)?;
        Ok(files)
    }

    /// The admin credential (`admin.pem`, `admin.key`), issued now unless both exist.
    ///
    /// # Errors
    /// [`PkiError`] if it cannot be issued or written.
    pub fn ensure_admin(&self) -> Result<(PathBuf, PathBuf), PkiError> {
        let (cert_path, key_path) = (self.dir.join("admin.pem"), self.dir.join("admin.key"));
        if !(cert_path.exists() && key_path.exists()) {
            let key = self.new_key("the admin key")?;
            let cert = issue::admin(&key, &self.ca_cert, &self.ca_key)?;
            files::write_key(&key_path, &key)?;
            files::write_cert(&cert_path, &cert.pem())?;
        }
        Ok((cert_path, key_path))
    }

    /// A client that trusts this CA and presents the admin credential.
    ///
    /// # Errors
    /// As [`Pki::ensure_admin`], or if the files cannot be loaded.
    pub fn admin_client(&self) -> Result<ClientTls, PkiError> {
        let (cert, key) = self.ensure_admin()?;
        Ok(ClientTls::from_files(&self.ca_file(), Some((&cert, &key)))?)
    }

    /// A client that trusts this CA and presents no certificate (what a user's peer is).
    ///
    /// # Errors
    /// If `ca.pem` cannot be loaded.
    pub fn user_client(&self) -> Result<ClientTls, PkiError> {
        Ok(ClientTls::from_files(&self.ca_file(), None)?)
    }

    fn new_key(&self, what: &str) -> Result<KeyPair, PkiError> {
        KeyPair::generate().map_err(|source| PkiError::Issue {
            what: what.to_string(),
            source,
        })
    }
}

/// `dir/ca.pem`.
pub fn ca_file(dir: &Path) -> PathBuf {
    dir.join("ca.pem")
}

#[cfg(test)]
mod tests;
