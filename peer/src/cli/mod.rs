//! The `peer` command line. Every command exits 0 on success; otherwise it prints one line on
//! stderr that says what went wrong and what to do, and exits 1.

mod account;
mod files;
mod files_json;
mod find;
mod groups;
mod link;
mod output;
mod password;
mod rfc3339;
pub mod shell;
mod swarm;
mod ui;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use proto::cli::{CliSpec, ConfigSpec};
use proto::logging::LogFormat;
use proto::tls::ClientTls;
use proto::{ClientConfig, TrackerClient};

use crate::home::Home;

/// What `peer`'s command line adds to [`Cli`]: `peer daemon --config FILE` (`PEER_CONFIG`) and
/// `--print-config` over the daemon's flags and the global ones (`--trackers`, `--ca`, `--home`,
/// `--log-format`), and `peer completions SHELL`.
pub const CLI: CliSpec = CliSpec {
    bin: "peer",
    config: Some(ConfigSpec {
        subcommand: Some("daemon"),
        env: "PEER_CONFIG",
        skip: &["json"],
    }),
};

/// The exit codes `peer --help` lists.
pub const EXIT_CODES: &str = "Exit codes: 0 success (for `peer daemon`: stopped by SIGTERM or \
SIGINT); 1 error: the tracker or the daemon refused or could not be reached, a download failed \
(the message on stderr says what to do); 2 usage: a bad flag, environment variable or config file. \
`peer shell` exits with the code of the last command that failed in it, or 0.";

/// Group-based peer-to-peer file sharing over a replicated tracker cluster.
#[derive(Debug, Parser)]
#[command(name = "peer", version, about, after_help = EXIT_CODES)]
pub struct Cli {
    /// Tracker client addresses, comma-separated (remembered in the home after `peer login`).
    #[arg(long, env = "PEER_TRACKERS", global = true)]
    trackers: Option<String>,
    /// The cluster's CA certificate (`ca.pem` of `cluster up`); every tracker's certificate must
    /// chain to it (remembered in the home after `peer login`).
    #[arg(long, env = "PEER_CA", global = true)]
    ca: Option<PathBuf>,
    /// This peer's home directory (session, shares, downloads).
    #[arg(long, env = "PEER_HOME", global = true)]
    home: Option<PathBuf>,
    /// Machine-readable JSON output (every command that prints something).
    #[arg(long, global = true)]
    json: bool,
    /// How log lines are written to stderr: `text`, or `json` (one object per line).
    #[arg(long, env = "PEER_LOG_FORMAT", global = true, value_enum,
          default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

impl Cli {
    /// `--log-format`.
    pub fn log_format(&self) -> LogFormat {
        self.log_format
    }

    /// Whether this is `peer shell`, which [`shell::run`] runs instead of [`run`].
    pub fn is_shell(&self) -> bool {
        matches!(self.command, Command::Shell)
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Manage accounts.
    User {
        #[command(subcommand)]
        cmd: account::UserCmd,
    },
    /// Log in (password from --password-stdin, PEER_PASSWORD, or a prompt without echo).
    Login(account::LoginArgs),
    /// End the session.
    Logout,
    /// Show who is logged in.
    Whoami,
    /// Create, join, leave and administer groups.
    Group {
        #[command(subcommand)]
        cmd: groups::GroupCmd,
    },
    /// Run the daemon of this home: serve chunks, run downloads, heartbeat.
    Daemon(files::DaemonArgs),
    /// Share a file from where it lies (hash it, register it in the group, seed it).
    Upload(files::UploadArgs),
    /// List the files of a group.
    Files {
        /// Group.
        group: String,
    },
    /// List every peer holding a file: user, address, chunks held, online or not, last seen.
    Sources {
        /// Group.
        group: String,
        /// File name.
        name: String,
    },
    /// List the online peers of a group's members: address, last seen, files each seeds.
    Peers {
        /// Group.
        group: String,
    },
    /// Download a file (GROUP NAME, or a link from `peer link`), verified chunk by chunk.
    Download(files::DownloadArgs),
    /// List the files with this whole-file SHA-1 in your groups: group, name, size, seeders.
    Find {
        /// The SHA-1 (40 hexadecimal digits, as `peer files` shows it).
        sha1: String,
    },
    /// Print a link to a file (group, name, size, SHA-1, trackers) that `peer download LINK` takes.
    Link {
        /// Group.
        group: String,
        /// File name.
        name: String,
    },
    /// List this home's downloads.
    Downloads,
    /// Cancel a running download (its `.part` file is removed).
    Cancel {
        /// The download's id (`peer downloads` shows it).
        id: String,
    },
    /// Print the link to the running daemon's web UI (with this home's access token).
    Ui,
    /// Stop seeding a file and withdraw its availability.
    StopShare {
        /// Group.
        group: String,
        /// File name.
        name: String,
    },
    /// Run these commands in one session: a prompt with line editing, history and completion,
    /// or lines read from stdin when it is not a terminal (`help` in it lists the commands).
    Shell,
    /// Remove a file from a group (its uploader or the group's owner): it leaves the listings,
    /// its seeders stop serving it and running downloads of it fail.
    Unpublish {
        /// Group.
        group: String,
        /// File name.
        name: String,
    },
}

/// Everything a command needs.
pub struct Ctx {
    /// The home.
    pub home: Home,
    /// `--trackers` as given.
    trackers: Option<String>,
    /// `--ca` as given.
    ca: Option<PathBuf>,
    /// `--json`.
    pub json: bool,
}

impl Ctx {
    /// A tracker client for `--trackers`, or the list remembered in the home.
    ///
    /// # Errors
    /// If no tracker list is known.
    pub fn tracker(&self) -> anyhow::Result<TrackerClient> {
        Ok(self.tracker_parts()?.0)
    }

