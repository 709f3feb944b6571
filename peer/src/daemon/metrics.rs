//! The daemon's Prometheus metrics (`GET /metrics`): counters the data path bumps (atomics, no
//! locks), the tracker round trips the client reports, and gauges sampled when scraped (the
//! downloads by state, the connected peers, the shares, the process's memory, CPU and fds).

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use proto::client::RoundTrip;

/// Label pairs of one series.
type Labels = Vec<(&'static str, &'static str)>;

/// What is sampled from the daemon's state at scrape time.
#[derive(Debug, Clone, Default)]
pub struct Sampled {
    /// Downloads per state name (`running`, `complete`, `failed`, `cancelled`).
    pub downloads: Vec<(&'static str, i64)>,
    /// Source peers the running downloads are connected to.
    pub download_peers: i64,
    /// Files seeded.
    pub shares: i64,
}

/// Every metric of one daemon, registered once.
pub struct DaemonMetrics {
    registry: Registry,
    /// Chunk payload bytes sent to other peers.
    pub uploaded_bytes: Counter,
    /// Verified chunk bytes received (written to a download).
    pub downloaded_bytes: Counter,
    /// Chunks sent to other peers.
    pub chunks_served: Counter,
    /// Chunks received whose SHA-1 matched the manifest.
    pub chunks_verified: Counter,
    /// Chunks received whose SHA-1 did not match (a strike against their peer).
    pub chunks_rejected: Counter,
    /// Connections on the peer port being served now.
    pub upload_connections: Gauge,
    download_peers: Gauge,
    downloads: Family<Labels, Gauge>,
    shares: Gauge,
    tracker_requests: Family<Labels, Counter>,
    tracker_seconds: Family<Labels, Histogram>,
    process_resident_bytes: Gauge,
    process_cpu_seconds: Counter<f64, std::sync::atomic::AtomicU64>,
    process_open_fds: Gauge,
}

impl Default for DaemonMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl DaemonMetrics {
    /// Creates and registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let m = DaemonMetrics {
            registry: Registry::default(),
            uploaded_bytes: Counter::default(),
            downloaded_bytes: Counter::default(),
            chunks_served: Counter::default(),
            chunks_verified: Counter::default(),
            chunks_rejected: Counter::default(),
            upload_connections: Gauge::default(),
            download_peers: Gauge::default(),
            downloads: Family::default(),
            shares: Gauge::default(),
            tracker_requests: Family::default(),
            tracker_seconds: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.0005, 2.0, 16))
            }),
            process_resident_bytes: Gauge::default(),
            process_cpu_seconds: Counter::default(),
            process_open_fds: Gauge::default(),
        };
        let r = &mut registry;
        r.register(
            "peer_uploaded_bytes",
            "Chunk bytes sent to other peers",
            m.uploaded_bytes.clone(),
        );
        r.register(
            "peer_downloaded_bytes",
            "Verified chunk bytes received",
            m.downloaded_bytes.clone(),
        );
        r.register(
            "peer_chunks_served",
            "Chunks sent to other peers",
            m.chunks_served.clone(),
        );
        r.register(
            "peer_chunks_verified",
            "Chunks received that matched their SHA-1",
            m.chunks_verified.clone(),
        );
        r.register(
            "peer_chunks_rejected",
            "Chunks received that did not match their SHA-1",
            m.chunks_rejected.clone(),
        );
        r.register(
            "peer_upload_connections",
            "Connections on the peer port being served",
            m.upload_connections.clone(),
        );
        r.register(
            "peer_download_peers",
            "Source peers the running downloads are connected to",
            m.download_peers.clone(),
        );
        r.register(
            "peer_downloads",
            "Downloads of this daemon by state",
            m.downloads.clone(),
        );
        r.register("peer_shares", "Files this daemon seeds", m.shares.clone());
        r.register(
            "peer_tracker_requests",
            "Tracker writes and reads by kind and outcome",
            m.tracker_requests.clone(),
        );
        r.register(
            "peer_tracker_request_duration_seconds",
            "Tracker round trips (retries and failover included)",
            m.tracker_seconds.clone(),
        );
        r.register(
            "peer_process_resident_memory_bytes",
            "Resident memory of the daemon",
            m.process_resident_bytes.clone(),
        );
        r.register(
            "peer_process_cpu_seconds",
            "CPU time of the daemon (user + system)",
            m.process_cpu_seconds.clone(),
        );
        r.register(
            "peer_process_open_fds",
            "Open file descriptors of the daemon",
            m.process_open_fds.clone(),
        );
        DaemonMetrics { registry, ..m }
    }

    /// Counts one settled tracker request (the tracker client's observer).
    pub fn observe_round_trip(&self, rt: RoundTrip) {
        let outcome = if rt.ok { "ok" } else { "error" };
        self.tracker_requests
            .get_or_create(&vec![("kind", rt.kind), ("outcome", outcome)])
            .inc();
        self.tracker_seconds
            .get_or_create(&vec![("kind", rt.kind)])
            .observe(rt.elapsed.as_secs_f64());
    }

    /// The Prometheus text exposition, after setting the sampled gauges from `sampled` and
    /// `/proc/self`.
    pub fn render(&self, sampled: &Sampled) -> String {
        for (state, n) in &sampled.downloads {
            self.downloads
                .get_or_create(&vec![("state", *state)])
                .set(*n);
        }
        self.download_peers.set(sampled.download_peers);
        self.shares.set(sampled.shares);
        let p = process_sample();
        self.process_resident_bytes.set(p.resident_bytes);
        // A counter: it moves by what the process used since the last scrape.
        let used = p.cpu_seconds - self.process_cpu_seconds.get();
        if used > 0.0 {
            self.process_cpu_seconds.inc_by(used);
        }
        self.process_open_fds.set(p.open_fds);
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

/// The process figures read from `/proc/self` (zeros where it cannot be read).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProcessSample {
    /// Resident set size in bytes.
    pub resident_bytes: i64,
    /// User plus system CPU time in seconds.
    pub cpu_seconds: f64,
    /// Open file descriptors.
    pub open_fds: i64,
}

