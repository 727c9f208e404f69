//! The example API: one protected route, health and metrics. The router is a function of
//! the verifier, so the test runs it in process next to a real symbolon server.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use symbolon_verify::{VerifiedToken, Verifier};

/// The routes: `GET /hello` (needs a valid access token of a live session), `GET
/// /healthz`, `GET /metrics` (how fresh the verifier's view of symbolon is).
pub fn app(verifier: Verifier) -> Router {
    Router::new()
        .route("/hello", get(hello))
        .route(
            "/healthz",
            get(|| async { Json(serde_json::json!({"status": "ok"})) }),
        )
        .route("/metrics", get(metrics))
        .with_state(verifier)
}

/// Greets the token's user: who they are, by which session.
async fn hello(VerifiedToken(claims): VerifiedToken) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "message": format!("hello, {}", claims.preferred_username),
        "sub": claims.sub,
        "sid": claims.sid,
        "client_id": claims.client_id,
        "expires_at": claims.exp,
    }))
}

async fn metrics(State(verifier): State<Verifier>) -> String {
    verifier.metrics_text()
}
