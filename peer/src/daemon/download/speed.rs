//! [`SpeedMeter`]: a download's speed over the last few seconds, from samples of its verified
//! byte count that the coordinator takes on every turn of its loop (at least four a second), so
//! the figure does not depend on how often anyone asks for it.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How far back the speed looks.
pub const SPEED_WINDOW: Duration = Duration::from_secs(5);
/// Samples closer together than this are merged (bounds the queue to about 40 entries).
const MIN_SPACING: Duration = Duration::from_millis(125);

/// (time, verified bytes) samples within [`SPEED_WINDOW`].
#[derive(Debug, Default)]
pub struct SpeedMeter {
    samples: VecDeque<(Instant, u64)>,
}

impl SpeedMeter {
    /// Records that `bytes` were verified in all at `now`.
    pub fn sample(&mut self, now: Instant, bytes: u64) {
        if let Some(last) = self.samples.back_mut() {
            if now.saturating_duration_since(last.0) < MIN_SPACING {
                last.1 = last.1.max(bytes);
                return;
            }
        }
        self.samples.push_back((now, bytes));
        // Keep one sample at or before the window's start, so the window is covered whole.
        while self.samples.len() > 2
            && self
                .samples
                .get(1)
                .is_some_and(|s| now.saturating_duration_since(s.0) >= SPEED_WINDOW)
        {
            self.samples.pop_front();
        }
    }

    /// Bytes per second between the oldest and the newest sample, or 0 with fewer than two
    /// samples (or none newer than [`SPEED_WINDOW`] before `now`: a stalled download).
    pub fn bytes_per_sec(&self, now: Instant) -> u64 {
        let (Some(first), Some(last)) = (self.samples.front(), self.samples.back()) else {
            return 0;
        };
        if now.saturating_duration_since(last.0) > SPEED_WINDOW {
            return 0;
        }
        let secs = last.0.saturating_duration_since(first.0).as_secs_f64();
        if secs <= 0.0 {
            return 0;
        }
        (last.1.saturating_sub(first.1) as f64 / secs) as u64
    }
}

/// Seconds until `remaining` bytes are in at `bytes_per_sec`, or `None` without a speed.
pub fn eta_secs(remaining: u64, bytes_per_sec: u64) -> Option<u64> {
    (bytes_per_sec > 0).then(|| remaining.div_ceil(bytes_per_sec))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speed_is_the_rate_over_the_window() {
        let t0 = Instant::now();
        let mut m = SpeedMeter::default();
        assert_eq!(m.bytes_per_sec(t0), 0, "no samples");
        m.sample(t0, 0);
        assert_eq!(m.bytes_per_sec(t0), 0, "one sample");
        for i in 1..=40u64 {
            m.sample(t0 + Duration::from_millis(250 * i), 250_000 * i);
        }
        // 1 MB/s throughout; the window keeps about 5 s of it.
        let now = t0 + Duration::from_secs(10);
        assert_eq!(m.bytes_per_sec(now), 1_000_000);
        assert!(
            m.samples.len() <= 22,
            "old samples dropped: {}",
            m.samples.len()
        );
        // A stall: the rate falls as the window slides past the last progress.
        for i in 41..=48u64 {
            m.sample(t0 + Duration::from_millis(250 * i), 10_000_000);
        }
        let slower = m.bytes_per_sec(t0 + Duration::from_secs(12));
        assert!(slower < 1_000_000 && slower > 0, "{slower}");
        assert_eq!(
            m.bytes_per_sec(t0 + Duration::from_secs(30)),
            0,
            "nothing recent"
        );
    }

    #[test]
    fn close_samples_merge() {
        let t0 = Instant::now();
        let mut m = SpeedMeter::default();
        for i in 0..100u64 {
            m.sample(t0 + Duration::from_millis(i), i);
        }
        assert_eq!(m.samples.len(), 1);
    }

    #[test]
    fn eta_needs_a_speed() {
        assert_eq!(eta_secs(100, 0), None);
        assert_eq!(eta_secs(100, 30), Some(4));
        assert_eq!(eta_secs(0, 30), Some(0));
    }
}
