//! How a rule or a query fails ([`Fail`]): a typed refusal for the client, or a failure of the
//! storage behind the port ([`StoreError`]), which stops the node.

use proto::ApiError;

use super::kv::StoreError;

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
