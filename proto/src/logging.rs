//! The log subscriber every binary installs: one filter from `RUST_LOG` or the binary's default,
//! lines to stderr, as text (colours only on a terminal) or as one JSON object per line
//! (`--log-format json`, for a log collector). Behind the `subscriber` feature, so a user of the
//! wire types alone does not build `tracing-subscriber`.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// How log lines are written (`--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines: time, level, spans, message and fields.
    #[default]
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, `fields` (with `message`),
    /// `span` and `spans`.
    Json,
}

/// Installs the process's global subscriber: the filter is `RUST_LOG` if it parses, else
/// `default_filter` (e.g. `"info,openraft=warn,sled=warn"`); lines go to stderr in `format`, with
/// ANSI colours only for text on a terminal. Does nothing if a subscriber is already installed.
pub fn init(default_filter: &str, format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .try_init(),
    };
}
