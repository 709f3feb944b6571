//! Backups of the replicated state, outside Raft: the snapshot file an operator saves
//! ([`file`]: a header with the applied log id and the digest, then the state-machine image) and
//! the seeding of a new cluster's data directories from one ([`seed`]). The leader's side, which
//! takes the image, is [`crate::app::snapshot_export`].

pub mod file;
pub mod seed;

pub use file::{SnapshotHeader, HEADER_BYTES};
pub use seed::{seed_data_dir, SeedError};
