//! How a rule or a query fails: a typed refusal for the client ([`Fail::Api`]), or a failure of
//! the storage behind the port ([`StoreError`]), which stops the node.

use proto::ApiError;

use super::kv::Table;

/// Failure inside the state machine's storage: fatal for the node (openraft shuts it down).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The storage engine failed.
    #[error("{engine}: {source}")]
    Engine {
        /// Which engine (`sled`).
        engine: &'static str,
        /// Its error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A stored record does not decode: the data directory is corrupt.
    #[error("corrupt record in {table:?}: {reason}")]
    Corrupt {
        /// Where.
        table: Table,
        /// What.
        reason: String,
    },
    /// Writing staged state into storage failed or could not run.
    #[error("storing the state machine: {0}")]
    Drain(String),
}

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

impl Fail {
    /// The error a client gets: a refusal as it is, a storage failure as
    /// [`ApiError::Internal`].
    pub fn into_api(self) -> ApiError {
        match self {
            Fail::Api(e) => e,
            Fail::Store(e) => ApiError::Internal(e.to_string()),
        }
    }
}
