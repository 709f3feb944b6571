//! Measuring one source: [`SourceMeter`] keeps a connection's throughput (an EWMA over windows
//! of at least [`WINDOW`]) and round-trip time (the TCP connect, then the time from a request
//! sent on an empty pipeline to the first bytes of its answer, an EWMA too); [`SourceStats`] is
//! what the download's listing shows of each source. Pure arithmetic over the instants it is
//! given.

use std::time::{Duration, Instant};

use crate::control::SourceInfo;
use crate::scheduler::{effective_rate, PeerKey};

/// Shortest window a throughput sample covers.
pub(super) const WINDOW: Duration = Duration::from_millis(250);
/// Weight of a new sample in both averages, as 1/`EWMA_DIV` (about four samples, one second of
/// throughput windows, make up most of the average).
const EWMA_DIV: u64 = 4;

/// The measurements of one live connection to a source.
#[derive(Debug)]
pub(super) struct SourceMeter {
    /// (start, bytes received since) of the current throughput window.
    window: (Instant, u64),
    /// Throughput average in bytes per second; 0 until the first window closes.
    throughput: u64,
    /// Round-trip average.
    rtt: Duration,
    /// A request sent on an empty pipeline, and when: its answer's first bytes time a round trip.
    probe: Option<(u32, Instant)>,
}

impl SourceMeter {
    /// A connection that took `connect_rtt` to open (its TCP handshake: one round trip).
    pub(super) fn new(now: Instant, connect_rtt: Duration) -> Self {
        SourceMeter {
            window: (now, 0),
            throughput: 0,
            rtt: connect_rtt,
            probe: None,
        }
    }

    /// `bytes` of chunk data arrived.
    pub(super) fn on_bytes(&mut self, bytes: u64) {
        self.window.1 = self.window.1.saturating_add(bytes);
    }

    /// Closes the window if it is at least [`WINDOW`] old: returns its rate (bytes per second),
    /// folded into the average, and starts the next one.
    pub(super) fn close_window(&mut self, now: Instant) -> Option<u64> {
        let elapsed = now.saturating_duration_since(self.window.0);
        if elapsed < WINDOW {
            return None;
        }
        let rate = (self.window.1 as f64 / elapsed.as_secs_f64()) as u64;
        self.throughput = if self.throughput == 0 {
            rate
        } else {
            ewma(self.throughput, rate)
        };
        self.window = (now, 0);
        Some(rate)
    }

    /// Starts a new window without a sample: the connection had nothing to ask for, and time
    /// spent idle says nothing of the source's speed.
    pub(super) fn restart_window(&mut self, now: Instant) {
        self.window = (now, 0);
        self.probe = None;
    }

    /// Request `index` went out with nothing else in flight at `now`.
    pub(super) fn sent_alone(&mut self, index: u32, now: Instant) {
        if self.probe.is_none() {
            self.probe = Some((index, now));
        }
    }

    /// The first bytes of the answer to request `index` arrived at `now`.
    pub(super) fn answered(&mut self, index: u32, now: Instant) {
        if let Some((probe, sent)) = self.probe {
            if probe == index {
                let sample = now.saturating_duration_since(sent);
                let avg = ewma(duration_micros(self.rtt), duration_micros(sample));
                self.rtt = Duration::from_micros(avg);
                self.probe = None;
            }
        }
    }

    /// Throughput average in bytes per second (0 until measured).
    pub(super) fn throughput(&self) -> u64 {
        self.throughput
    }

    /// Round-trip average.
    pub(super) fn rtt(&self) -> Duration {
        self.rtt
    }

    /// The rate the scheduler ranks this source by ([`effective_rate`]).
    pub(super) fn rate(&self, chunk_bytes: u64) -> u64 {
        effective_rate(self.throughput, self.rtt, chunk_bytes)
    }
}

fn duration_micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// `avg` moved by 1/[`EWMA_DIV`] of the way to `sample`.
fn ewma(avg: u64, sample: u64) -> u64 {
    let avg = u128::from(avg);
    let moved = (avg * u128::from(EWMA_DIV - 1) + u128::from(sample)) / u128::from(EWMA_DIV);
    u64::try_from(moved).unwrap_or(u64::MAX)
}

