//! Probes: `GET /healthz` (the process answers), `GET /readyz` (its stores answer too).

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use cloakroom_axum::ApiError;
use http::StatusCode;
use serde_json::{Value, json};

use crate::App;
use crate::settings::SessionStoreKind;

pub(crate) fn router() -> Router<App> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

async fn healthz() -> axum::Json<Value> {
    axum::Json(json!({ "status": "ok" }))
}

/// 200 when every store answers, else 503 naming the one that does not. A memory store is
/// part of the process, so it is ready when the process is.
async fn readyz(State(app): State<App>) -> Result<axum::Json<Value>, ApiError> {
    let sessions = app.session_store_kind();
    if let Err(e) = app.database().ping().await {
        tracing::warn!(error = %e, cause = ?std::error::Error::source(&e), "readiness: the SQLite database does not answer");
        let what = match sessions {
            SessionStoreKind::Sqlite => "the user and session store (sqlite)",
            SessionStoreKind::Memory => "the user store (sqlite)",
        };
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            format!("{what} is unreachable"),
        ));
    }
    Ok(axum::Json(json!({
        "status": "ready",
        "stores": { "users": "sqlite", "sessions": sessions.as_str() },
    })))
}
