//! `GET /metrics`: the Prometheus text format.

use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use http::{HeaderValue, header};

use crate::App;
use crate::bus_state::BusState;
use crate::prometheus::ACTIVE_SESSIONS;

pub(crate) fn router() -> Router<App> {
    Router::new().route("/metrics", get(scrape))
}

/// Renders every metric, after counting the live sessions (a gauge that is only worth its
/// store query when someone looks) and reading the bus's state.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    operation_id = "metrics",
    summary = "Prometheus metrics",
    responses(
        (status = 200, description = "The Prometheus text format", body = String,
            content_type = "text/plain; version=0.0.4; charset=utf-8"),
    ),
    security(()),
)]
async fn scrape(State(app): State<App>) -> impl IntoResponse {
    match app.sessions().count_active().await {
        // Precision is lost only past 2^53 sessions.
        #[allow(clippy::cast_precision_loss)]
        Ok(n) => metrics::gauge!(ACTIVE_SESSIONS).set(n as f64),
        Err(e) => tracing::warn!(error = %e, "could not count the active sessions"),
    }
    if let Some(bus) = BusState::of(&app) {
        bus.record();
    }
    app.metrics().run_upkeep();
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        app.metrics().render(),
    )
}
