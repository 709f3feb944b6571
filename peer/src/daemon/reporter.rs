//! Coalesces "I now have chunk i of file f" into batched `ReportHave` writes (every 100 ms or
//! 256 chunks), since each report is a replicated write.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use proto::tracker_msg::WriteOp;

use super::Daemon;

/// One verified chunk to announce.
#[derive(Debug, Clone)]
pub struct Have {
    /// Group.
    pub group: String,
    /// File name.
    pub name: String,
    /// Chunk index.
    pub index: u32,
}

const FLUSH_EVERY: Duration = Duration::from_millis(100);
const FLUSH_AT_CHUNKS: usize = 256;
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Runs until the channel closes, flushing a batch at most [`FLUSH_EVERY`] after its first
/// chunk arrived, or as soon as it holds [`FLUSH_AT_CHUNKS`] chunks.
pub async fn task_report(daemon: Arc<Daemon>, mut rx: mpsc::UnboundedReceiver<Have>) {
    let mut pending: BTreeMap<(String, String), Vec<u32>> = BTreeMap::new();
    let mut count = 0usize;
    let mut deadline: Option<Instant> = None;
    loop {
        let got = match deadline {
            Some(d) => match tokio::time::timeout_at(d, rx.recv()).await {
                Ok(x) => x,
                Err(_) => {
                    flush(&daemon, &mut pending).await;
                    count = 0;
                    // A batch the tracker refused stays pending and is retried a second later.
                    deadline = (!pending.is_empty()).then(|| Instant::now() + RETRY_AFTER);
                    continue;
                }
            },
            None => rx.recv().await,
        };
        let Some(h) = got else {
            flush(&daemon, &mut pending).await;
            return;
        };
        pending.entry((h.group, h.name)).or_default().push(h.index);
        count += 1;
        deadline.get_or_insert_with(|| Instant::now() + FLUSH_EVERY);
        if count >= FLUSH_AT_CHUNKS {
            flush(&daemon, &mut pending).await;
            count = 0;
            deadline = (!pending.is_empty()).then(|| Instant::now() + RETRY_AFTER);
        }
    }
}

async fn flush(daemon: &Daemon, pending: &mut BTreeMap<(String, String), Vec<u32>>) {
    for ((group, name), chunks) in std::mem::take(pending) {
        let Ok(token) = daemon.token() else {
            tracing::warn!("not logged in; cannot report chunks");
            return;
        };
        let op = WriteOp::ReportHave {
            token,
            peer_id: daemon.peer_id,
            group: group.clone(),
            name: name.clone(),
            chunks: chunks.clone(),
        };
        match daemon.tracker.write(op).await {
            Ok(_) => {}
            Err(proto::ApiError::FileNotFound { .. }) => {
                // Unpublished: there is nothing to report chunks of any more.
                tracing::info!(%group, %name, "not reporting chunks of a file no longer in its group");
            }
            Err(e) => {
                tracing::warn!(%group, %name, %e, "could not report chunks; will retry with the next batch");
                pending.insert((group, name), chunks);
            }
        }
    }
}
