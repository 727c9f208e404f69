//! Extractors that answer in the contract's error format: JSON and form bodies, the
//! bearer token, HTTP Basic client credentials and the request's origin.

use super::error::ApiError;
use super::state::AppState;
use crate::config::IpNet;
use crate::service::{Authenticated, ClientCredentials, RequestMeta};
use axum::body::Bytes;
use axum::extract::rejection::FormRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use base64::Engine;
use serde::de::DeserializeOwned;
use std::net::{IpAddr, SocketAddr};

/// Maps an axum body rejection to the contract's error, by its status.
pub(crate) fn rejection(status: StatusCode, text: String) -> ApiError {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType(scrub(&text)),
        _ => ApiError::InvalidRequest(scrub(&text)),
    }
}

/// A parser's message without the values it quotes: serde writes the offending value
/// between backticks or double quotes ("invalid type: integer `12345678`"), and that
/// value may be a password. Field names ("missing field `password`": an identifier right
/// after "field ", followed by punctuation or the end) are kept; any other quoted text becomes `…`. A value may contain its
/// own quote (serde escapes `"` in a string as `\"`, and writes a variant between bare
/// backticks), so a value's text runs to the last such quote of the message.
pub(crate) fn scrub(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find(['`', '"']) {
        let quote = &rest[open..open + 1];
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let field = out
            .ends_with("field ")
            .then(|| after.split_once(quote).map(|(name, _)| name))
            .flatten()
            .filter(|name| {
                let next = after[name.len() + 1..].chars().next();
                !name.is_empty()
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    && next.is_none_or(|c| matches!(c, ',' | ' ' | ';' | ')' | '.'))
            });
        if let Some(name) = field {
            out.push_str(quote);
            out.push_str(name);
            out.push_str(quote);
            rest = &after[name.len() + 1..];
        } else {
            out.push('…');
            rest = after.rfind(quote).map_or("", |close| &after[close + 1..]);
        }
    }
    out.push_str(rest);
    out
}

/// A JSON object body; rejections answer 400, 413 or 415 in the contract's format.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(req.headers()) {
            return Err(not_json());
        }
        let body = Bytes::from_request(req, state)
            .await
            .map_err(|e| rejection(e.status(), e.body_text()))?;
        json_object(&body).map(Self)
    }
}

/// Whether the `Content-Type` is JSON: `application/json` or `application/…+json`, with
/// any parameters.
pub(crate) fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return false;
    };
    let Ok(value) = value.to_str() else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    let suffix = subtype.rsplit_once('+').map(|(_, suffix)| suffix);
    kind.eq_ignore_ascii_case("application")
        && (subtype.eq_ignore_ascii_case("json")
            || suffix.is_some_and(|s| s.eq_ignore_ascii_case("json")))
}

/// The 415 of a JSON endpoint.
pub(crate) fn not_json() -> ApiError {
    ApiError::UnsupportedMediaType("Content-Type must be application/json".into())
}

/// Parses a body that must be a JSON object. serde's derived structs also read a JSON
/// array of the fields in order (`["alice", "pw"]` for `{"username", "password"}`); the
/// contract's bodies are objects (`docs/API.md` §2.3), so anything else is refused
/// first.
pub(crate) fn json_object<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let invalid = |why: &str| ApiError::InvalidRequest(format!("invalid JSON body: {why}"));
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(invalid("expected a JSON object"));
    }
    serde_json::from_slice(body).map_err(|e| invalid(&scrub(&e.to_string())))
}

/// A form-encoded body (the OAuth 2.0 endpoints).
#[derive(Debug)]
pub struct ApiForm<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiForm<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Form::<T>::from_request(req, state).await {
            Ok(axum::Form(value)) => Ok(Self(value)),
            Err(FormRejection::InvalidFormContentType(_)) => Err(ApiError::UnsupportedMediaType(
                "Content-Type must be application/x-www-form-urlencoded".into(),
            )),
            Err(e) => Err(rejection(e.status(), e.body_text())),
        }
    }
}

impl FromRequestParts<AppState> for RequestMeta {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let trusted = &state.http().trusted_proxies;
        let ip = peer.map(|peer| client_ip(peer, &parts.headers, trusted));
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(256).collect());
        Ok(RequestMeta { ip, user_agent })
    }
}

