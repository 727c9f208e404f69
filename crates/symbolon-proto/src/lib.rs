//! symbolon's wire types: what travels between the server and its clients, defined once.
//!
//! The server serialises these and the SDK and CLI deserialise them (and the other way
//! round for requests), so the two sides cannot drift. `docs/API.md` §2 describes each
//! body; with the `openapi` feature every type also derives utoipa's `ToSchema` for the
//! server's generated OpenAPI document. This crate depends on nothing of symbolon's.

mod error;
mod secret;

pub use error::{ErrorBody, ErrorCode};
pub use secret::Secret;

/// The token of an `Authorization: Bearer <token>` header value (RFC 6750 §2.1: the scheme
/// compared case-insensitively); `None` for another scheme or an empty token. The one
/// parse for the server and for resource servers (symbolon-verify).
pub fn bearer_token(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// The `token_type` of every token response (RFC 6750).
pub const BEARER: &str = "Bearer";

/// `POST /login` body. Any strings: a malformed username or a password of any length is
/// merely wrong (401), like an unknown one.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Credentials {
    /// The username.
    pub username: String,
    /// The password.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub password: Secret,
}

/// `POST /register` body: a username and password under the policies of a new account.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Registration {
    /// The username: 1-64 characters of ASCII letters, digits and `._-@`.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Za-z0-9._@-]{1,64}$"))]
    pub username: String,
    /// The password: 8-1024 characters (Unicode scalar values).
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = String, min_length = 8, max_length = 1024)
    )]
    pub password: Secret,
}

/// `POST /token/refresh` body.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RefreshRequest {
    /// The refresh token to rotate.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub refresh_token: Secret,
}

/// Which sessions a logout ends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum LogoutScope {
    /// This session only (the default).
    #[default]
    Local,
    /// Every other session of the user; this one stays.
    Others,
    /// Every session of the user, this one included.
    Global,
}

impl LogoutScope {
    /// The wire name: `local`, `others` or `global`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Others => "others",
            Self::Global => "global",
        }
    }
}

/// `POST /logout` body. The body itself is optional (a bearer token alone will do), and so
/// is each field.
#[derive(Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct LogoutRequest {
    /// A refresh token of the session, when no bearer token is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub refresh_token: Option<Secret>,
    /// `local` (default), `others` or `global`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<LogoutScope>,
}

/// `POST /password` body.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PasswordChange {
    /// The password now.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub current_password: Secret,
    /// The new password: 8-1024 characters (Unicode scalar values).
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = String, min_length = 8, max_length = 1024)
    )]
    pub new_password: Secret,
}

/// The answer of a login or a refresh (RFC 6749 §5.1, plus symbolon's fields). Its
/// `Debug` redacts both tokens.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TokenResponse {
    /// The access token (a JWT).
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub access_token: Secret,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// The refresh token (opaque, single use).
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub refresh_token: Secret,
    /// Seconds until the refresh token expires (idle or absolute end, whichever first).
    #[serde(default)]
    pub refresh_token_expires_in: u64,
    /// The session both tokens belong to.
    pub session_id: String,
}

/// The answer of a login or a refresh in the browser cookie mode (`docs/API.md` §2.9):
/// the [`TokenResponse`] without `refresh_token`, which travels only in an `HttpOnly`
/// cookie. Its `Debug` redacts the access token.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CookieTokenResponse {
    /// The access token (a JWT), to be kept in memory only.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub access_token: Secret,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Seconds until the refresh token (in the cookie) expires.
    pub refresh_token_expires_in: u64,
    /// The session both tokens belong to.
    pub session_id: String,
}

impl From<TokenResponse> for CookieTokenResponse {
    fn from(full: TokenResponse) -> Self {
        Self {
            access_token: full.access_token,
            token_type: full.token_type,
            expires_in: full.expires_in,
            refresh_token_expires_in: full.refresh_token_expires_in,
            session_id: full.session_id,
        }
    }
}

/// A user as shown to clients (the `POST /register` answer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct UserView {
    /// The stable user id (the `sub` of its tokens).
    pub sub: String,
    /// The username.
    pub username: String,
}

/// `GET /me`: who an access token belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct MeView {
    /// The stable user id.
    pub sub: String,
    /// The username.
    pub username: String,
    /// The session of the token.
    pub session_id: String,
}

/// One entry of `GET /sessions`. Times are RFC 3339, UTC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SessionView {
    /// The session id.
    pub id: String,
    /// Login time.
    pub created_at: String,
    /// Last login or refresh.
    pub last_used_at: String,
    /// When the session's current refresh token expires.
    pub expires_at: String,
    /// The `User-Agent` at login.
    pub user_agent: Option<String>,
    /// The client address at login.
    pub ip: Option<String>,
    /// Whether this is the session of the token used to ask.
    pub current: bool,
}

