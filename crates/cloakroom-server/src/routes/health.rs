//! Probes: `GET /healthz` (the process answers), `GET /readyz` (its stores answer too).

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use cloakroom_axum::ApiError;
use http::StatusCode;
use serde_json::{Map, Value, json};

use crate::App;

pub(crate) fn router() -> Router<App> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

async fn healthz() -> axum::Json<Value> {
    axum::Json(json!({ "status": "ok" }))
}

/// 200 when every store answers, else 503 naming each one that does not (`database`,
/// `sessions` on Redis, the revocation `bus`). A memory store is part of the process, so it
/// is ready when the process is.
async fn readyz(State(app): State<App>) -> Result<axum::Json<Value>, ApiError> {
    let mut stores = Map::new();
    stores.insert("users".into(), app.database().kind().into());
    stores.insert("sessions".into(), app.session_store_kind().as_str().into());
    let mut down = Vec::new();
    for (role, kind, answer) in app.stores().check().await {
        if let Err(e) = answer {
            tracing::warn!(
                store = role,
                kind = %kind,
                error = %e,
                cause = ?std::error::Error::source(&e),
                "readiness: a store does not answer"
            );
            down.push(format!("{role} ({kind})"));
        }
        if role == "bus" {
            stores.insert("bus".into(), kind.into());
        }
    }
    if !down.is_empty() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            format!("unreachable: {}", down.join(", ")),
        ));
    }
    Ok(axum::Json(json!({ "status": "ready", "stores": stores })))
}
