//! `bench`: benchmarks against real processes on 127.0.0.1, in release builds:
//! `cargo run --release -p chaos-tests --bin bench -- transfer [--size-mib N] [--seeders 1,3,5]`.

use clap::{Parser, Subcommand};

/// Benchmarks of the tracker cluster and peers.
#[derive(Debug, Parser)]
#[command(name = "bench")]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Debug, Subcommand)]
enum Scenario {
    /// One file seeded by 1, 3 and 5 peers, downloaded by a fresh peer: MiB/s, first byte, RSS.
    Transfer {
        /// File size in MiB.
        #[arg(long, default_value_t = 1024)]
        size_mib: u64,
        /// Seeder counts to measure, in increasing order.
        #[arg(long, value_delimiter = ',', default_value = "1,3,5")]
        seeders: Vec<usize>,
    },
}

fn main() -> std::process::ExitCode {
    if let Some(code) = chaos_tests::procs::run_embedded() {
        return code;
    }
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("bench: error: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.scenario {
            Scenario::Transfer { size_mib, seeders } => {
                let rows = chaos_tests::transfer::run(size_mib, &seeders).await?;
                println!(
                    "\n{:<8} {:>9} {:>9} {:>10} {:>14} {:>13}",
                    "SEEDERS", "SIZE_MIB", "SECONDS", "MIB/S", "FIRST_BYTE_MS", "PEAK_RSS_MIB"
                );
                for r in rows {
                    println!(
                        "{:<8} {:>9} {:>9.2} {:>10.1} {:>14.1} {:>13.1}",
                        r.seeders,
                        r.size_mib,
                        r.seconds,
                        r.mib_per_sec,
                        r.first_byte_ms,
                        r.downloader_peak_rss_mib
                    );
                }
                Ok::<_, anyhow::Error>(())
            }
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
