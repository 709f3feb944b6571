//! Command-line flags of a tracker node (each also read from a `TRACKER_*` variable) and their
//! validation into a ready-to-use [`NodeConfig`]. Only `main` and `run_process` see [`Args`]; the
//! node reads the typed [`NodeConfig`] (durations, bytes, the resolved listen address), so no call
//! site converts units itself.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use proto::cli::{CliSpec, ConfigSpec};
use proto::conn_limits::ConnLimits;
use proto::logging::LogFormat;
use proto::tls::{NodeTls, TlsError};

use crate::raft_types::{NodeId, NodeInfo};

/// What `tracker`'s command line adds to [`Args`]: `--config FILE` (`TRACKER_CONFIG`) and
/// `--print-config` over every flag, and `tracker completions SHELL`.
pub const CLI: CliSpec = CliSpec {
    bin: "tracker",
    config: Some(ConfigSpec {
        subcommand: None,
        env: "TRACKER_CONFIG",
        skip: &[],
    }),
};

/// The exit codes `tracker --help` lists.
pub const EXIT_CODES: &str = "Exit codes: 0 stopped cleanly after SIGTERM or SIGINT (or help, \
version, completions, --print-config); 1 error: the configuration or the TLS files cannot be used, \
or the node failed (the message on stderr says which); 2 usage: a bad flag, environment variable or \
config file.";

/// A tracker node: one member of the Raft group replicating users, groups, files and chunk maps.
#[derive(Debug, Clone, Parser)]
#[command(name = "tracker", version, about, after_help = EXIT_CODES)]
pub struct Args {
    /// This node's Raft id (a positive integer, unique in the cluster).
    #[arg(long, env = "TRACKER_ID")]
    pub id: NodeId,

    /// Directory holding this node's sled database (log, state machine, snapshots).
    #[arg(long, env = "TRACKER_DATA_DIR")]
    pub data_dir: PathBuf,

    /// Address for clients (peers, `cluster`), host:port. Also what other nodes hand out.
    #[arg(long, env = "TRACKER_API_ADDR")]
    pub api_addr: String,

    /// Address for Raft traffic from the other trackers, host:port. This is the address the
    /// other nodes connect to (it is what the membership records).
    #[arg(long, env = "TRACKER_RAFT_ADDR")]
    pub raft_addr: String,

    /// Address the Raft listener binds, when it differs from `--raft-addr` (a proxy or NAT in
    /// front of this node forwards `--raft-addr` here). Default: `--raft-addr`.
    #[arg(long, env = "TRACKER_RAFT_LISTEN")]
    pub raft_listen: Option<String>,

    /// This node's certificate (PEM, leaf first), issued by the cluster CA for the names
    /// `tracker` and `node-<id>.raft` (`cluster certs` or `cluster up` make it).
    #[arg(long, env = "TRACKER_TLS_CERT")]
    pub tls_cert: PathBuf,

    /// The private key of `--tls-cert` (PEM).
    #[arg(long, env = "TRACKER_TLS_KEY")]
    pub tls_key: PathBuf,

    /// The cluster CA's certificate (PEM): the Raft port accepts only node certificates it
    /// issued, and an admin connection must present a certificate it issued.
    #[arg(long, env = "TRACKER_CA")]
    pub ca: PathBuf,

    /// Initial membership, the same on every founding node: ID=API_ADDR/RAFT_ADDR,... Forming
    /// the cluster again (a restart with the same list) is harmless. Omit it on a node that will
    /// be added later with `cluster add-node`.
    #[arg(long, env = "TRACKER_INITIAL_CLUSTER")]
    pub initial_cluster: Option<String>,

    /// Leader heartbeat interval in milliseconds (also the append-entries timeout).
    #[arg(long, env = "TRACKER_HEARTBEAT_MS", default_value_t = 40)]
    pub heartbeat_ms: u64,

    /// Lower bound of the election timeout in milliseconds.
    #[arg(long, env = "TRACKER_ELECTION_MIN_MS", default_value_t = 100)]
    pub election_min_ms: u64,

