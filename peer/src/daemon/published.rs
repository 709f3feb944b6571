//! Whether a file this daemon seeds is still published in its group: a file its uploader or
//! the group's owner unpublished must not be served to a downloader holding a ticket fetched
//! before (tickets are checked offline and last a minute). The seeder asks the tracker when a
//! connection for a seeded file arrives ([`Daemon::still_published`]); an answer that the file
//! is gone (or is another version now) drops the share here, without a tracker write. A "yes"
//! is remembered for [`CONFIRMED_FOR`], so a burst of connections costs one read. A tracker
//! that does not answer within [`ASK_WITHIN`] leaves the file served: the tickets still bound
//! who may fetch it and for how long, and no tracker issues a ticket for an unpublished file.
//!
//! Re-announcing the shares at start (and after a re-registration) asks the same question
//! first, so a seeder that was offline while its file was unpublished does not register the
//! file again.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use proto::tracker_msg::{PageRequest, ReadRequest, Response, Sha1Digest};
use proto::ApiError;

use super::shares::{ShareEntry, ShareKey};
use super::Daemon;

/// How long a tracker's "still published" is taken as the answer for later connections.
pub const CONFIRMED_FOR: Duration = Duration::from_secs(2);
/// Longest the seeder waits for the tracker's answer before it serves anyway.
pub const ASK_WITHIN: Duration = Duration::from_secs(2);

/// What the tracker said about a seeded file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published {
    /// Registered in its group with this content.
    Yes,
    /// Unpublished (or its group removed), or registered again with other content.
    Gone,
    /// No answer, or one that settles nothing (not logged in, not a member any more).
    Unknown,
}

/// When each share was last confirmed published.
#[derive(Default)]
pub struct PublishedCache {
    confirmed: Mutex<HashMap<ShareKey, (Sha1Digest, Instant)>>,
}

impl PublishedCache {
    fn fresh(&self, key: &ShareKey, hash: &Sha1Digest) -> bool {
        self.confirmed
            .lock()
            .ok()
            .and_then(|c| c.get(key).copied())
            .is_some_and(|(h, at)| h == *hash && at.elapsed() < CONFIRMED_FOR)
    }

    fn set(&self, key: ShareKey, hash: Sha1Digest, answer: Published) {
        if let Ok(mut c) = self.confirmed.lock() {
            if answer == Published::Yes {
                c.insert(key, (hash, Instant::now()));
            } else {
                c.remove(&key);
            }
        }
    }
}

/// The tracker's answer for file `group`/`name` with content `hash`, as one page of one
/// source of `FileSources` (the manifest comes with it).
async fn ask(daemon: &Daemon, group: &str, name: &str, hash: &Sha1Digest) -> Published {
    let Ok(token) = daemon.token() else {
        return Published::Unknown;
    };
    let read = daemon.tracker.read(ReadRequest::FileSources {
        token,
        group: group.to_string(),
        name: name.to_string(),
        peer_id: None,
        include_offline: false,
        page: PageRequest::first(1),
    });
    match tokio::time::timeout(ASK_WITHIN, read).await {
        Ok(Ok(Response::Sources { manifest, .. })) if manifest.file_hash == *hash => Published::Yes,
        Ok(Ok(Response::Sources { .. })) => Published::Gone,
        Ok(Err(ApiError::FileNotFound { .. } | ApiError::GroupNotFound(_))) => Published::Gone,
        Ok(Ok(other)) => {
            tracing::debug!(?other, "unexpected answer to a published check");
            Published::Unknown
        }
        Ok(Err(e)) => {
            tracing::debug!(%e, %group, %name, "published check failed; serving");
            Published::Unknown
        }
        Err(_) => Published::Unknown,
    }
}

impl Daemon {
    /// Whether `share` is still published (see the module doc); drops it here if not.
    pub async fn still_published(&self, share: &ShareEntry) -> Published {
        let key = (share.group.clone(), share.name.clone());
        let hash = share.manifest.file_hash;
        if self.published.fresh(&key, &hash) {
            return Published::Yes;
        }
        let answer = ask(self, &share.group, &share.name, &hash).await;
        self.published.set(key, hash, answer);
        if answer == Published::Gone {
            self.drop_unpublished(share);
        }
        answer
    }

    /// Stops seeding `share`, which the tracker no longer lists (nothing to tell it).
    pub fn drop_unpublished(&self, share: &ShareEntry) {
        let current = self.shares.get(&share.group, &share.name);
        if current.is_some_and(|c| c.manifest.file_hash == share.manifest.file_hash) {
            tracing::info!(group = %share.group, name = %share.name, "unpublished: stopped seeding");
            if let Err(e) = self.shares.remove(&share.group, &share.name) {
                tracing::warn!(%e, "cannot update shares.json");
            }
        }
    }
}
