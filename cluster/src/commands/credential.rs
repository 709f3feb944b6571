//! Which TLS credential a `cluster` command talks to the trackers with: on a DIR, DIR's CA and
//! admin credential (as `cluster.json` records them); with `--trackers`, the files given by
//! `--ca`, `--admin-cert` and `--admin-key` (or `TRACKER_CA`, `TRACKER_ADMIN_CERT`,
//! `TRACKER_ADMIN_KEY`).

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;

use cluster::cluster_file::ClusterFile;
use proto::tls::ClientTls;

/// The credential flags of the commands that take `--trackers`.
#[derive(Debug, Args)]
pub struct CredentialArgs {
    /// The cluster CA's certificate (with --trackers; on a DIR, DIR's is used).
    #[arg(long, env = "TRACKER_CA")]
    ca: Option<PathBuf>,
    /// The admin certificate (with --trackers; on a DIR, DIR's admin.pem is used).
    #[arg(long, env = "TRACKER_ADMIN_CERT", requires = "admin_key")]
    admin_cert: Option<PathBuf>,
    /// The admin certificate's key.
    #[arg(long, env = "TRACKER_ADMIN_KEY", requires = "admin_cert")]
    admin_key: Option<PathBuf>,
}

impl CredentialArgs {
    /// TLS from the flags; `None` for the admin part if no admin flags were given.
    ///
    /// # Errors
    /// If `--ca` is missing or a file cannot be used.
    pub fn client_tls(&self) -> anyhow::Result<ClientTls> {
        let ca = self.ca.as_deref().context(
            "with --trackers, pass --ca CA.pem (the cluster's ca.pem) or set TRACKER_CA",
        )?;
        let admin = match (&self.admin_cert, &self.admin_key) {
            (Some(c), Some(k)) => Some((c.as_path(), k.as_path())),
            _ => None,
        };
        Ok(ClientTls::from_files(ca, admin)?)
    }
}

/// DIR's CA and admin credential, as recorded in `cluster.json` (DIR's `ca.pem`, `admin.pem` and
/// `admin.key` if the file predates them).
///
/// # Errors
/// If the files cannot be used.
pub fn dir_admin_tls(dir: &Path, file: &ClusterFile) -> anyhow::Result<ClientTls> {
    let or_in_dir = |p: &Option<PathBuf>, name: &str| p.clone().unwrap_or_else(|| dir.join(name));
    let ca = or_in_dir(&file.ca_file, "ca.pem");
    let cert = or_in_dir(&file.admin_cert, "admin.pem");
    let key = or_in_dir(&file.admin_key, "admin.key");
    ClientTls::from_files(&ca, Some((&cert, &key)))
        .with_context(|| format!("while loading the admin credential of {}", dir.display()))
}
