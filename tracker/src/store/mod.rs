//! Everything the node keeps in its one sled database:
//! - the Raft log and vote ([`log_store`]), with its newest entries cached in memory
//!   ([`log_tail`]);
//! - openraft's state machine ([`state_machine`]; a follower's applies at low priority in
//!   [`follower_apply`]) and its stored snapshots ([`snapshot`]);
//! - the domain's port over the tables: the committed view and the per-batch write overlay
//!   ([`overlay`]), with decoded records kept between batches ([`record_cache`]);
//! - the committed state ([`sm_trees`]): applied writes not yet in the trees ([`staged`]) over the
//!   plain sled trees ([`trees`]), drained crash-atomically ([`undo`]) by background threads at
//!   low priority ([`thread_priority`]);
//! - the snapshot image and the state digest ([`image`]), whose length-prefixed fields the undo
//!   record shares ([`framing`]).

pub mod follower_apply;
pub mod framing;
pub mod image;
pub mod log_store;
pub mod log_tail;
pub mod overlay;
pub mod record_cache;
pub mod sm_trees;
pub mod snapshot;
pub mod staged;
pub mod state_machine;
pub mod thread_priority;
pub mod trees;
pub mod undo;

#[cfg(test)]
mod drain_cut_test;
#[cfg(test)]
mod scan_race_test;
#[cfg(test)]
mod suite_test;
#[cfg(test)]
mod visit_page_test;

pub use log_store::LogStore;
pub use state_machine::StateMachine;

/// Opens the node's sled database with a bounded page cache.
///
/// # Errors
/// sled errors (e.g. the directory is locked by another running node).
pub fn open_db(dir: &std::path::Path, cache_capacity_bytes: u64) -> Result<sled::Db, sled::Error> {
    sled::Config::new()
        .path(dir)
        .cache_capacity(cache_capacity_bytes)
        .segment_size(SEGMENT_BYTES)
        .flush_every_ms(Some(500))
        .open()
}

/// sled's segment (and I/O buffer) size. sled writes anything over a quarter of a segment to a
/// file of its own, and a leaf of the log tree holds up to 16 entries of up to tens of KiB each:
/// with sled's default of 512 KiB, every rewrite of such a leaf created, wrote and later deleted
/// a file.
const SEGMENT_BYTES: usize = 8 << 20;
