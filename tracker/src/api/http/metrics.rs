//! `GET /metrics`: the Prometheus text format (OpenMetrics, through `prometheus-client`). At each
//! scrape a [`Scrape`] is taken: the counters of [`crate::counters`] (bumped on the hot paths),
//! gauges sampled from openraft's metrics, the client listener's connection counts, the counted
//! totals of the state ([`super::status::CountsCache`]) and this process's resource use; then
//! it is encoded. Every name starts with `tracker_` and carries its unit.

use std::sync::atomic::Ordering;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};

use crate::counters::{HistogramSnapshot, RequestKind, COUNTERS, ERROR_KINDS};

use super::health::{role_name, Metrics};
use super::process::ProcessSample;
use super::status::{follower_lag, Counts};

/// The content type of the text format `prometheus-client` writes.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Everything one scrape reports, read before it is encoded.
#[derive(Debug)]
pub struct Scrape {
    /// openraft's metrics.
    pub raft: Metrics,
    /// Whether `/readyz` would answer 200.
    pub ready: bool,
    /// Client connections open now and refused over a cap so far.
    pub api_connections: (usize, u64),
    /// The counted totals, if any.
    pub counts: Option<Counts>,
    /// Bytes under the data directory.
    pub data_dir_bytes: Option<u64>,
    /// This process's resource use.
    pub process: ProcessSample,
}

/// Encodes `scrape` in the text format.
///
/// # Errors
/// Only a formatting error of the encoder (writing into a `String` does not fail).
pub fn encode(scrape: Scrape) -> Result<String, std::fmt::Error> {
    let mut registry = Registry::with_prefix("tracker");
    registry.register_collector(Box::new(scrape));
    let mut out = String::with_capacity(16 * 1024);
    prometheus_client::encoding::text::encode(&mut out, &registry)?;
    Ok(out)
}

/// Writes one metric after another into a [`DescriptorEncoder`].
struct Out<'a>(DescriptorEncoder<'a>);

impl Out<'_> {
    fn counter(&mut self, name: &str, help: &str, unit: Option<Unit>, v: u64) -> std::fmt::Result {
        let mut m = self
            .0
            .encode_descriptor(name, help, unit.as_ref(), MetricType::Counter)?;
        m.encode_counter::<NoLabelSet, _, f64>(&v, None)
    }

    fn counter_f64(&mut self, name: &str, help: &str, unit: Unit, v: f64) -> std::fmt::Result {
        let mut m = self
            .0
            .encode_descriptor(name, help, Some(&unit), MetricType::Counter)?;
        m.encode_counter::<NoLabelSet, _, f64>(&v, None)
    }

    fn gauge(&mut self, name: &str, help: &str, unit: Option<Unit>, v: i64) -> std::fmt::Result {
        let mut m = self
            .0
            .encode_descriptor(name, help, unit.as_ref(), MetricType::Gauge)?;
        m.encode_gauge(&v)
    }

    /// A gauge left out when its value is unknown.
    fn gauge_opt(
        &mut self,
        name: &str,
        help: &str,
        unit: Option<Unit>,
        v: Option<u64>,
    ) -> std::fmt::Result {
        match v {
            Some(v) => self.gauge(name, help, unit, to_i64(v)),
            None => Ok(()),
        }
    }

    fn histogram(
        &mut self,
        name: &str,
        help: &str,
        unit: Option<Unit>,
        h: &HistogramSnapshot,
    ) -> std::fmt::Result {
        let mut m = self
            .0
            .encode_descriptor(name, help, unit.as_ref(), MetricType::Histogram)?;
        m.encode_histogram::<NoLabelSet>(h.sum, h.count, &h.buckets, None)
    }

    /// A family of gauges, one per label set.
    fn gauges<S: EncodeLabelSet>(
        &mut self,
        name: &str,
        help: &str,
        items: &[(S, i64)],
    ) -> std::fmt::Result {
        let mut m = self
            .0
            .encode_descriptor(name, help, None, MetricType::Gauge)?;
        for (labels, v) in items {
            m.encode_family(labels)?.encode_gauge(v)?;
        }
        Ok(())
    }

    /// A family of counters, one per label set.
    fn counters<S: EncodeLabelSet>(
        &mut self,
        name: &str,
        help: &str,
        items: &[(S, u64)],
    ) -> std::fmt::Result {
        let mut m = self
            .0
            .encode_descriptor(name, help, None, MetricType::Counter)?;
        for (labels, v) in items {
            m.encode_family(labels)?
                .encode_counter::<NoLabelSet, _, f64>(v, None)?;
        }
        Ok(())
    }
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn load(a: &std::sync::atomic::AtomicU64) -> u64 {
    a.load(Ordering::Relaxed)
}

