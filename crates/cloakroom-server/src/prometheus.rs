//! The Prometheus recorder: installed once per process, rendered by `GET /metrics`.
//!
//! The `metrics` macros write to one global recorder, so every [`App`](crate::App) in a
//! process shares it (and its counters).

use std::sync::{Mutex, PoisonError};

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::error::Error;

/// Sign-in attempts, by `outcome`.
pub const LOGINS: &str = "cloakroom_logins_total";
/// Refresh-token exchanges (`hybrid` mode), by `outcome`: `success`, `reused`, `invalid`, …
pub const REFRESHES: &str = "cloakroom_refreshes_total";
/// Requests that presented a session cookie or an access token, by `outcome` (counted by
/// `cloakroom-axum`).
pub const AUTHENTICATIONS: &str = "cloakroom_authentications_total";
/// Sessions that have not ended, computed when scraped.
pub const ACTIVE_SESSIONS: &str = "cloakroom_active_sessions";
/// Connections answered 503 because `limits.max_connections` were open.
pub const CONNECTIONS_REFUSED: &str = "cloakroom_connections_refused_total";
/// Access log lines dropped because the log could not be written as fast as requests came.
pub const ACCESS_LOG_DROPPED: &str = crate::access_log::DROPPED;
/// Whether the revocation bus is connected (1) or reconnecting (0), by `bus` (`redis`,
/// `postgres`); computed when scraped.
pub const BUS_CONNECTED: &str = "cloakroom_bus_connected";
/// How many times the revocation bus has connected (1 + its reconnections), by `bus`.
pub const BUS_CONNECTIONS: &str = "cloakroom_bus_connections_total";
/// When this node last reloaded the stored deny-list (or dropped its near-cache) because the
/// bus (re)connected, in unix seconds, by `bus`.
pub const BUS_LAST_RELOAD: &str = "cloakroom_bus_last_reload_timestamp_seconds";
/// Request latency, by `method`, matched `route` and `status`.
pub const REQUEST_DURATION: &str = "cloakroom_http_request_duration_seconds";

/// Latency buckets, in seconds: from a cached session lookup to a slow argon2 hash.
const LATENCY_BUCKETS: &[f64] = &[
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

static HANDLE: Mutex<Option<PrometheusHandle>> = Mutex::new(None);

/// The process's recorder, installed on first use.
pub fn handle() -> Result<PrometheusHandle, Error> {
    // Holding the lock while installing keeps two first callers from racing.
    let mut slot = HANDLE.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(handle) = slot.as_ref() {
        return Ok(handle.clone());
    }
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(REQUEST_DURATION.to_owned()), LATENCY_BUCKETS)
        .map_err(Error::Metrics)?
        .install_recorder()
        .map_err(Error::Metrics)?;
    describe();
    *slot = Some(handle.clone());
    Ok(handle)
}

fn describe() {
    metrics::describe_counter!(LOGINS, "Sign-in attempts, by outcome");
    metrics::describe_counter!(REFRESHES, "Refresh-token exchanges, by outcome");
    metrics::describe_counter!(
        AUTHENTICATIONS,
        "Requests that presented a session cookie or an access token, by outcome"
    );
    metrics::describe_gauge!(ACTIVE_SESSIONS, "Sessions that have not ended");
    metrics::describe_counter!(
        CONNECTIONS_REFUSED,
        "Connections refused because the connection limit was reached"
    );
    metrics::describe_counter!(
        ACCESS_LOG_DROPPED,
        "Access log lines dropped because the log could not be written as fast as requests came"
    );
    metrics::describe_gauge!(
        BUS_CONNECTED,
        "Whether the revocation bus is connected (1) or reconnecting (0)"
    );
    metrics::describe_counter!(
        BUS_CONNECTIONS,
        "Times the revocation bus has connected: one more per reconnection"
    );
    metrics::describe_gauge!(
        BUS_LAST_RELOAD,
        metrics::Unit::Seconds,
        "When the stored deny-list was last reloaded, in unix seconds"
    );
    metrics::describe_histogram!(
        REQUEST_DURATION,
        metrics::Unit::Seconds,
        "HTTP request latency, by method, matched route and status"
    );
    // Present from the first scrape, so that rates start at zero rather than at the first event.
    for outcome in ["success", "invalid_credentials"] {
        metrics::counter!(LOGINS, "outcome" => outcome).increment(0);
    }
    for outcome in ["success", "reused", "invalid"] {
        metrics::counter!(REFRESHES, "outcome" => outcome).increment(0);
    }
}
