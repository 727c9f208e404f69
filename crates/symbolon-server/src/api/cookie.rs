//! The browser cookie mode, its CSRF check and CORS (`docs/API.md` §2.9): another
//! renderer of the same service results. A request asks for the mode with the static
//! header `X-Symbolon-Cookie: 1`; the refresh token then travels only in an `HttpOnly`
//! cookie and the body carries the access token.
//!
//! [`browser`] runs in front of every route: it answers CORS preflights and adds the
//! CORS headers for an allowed origin. The handlers that can use the cookie (`/login`,
//! `/register`, `/token/refresh`, `/logout`) take [`Browser`], whose extraction is the
//! CSRF check (a cookie-mode request whose `Origin`, or without one `Sec-Fetch-Site`, is
//! not allowed gets 403 before anything else), and render through it.

use super::error::ApiError;
use super::state::{AppState, BrowserSettings};
use super::{no_store, Tokens};
use crate::config::SameSite;
use crate::service::Issued;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use symbolon_proto::CookieTokenResponse;

/// The header that asks for the cookie mode, and the CSRF defence: a custom header, so a
/// cross-origin request carrying it always needs a CORS preflight.
pub const MODE_HEADER: HeaderName = HeaderName::from_static("x-symbolon-cookie");

/// The refresh-token cookie: `__Host-` (the browser accepts it only with `Secure`,
/// `Path=/` and no `Domain`, so only this origin can set it and only this origin gets it).
pub const COOKIE_NAME: &str = "__Host-symbolon-refresh";

/// The cookie's name without `Secure` (loopback development, `cookie_insecure_loopback`):
/// browsers refuse a prefixed cookie without `Secure`.
pub const INSECURE_COOKIE_NAME: &str = "symbolon-refresh";

/// What a preflight allows.
const ALLOW_METHODS: &str = "GET, POST, DELETE";
const ALLOW_HEADERS: &str = "authorization, content-type, x-symbolon-cookie";
const MAX_AGE: &str = "600";
/// The answer headers a page may read besides the CORS-safelisted ones.
const EXPOSE_HEADERS: &str = "retry-after, www-authenticate";

/// Marks a request that came to a loopback listener (set by `serve()`).
#[derive(Debug, Clone, Copy)]
pub struct LoopbackListener;

/// A cookie-mode request that passed the CSRF check.
#[derive(Debug, Clone, Copy)]
pub struct CookieMode {
    insecure: bool,
    same_site: SameSite,
}

impl CookieMode {
    /// The cookie's name in this request's mode.
    fn name(self) -> &'static str {
        if self.insecure {
            INSECURE_COOKIE_NAME
        } else {
            COOKIE_NAME
        }
    }

    /// The refresh token of the request's cookie, if any (the first cookie of that name).
    pub fn refresh_token(self, headers: &HeaderMap) -> Option<&str> {
        let name = self.name();
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.trim_matches('"'))
            .filter(|value| !value.is_empty())
    }

    /// `Set-Cookie` with `value` for `max_age` seconds (0: delete it).
    fn set_cookie(self, value: &str, max_age: u64) -> Result<HeaderValue, ApiError> {
        let secure = if self.insecure { "" } else { "; Secure" };
        let text = format!(
            "{}={value}; Path=/; Max-Age={max_age}; HttpOnly{secure}; SameSite={}",
            self.name(),
            self.same_site.as_str()
        );
        // A refresh token is base64url: always a valid header value. Never say it.
        HeaderValue::from_str(&text)
            .map_err(|_| ApiError::Internal("a refresh token is not a cookie value".into()))
    }

    /// The `Set-Cookie` that deletes the cookie.
    fn clear_cookie(self) -> Result<HeaderValue, ApiError> {
        self.set_cookie("", 0)
    }

    /// A login or refresh rendered for a browser: the token response without
    /// `refresh_token`, which goes into the cookie for its remaining lifetime.
    pub fn tokens(self, issued: Issued) -> Result<Response, ApiError> {
        let Tokens(full) = Tokens::from(issued);
        let cookie = self.set_cookie(full.refresh_token.expose(), full.refresh_token_expires_in)?;
        let mut response = no_store(Json(CookieTokenResponse::from(full)).into_response());
        response.headers_mut().append(header::SET_COOKIE, cookie);
        Ok(response)
    }

    /// `response` with the cookie deleted.
    pub fn cleared(self, mut response: Response) -> Response {
        match self.clear_cookie() {
            Ok(cookie) => {
                response.headers_mut().append(header::SET_COOKIE, cookie);
                response
            }
            Err(error) => error.into_response(),
        }
    }

    /// A failure; an `invalid_grant` (the refresh token is refused: reused, revoked,
    /// expired, unknown) also deletes the cookie, which can no longer serve.
    pub fn failed(self, error: ApiError) -> Response {
        let refused = matches!(error, ApiError::InvalidGrant { .. });
        let response = error.into_response();
        if refused {
            self.cleared(response)
        } else {
            response
        }
    }
}

/// The cookie mode of a request: `Some` when it carried `X-Symbolon-Cookie` and passed
/// the CSRF check, `None` for the JSON API (any cookie is then ignored).
#[derive(Debug, Clone, Copy)]
pub struct Browser(pub Option<CookieMode>);

