//! The log subscriber every binary installs: one filter from `RUST_LOG` or the binary's default,
//! lines to stderr, colours only on a terminal. Behind the `subscriber` feature, so a user of the
//! wire types alone does not build `tracing-subscriber`.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Installs the process's global subscriber: the filter is `RUST_LOG` if it parses, else
/// `default_filter` (e.g. `"info,openraft=warn,sled=warn"`); lines go to stderr, with ANSI
/// colours only if stderr is a terminal. Does nothing if a subscriber is already installed.
pub fn init(default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}
