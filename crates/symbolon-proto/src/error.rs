//! The error body every endpoint answers with (`docs/API.md` §2), and its codes.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `{"error": CODE, "error_description": TEXT}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// What kind of error (RFC 6749 §5.2, RFC 6750 §3.1, or symbolon's own).
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub error: ErrorCode,
    /// Text for people; never a secret or an internal detail. Always sent by symbolon (a
    /// client reads its absence as "").
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub error_description: String,
}

/// The `error` codes. A code this version does not know is kept as [`ErrorCode::Other`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// Missing or malformed parameters, a body too large or of the wrong type.
    InvalidRequest,
    /// Wrong credentials, or a refresh token refused (expired, revoked, reused, unknown).
    InvalidGrant,
    /// Client authentication failed, or the token belongs to another client.
    InvalidClient,
    /// A `grant_type` other than `password` or `refresh_token`.
    UnsupportedGrantType,
    /// The access token is missing, invalid, expired, or its session ended.
    InvalidToken,
    /// Not allowed (registration closed).
    Forbidden,
    /// No such endpoint or resource.
    NotFound,
    /// The resource exists already.
    Conflict,
    /// Too many attempts; see `Retry-After`.
    RateLimited,
    /// The server failed; try again later.
    ServerError,
    /// A code this version does not know.
    Other(String),
}

impl ErrorCode {
    /// The wire text of the code.
    pub fn as_str(&self) -> &str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidGrant => "invalid_grant",
            Self::InvalidClient => "invalid_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidToken => "invalid_token",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::Conflict => "conflict",
            Self::RateLimited => "rate_limited",
            Self::ServerError => "server_error",
            Self::Other(code) => code,
        }
    }

    /// The code for a wire text.
    pub fn parse(text: &str) -> Self {
        [
            Self::InvalidRequest,
            Self::InvalidGrant,
            Self::InvalidClient,
            Self::UnsupportedGrantType,
            Self::InvalidToken,
            Self::Forbidden,
            Self::NotFound,
            Self::Conflict,
            Self::RateLimited,
            Self::ServerError,
        ]
        .into_iter()
        .find(|code| code.as_str() == text)
        .unwrap_or_else(|| Self::Other(text.to_owned()))
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|text| Self::parse(&text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_unknown_ones_are_kept() {
        for text in ["invalid_grant", "rate_limited", "server_error", "slow_down"] {
            assert_eq!(ErrorCode::parse(text).as_str(), text);
        }
        assert_eq!(ErrorCode::parse("invalid_token"), ErrorCode::InvalidToken);
        let body: ErrorBody = serde_json::from_str(r#"{"error":"invalid_grant"}"#).expect("parses");
        assert_eq!(
            (body.error, body.error_description.as_str()),
            (ErrorCode::InvalidGrant, "")
        );
    }
}