    /// Upper bound of the election timeout in milliseconds.
    #[arg(long, env = "TRACKER_ELECTION_MAX_MS", default_value_t = 140)]
    pub election_max_ms: u64,

    /// A follower whose connection to the leader stays open but carries no AppendEntries for
    /// this many milliseconds campaigns (a leader that crashed is noticed sooner, by its closed
    /// connections). Longer than the election timeout, so a follower that is only slow under load
    /// does not depose a live leader.
    #[arg(long, env = "TRACKER_ELECTION_SILENCE_MS", default_value_t = 1000)]
    pub election_silence_ms: u64,

    /// Build a snapshot after this many applied entries and purge the log behind it.
    #[arg(long, env = "TRACKER_SNAPSHOT_EVERY", default_value_t = 50000)]
    pub snapshot_every: u64,

    /// Entries kept in the log behind a snapshot (lagging nodes catch up from them).
    #[arg(long, env = "TRACKER_LOGS_TO_KEEP", default_value_t = 1000)]
    pub logs_to_keep: u64,

    /// Group commit: log entries being committed at once on the leader. Writes arriving while
    /// this many are in flight share the next entry (fewer: bigger entries; more: less waiting).
    #[arg(long, env = "TRACKER_WRITE_ENTRIES_IN_FLIGHT", default_value_t = 1)]
    pub write_entries_in_flight: usize,

    /// Group commit: how long the next entry may wait for the writers the last one answered
    /// (milliseconds; 0 turns gathering off). See `tracker/src/app/group_commit.rs`.
    #[arg(long, env = "TRACKER_WRITE_GATHER_MS", default_value_t = 1)]
    pub write_gather_ms: u64,

    /// sled page cache in MiB (sled's own default is 1 GiB per database).
    #[arg(long, env = "TRACKER_SLED_CACHE_MB", default_value_t = 64)]
    pub sled_cache_mb: u64,

    /// A write or read that cannot complete within this many milliseconds is answered
    /// "unavailable" so the client tries another node.
    #[arg(long, env = "TRACKER_REQUEST_TIMEOUT_MS", default_value_t = 3000)]
    pub request_timeout_ms: u64,

    /// Most client connections open at once; more are closed as they arrive.
    #[arg(long, env = "TRACKER_MAX_CONNECTIONS", default_value_t = 16384,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections: u64,

    /// Most client connections open at once from one source address.
    #[arg(long, env = "TRACKER_MAX_CONNECTIONS_PER_SOURCE", default_value_t = 1024,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections_per_source: u64,

    /// A client connection with no request in flight and nothing received for this many seconds
    /// is closed (clients reconnect when they next need one).
    #[arg(long, env = "TRACKER_IDLE_TIMEOUT_SECS", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub idle_timeout_secs: u64,

    /// Session lifetime in seconds.
    #[arg(long, env = "TRACKER_SESSION_TTL_SECS", default_value_t = 7 * 24 * 3600)]
    pub session_ttl_secs: u64,

    /// Heartbeat interval handed to idle peers, in seconds.
    #[arg(long, env = "TRACKER_PEER_IDLE_SECS", default_value_t = 60)]
    pub peer_idle_secs: u64,

    /// Heartbeat interval handed to peers that seed files, in seconds.
    #[arg(long, env = "TRACKER_PEER_ACTIVE_SECS", default_value_t = 15)]
    pub peer_active_secs: u64,

    /// Heartbeat interval handed to peers that are transferring, in seconds.
    #[arg(long, env = "TRACKER_PEER_TRANSFERRING_SECS", default_value_t = 5)]
    pub peer_transferring_secs: u64,

    /// Download tickets issued with a file's sources stay valid this many seconds (downloaders
    /// fetch a fresh one every refresh; a member removed from a group keeps access at most this
    /// long).
    #[arg(long, env = "TRACKER_TICKET_TTL_SECS", default_value_t = 60)]
    pub ticket_ttl_secs: u64,

    /// At-most-once records of clients idle this long are pruned (a retry older than this may be
    /// applied twice).
    #[arg(long, env = "TRACKER_CLIENT_RECORD_TTL_SECS", default_value_t = 24 * 3600)]
    pub client_record_ttl_secs: u64,