/// Reads RSS from `/proc/self/statm`, CPU time from `/proc/self/stat` and counts
/// `/proc/self/fd`.
pub fn process_sample() -> ProcessSample {
    // SAFETY: sysconf has no preconditions; it only reads a configuration value.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(1);
    // SAFETY: as above.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1);
    let resident_pages = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<i64>().ok())
        .unwrap_or(0);
    let cpu_ticks = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| cpu_ticks_of_stat(&s))
        .unwrap_or(0);
    let open_fds = std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count() as i64)
        .unwrap_or(0);
    ProcessSample {
        resident_bytes: resident_pages.saturating_mul(page),
        cpu_seconds: cpu_ticks as f64 / ticks as f64,
        open_fds,
    }
}

/// utime + stime (fields 14 and 15) of a `/proc/PID/stat` line; the command name in
/// parentheses may hold spaces, so fields are counted after its closing parenthesis.
fn cpu_ticks_of_stat(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        let line = "42 (a) b c) S 1 2 3 4 5 6 7 8 9 10 150 25 0 0 20 0 1 0";
        assert_eq!(cpu_ticks_of_stat(line), Some(175));
        assert_eq!(cpu_ticks_of_stat("garbage"), None);
        assert_eq!(cpu_ticks_of_stat("1 (x) S 1"), None);
    }

    #[test]
    fn render_shows_counters_round_trips_and_sampled_gauges() {
        let m = DaemonMetrics::new();
        m.chunks_verified.inc_by(3);
        m.observe_round_trip(RoundTrip {
            kind: "read",
            elapsed: Duration::from_millis(3),
            ok: true,
        });
        let text = m.render(&Sampled {
            downloads: vec![("running", 2), ("complete", 1)],
            download_peers: 4,
            shares: 5,
        });
        assert!(text.contains("peer_chunks_verified_total 3"), "{text}");
        assert!(
            text.contains("peer_tracker_requests_total{kind=\"read\",outcome=\"ok\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("peer_tracker_request_duration_seconds_count{kind=\"read\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("peer_downloads{state=\"running\"} 2"),
            "{text}"
        );
        assert!(text.contains("peer_download_peers 4"), "{text}");
        assert!(text.contains("peer_shares 5"), "{text}");
        assert!(process_sample().resident_bytes > 0);
        assert!(text.contains("peer_process_cpu_seconds_total "), "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
