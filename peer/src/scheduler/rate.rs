//! A source's rate as the scheduler compares it: measured throughput with the round trip folded
//! in, and when one rate counts as faster than another. Pure arithmetic.

use std::time::Duration;

use super::{FASTER_DEN, FASTER_NUM};

/// The rate at which a source delivers chunks of `chunk_bytes` one after another when each also
/// waits one round trip: `chunk / (rtt + chunk / throughput)` bytes per second. A pipelined
/// connection hides most of the round trip, but a download's last chunks (and a source asked
/// for one chunk at a time) pay it whole, so a distant source ranks below a near one of the same
/// throughput. 0 if the throughput is not measured yet.
pub fn effective_rate(throughput_bytes_per_sec: u64, rtt: Duration, chunk_bytes: u64) -> u64 {
    if throughput_bytes_per_sec == 0 || chunk_bytes == 0 {
        return 0;
    }
    let secs = rtt.as_secs_f64() + chunk_bytes as f64 / throughput_bytes_per_sec as f64;
    // `secs` > 0 here, and the quotient is at most the throughput, which fits.
    (chunk_bytes as f64 / secs) as u64
}

/// Whether `rate` is faster than `than` by the margin of [`FASTER_NUM`]/[`FASTER_DEN`]; an
/// unmeasured rate (0) is never faster.
pub fn is_faster(rate: u64, than: u64) -> bool {
    rate > 0
        && u128::from(rate) * u128::from(FASTER_DEN) >= u128::from(than) * u128::from(FASTER_NUM)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_round_trip_lowers_the_rate_the_more_the_smaller_the_chunk() {
        let mib = 1 << 20;
        assert_eq!(effective_rate(0, Duration::from_millis(5), mib), 0);
        assert_eq!(effective_rate(100 * mib, Duration::ZERO, mib), 100 * mib);
        // 10 ms transfer + 10 ms round trip: half the throughput.
        assert_eq!(
            effective_rate(100 * mib, Duration::from_millis(10), mib),
            50 * mib
        );
        let near = effective_rate(100 * mib, Duration::from_micros(100), mib);
        let far = effective_rate(100 * mib, Duration::from_millis(50), mib);
        assert!(is_faster(near, far), "{near} vs {far}");
    }

    #[test]
    fn faster_needs_a_quarter_more_and_a_measurement() {
        assert!(is_faster(125, 100));
        assert!(!is_faster(124, 100));
        assert!(!is_faster(100, 100));
        assert!(!is_faster(0, 0), "unmeasured is never faster");
        assert!(
            is_faster(1, 0),
            "anything measured beats an unmeasured rate"
        );
        assert!(is_faster(u64::MAX, u64::MAX / 2));
    }
}
