//! The server's body extractors (`ApiJson`, `ApiForm`) behind the router's body limit
//! and `DrainOversized`, driven through a small axum router with `oneshot`.
//!
//! The input is a readable request: `ROUTE\nCONTENT-TYPE\nFRAMING\nBODY`, where ROUTE
//! picks the extractor and body type (`login`, `refresh`, `password`, `logout`, `token`,
//! `revoke`; anything else by hash), CONTENT-TYPE is sent as is (`-`: none), FRAMING is
//! `exact` (Content-Length), `chunked N` (a stream of N chunks, no length), `declare N`
//! (a Content-Length of N, true or not) or `repeat N` (the body N times). Invariants:
//! - never a panic, and never a status other than 200 (accepted), 400, 413 or 415;
//! - every refusal is `application/json` with the contract's error body
//!   (`{"error": "invalid_request", "error_description": …}`, non-empty description);
//! - nothing over 64 KiB is accepted, and a declared length over it is 413;
//! - the exact content type each extractor wants is never a 415; an accepted JSON body is
//!   one serde_json parses to the same type;
//! - quoted values are scrubbed from descriptions: the canary `SECRET` in a string value
//!   never shows (in an object key it may: field names, and the path to the failing value,
//!   which axum puts before the parser's message, are shown on purpose).
#![no_main]

use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::http::{header, Request, StatusCode};
use axum::routing::post;
use axum::Router;
use http_body_util::BodyExt;
use libfuzzer_sys::fuzz_target;
use std::convert::Infallible;
use std::sync::OnceLock;
use symbolon_proto::{
    Credentials, ErrorBody, ErrorCode, LogoutRequest, PasswordChange, RefreshRequest,
};
use symbolon_server::api::body::DrainOversized;
use symbolon_server::api::extract::{ApiForm, ApiJson};
use symbolon_server::api::oauth::{TokenForm, TokenParam};
use symbolon_server::api::MAX_BODY;
use tower::ServiceExt;

const ROUTES: [(&str, bool); 6] = [
    ("login", true),
    ("refresh", true),
    ("password", true),
    ("logout", true),
    ("token", false),
    ("revoke", false),
];
const CANARY: &str = "SECRET";
/// The largest body the fuzzer sends (a few times the limit).
const LARGEST: usize = 4 * MAX_BODY;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a runtime")
    })
}

fn router() -> &'static Router {
    static ROUTER: OnceLock<Router> = OnceLock::new();
    ROUTER.get_or_init(|| {
        Router::new()
            .route(
                "/login",
                post(|ApiJson(_): ApiJson<Credentials>| async { StatusCode::OK }),
            )
            .route(
                "/refresh",
                post(|ApiJson(_): ApiJson<RefreshRequest>| async { StatusCode::OK }),
            )
            .route(
                "/password",
                post(|ApiJson(_): ApiJson<PasswordChange>| async { StatusCode::OK }),
            )
            .route(
                "/logout",
                post(|ApiJson(_): ApiJson<LogoutRequest>| async { StatusCode::OK }),
            )
            .route(
                "/token",
                post(|ApiForm(_): ApiForm<TokenForm>| async { StatusCode::OK }),
            )
            .route(
                "/revoke",
                post(|ApiForm(_): ApiForm<TokenParam>| async { StatusCode::OK }),
            )
            // As `api::router` has it.
            .layer(DefaultBodyLimit::max(MAX_BODY))
    })
}

enum Framing {
    Exact,
    Chunked(usize),
    Declare(String),
    Repeat(usize),
}

fn parse_framing(line: &str) -> Framing {
    let (word, n) = line.split_once(' ').unwrap_or((line, ""));
    let number = || n.trim().parse::<usize>().unwrap_or(1);
    match word {
        "chunked" => Framing::Chunked(number().clamp(1, 64)),
        "declare" => Framing::Declare(n.to_owned()),
        "repeat" => Framing::Repeat(number().clamp(1, LARGEST)),
        _ => Framing::Exact,
    }
}

/// Whether `json` accepts as the route's type, parsed by serde_json alone.
fn parses_as(route: &str, json: &[u8]) -> bool {
    match route {
        "login" => serde_json::from_slice::<Credentials>(json).is_ok(),
        "refresh" => serde_json::from_slice::<RefreshRequest>(json).is_ok(),
        "password" => serde_json::from_slice::<PasswordChange>(json).is_ok(),
        "logout" => serde_json::from_slice::<LogoutRequest>(json).is_ok(),
        _ => true,
    }
}

