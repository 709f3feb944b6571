//! `peer sources GROUP NAME` (every peer holding a file: user, address, chunks held, online or
//! not, last seen) and `peer peers GROUP` (the online peers of the group's members: address,
//! last seen, files of the group each seeds), as a table or with `--json` (the rows of
//! [`crate::ops::swarm`]: peer ids as decimal strings, times as `_secs` since the Unix epoch).

use super::{output, Ctx};
use crate::ops::swarm::{self, PeerRow, SourceRow};

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
    let rows: Vec<SourceRow> = found
        .holders
        .iter()
        .map(|s| SourceRow::of(s, count))
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
    let rows: Vec<PeerRow> = found.into_iter().map(PeerRow::of).collect();
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