/// The CSRF check runs here, after routing (a wrong method is still 405) and before the
/// handler's other extractors: a refused request has its 403 before its body is parsed
/// or any token looked at.
impl FromRequestParts<AppState> for Browser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if !parts.headers.contains_key(MODE_HEADER) {
            return Ok(Self(None));
        }
        let settings = &state.http().browser;
        let origin = match parts.headers.get(header::ORIGIN) {
            // An Origin that is not text is never allowed.
            Some(value) => Some(value.to_str().unwrap_or("\u{fffd}")),
            None => None,
        };
        csrf_check(settings, &parts.headers, origin)?;
        Ok(Self(Some(CookieMode {
            insecure: settings.insecure_loopback
                && parts.extensions.get::<LoopbackListener>().is_some(),
            same_site: settings.same_site,
        })))
    }
}

impl Browser {
    /// A login or refresh, rendered for the JSON API or for the cookie mode.
    pub fn tokens(self, issued: Issued) -> Result<Response, ApiError> {
        match self.0 {
            None => Ok(Tokens::from(issued).into_response()),
            Some(mode) => mode.tokens(issued),
        }
    }
}

/// Which origin is allowed for CORS: the configured one equal to the request's `Origin`.
fn allowed_origin<'a>(settings: &BrowserSettings, origin: Option<&'a str>) -> Option<&'a str> {
    let origin = origin?;
    settings
        .allowed_origins
        .iter()
        .any(|allowed| allowed.as_str().eq_ignore_ascii_case(origin))
        .then_some(origin)
}

/// The CSRF rule of a cookie-mode request: `X-Symbolon-Cookie: 1`, and an `Origin` that
/// is allowed or the server's own, or, without `Origin`, `Sec-Fetch-Site: same-origin`.
fn csrf_check(
    settings: &BrowserSettings,
    headers: &HeaderMap,
    origin: Option<&str>,
) -> Result<(), ApiError> {
    if headers.get(MODE_HEADER).map(HeaderValue::as_bytes) != Some(b"1") {
        return Err(ApiError::Forbidden(
            "the X-Symbolon-Cookie header must be 1".into(),
        ));
    }
    let trusted = match origin {
        Some(origin) => {
            allowed_origin(settings, Some(origin)).is_some()
                || settings.own_origin.as_str().eq_ignore_ascii_case(origin)
        }
        None => headers.get("sec-fetch-site").map(HeaderValue::as_bytes) == Some(b"same-origin"),
    };
    if trusted {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "a cookie-mode request needs an allowed Origin (or Sec-Fetch-Site: same-origin)".into(),
        ))
    }
}

/// Adds the CORS headers of an allowed origin (and `Vary: Origin` whenever the request
/// named one: the answer depends on it).
fn cors_headers(response: &mut Response, origin: Option<&str>, allowed: bool) {
    let headers = response.headers_mut();
    if origin.is_none() {
        return;
    }
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    let Some(value) = origin
        .filter(|_| allowed)
        .and_then(|o| HeaderValue::from_str(o).ok())
    else {
        return;
    };
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
        HeaderValue::from_static("true"),
    );
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSE_HEADERS),
    );
}

/// The middleware in front of every route: CORS preflights, and the CORS headers of
/// every answer (the 403 of the CSRF check included).
pub async fn browser(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let settings = &state.http().browser;
    let headers = request.headers();
    let origin = headers
        .get(header::ORIGIN)
        .map(|v| v.to_str().unwrap_or("\u{fffd}").to_owned());
    let origin = origin.as_deref();
    let allowed = allowed_origin(settings, origin).is_some();

    // A CORS preflight (RFC 9110 OPTIONS with Origin and Access-Control-Request-Method).
    if request.method() == Method::OPTIONS
        && origin.is_some()
        && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    {
        let mut response = if allowed {
            let mut response = StatusCode::NO_CONTENT.into_response();
            let headers = response.headers_mut();
            for (name, value) in [
                (header::ACCESS_CONTROL_ALLOW_METHODS, ALLOW_METHODS),
                (header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOW_HEADERS),
                (header::ACCESS_CONTROL_MAX_AGE, MAX_AGE),
            ] {
                headers.insert(name, HeaderValue::from_static(value));
            }
            response
        } else {
            ApiError::Forbidden("this origin may not call the server from a browser".into())
                .into_response()
        };
        cors_headers(&mut response, origin, allowed);
        return response;
    }

    let mut response = next.run(request).await;
    cors_headers(&mut response, origin, allowed);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(insecure: bool) -> CookieMode {
        CookieMode {
            insecure,
            same_site: SameSite::Strict,
        }
    }

    #[test]
    fn the_cookie_has_every_attribute() {
        let set = mode(false).set_cookie("abc", 60).unwrap();
        assert_eq!(
            set.to_str().unwrap(),
            "__Host-symbolon-refresh=abc; Path=/; Max-Age=60; HttpOnly; Secure; SameSite=Strict"
        );
        let clear = mode(true).clear_cookie().unwrap();
        assert_eq!(
            clear.to_str().unwrap(),
            "symbolon-refresh=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict"
        );
    }

    #[test]
    fn the_cookie_is_read_by_its_exact_name() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("symbolon-refresh=x; __Host-symbolon-refresh=y; z=1"),
        );
        assert_eq!(mode(false).refresh_token(&headers), Some("y"));
        assert_eq!(mode(true).refresh_token(&headers), Some("x"));
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("__Host-symbolon-refresh="),
        );
        assert_eq!(mode(false).refresh_token(&headers), None);
    }
}
