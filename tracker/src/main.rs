//! `tracker`: runs one tracker node. See `tracker --help`.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = tracker::config::Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,openraft=warn,sled=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let node_id = args.id;
    let result = tracker::config::NodeConfig::from_args(args)
        .map_err(anyhow::Error::from)
        .and_then(|config| {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            let span = tracing::info_span!("node", id = node_id);
            runtime.block_on(tracing::Instrument::instrument(tracker::node::run(config), span))
        });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tracker: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
