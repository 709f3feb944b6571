//! [`ServedBy`]: this node's id and where its Raft state stands (term, applied index), mirrored
//! into atomics by [`task_watch`] so every client reply can carry a [`ReplyMeta`] for the price
//! of two relaxed loads instead of a clone of `raft.metrics()` per reply.
//!
//! The values are the latest metrics the watcher has seen: they may trail the moment of the
//! reply by one metrics update. They explain a history; no decision is taken on them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use proto::tracker_msg::ReplyMeta;

use crate::raft_types::{NodeId, Raft};

/// The [`ReplyMeta`] source of one node.
#[derive(Debug)]
pub struct ServedBy {
    /// This node's Raft id.
    node_id: NodeId,
    /// Current term, as last seen in the metrics.
    term: AtomicU64,
    /// Index of the last applied entry (0 before the first), as last seen in the metrics.
    applied_index: AtomicU64,
}

impl ServedBy {
    /// A source for node `node_id` that reports term 0 and index 0 until the watcher runs.
    pub fn new(node_id: NodeId) -> Self {
        ServedBy {
            node_id,
            term: AtomicU64::new(0),
            applied_index: AtomicU64::new(0),
        }
    }

    /// What a reply sent now carries.
    pub fn meta(&self) -> ReplyMeta {
        ReplyMeta {
            node_id: self.node_id,
            term: self.term.load(Ordering::Relaxed),
            applied_index: self.applied_index.load(Ordering::Relaxed),
        }
    }

    /// Stores the latest term and applied index.
    fn update(&self, term: u64, applied_index: u64) {
        self.term.store(term, Ordering::Relaxed);
        self.applied_index.store(applied_index, Ordering::Relaxed);
    }
}

/// Copies the term and applied index of every metrics update into `served_by`, until Raft stops.
pub async fn task_watch(raft: Raft, served_by: Arc<ServedBy>) {
    let mut metrics = raft.metrics();
    loop {
        let (term, applied) = {
            let m = metrics.borrow_and_update();
            (m.current_term, m.last_applied.map_or(0, |l| l.index))
        };
        served_by.update(term, applied);
        if metrics.changed().await.is_err() {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_reports_the_last_update() {
        let s = ServedBy::new(2);
        assert_eq!(
            s.meta(),
            ReplyMeta {
                node_id: 2,
                term: 0,
                applied_index: 0
            }
        );
        s.update(5, 77);
        assert_eq!(
            s.meta(),
            ReplyMeta {
                node_id: 2,
                term: 5,
                applied_index: 77
            }
        );
    }
}
