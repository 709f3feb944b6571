//! Which cluster an admin command talks to: `--trackers` with the credential flags
//! ([`CredentialArgs`]), or a DIR of `cluster up` with its own admin credential.

use std::path::PathBuf;

use anyhow::bail;
use clap::Args;

use cluster::cluster_file::ClusterFile;
use proto::{ClientConfig, TrackerClient};

use super::credential::{dir_admin_tls, CredentialArgs};

/// The cluster and the credential of an admin command.
#[derive(Debug, Args)]
pub struct AdminTarget {
    /// Client addresses of the trackers, comma-separated.
    #[arg(long, env = "PEER_TRACKERS", conflicts_with = "dir")]
    trackers: Option<String>,
    /// Or: the cluster directory of `cluster up` (its admin credential is used).
    #[arg(long, env = "CLUSTER_DIR")]
    dir: Option<PathBuf>,
    /// With --trackers: the CA and the admin credential.
    #[command(flatten)]
    credential: CredentialArgs,
}

impl AdminTarget {
    /// The trackers' addresses and the TLS to reach them as admin.
    ///
    /// # Errors
    /// If neither `--trackers` nor `--dir` is given, or the files cannot be used.
    pub fn config(&self) -> anyhow::Result<ClientConfig> {
        Ok(match (&self.trackers, &self.dir) {
            (Some(list), _) => ClientConfig::from_list(list, self.credential.client_tls()?)?,
            (None, Some(dir)) => {
                let file = ClusterFile::load(dir)?;
                let tls = dir_admin_tls(dir, &file)?;
                ClientConfig::new(file.nodes.into_iter().map(|n| n.api_addr).collect(), tls)
            }
            (None, None) => bail!("say which cluster: --trackers HOST:PORT,... or --dir DIR"),
        })
    }

    /// An admin client of the chosen cluster.
    ///
    /// # Errors
    /// As [`AdminTarget::config`].
    pub fn admin_client(&self) -> anyhow::Result<TrackerClient> {
        Ok(TrackerClient::new(self.config()?)?)
    }
}