    /// [`Ctx::tracker`], with the TLS configuration it uses and the CA file it trusts.
    ///
    /// # Errors
    /// If no tracker list or no CA is known, or the CA does not load.
    pub fn tracker_parts(&self) -> anyhow::Result<(TrackerClient, ClientTls, PathBuf)> {
        let list = self.tracker_list().ok_or_else(|| {
            anyhow::anyhow!("no tracker list: pass --trackers HOST:PORT,... or set PEER_TRACKERS")
        })?;
        let ca = self.ca_file().ok_or_else(|| {
            anyhow::anyhow!(
                "no cluster CA: pass --ca DIR/ca.pem (from `cluster up`) or set PEER_CA"
            )
        })?;
        self.client_for(&list, &ca)
    }

    /// The configured tracker list: `--trackers`, else the one remembered in the home.
    pub fn tracker_list(&self) -> Option<String> {
        match &self.trackers {
            Some(l) => Some(l.clone()),
            None => std::fs::read_to_string(self.home.dir.join("trackers"))
                .ok()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty()),
        }
    }

    /// The configured cluster CA: `--ca`, else the copy kept in the home at login.
    pub fn ca_file(&self) -> Option<PathBuf> {
        match &self.ca {
            Some(path) => Some(path.clone()),
            None => Some(self.home.ca_path()).filter(|p| p.exists()),
        }
    }

    /// A tracker client for the tracker list `list` (comma-separated) trusting the CA `ca`.
    ///
    /// # Errors
    /// If the CA does not load or the list does not parse.
    pub fn client_for(
        &self,
        list: &str,
        ca: &std::path::Path,
    ) -> anyhow::Result<(TrackerClient, ClientTls, PathBuf)> {
        let ca = ca.to_path_buf();
        let tls = ClientTls::from_files(&ca, None)?;
        let client = TrackerClient::new(ClientConfig::from_list(list, tls.clone())?)?;
        Ok((client, tls, ca))
    }

    /// Remembers the tracker list and a copy of the CA in the home (after a successful login).
    ///
    /// # Errors
    /// If the CA file cannot be copied into the home.
    pub fn remember_trackers(&self) -> anyhow::Result<()> {
        crate::ops::account::remember_trackers(
            &self.home,
            self.trackers.as_deref(),
            self.ca.as_deref(),
        )?;
        Ok(())
    }

    /// The session token.
    ///
    /// # Errors
    /// If not logged in.
    pub fn token(&self) -> anyhow::Result<proto::tracker_msg::SessionToken> {
        Ok(self.home.session()?.token)
    }
}

/// Runs the command line.
///
/// # Errors
/// Whatever the command reports.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let home_dir = cli.home.clone().unwrap_or_else(Home::default_dir);
    let home = Home::open(&home_dir)
        .with_context(|| format!("while opening the home {}", home_dir.display()))?;
    let ctx = Ctx {
        home,
        trackers: cli.trackers.clone(),
        ca: cli.ca.clone(),
        json: cli.json,
    };
    match cli.command {
        Command::User { cmd } => account::user(&ctx, cmd).await,
        Command::Login(a) => account::login(&ctx, a).await,
        Command::Logout => account::logout(&ctx).await,
        Command::Whoami => account::whoami(&ctx).await,
        Command::Group { cmd } => groups::run(&ctx, cmd).await,
        Command::Daemon(a) => files::daemon(&ctx, a).await,
        Command::Upload(a) => files::upload(&ctx, a).await,
        Command::Files { group } => files::list(&ctx, &group).await,
        Command::Sources { group, name } => swarm::sources(&ctx, &group, &name).await,
        Command::Peers { group } => swarm::peers(&ctx, &group).await,
        Command::Download(a) => files::download(&ctx, a).await,
        Command::Find { sha1 } => find::run(&ctx, &sha1).await,
        Command::Link { group, name } => link::run(&ctx, &group, &name).await,
        Command::Downloads => files::downloads(&ctx).await,
        Command::Cancel { id } => files::cancel(&ctx, id).await,
        Command::StopShare { group, name } => files::stop_share(&ctx, group, name).await,
        Command::Unpublish { group, name } => files::unpublish(&ctx, group, name).await,
        Command::Ui => ui::run(&ctx).await,
        Command::Shell => anyhow::bail!("{}", shell::NOT_NESTED),
    }
}
