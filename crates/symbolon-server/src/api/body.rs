//! Oversized request bodies: answered 413 after being drained, so the answer arrives.

use super::error::ApiError;
use super::MAX_BODY;
use axum::body::Body;
use axum::extract::Request;
use axum::http::header::CONTENT_LENGTH;
use axum::response::{IntoResponse, Response};
use futures::future::{BoxFuture, Either};
use http_body_util::BodyExt;
use std::convert::Infallible;
use std::task::{Context, Poll};
use std::time::Duration;

/// How much of an oversized body is read and thrown away before the 413 is sent.
const DRAIN_LIMIT: usize = 1024 * 1024;
/// How long that may take.
const DRAIN_TIME: Duration = Duration::from_secs(5);

/// A service in front of the router that answers a body declared larger than
/// [`MAX_BODY`] (`Content-Length`) with 413 after reading and discarding it (up to 1 MiB,
/// for at most 5 s), as nginx's lingering close does: a server that closes with unread
/// bytes in its receive buffer makes the kernel reset the connection, and a client that
/// writes its whole body before reading loses the 413. Other requests go straight to the
/// router, with no boxing or copying (their bodies are read by the extractors, which stop
/// at [`MAX_BODY`]: a chunked body over it still gets its 413, without the drain).
#[derive(Debug, Clone)]
pub struct DrainOversized<S>(pub S);

impl<S> tower::Service<Request> for DrainOversized<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<S::Future, BoxFuture<'static, Result<Response, Infallible>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let declared = request
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|n| n > MAX_BODY as u64) {
            return Either::Right(Box::pin(async move {
                drain(request.into_body()).await;
                Ok(ApiError::TooLarge.into_response())
            }));
        }
        Either::Left(self.0.call(request))
    }
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
