//! A Prometheus-like scraper for the benchmarks' `--scrape-metrics-ms`: one task per node asks
//! its `/metrics` every interval (a slow answer delays that node's next scrape instead of piling
//! up), so a run measures what monitoring costs the write path.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::task::JoinHandle;

/// Longest one scrape may take.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(5);

/// What the scrapers did.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct ScrapeStats {
    /// Scrapes answered 200.
    pub scrapes: u64,
    /// Scrapes that failed or answered another status.
    pub scrape_failures: u64,
    /// Mean time of an answered scrape, in milliseconds.
    pub scrape_mean_ms: f64,
    /// Mean size of an answered scrape's body, in bytes.
    pub scrape_mean_bytes: f64,
}

#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    failed: AtomicU64,
    micros: AtomicU64,
    bytes: AtomicU64,
}

/// Running scrapers; [`Scraper::stop`] ends them.
pub struct Scraper {
    tasks: Vec<JoinHandle<()>>,
    tally: Arc<Tally>,
}

impl Scraper {
    /// Starts one scraper per address in `http_addrs`, each asking every `every`.
    pub fn start(http_addrs: Vec<String>, every: Duration) -> Self {
        let tally = Arc::new(Tally::default());
        let tasks = http_addrs
            .into_iter()
            .map(|addr| {
                let tally = tally.clone();
                tokio::spawn(async move {
                    let mut tick = tokio::time::interval(every);
                    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    loop {
                        tick.tick().await;
                        let started = Instant::now();
                        match cluster::http_probe::get(&addr, "/metrics", SCRAPE_TIMEOUT).await {
                            Ok(r) if r.status == 200 => {
                                let us = u64::try_from(started.elapsed().as_micros())
                                    .unwrap_or(u64::MAX);
                                tally.ok.fetch_add(1, Ordering::Relaxed);
                                tally.micros.fetch_add(us, Ordering::Relaxed);
                                let len = u64::try_from(r.body.len()).unwrap_or(u64::MAX);
                                tally.bytes.fetch_add(len, Ordering::Relaxed);
                            }
                            _ => {
                                tally.failed.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                })
            })
            .collect();
        Scraper { tasks, tally }
    }

    /// What was scraped so far.
    pub fn stats(&self) -> ScrapeStats {
        let ok = self.tally.ok.load(Ordering::Relaxed);
        let per = |total: u64| {
            if ok == 0 {
                0.0
            } else {
                total as f64 / ok as f64
            }
        };
        ScrapeStats {
            scrapes: ok,
            scrape_failures: self.tally.failed.load(Ordering::Relaxed),
            scrape_mean_ms: per(self.tally.micros.load(Ordering::Relaxed)) / 1000.0,
            scrape_mean_bytes: per(self.tally.bytes.load(Ordering::Relaxed)),
        }
    }

    /// Stops the scrapers and returns their totals.
    pub fn stop(self) -> ScrapeStats {
        for t in &self.tasks {
            t.abort();
        }
        self.stats()
    }
}
