//! `peer ui`: prints the link to the running daemon's web UI, with the home's access token
//! (`HOME/http.json` says where the daemon listens, `HOME/http-token` holds the token).

use std::time::Duration;

use serde_json::json;

use super::Ctx;
use crate::daemon::http::auth::{read_token, token_path};
use crate::daemon::http::{info_path, HttpInfo};
use crate::home::read_json;

/// Runs `peer ui`: `http://127.0.0.1:PORT/?token=TOKEN`, or `{"url": ...}` with `--json`.
///
/// # Errors
/// If no daemon of this home is running, or its files cannot be read.
pub async fn run(ctx: &Ctx) -> anyhow::Result<()> {
    let not_running = || {
        anyhow::anyhow!(
            "the peer daemon is not running for {}: start it with `peer daemon`, then run `peer ui` again",
            ctx.home.dir.display()
        )
    };
    let info: HttpInfo = read_json(&info_path(&ctx.home)).map_err(|_| not_running())?;
    let addr = info
        .url
        .strip_prefix("http://")
        .and_then(|a| a.strip_suffix('/'))
        .ok_or_else(|| {
            anyhow::anyhow!(
                "{} holds an odd URL {:?}: restart the daemon",
                info_path(&ctx.home).display(),
                info.url
            )
        })?
        .to_string();
    // A daemon killed without cleaning up leaves the file behind: check that someone listens.
    let connect = tokio::net::TcpStream::connect(&addr);
    match tokio::time::timeout(Duration::from_secs(2), connect).await {
        Ok(Ok(_)) => {}
        _ => return Err(not_running()),
    }
    let token = read_token(&token_path(&ctx.home))?;
    let url = format!("{}?token={}", info.url, token.as_str());
    if ctx.json {
        println!("{}", json!({ "url": url }));
    } else {
        println!("{url}");
    }
    Ok(())
}