    /// The leader deletes expired sessions this often (they are refused from their expiry on;
    /// this only frees their space).
    #[arg(long, env = "TRACKER_SESSION_PRUNE_EVERY_SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub session_prune_every_secs: u64,

    /// A peer silent for this many of its intervals is marked offline.
    #[arg(long, env = "TRACKER_PEER_LEASE_INTERVALS", default_value_t = 3)]
    pub peer_lease_intervals: u32,

    /// A peer offline this many seconds is forgotten with its availability (its daemon
    /// registers again when it comes back); looked for with the expired sessions.
    #[arg(long, env = "TRACKER_PEER_FORGET_AFTER_SECS", default_value_t = 7 * 24 * 3600,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub peer_forget_after_secs: u64,

    /// How log lines are written to stderr: `text`, or `json` (one object per line).
    #[arg(long, env = "TRACKER_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Address of the HTTP surface (`/metrics`, `/livez`, `/readyz`, `/v1/status`, `/`),
    /// host:port. Plain HTTP without authentication: bind a loopback or private address, or put
    /// it behind your proxy. Omitted: no HTTP server.
    #[arg(long, env = "TRACKER_HTTP_ADDR")]
    pub http_addr: Option<String>,

    /// `/readyz` answers 503 while the applied index trails the committed index by more than
    /// this many entries.
    #[arg(long, env = "TRACKER_READY_MAX_APPLY_LAG", default_value_t = 1000)]
    pub ready_max_apply_lag: u64,
}

/// Why the flags cannot be used; each message states the rule.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A flag breaks a rule.
    #[error("{0}")]
    Invalid(String),
    /// The certificate, key or CA file cannot be used.
    #[error(
        "{0}; pass --tls-cert, --tls-key and --ca as made by `cluster certs` (or `cluster up`)"
    )]
    // The message embeds the cause, so it is not repeated as a source.
    Tls(TlsError),
}

/// Validated node configuration, built once from the flags ([`NodeConfig::from_args`]) with
/// every interval as a [`Duration`] and every address resolved.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// This node's Raft id.
    pub id: NodeId,
    /// Directory holding the sled database.
    pub data_dir: PathBuf,
    /// Address for clients; also what other nodes hand out.
    pub api_addr: String,
    /// Address the other nodes connect to for Raft (what the membership records).
    pub raft_addr: String,
    /// Address the Raft listener binds: `--raft-listen`, else `--raft-addr`.
    pub raft_listen: String,
    /// Parsed initial membership (empty: join later).
    pub initial_members: BTreeMap<NodeId, NodeInfo>,
    /// TLS of both ports and of outgoing Raft connections, loaded from `--tls-cert`,
    /// `--tls-key` and `--ca`.
    pub tls: NodeTls,
    /// Leader heartbeat interval (also the append-entries timeout).
    pub heartbeat: Duration,
    /// Lower bound of the election timeout.
    pub election_min: Duration,
    /// Upper bound of the election timeout.
    pub election_max: Duration,
    /// Silence from a leader whose connection is open after which a follower campaigns.
    pub election_silence: Duration,
    /// Applied entries between snapshots.
    pub snapshot_every: u64,
    /// Entries kept in the log behind a snapshot.
    pub logs_to_keep: u64,
    /// Group commit: log entries being committed at once on the leader.
    pub write_entries_in_flight: usize,
    /// Group commit: how long the next entry may wait for writers (zero: no gathering).
    pub write_gather: Duration,
    /// sled page cache in bytes.
    pub sled_cache_bytes: u64,
    /// A request that cannot complete within this is answered "unavailable".
    pub request_timeout: Duration,
    /// Caps on open client connections.
    pub api_connections: ConnLimits,
    /// An idle client connection is closed after this.
    pub idle_timeout: Duration,
    /// Session lifetime.
    pub session_ttl: Duration,
    /// Heartbeat interval handed to idle peers.
    pub peer_idle: Duration,
    /// Heartbeat interval handed to peers that seed files.
    pub peer_active: Duration,
    /// Heartbeat interval handed to peers that are transferring.
    pub peer_transferring: Duration,
    /// How long a download ticket stays valid.
    pub ticket_ttl: Duration,
    /// At-most-once records of clients idle this long are pruned.
    pub client_record_ttl: Duration,
    /// How often the leader deletes expired sessions.
    pub session_prune_every: Duration,
    /// A peer silent for this many of its intervals is marked offline.
    pub peer_lease_intervals: u32,
    /// A peer offline this long is forgotten.
    pub peer_forget_after: Duration,
    /// Where the HTTP surface listens (`None`: no HTTP server).
    pub http_addr: Option<String>,
    /// Most entries the applied index may trail the committed index on a ready node.
    pub ready_max_apply_lag: u64,
}

