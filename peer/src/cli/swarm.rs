//! `peer sources GROUP NAME` (every peer holding a file: user, address, chunks held, online or
//! not, last seen) and `peer peers GROUP` (the online peers of the group's members: address,
//! last seen, files of the group each seeds), as a table or with `--json`: peer ids as decimal
//! strings, times as `_secs` since the Unix epoch.

use serde::Serialize;

use super::{output, Ctx};
use crate::ops::swarm;

/// One holder in `peer sources --json`.
#[derive(Debug, Serialize)]
struct SourceJson {
    /// Decimal string: ids exceed 2^53 (see `files_json.rs`).
    peer_id: String,
    username: String,
    addr: String,
    chunks_held: u64,
    chunk_count: u64,
    online: bool,
    /// Seconds since the Unix epoch; `null` when the tracker has no time for it.
    last_seen_secs: Option<u64>,
}

/// One peer in `peer peers --json`.
#[derive(Debug, Serialize)]
struct PeerJson {
    /// Decimal string: ids exceed 2^53.
    peer_id: String,
    username: String,
    addr: String,
    /// Seconds since the Unix epoch; `null` when the leader has not heard from it yet.
    last_seen_secs: Option<u64>,
    files_seeded: u32,
}

/// "12 s ago", or "-" without a time.
fn ago(last_seen_secs: Option<u64>) -> String {
    let now = crate::daemon::wall_ms() / 1000;
    match last_seen_secs {
        Some(t) => format!("{} s ago", now.saturating_sub(t)),
        None => "-".into(),
    }
}

/// Runs `peer sources GROUP NAME`.
///
/// # Errors
/// Not logged in, not a member, no such group or file, tracker unreachable.
pub async fn sources(ctx: &Ctx, group: &str, name: &str) -> anyhow::Result<()> {
    ctx.token()?;
    let found = swarm::sources(&ctx.tracker()?, &ctx.home, group, name).await?;
    let count = found.manifest.chunk_hashes.len();
    let rows: Vec<SourceJson> = found
        .holders
        .iter()
        .map(|s| SourceJson {
            peer_id: s.peer_id.to_string(),
            username: s.username.clone(),
            addr: s.addr.clone(),
            chunks_held: swarm::chunks_held(&s.bitfield, count) as u64,
            chunk_count: count as u64,
            online: s.online,
            last_seen_secs: s.last_seen_ms.map(|ms| ms / 1000),
        })
        .collect();
    if ctx.json {
        return output::json(&rows);
    }
    println!(
        "{:<20} {:<16} {:<24} {:>15} {:<7} LAST SEEN",
        "PEER", "USER", "ADDRESS", "CHUNKS", "ONLINE"
    );
    for r in rows {
        println!(
            "{:<20} {:<16} {:<24} {:>15} {:<7} {}",
            r.peer_id,
            r.username,
            r.addr,
            format!("{}/{}", r.chunks_held, r.chunk_count),
            if r.online { "yes" } else { "no" },
            ago(r.last_seen_secs)
        );
    }
    Ok(())
}

/// Runs `peer peers GROUP`.
///
/// # Errors
/// Not logged in, not a member, no such group, tracker unreachable.
pub async fn peers(ctx: &Ctx, group: &str) -> anyhow::Result<()> {
    ctx.token()?;
    let found = swarm::peers(&ctx.tracker()?, &ctx.home, group).await?;
    let rows: Vec<PeerJson> = found
        .into_iter()
        .map(|p| PeerJson {
            peer_id: p.peer_id.to_string(),
            username: p.username,
            addr: p.addr,
            last_seen_secs: p.last_seen_ms.map(|ms| ms / 1000),
            files_seeded: p.files_seeded,
        })
        .collect();
    if ctx.json {
        return output::json(&rows);
    }
    println!(
        "{:<20} {:<16} {:<24} {:>6} LAST SEEN",
        "PEER", "USER", "ADDRESS", "FILES"
    );
    for r in rows {
        println!(
            "{:<20} {:<16} {:<24} {:>6} {}",
            r.peer_id,
            r.username,
            r.addr,
            r.files_seeded,
            ago(r.last_seen_secs)
        );
    }
    Ok(())
}
