//! `peer find SHA1`: the files with that whole-file SHA-1 in the groups the user is a member of
//! (group, name, size, seeders), as a table or with `--json`.

use serde::Serialize;

use proto::tracker_msg::from_hex;

use super::{output, Ctx};

/// One file found, as `peer find --json` prints it.
#[derive(Serialize)]
struct FoundRow {
    group: String,
    name: String,
    size_bytes: u64,
    seeders: u32,
    partial: u32,
}

/// Runs `peer find SHA1`.
///
/// # Errors
/// A SHA-1 that is not 40 hexadecimal digits, not logged in, tracker unreachable.
pub async fn run(ctx: &Ctx, sha1: &str) -> anyhow::Result<()> {
    let Some(file_hash) = from_hex::<20>(&sha1.trim().to_ascii_lowercase()) else {
        anyhow::bail!(
            "{:?} is not a SHA-1: give the 40 hexadecimal digits `peer files` shows",
            proto::limits::quote(sha1)
        );
    };
    let token = ctx.token()?;
    let found = proto::pages::all_found_files(&ctx.tracker()?, token, file_hash).await?;
    let rows: Vec<FoundRow> = found
        .into_iter()
        .map(|f| FoundRow {
            group: f.group,
            name: f.name,
            size_bytes: f.size_bytes,
            seeders: f.full_seeders,
            partial: f.partial_peers,
        })
        .collect();
    if ctx.json {
        return output::json(&rows);
    }
    println!(
        "{:<20} {:<32} {:>10} {:>7} {:>7}",
        "GROUP", "NAME", "SIZE", "SEEDERS", "PARTIAL"
    );
    for r in rows {
        println!(
            "{:<20} {:<32} {:>10} {:>7} {:>7}",
            r.group,
            r.name,
            output::size(r.size_bytes),
            r.seeders,
            r.partial
        );
    }
    Ok(())
}