impl NodeConfig {
    /// Checks the flags.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the broken rule.
    pub fn from_args(args: Args) -> Result<Self, ConfigError> {
        let bad = |s: String| Err(ConfigError::Invalid(s));
        if args.id == 0 {
            return bad("--id must be a positive integer".into());
        }
        if args.election_min_ms <= args.heartbeat_ms {
            return bad(format!(
                "--election-min-ms ({}) must be greater than --heartbeat-ms ({})",
                args.election_min_ms, args.heartbeat_ms
            ));
        }
        if args.election_max_ms <= args.election_min_ms {
            return bad(format!(
                "--election-max-ms ({}) must be greater than --election-min-ms ({})",
                args.election_max_ms, args.election_min_ms
            ));
        }
        if args.election_silence_ms <= args.election_max_ms {
            return bad(format!(
                "--election-silence-ms ({}) must be greater than --election-max-ms ({})",
                args.election_silence_ms, args.election_max_ms
            ));
        }
        if args.snapshot_every == 0
            || args.sled_cache_mb == 0
            || args.peer_lease_intervals == 0
            || args.write_entries_in_flight == 0
        {
            return bad(
                "--snapshot-every, --sled-cache-mb, --peer-lease-intervals and \
                 --write-entries-in-flight must be at least 1"
                    .into(),
            );
        }
        let initial_members = match &args.initial_cluster {
            Some(list) => parse_members(list)?,
            None => BTreeMap::new(),
        };
        if !initial_members.is_empty() {
            match initial_members.get(&args.id) {
                Some(me) if me.api_addr == args.api_addr && me.raft_addr == args.raft_addr => {}
                Some(me) => {
                    return bad(format!(
                        "--initial-cluster lists node {} as {}/{} but this node runs at {}/{}",
                        args.id, me.api_addr, me.raft_addr, args.api_addr, args.raft_addr
                    ))
                }
                None => {
                    return bad(format!(
                        "--initial-cluster must include this node's id {}",
                        args.id
                    ))
                }
            }
        }
        let tls = NodeTls::load(args.id, &args.tls_cert, &args.tls_key, &args.ca)
            .map_err(ConfigError::Tls)?;
        Ok(NodeConfig {
            id: args.id,
            tls,
            raft_listen: args.raft_listen.unwrap_or_else(|| args.raft_addr.clone()),
            data_dir: args.data_dir,
            api_addr: args.api_addr,
            raft_addr: args.raft_addr,
            initial_members,
            heartbeat: Duration::from_millis(args.heartbeat_ms),
            election_min: Duration::from_millis(args.election_min_ms),
            election_max: Duration::from_millis(args.election_max_ms),
            election_silence: Duration::from_millis(args.election_silence_ms),
            snapshot_every: args.snapshot_every,
            logs_to_keep: args.logs_to_keep,
            write_entries_in_flight: args.write_entries_in_flight,
            write_gather: Duration::from_millis(args.write_gather_ms),
            sled_cache_bytes: args.sled_cache_mb << 20,
            request_timeout: Duration::from_millis(args.request_timeout_ms),
            api_connections: ConnLimits {
                total: usize::try_from(args.max_connections).unwrap_or(usize::MAX),
                per_source: usize::try_from(args.max_connections_per_source).unwrap_or(usize::MAX),
            },
            idle_timeout: Duration::from_secs(args.idle_timeout_secs),
            session_ttl: Duration::from_secs(args.session_ttl_secs),
            peer_idle: Duration::from_secs(args.peer_idle_secs),
            peer_active: Duration::from_secs(args.peer_active_secs),
            peer_transferring: Duration::from_secs(args.peer_transferring_secs),
            ticket_ttl: Duration::from_secs(args.ticket_ttl_secs),
            client_record_ttl: Duration::from_secs(args.client_record_ttl_secs),
            session_prune_every: Duration::from_secs(args.session_prune_every_secs),
            peer_lease_intervals: args.peer_lease_intervals,
            peer_forget_after: Duration::from_secs(args.peer_forget_after_secs),
            http_addr: args.http_addr,
            ready_max_apply_lag: args.ready_max_apply_lag,
        })
    }

