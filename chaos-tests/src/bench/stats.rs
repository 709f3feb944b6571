//! Latency samples, their percentiles, and the plain-text tables and JSON lines the benchmark
//! scenarios print.

use std::time::Duration;

use serde::Serialize;

/// Latency samples in microseconds.
#[derive(Debug, Default, Clone)]
pub struct Latencies {
    micros: Vec<u64>,
}

impl Latencies {
    /// No samples yet.
    pub fn new() -> Self {
        Latencies::default()
    }

    /// Adds one sample.
    pub fn record(&mut self, d: Duration) {
        self.micros
            .push(u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
    }

    /// Adds every sample of `other`.
    pub fn extend(&mut self, other: Latencies) {
        self.micros.extend(other.micros);
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.micros.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.micros.is_empty()
    }

    /// Percentiles of the samples (all zero when there are none).
    pub fn summary(&self) -> Summary {
        let mut s = self.micros.clone();
        s.sort_unstable();
        let ms = |us: u64| us as f64 / 1000.0;
        let mean_us = if s.is_empty() {
            0.0
        } else {
            s.iter().map(|&us| us as f64).sum::<f64>() / s.len() as f64
        };
        Summary {
            count: s.len() as u64,
            mean_ms: mean_us / 1000.0,
            p50_ms: ms(percentile(&s, 0.50)),
            p95_ms: ms(percentile(&s, 0.95)),
            p99_ms: ms(percentile(&s, 0.99)),
            p999_ms: ms(percentile(&s, 0.999)),
            max_ms: ms(s.last().copied().unwrap_or(0)),
        }
    }
}

/// Percentiles of a set of latencies, in milliseconds.
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct Summary {
    /// Samples.
    pub count: u64,
    /// Arithmetic mean.
    pub mean_ms: f64,
    /// Median.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Largest sample.
    pub max_ms: f64,
}

/// Nearest-rank percentile of sorted values (`p` in 0..=1); 0 for no values.
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Prints `value` as one JSON line on stdout.
///
/// # Errors
/// If it cannot be serialized.
pub fn print_json(value: &impl Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string(value)?);
    Ok(())
}

/// Prints a table: a blank line, the header, then each row; the first column is left-aligned,
/// the others right-aligned.
pub fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let line = |cells: Vec<&str>| {
        cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, w))| {
                if i == 0 {
                    format!("{c:<w$}")
                } else {
                    format!("{c:>w$}")
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
    };
    println!();
    println!("{}", line(header.to_vec()));
    for row in rows {
        println!("{}", line(row.iter().map(String::as_str).collect()));
    }
}

/// A number with `decimals` digits after the point, for tables.
pub fn fmt(x: f64, decimals: usize) -> String {
    format!("{x:.decimals$}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=1000).collect();
        assert_eq!(percentile(&v, 0.5), 500);
        assert_eq!(percentile(&v, 0.99), 990);
        assert_eq!(percentile(&v, 0.999), 999);
        assert_eq!(percentile(&v, 1.0), 1000);
        assert_eq!(percentile(&v, 0.0), 1);
        assert_eq!(percentile(&[], 0.5), 0);
        assert_eq!(percentile(&[7], 0.999), 7);
    }

    #[test]
    fn summary_in_milliseconds() {
        let mut l = Latencies::new();
        for us in [1000, 2000, 3000, 4000] {
            l.record(Duration::from_micros(us));
        }
        let s = l.summary();
        assert_eq!(s.count, 4);
        assert_eq!(s.p50_ms, 2.0);
        assert_eq!(s.mean_ms, 2.5);
        assert_eq!(s.p95_ms, 4.0);
        assert_eq!(s.max_ms, 4.0);
        assert_eq!(Latencies::new().summary().count, 0);
    }
}
