//! Request bodies are read here, whole and bounded, before any handler sees them.

use super::error::ApiError;
use super::MAX_BODY;
use axum::body::Body;
use axum::extract::Request;
use axum::http::header::CONTENT_LENGTH;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use std::time::Duration;

/// How much of an oversized body is read and thrown away before the 413 is sent.
const DRAIN_LIMIT: usize = 1024 * 1024;
/// How long that may take.
const DRAIN_TIME: Duration = Duration::from_secs(5);

/// Reads the body (at most [`MAX_BODY`]) and hands the request on with it. A larger body
/// is answered 413 after the rest of it has been read and discarded (up to
/// 1 MiB, for at most 5 s), as nginx's lingering close does:
/// a server that closes with unread bytes in its receive buffer makes the kernel reset
/// the connection, and a client that writes its whole body before reading loses the 413.
pub async fn bounded_body(request: Request, next: Next) -> Response {
    let (parts, mut body) = request.into_parts();
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        drain(body).await;
        return ApiError::TooLarge.into_response();
    }
    let mut read = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return ApiError::InvalidRequest("the request body could not be read".into())
                .into_response();
        };
        if let Ok(data) = frame.into_data() {
            if read.len() + data.len() > MAX_BODY {
                drain(body).await;
                return ApiError::TooLarge.into_response();
            }
            read.extend_from_slice(&data);
        }
    }
    next.run(Request::from_parts(parts, Body::from(read))).await
}

/// Reads and discards what is left of `body`, within the bounds above.
async fn drain(mut body: Body) {
    let discard = async {
        let mut seen = 0;
        while let Some(Ok(frame)) = body.frame().await {
            if let Ok(data) = frame.into_data() {
                seen += data.len();
                if seen > DRAIN_LIMIT {
                    break;
                }
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIME, discard).await;
}