/// Whether `text` is in an object key of `body` (a JSON text, maybe broken): a string
/// literal followed by `:`. Keys may show in a description on purpose: field names, and
/// the path to the failing value that axum puts before the parser's message.
fn in_a_key(body: &[u8], text: &str) -> bool {
    let mut at = 0;
    while let Some(open) = body[at..].iter().position(|b| *b == b'"').map(|p| at + p) {
        let mut end = open + 1;
        while end < body.len() && body[end] != b'"' {
            end += if body[end] == b'\\' { 2 } else { 1 };
        }
        let literal = String::from_utf8_lossy(&body[open + 1..end.min(body.len())]);
        let next = body
            .get(end + 1..)
            .and_then(|rest| rest.iter().find(|b| !b.is_ascii_whitespace()));
        if next == Some(&b':') && literal.contains(text) {
            return true;
        }
        at = end + 1;
        if at >= body.len() {
            return false;
        }
    }
    false
}

/// The description without the field names it quotes on purpose (``field `name` ``).
fn without_field_names(description: &str) -> String {
    let mut out = String::new();
    let mut rest = description;
    while let Some(at) = rest.find("field `") {
        out.push_str(&rest[..at]);
        let after = &rest[at + "field `".len()..];
        rest = after.find('`').map_or("", |end| &after[end + 1..]);
    }
    out.push_str(rest);
    out
}

fuzz_target!(|data: &[u8]| {
    let mut lines = data.splitn(4, |b| *b == b'\n');
    let route_line = String::from_utf8_lossy(lines.next().unwrap_or_default());
    let content_type = lines.next().unwrap_or_default();
    let framing = parse_framing(&String::from_utf8_lossy(lines.next().unwrap_or_default()));
    let mut body = lines.next().unwrap_or_default().to_vec();

    let (route, json) = ROUTES
        .iter()
        .find(|(name, _)| *name == route_line.trim())
        .copied()
        .unwrap_or_else(|| ROUTES[route_line.len() % ROUTES.len()]);
    if let Framing::Repeat(n) = framing {
        let times = n.min(LARGEST / body.len().max(1)).max(1);
        body = body.repeat(times);
    }

    let mut request = Request::post(format!("/{route}"));
    if content_type != b"-" {
        request = request.header(header::CONTENT_TYPE, content_type);
    }
    let mut declared = None;
    let request_body = match &framing {
        Framing::Chunked(n) => {
            let size = body.len().div_ceil(*n).max(1);
            let chunks: Vec<Result<Vec<u8>, Infallible>> =
                body.chunks(size).map(|c| Ok(c.to_vec())).collect();
            Body::from_stream(futures::stream::iter(chunks))
        }
        Framing::Declare(text) => {
            request = request.header(header::CONTENT_LENGTH, text.as_bytes());
            declared = text.trim().parse::<u64>().ok();
            Body::from(body.clone())
        }
        Framing::Exact | Framing::Repeat(_) => {
            request = request.header(header::CONTENT_LENGTH, body.len());
            declared = Some(body.len() as u64);
            Body::from(body.clone())
        }
    };
    // A header the fuzzer wrote that is not a valid header value: not a request.
    let Ok(request) = request.body(request_body) else {
        return;
    };

    let (status, response_type, answer) = runtime().block_on(async {
        let response = DrainOversized(router().clone())
            .oneshot(request)
            .await
            .expect("infallible");
        let status = response.status();
        let response_type = response.headers().get(header::CONTENT_TYPE).cloned();
        let answer = response
            .into_body()
            .collect()
            .await
            .expect("a body")
            .to_bytes();
        (status, response_type, answer)
    });

    assert!(
        matches!(status.as_u16(), 200 | 400 | 413 | 415),
        "status {status} for {route}: {}",
        String::from_utf8_lossy(&answer)
    );
    let oversized = body.len() > MAX_BODY || declared.is_some_and(|n| n > MAX_BODY as u64);
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        assert_eq!(
            status,
            StatusCode::PAYLOAD_TOO_LARGE,
            "a declared {declared:?} bytes"
        );
    }
    let wanted: &[u8] = if json {
        b"application/json"
    } else {
        b"application/x-www-form-urlencoded"
    };
    if content_type == wanted {
        assert_ne!(
            status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the exact content type was refused"
        );
    }
    if status == StatusCode::OK {
        assert!(
            !oversized,
            "accepted {} bytes (declared {declared:?})",
            body.len()
        );
        if json {
            assert!(
                parses_as(route, &body),
                "accepted a body serde_json refuses"
            );
        }
        return;
    }
    assert_eq!(
        response_type.as_ref().map(|v| v.as_bytes()),
        Some(&b"application/json"[..]),
        "a refusal that is not JSON"
    );
    let error: ErrorBody = serde_json::from_slice(&answer).unwrap_or_else(|e| {
        panic!(
            "not the contract's error body ({e}): {}",
            String::from_utf8_lossy(&answer)
        )
    });
    assert_eq!(error.error, ErrorCode::InvalidRequest);
    assert!(!error.error_description.is_empty(), "an empty description");
    assert!(
        in_a_key(&body, CANARY) || !without_field_names(&error.error_description).contains(CANARY),
        "a quoted value leaked into the description: {:?}",
        error.error_description
    );
});
