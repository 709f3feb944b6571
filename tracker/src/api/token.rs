//! [`session_bytes`]: the bytes a command carries for a client's session token. The token was
//! parsed where its frame was decoded ([`proto::types::SessionToken`]); a malformed one is
//! refused here as [`ApiError::NotLoggedIn`], like one that names no session.

use proto::tracker_msg::SessionToken;
use proto::ApiError;

use crate::cmd::TokenBytes;

/// The token's bytes.
///
/// # Errors
/// [`ApiError::NotLoggedIn`] if the client's token was not 64 hex digits.
pub fn session_bytes(token: &SessionToken) -> Result<TokenBytes, ApiError> {
    token.bytes().copied().ok_or(ApiError::NotLoggedIn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_malformed_token_is_not_logged_in() {
        assert_eq!(
            session_bytes(&SessionToken::parse(&"ab".repeat(32))),
            Ok([0xab; 32])
        );
        for bad in ["", "not-a-token", &"zz".repeat(32)] {
            assert_eq!(
                session_bytes(&SessionToken::parse(bad)),
                Err(ApiError::NotLoggedIn),
                "{bad:?}"
            );
        }
    }
}