/// What a download's listing shows of one source, updated by its connection.
#[derive(Debug, Clone, Default)]
pub(super) struct SourceStats {
    /// Where it serves.
    pub(super) addr: String,
    /// Chunk bytes received from it (duplicates and cancelled ones included), all connections.
    pub(super) bytes_received: u64,
    /// Throughput now: the average while a connection has requests in flight, 0 otherwise.
    pub(super) bytes_per_sec: u64,
    /// Round-trip average of the latest connection, once connected.
    pub(super) rtt: Option<Duration>,
    /// A connection is live.
    pub(super) connected: bool,
}

impl SourceStats {
    /// The listing row, with the verified chunks the scheduler counted for it.
    pub(super) fn info(&self, peer_id: PeerKey, chunks: u32) -> SourceInfo {
        SourceInfo {
            peer_id,
            addr: self.addr.clone(),
            bytes_received: self.bytes_received,
            bytes_per_sec: self.bytes_per_sec,
            rtt_micros: self.rtt.map(duration_micros),
            chunks,
            connected: self.connected,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throughput_is_an_average_of_windows_and_idle_time_does_not_count() {
        let t0 = Instant::now();
        let mut m = SourceMeter::new(t0, Duration::from_millis(2));
        m.on_bytes(1_000_000);
        assert_eq!(
            m.close_window(t0 + Duration::from_millis(100)),
            None,
            "too short"
        );
        assert_eq!(m.throughput(), 0, "not measured yet");
        assert_eq!(
            m.close_window(t0 + Duration::from_millis(500)),
            Some(2_000_000)
        );
        assert_eq!(m.throughput(), 2_000_000, "the first window is the average");
        // Idle for a minute: no sample.
        m.restart_window(t0 + Duration::from_secs(60));
        m.on_bytes(500_000);
        let t1 = t0 + Duration::from_secs(60) + Duration::from_millis(500);
        assert_eq!(m.close_window(t1), Some(1_000_000));
        assert_eq!(
            m.throughput(),
            1_750_000,
            "a quarter of the way to the new sample"
        );
    }

    #[test]
    fn round_trip_starts_at_the_connect_and_follows_lone_requests() {
        let t0 = Instant::now();
        let mut m = SourceMeter::new(t0, Duration::from_millis(4));
        assert_eq!(m.rtt(), Duration::from_millis(4));
        m.sent_alone(3, t0);
        m.sent_alone(4, t0 + Duration::from_millis(1)); // one probe at a time
        m.answered(4, t0 + Duration::from_millis(3)); // not the probe
        assert_eq!(m.rtt(), Duration::from_millis(4));
        m.answered(3, t0 + Duration::from_millis(8));
        assert_eq!(
            m.rtt(),
            Duration::from_millis(5),
            "4 ms moved a quarter toward 8 ms"
        );
        m.answered(3, t0 + Duration::from_secs(9));
        assert_eq!(m.rtt(), Duration::from_millis(5), "answered once");
    }

    #[test]
    fn the_rate_folds_in_the_round_trip() {
        let t0 = Instant::now();
        let mut m = SourceMeter::new(t0, Duration::from_millis(10));
        assert_eq!(m.rate(1 << 20), 0, "unmeasured");
        m.on_bytes(100 << 20);
        m.close_window(t0 + Duration::from_secs(1));
        assert_eq!(
            m.rate(1 << 20),
            50 << 20,
            "10 ms transfer + 10 ms round trip"
        );
    }

    #[test]
    fn stats_show_the_round_trip_in_microseconds() {
        let s = SourceStats {
            addr: "127.0.0.1:1".into(),
            bytes_received: 9,
            bytes_per_sec: 3,
            rtt: Some(Duration::from_micros(1500)),
            connected: true,
        };
        let i = s.info(7, 2);
        assert_eq!((i.peer_id, i.chunks, i.rtt_micros), (7, 2, Some(1500)));
    }
}
