//! The tracker's rules, with no I/O of their own: records and keys ([`records`]), name checks
//! ([`validate`]), what each replicated operation does ([`rules`]) and what each read returns
//! ([`queries`]). Both `apply` and the read path go through [`crate::store::tables::KvRead`], so
//! the same helpers (session lookup, membership checks) serve both.

pub mod queries;
pub mod records;
pub mod rules;
pub mod validate;

use proto::ApiError;

use crate::store::tables::StoreError;

/// Outcome of a rule: a typed refusal for the client, or a storage failure that stops the node.
#[derive(Debug, thiserror::Error)]
pub enum Fail {
    /// The request is refused; this becomes the client's reply.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// Storage failed; apply must not record a reply.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sled::Error> for Fail {
    fn from(e: sled::Error) -> Self {
        Fail::Store(StoreError::Sled(e))
    }
}