/// Which kind of token introspection found (RFC 7662 §2.2 `token_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    /// An access token (JWT).
    AccessToken,
    /// A refresh token.
    RefreshToken,
}

/// The introspection answer (RFC 7662 §2.2). An inactive token has only `active: false`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Introspection {
    /// Whether the token is valid now.
    pub active: bool,
    /// The kind of token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<TokenKind>,
    /// The client the token was issued to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The user's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// The audience (access tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// The issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Expiry, Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Issue time, Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// The token id (access tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// The session id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

/// One answer of the revocation feed (`GET /revocations`, docs/API.md §2.8).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RevocationFeed {
    /// The sessions revoked beyond the cursor that was sent, oldest first.
    pub revoked: Vec<RevokedSession>,
    /// The cursor to send next (`after`): every entry up to it has been answered.
    pub cursor: u64,
    /// More entries are ready (this answer was cut at `limit`): poll again at once.
    pub more: bool,
    /// The cursor that was sent is beyond the feed (the server's database was restored
    /// or replaced): forget every entry held, and keep these.
    pub reset: bool,
    /// Seconds after its revocation that an access token of the session may still
    /// verify (`access_ttl + leeway`): how long a reader keeps an entry.
    pub window: i64,
}

/// A revoked session, as the feed reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RevokedSession {
    /// The entry's place in the feed.
    pub seq: u64,
    /// The session id: the `sid` claim of its access tokens.
    pub sid: String,
    /// When it was revoked, Unix seconds.
    pub revoked_at: i64,
    /// When the last of its access tokens stops verifying (`revoked_at + window`), Unix
    /// seconds: the entry can be forgotten after it.
    pub until: i64,
}

/// Authorization-server metadata (RFC 8414 §2), the fields symbolon publishes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ServerMetadata {
    /// The issuer (the `iss` of access tokens).
    pub issuer: String,
    /// The revocation feed (docs/API.md §2.8; symbolon's own, not in RFC 8414).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_feed_endpoint: Option<String>,
    /// The token endpoint.
    pub token_endpoint: String,
    /// The JWK Set.
    pub jwks_uri: String,
    /// The revocation endpoint (RFC 7009).
    pub revocation_endpoint: String,
    /// The introspection endpoint (RFC 7662).
    pub introspection_endpoint: String,
    /// `password`, `refresh_token`.
    pub grant_types_supported: Vec<String>,
    /// Empty: there is no authorization endpoint.
    pub response_types_supported: Vec<String>,
    /// How clients authenticate at the token endpoint.
    pub token_endpoint_auth_methods_supported: Vec<String>,
    /// How clients authenticate at the revocation endpoint.
    pub revocation_endpoint_auth_methods_supported: Vec<String>,
    /// How clients authenticate at the introspection endpoint.
    pub introspection_endpoint_auth_methods_supported: Vec<String>,
}

/// A JSON `{"status": ...}` answer of the operations endpoints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Status {
    /// `ok` (alive) or `ready`.
    pub status: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_response_round_trips_and_hides_tokens_in_debug() {
        let text = r#"{"access_token":"a.b.c","token_type":"Bearer","expires_in":900,
            "refresh_token":"r1","refresh_token_expires_in":604800,"session_id":"s"}"#;
        let parsed: TokenResponse = serde_json::from_str(text).expect("parses");
        assert_eq!(parsed.refresh_token.expose(), "r1");
        let shown = format!("{parsed:?}");
        assert!(!shown.contains("a.b.c") && !shown.contains("r1"), "{shown}");
        let again = serde_json::to_value(&parsed).expect("serialises");
        assert_eq!(again["refresh_token_expires_in"], 604800);
    }

    #[test]
    fn logout_request_fields_are_optional() {
        let empty: LogoutRequest = serde_json::from_str("{}").expect("parses");
        assert!(empty.refresh_token.is_none() && empty.scope.is_none());
        let scoped: LogoutRequest = serde_json::from_str(r#"{"scope":"others"}"#).expect("parses");
        assert_eq!(scoped.scope, Some(LogoutScope::Others));
        assert!(serde_json::from_str::<LogoutRequest>(r#"{"scope":"all"}"#).is_err());
    }

    #[test]
    fn an_inactive_introspection_is_only_active_false() {
        let text = serde_json::to_string(&Introspection::default()).expect("serialises");
        assert_eq!(text, r#"{"active":false}"#);
    }
}