/// The client's address: the peer, or, when the peer is a trusted proxy, the right-most
/// `X-Forwarded-For` entry that is not a trusted proxy (entries further left are
/// whatever the client claimed, and are not believed).
fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|hop| hop.trim().parse().ok())
        .collect();
    hops.iter()
        .rev()
        .find(|hop| !is_trusted(hop))
        .or(hops.first())
        .copied()
        .unwrap_or(peer)
}

/// The bearer token of the `Authorization` header (RFC 6750 §2.1), if any.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    symbolon_proto::bearer_token(headers.get(header::AUTHORIZATION)?.to_str().ok()?)
}

/// A request carrying a valid access token of a live session (RFC 6750 errors
/// otherwise).
impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer_token(&parts.headers).ok_or(ApiError::InvalidToken(None))?;
        Ok(state.service().sessions().authenticate(token).await?)
    }
}

/// Parses `Authorization: Basic` (RFC 6749 §2.3.1: both parts form-urlencoded).
/// `Ok(None)` without the header; `Err` for a broken one.
pub fn basic_credentials(headers: &HeaderMap) -> Result<Option<ClientCredentials>, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let broken = || ApiError::InvalidClient {
        basic_attempted: true,
    };
    let value = value.to_str().map_err(|_| broken())?;
    let (scheme, encoded) = value.split_once(' ').ok_or_else(broken)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| broken())?;
    let decoded = String::from_utf8(decoded).map_err(|_| broken())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(broken)?;
    let unescape = |s: &str| -> Result<String, ApiError> {
        let plus = s.replace('+', " ");
        percent_encoding::percent_decode_str(&plus)
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| broken())
    };
    Ok(Some(ClientCredentials {
        client_id: unescape(id)?,
        secret: symbolon_core::ids::Password::new(unescape(secret)?),
    }))
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderValue};
    use std::net::IpAddr;

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("6.6.6.6, 203.0.113.7, 10.0.0.1"),
        );
        let ip = |peer: &str, trusted: &[crate::config::IpNet]| {
            super::client_ip(peer.parse().unwrap(), &headers, trusted)
        };
        // Not trusted: the header is ignored.
        assert_eq!(ip("10.0.0.1", &[]), proxy);
        // Trusted: the right-most untrusted hop; the spoofed left-most one is ignored.
        let trusted = [proxy.into()];
        assert_eq!(
            ip("10.0.0.1", &trusted),
            "203.0.113.7".parse::<IpAddr>().unwrap()
        );
        // A direct client cannot claim another address.
        assert_eq!(
            ip("198.51.100.2", &trusted),
            "198.51.100.2".parse::<IpAddr>().unwrap()
        );
        // A trusted network covers each of its addresses.
        let network = ["10.0.0.0/8".parse().unwrap()];
        assert_eq!(
            ip("10.9.8.7", &network),
            "203.0.113.7".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn scrub_removes_quoted_values() {
        assert_eq!(
            super::scrub("invalid type: integer `12345678`, expected a string at line 1 column 25"),
            "invalid type: integer …, expected a string at line 1 column 25"
        );
        assert_eq!(
            super::scrub("unknown variant \"hunter2\""),
            "unknown variant …"
        );
        assert_eq!(
            super::scrub("missing field `password`"),
            "missing field `password`"
        );
        assert_eq!(
            super::scrub("unknown field `pw`, expected `a`"),
            "unknown field `pw`, expected …"
        );
    }

    /// Found by the `body_extractors` fuzz target: serde writes a string value with
    /// `Debug` escapes (`"a\"b"`) and a variant between bare backticks, so a value that
    /// contains its quote ended the scrubbed part early and its tail went out in clear.
    #[test]
    fn scrub_removes_values_that_contain_their_quote() {
        let string = serde_json::from_str::<u32>(r#""a\"hunter2""#).unwrap_err();
        let variant =
            serde_json::from_str::<symbolon_proto::LogoutRequest>(r#"{"scope":"a`hunter2"}"#)
                .unwrap_err();
        for message in [
            string.to_string(),
            variant.to_string(),
            "unknown field `a`hunter2`, expected `x`".to_owned(),
        ] {
            let scrubbed = super::scrub(&message);
            assert!(!scrubbed.contains("hunter2"), "{message} -> {scrubbed}");
        }
        assert_eq!(
            super::scrub(&string.to_string()),
            "invalid type: string …, expected u32 at line 1 column 12"
        );
    }
}