impl Collector for Scrape {
    fn encode(&self, encoder: DescriptorEncoder) -> std::fmt::Result {
        let mut out = Out(encoder);
        self.raft_metrics(&mut out)?;
        write_path(&mut out)?;
        self.clients(&mut out)?;
        self.state(&mut out)?;
        self.process_metrics(&mut out)
    }
}

impl Scrape {
    fn raft_metrics(&self, out: &mut Out<'_>) -> std::fmt::Result {
        let m = &self.raft;
        let c = &COUNTERS;
        out.gauge(
            "raft_term",
            "Current Raft term.",
            None,
            to_i64(m.current_term),
        )?;
        let roles = ["leader", "follower", "candidate", "learner", "shutdown"];
        let now = role_name(m.state);
        let role_items: Vec<([(&str, &str); 1], i64)> = roles
            .iter()
            .map(|r| ([("role", *r)], i64::from(*r == now)))
            .collect();
        out.gauges(
            "raft_role",
            "1 for this node's Raft role, 0 for the others.",
            &role_items,
        )?;
        out.gauge(
            "raft_leader_id",
            "The leader this node knows (0: none).",
            None,
            to_i64(m.current_leader.unwrap_or(0)),
        )?;
        out.gauge(
            "ready",
            "1 if /readyz answers 200.",
            None,
            i64::from(self.ready),
        )?;
        out.gauge_opt(
            "raft_last_log_index",
            "Index of the last log entry.",
            None,
            m.last_log_index,
        )?;
        out.gauge_opt(
            "raft_commit_index",
            "The committed index this node knows.",
            None,
            c.committed(),
        )?;
        out.gauge_opt(
            "raft_applied_index",
            "Index of the last applied entry.",
            None,
            m.last_applied.map(|l| l.index),
        )?;
        let first = m.purged.map_or(0, |p| p.index.saturating_add(1));
        let log_entries = m
            .last_log_index
            .map_or(0, |l| l.saturating_add(1).saturating_sub(first));
        out.gauge(
            "raft_log_entries",
            "Entries in the log (not yet purged behind a snapshot).",
            None,
            to_i64(log_entries),
        )?;
        out.gauge_opt(
            "raft_snapshot_index",
            "Last index in the latest snapshot.",
            None,
            m.snapshot.map(|l| l.index),
        )?;
        out.gauge(
            "raft_snapshot_size",
            "Size of the latest snapshot stored or loaded (0: none since start).",
            Some(Unit::Bytes),
            to_i64(load(&c.snapshot_bytes)),
        )?;
        if let Some(ms) = m.millis_since_quorum_ack {
            let mut d = out.0.encode_descriptor(
                "raft_quorum_ack_age",
                "On the leader: time since a quorum last acknowledged it.",
                Some(&Unit::Seconds),
                MetricType::Gauge,
            )?;
            d.encode_gauge(&(ms as f64 / 1000.0))?;
        }
        out.counter(
            "raft_elections_started",
            "Elections this node started (watchdog, closed leader link, takeover).",
            None,
            load(&c.elections_started),
        )?;
        out.histogram(
            "raft_append_entries_rtt",
            "Round trip of outgoing AppendEntries (heartbeats included).",
            Some(Unit::Seconds),
            &c.append_entries_seconds.snapshot(),
        )?;
        out.counter(
            "raft_append_entries_failures",
            "Outgoing AppendEntries that failed or timed out.",
            None,
            load(&c.append_entries_failures),
        )?;
        let lags: Vec<([(&str, String); 1], i64)> = m
            .replication
            .as_ref()
            .map(|r| {
                r.iter()
                    .filter(|(id, _)| **id != m.id)
                    .map(|(id, matched)| {
                        let lag = follower_lag(m.last_log_index, matched.map(|l| l.index));
                        ([("follower", id.to_string())], to_i64(lag))
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.gauges(
            "raft_replication_lag_entries",
            "On the leader: entries of its log each follower does not hold yet.",
            &lags,
        )
    }

    fn clients(&self, out: &mut Out<'_>) -> std::fmt::Result {
        let c = &COUNTERS;
        let (open, refused) = self.api_connections;
        out.gauge(
            "api_connections_open",
            "Client API connections open now.",
            None,
            to_i64(u64::try_from(open).unwrap_or(u64::MAX)),
        )?;
        out.counter(
            "api_connections_accepted",
            "Client API connections accepted.",
            None,
            load(&c.connections_accepted),
        )?;
        out.counter(
            "api_connections_refused",
            "Client API connections closed at once over --max-connections(-per-source).",
            None,
            refused,
        )?;
        out.counter(
            "api_tls_handshake_failures",
            "Client API connections whose TLS handshake failed or timed out.",
            None,
            load(&c.tls_handshake_failures),
        )?;
        let requests: Vec<([(&str, &str); 1], u64)> = RequestKind::ALL
            .iter()
            .map(|k| ([("kind", k.label())], load(&c.requests[*k as usize])))
            .collect();
        out.counters(
            "api_requests",
            "Client requests answered, by kind.",
            &requests,
        )?;
        let mut errors: Vec<([(&str, &str); 2], u64)> = Vec::new();
        for k in RequestKind::ALL {
            for (i, name) in ERROR_KINDS.iter().enumerate() {
                let n = load(&c.request_errors[k as usize][i]);
                if n > 0 {
                    errors.push(([("kind", k.label()), ("error", *name)], n));
                }
            }
        }
        out.counters(
            "api_request_errors",
            "Client requests answered with an error, by request kind and error kind (refusals \
             included).",
            &errors,
        )
    }

    fn state(&self, out: &mut Out<'_>) -> std::fmt::Result {
        let c = &COUNTERS;
        out.counter(
            "peer_heartbeats",
            "Peer heartbeats answered by this node as the leader.",
            None,
            load(&c.heartbeats),
        )?;
        out.counter(
            "liveness_offline_sweeps",
            "Liveness sweeps that marked silent peers offline.",
            None,
            load(&c.offline_sweeps),
        )?;
        out.counter(
            "liveness_peers_marked_offline",
            "Peers the liveness sweeps marked offline.",
            None,
            load(&c.peers_marked_offline),
        )?;
        if let Some(n) = &self.counts {
            let items = [
                ([("table", "users")], to_i64(n.users)),
                ([("table", "groups")], to_i64(n.groups)),
                ([("table", "files")], to_i64(n.files)),
                ([("table", "peers")], to_i64(n.peers)),
                ([("table", "peers_online")], to_i64(n.peers_online)),
            ];
            out.gauges(
                "state_records",
                "Records in the committed state (counted at most every 30 s).",
                &items,
            )?;
            out.gauge(
                "peers_online",
                "Peers marked online in the committed state.",
                None,
                to_i64(n.peers_online),
            )?;
        }
        out.gauge_opt(
            "storage_data_dir_size",
            "Bytes of the files under the data directory (sled's log, state and snapshots).",
            Some(Unit::Bytes),
            self.data_dir_bytes,
        )?;
        out.counter(
            "storage_drains",
            "Background drains of staged state-machine writes into sled.",
            None,
            load(&c.drains),
        )?;
        out.counter(
            "storage_drained_keys",
            "Keys those drains wrote.",
            None,
            load(&c.drained_keys),
        )
    }

    fn process_metrics(&self, out: &mut Out<'_>) -> std::fmt::Result {
        let p = &self.process;
        out.gauge_opt(
            "process_resident_memory",
            "Resident set size.",
            Some(Unit::Bytes),
            p.resident_bytes,
        )?;
        if let Some(s) = p.cpu_seconds {
            out.counter_f64("process_cpu", "User and system CPU time.", Unit::Seconds, s)?;
        }
        out.gauge_opt(
            "process_open_fds",
            "Open file descriptors.",
            None,
            p.open_fds,
        )
    }
}

/// The group commit and the reads.
fn write_path(out: &mut Out<'_>) -> std::fmt::Result {
    let c = &COUNTERS;
    out.counter(
        "write_proposals",
        "Commands the group commit put into entries.",
        None,
        load(&c.proposals),
    )?;
    out.counter(
        "write_entries",
        "Entries the group commit handed to Raft.",
        None,
        load(&c.entries),
    )?;
    out.counter(
        "write_entries_failed",
        "Entries not committed (timeout, leadership lost, stopping).",
        None,
        load(&c.entries_failed),
    )?;
    out.histogram(
        "write_commands_per_entry",
        "Commands per entry.",
        None,
        &c.writes_per_entry.snapshot(),
    )?;
    out.histogram(
        "write_commit",
        "From handing an entry to Raft to its result (committed and applied).",
        Some(Unit::Seconds),
        &c.commit_seconds.snapshot(),
    )?;
    out.counter(
        "read_linearizable",
        "Read barriers asked for (linearizable reads and leader checks).",
        None,
        load(&c.linearizable_reads),
    )?;
    out.counter(
        "read_index_rounds",
        "Quorum confirmations run for them (concurrent reads share one).",
        None,
        load(&c.read_index_rounds),
    )
}
