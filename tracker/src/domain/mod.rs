//! The tracker's rules, with no I/O of their own: the port they are written against ([`kv`]: the
//! tables, the codec and the read/write traits the store implements), how they fail ([`error`]),
//! records and keys ([`records`]), name checks ([`validate`]), what each replicated operation does
//! ([`rules`]), what the leader checks before it proposes ([`admit`], [`admit_quota`]) and what each read returns
//! ([`queries`], [`group_peers`], [`find_files`]); the quotas and their counters ([`quota`]), availability entries with each
//! peer's index of them ([`avail`]) and when offline peers went offline ([`offline`]). Both `apply` and the read path go through
//! [`kv::KvRead`], so the same helpers (session lookup, membership checks) serve both.

pub mod admit;
pub mod admit_quota;
pub mod apply;
pub mod avail;
pub mod error;
pub mod find_files;
#[cfg(test)]
mod fixtures;
pub mod group_peers;
pub mod kv;
pub mod lookup;
#[cfg(test)]
pub mod mem_kv;
pub mod offline;
pub mod queries;
pub mod quota;
pub mod records;
pub mod rules;
pub mod validate;
