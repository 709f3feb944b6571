//! A token bucket shared by all transfers in one direction (`--upload-limit`, `--download-limit`).

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::error::RateError;

/// Limits the byte rate of everything that calls [`RateLimiter::acquire`].
pub struct RateLimiter {
    bytes_per_sec: f64,
    /// (available tokens, last refill).
    bucket: Mutex<(f64, Instant)>,
}

impl RateLimiter {
    /// A limiter of `bytes_per_sec`, allowing bursts of a quarter second.
    pub fn new(bytes_per_sec: u64) -> Self {
        RateLimiter {
            bytes_per_sec: bytes_per_sec.max(1) as f64,
            bucket: Mutex::new((0.0, Instant::now())),
        }
    }

    /// Waits until `bytes` may pass.
    pub async fn acquire(&self, bytes: usize) {
        let wait = {
            let Ok(mut b) = self.bucket.lock() else {
                return;
            };
            let now = Instant::now();
            let burst = self.bytes_per_sec / 4.0;
            let refilled = b.0 + now.duration_since(b.1).as_secs_f64() * self.bytes_per_sec;
            // Debt is allowed: the caller sends now and later callers wait it off.
            let tokens = refilled.min(burst) - bytes as f64;
            *b = (tokens, now);
            if tokens >= 0.0 {
                Duration::ZERO
            } else {
                Duration::from_secs_f64(-tokens / self.bytes_per_sec)
            }
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

/// Parses a rate such as `500K`, `10M`, `1G` or a plain byte count (per second).
///
/// # Errors
/// [`RateError`], whose message names the accepted forms.
pub fn parse_rate(s: &str) -> Result<u64, RateError> {
    let t = s.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, 'K' | 'k')) => (&t[..i], 1u64 << 10),
        Some((i, 'M' | 'm')) => (&t[..i], 1 << 20),
        Some((i, 'G' | 'g')) => (&t[..i], 1 << 30),
        _ => (t, 1),
    };
    let n: f64 = num.trim().parse().map_err(|_| RateError::NotARate {
        input: s.to_string(),
    })?;
    if n.is_nan() || n <= 0.0 {
        return Err(RateError::NotPositive {
            input: s.to_string(),
        });
    }
    Ok((n * mult as f64) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates() {
        assert_eq!(parse_rate("10M"), Ok(10 << 20));
        assert_eq!(parse_rate("512k"), Ok(512 << 10));
        assert_eq!(parse_rate("1000"), Ok(1000));
        assert!(parse_rate("fast").is_err());
        assert!(parse_rate("0").is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn limits_the_rate() {
        let l = RateLimiter::new(1000);
        let t = tokio::time::Instant::now();
        for _ in 0..10 {
            l.acquire(500).await;
        }
        // 5000 bytes at 1000 B/s: about 4.5 s once the first call's debt is counted.
        let took = t.elapsed();
        assert!(took >= Duration::from_millis(4400), "{took:?}");
        assert!(took <= Duration::from_millis(5100), "{took:?}");
    }
}
