//! `peer link GROUP NAME`: one self-contained link to a file ([`crate::link`]), with the CLI's
//! configured trackers in it; and resolving a link given to `peer download`: the trackers to
//! ask and the check that the group's file is still the one the link describes.

use anyhow::Context;

use proto::tracker_msg::to_hex;
use proto::TrackerClient;

use super::{output, Ctx};
use crate::link::{FileLink, LinkView};

/// Runs `peer link GROUP NAME`.
///
/// # Errors
/// Not logged in, not a member, no such file, no tracker list.
pub async fn run(ctx: &Ctx, group: &str, name: &str) -> anyhow::Result<()> {
    ctx.token()?;
    let (tracker, _, _) = ctx.tracker_parts()?;
    let list = ctx.tracker_list().unwrap_or_default();
    let trackers = crate::link::link_trackers(list.split(','));
    let link = crate::ops::files::link(&tracker, &ctx.home, group, name, trackers).await?;
    if ctx.json {
        return output::json(&LinkView::from(&link));
    }
    println!("{}", link.to_link());
    Ok(())
}

/// The tracker client to check a link with: the CLI's configured trackers (`--trackers`, the
/// home's list), else the link's; the CA is always the configured one (a link carries none).
///
/// # Errors
/// No trackers anywhere, no CA (the message says how to get it), a CA that does not load.
fn tracker_for(ctx: &Ctx, link: &FileLink) -> anyhow::Result<TrackerClient> {
    let list = match ctx.tracker_list() {
        Some(l) => l,
        None if !link.trackers.is_empty() => link.trackers.join(","),
        None => anyhow::bail!(
            "the link names no trackers and none are configured: pass --trackers HOST:PORT,... \
             or set PEER_TRACKERS"
        ),
    };
    let ca = ctx.ca_file().ok_or_else(|| {
        anyhow::anyhow!(
            "no cluster CA to check the trackers {list} with (a link does not carry it): pass \
             --ca FILE with the cluster's ca.pem (from its operator or the group's owner; \
             `cluster up` writes it as DIR/ca.pem), or set PEER_CA"
        )
    })?;
    Ok(ctx.client_for(&list, &ca)?.0)
}

/// Checks that the group's file is still the one `link` describes (size and SHA-1), before the
/// daemon is asked to download it (which checks again against the manifest it downloads by).
///
/// # Errors
/// Not logged in, no tracker or CA, not a member, no such file, or a file that changed.
pub async fn check(ctx: &Ctx, link: &FileLink) -> anyhow::Result<()> {
    ctx.token()?;
    let tracker = tracker_for(ctx, link)?;
    let manifest = crate::ops::files::manifest(&tracker, &ctx.home, &link.group, &link.name)
        .await
        .with_context(|| format!("while looking up {} in {}", link.name, link.group))?;
    if manifest.size_bytes != link.size_bytes || manifest.file_hash != link.file_hash {
        return Err(crate::error::DownloadError::LinkMismatch {
            group: link.group.clone(),
            name: link.name.clone(),
            link_size: link.size_bytes,
            link_sha1: to_hex(&link.file_hash),
            size: manifest.size_bytes,
            sha1: to_hex(&manifest.file_hash),
        }
        .into());
    }
    Ok(())
}
