//! Coalesces "I now have chunk i of file f" into batched `ReportHave` writes (every 250 ms or
//! 256 chunks), since each report is a replicated write.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

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

const FLUSH_EVERY: Duration = Duration::from_millis(250);
const FLUSH_AT_CHUNKS: usize = 256;

/// Runs until the channel closes, flushing batches to the tracker.
pub async fn task_report(daemon: Arc<Daemon>, mut rx: mpsc::Receiver<Have>) {
    let mut pending: BTreeMap<(String, String), Vec<u32>> = BTreeMap::new();
    let mut count = 0usize;
    loop {
        let got = tokio::time::timeout(FLUSH_EVERY, rx.recv()).await;
        match got {
            Ok(Some(h)) => {
                pending.entry((h.group, h.name)).or_default().push(h.index);
                count += 1;
                if count < FLUSH_AT_CHUNKS {
                    continue;
                }
            }
            Ok(None) => {
                flush(&daemon, &mut pending).await;
                return;
            }
            Err(_) => {}
        }
        flush(&daemon, &mut pending).await;
        count = 0;
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
        if let Err(e) = daemon.tracker.write(op).await {
            tracing::warn!(%group, %name, %e, "could not report chunks; will retry with the next batch");
            pending.insert((group, name), chunks);
        }
    }
}