    /// The openraft configuration derived from the flags.
    ///
    /// # Errors
    /// openraft's own validation, as [`ConfigError::Invalid`].
    pub fn raft_config(&self) -> Result<openraft::Config, ConfigError> {
        let cfg = openraft::Config {
            cluster_name: "p2p-tracker".into(),
            heartbeat_interval: saturating_millis(self.heartbeat),
            election_timeout_min: saturating_millis(self.election_min),
            election_timeout_max: saturating_millis(self.election_max),
            // Followers campaign on this project's signals instead of openraft's timer: a closed
            // connection past the lease (`election::leader_link`), silence past
            // `election_silence`, or no leader at all (`election::watchdog`).
            enable_elect: false,
            install_snapshot_timeout: 5000,
            snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(self.snapshot_every),
            max_in_snapshot_log_to_keep: self.logs_to_keep,
            max_payload_entries: 64,
            ..Default::default()
        };
        cfg.validate()
            .map_err(|e| ConfigError::Invalid(format!("raft config: {e}")))
    }
}

/// `d` in whole milliseconds, `u64::MAX` if it does not fit (a [`NodeConfig`] duration came
/// from a `u64` of milliseconds or seconds).
pub fn saturating_millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Parses `ID=API/RAFT,...`.
///
/// # Errors
/// [`ConfigError::Invalid`] with the offending item.
pub fn parse_members(list: &str) -> Result<BTreeMap<NodeId, NodeInfo>, ConfigError> {
    let mut out = BTreeMap::new();
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let err = || {
            ConfigError::Invalid(format!(
                "--initial-cluster item {item:?} must look like ID=API_HOST:PORT/RAFT_HOST:PORT"
            ))
        };
        let (id, addrs) = item.split_once('=').ok_or_else(err)?;
        let (api, raft) = addrs.split_once('/').ok_or_else(err)?;
        let id: NodeId = id.trim().parse().map_err(|_| err())?;
        if id == 0 || api.is_empty() || raft.is_empty() {
            return Err(err());
        }
        let info = NodeInfo {
            api_addr: api.trim().to_string(),
            raft_addr: raft.trim().to_string(),
        };
        if out.insert(id, info).is_some() {
            return Err(ConfigError::Invalid(format!(
                "--initial-cluster lists node {id} twice"
            )));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A CA and node 1's certificate in a temporary directory, as `--tls-cert`, `--tls-key`,
    /// `--ca` flags.
    struct TestPki {
        dir: tempfile::TempDir,
    }

    impl TestPki {
        fn new(cert_names: &[&str]) -> Self {
            let dir = tempfile::tempdir().unwrap();
            let ca_key = rcgen::KeyPair::generate().unwrap();
            let mut ca_params = rcgen::CertificateParams::default();
            ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
            let ca = ca_params.self_signed(&ca_key).unwrap();
            let key = rcgen::KeyPair::generate().unwrap();
            let names: Vec<String> = cert_names.iter().map(|s| s.to_string()).collect();
            let cert = rcgen::CertificateParams::new(names)
                .unwrap()
                .signed_by(&key, &ca, &ca_key)
                .unwrap();
            std::fs::write(dir.path().join("ca.pem"), ca.pem()).unwrap();
            std::fs::write(dir.path().join("n.pem"), cert.pem()).unwrap();
            std::fs::write(dir.path().join("n.key"), key.serialize_pem()).unwrap();
            TestPki { dir }
        }

        fn flags(&self) -> Vec<String> {
            let p = |f: &str| self.dir.path().join(f).display().to_string();
            vec![
                "--tls-cert".into(),
                p("n.pem"),
                "--tls-key".into(),
                p("n.key"),
                "--ca".into(),
                p("ca.pem"),
            ]
        }
    }

    #[test]
    fn tls_files_are_checked_at_startup() {
        let base = [
            "tracker",
            "--id",
            "1",
            "--data-dir",
            "d",
            "--api-addr",
            "h:1",
        ];
        let config = |pki: &TestPki| {
            let argv: Vec<String> = base
                .iter()
                .map(|s| s.to_string())
                .chain(["--raft-addr".into(), "h:2".into()])
                .chain(pki.flags())
                .collect();
            NodeConfig::from_args(Args::parse_from(argv))
        };
        assert!(config(&TestPki::new(&["tracker", "node-1.raft"])).is_ok());
        // Another node's certificate, or one without the client-facing name, is refused.
        let e = config(&TestPki::new(&["tracker", "node-2.raft"])).unwrap_err();
        assert!(e.to_string().contains("node-1.raft"), "{e}");
        let e = config(&TestPki::new(&["node-1.raft"])).unwrap_err();
        assert!(e.to_string().contains("\"tracker\""), "{e}");
        // A missing file is named.
        let pki = TestPki::new(&["tracker", "node-1.raft"]);
        std::fs::remove_file(pki.dir.path().join("n.key")).unwrap();
        let e = config(&pki).unwrap_err();
        assert!(e.to_string().contains("n.key"), "{e}");
    }

    #[test]
    fn parses_members_and_rejects_garbage() {
        let m = parse_members("1=a:1/a:2, 2=b:1/b:2").unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m[&2].raft_addr, "b:2");
        for bad in ["1=a:1", "x=a/b", "0=a/b", "1=a/b,1=c/d", "1=/b"] {
            assert!(parse_members(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn raft_listener_binds_raft_addr_unless_told_otherwise() {
        let pki = TestPki::new(&["tracker", "node-1.raft"]);
        let flags = pki.flags();
        let config = |extra: &[&str]| {
            let mut argv = vec!["tracker", "--id", "1", "--data-dir", "d"];
            argv.extend(["--api-addr", "h:1", "--raft-addr", "h:2"]);
            argv.extend(flags.iter().map(String::as_str));
            argv.extend(extra);
            NodeConfig::from_args(Args::parse_from(argv)).unwrap()
        };
        assert_eq!(config(&[]).raft_listen, "h:2");
        let proxied = config(&["--raft-listen", "h:3", "--initial-cluster", "1=h:1/h:2"]);
        assert_eq!(proxied.raft_listen, "h:3");
        assert_eq!(proxied.initial_members[&1].raft_addr, "h:2");
    }

    #[test]
    fn flags_become_durations_and_the_raft_config_keeps_their_milliseconds() {
        let argv = [
            "tracker",
            "--id",
            "1",
            "--data-dir",
            "d",
            "--api-addr",
            "h:1",
        ];
        let pki = TestPki::new(&["tracker", "node-1.raft"]);
        let flags = pki.flags();
        let c = NodeConfig::from_args(Args::parse_from(
            argv.iter()
                .copied()
                .chain(flags.iter().map(String::as_str))
                .chain([
                    "--raft-addr",
                    "h:2",
                    "--heartbeat-ms",
                    "30",
                    "--session-ttl-secs",
                    "7",
                    "--sled-cache-mb",
                    "2",
                ]),
        ))
        .unwrap();
        assert_eq!(c.heartbeat, Duration::from_millis(30));
        assert_eq!(c.session_ttl, Duration::from_secs(7));
        assert_eq!(c.sled_cache_bytes, 2 << 20);
        let raft = c.raft_config().unwrap();
        assert_eq!(raft.heartbeat_interval, 30);
        assert_eq!(raft.election_timeout_min, 100);
        assert_eq!(raft.election_timeout_max, 140);
        assert_eq!(saturating_millis(Duration::MAX), u64::MAX);
    }
}
