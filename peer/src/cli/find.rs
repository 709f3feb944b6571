//! `peer find SHA1`: the files with that whole-file SHA-1 in the groups the user is a member of
//! (group, name, size, seeders), as a table or with `--json`.

use super::{output, Ctx};
use crate::ops::find;

/// Runs `peer find SHA1`.
///
/// # Errors
/// A SHA-1 that is not 40 hexadecimal digits, not logged in, tracker unreachable.
pub async fn run(ctx: &Ctx, sha1: &str) -> anyhow::Result<()> {
    let file_hash = find::parse_sha1(sha1)?;
    ctx.token()?;
    let rows = find::find(&ctx.tracker()?, &ctx.home, file_hash).await?;
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
