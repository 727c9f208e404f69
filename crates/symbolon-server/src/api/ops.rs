//! Operations endpoints: liveness, readiness, metrics, the OpenAPI document.

use super::error::{chain, ApiError};
use super::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use symbolon_proto::{ErrorBody, ErrorCode, Status};

/// The process is alive.
#[utoipa::path(get, path = "/healthz", responses((status = 200, description = "`{\"status\": \"ok\"}`", body = Status)))]
pub async fn healthz() -> Json<Status> {
    Json(Status {
        status: "ok".into(),
    })
}

/// The database answers.
#[utoipa::path(get, path = "/readyz", responses(
    (status = 200, description = "`{\"status\": \"ready\"}`", body = Status),
    (status = 503, description = "`server_error`: the database is unreachable", body = ErrorBody)))]
pub async fn readyz(State(state): State<AppState>) -> Response {
    match state.service().ready().await {
        Ok(()) => Json(Status {
            status: "ready".into(),
        })
        .into_response(),
        Err(e) => {
            tracing::warn!(error = %chain(&e), "readiness check failed");
            let body = ErrorBody {
                error: ErrorCode::ServerError,
                error_description: "the database is unreachable".into(),
            };
            (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
        }
    }
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", responses(
    (status = 200, description = "Prometheus text format", body = String,
        content_type = "text/plain; version=0.0.4; charset=utf-8")))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.service().metrics().encode(),
    )
        .into_response()
}

/// This API as OpenAPI 3.1, generated from the code.
#[utoipa::path(get, path = "/openapi.json", responses(
    (status = 200, description = "OpenAPI 3.1 document", body = Object),
    (status = 500, description = "`server_error`: the document could not be rendered", body = ErrorBody)))]
pub async fn openapi() -> Result<Json<serde_json::Value>, ApiError> {
    let doc = super::openapi::document().map_err(|e| ApiError::Internal(Box::new(e)))?;
    Ok(Json(doc))
}
