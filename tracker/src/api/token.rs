//! [`parse_token`]: a client's hex session token as the bytes the commands carry.

use proto::ApiError;

use crate::cmd::TokenBytes;

/// Parses a client's hex session token.
///
/// # Errors
/// [`ApiError::NotLoggedIn`] if it is not 64 hex digits.
pub fn parse_token(token: &str) -> Result<TokenBytes, ApiError> {
    proto::tracker_msg::from_hex::<32>(token).ok_or(ApiError::NotLoggedIn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_64_hex_digits() {
        assert_eq!(parse_token(&"ab".repeat(32)), Ok([0xab; 32]));
        for bad in ["", "not-a-token", &"ab".repeat(31), &"zz".repeat(32)] {
            assert_eq!(parse_token(bad), Err(ApiError::NotLoggedIn), "{bad:?}");
        }
    }
}
