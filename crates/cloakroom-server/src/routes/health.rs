//! Probes: `GET /healthz` (the process answers), `GET /readyz` (its stores answer too).

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse as _, Response};
use axum::routing::get;
use cloakroom_axum::ApiError;
use http::header::CACHE_CONTROL;
use http::{HeaderValue, StatusCode};
use serde_json::{Map, Value, json};

use crate::App;
use crate::bus_state::BusState;

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
/// is ready when the process is. With a bus, both answers also carry `bus`: its kind, its
/// state (`connected` or `reconnecting`), how often it connected, and the last reload.
async fn readyz(State(app): State<App>) -> Response {
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
    let bus = BusState::of(&app).map(|b| b.json());
    if !down.is_empty() {
        let error = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            format!("unreachable: {}", down.join(", ")),
        );
        let Some(bus) = bus else {
            return error.into_response();
        };
        // The error body, with the bus's state beside it.
        let mut res = (
            error.status,
            axum::Json(json!({ "error": error.code, "message": error.message, "bus": bus })),
        )
            .into_response();
        res.headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        return res;
    }
    let mut body = json!({ "status": "ready", "stores": stores });
    if let Some(bus) = bus {
        body["bus"] = bus;
    }
    axum::Json(body).into_response()
}
