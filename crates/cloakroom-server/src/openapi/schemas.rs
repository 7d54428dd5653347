//! Schemas of bodies that the handlers build as plain JSON values or take from the core crate,
//! described here so that the core crate needs no OpenAPI dependency.
// Described for the document, never built.
#![allow(dead_code)]

use serde::Serialize;
use utoipa::ToSchema;

/// Every error: a stable code for programs and a sentence for people.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"error": "unauthenticated", "message": "sign in to continue"}))]
pub(crate) struct ErrorBody {
    /// A stable, machine-readable code, e.g. `invalid_credentials`, `not_available_in_mode`.
    error: String,
    /// A sentence for people. Never carries a secret.
    message: String,
}

/// `GET /healthz`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Health {
    /// Always `ok`.
    #[schema(example = "ok")]
    status: String,
}

/// `GET /readyz` when every store answers.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Ready {
    /// Always `ready`.
    #[schema(example = "ready")]
    status: String,
    /// Which store holds what.
    stores: ReadyStores,
    /// The revocation bus, when the node has one (Redis, or PostgreSQL without Redis).
    bus: Option<ReadyBus>,
}

/// The revocation bus, as `/readyz` sees it (also in its 503 body).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ReadyBus {
    /// What it runs on: `redis` or `postgres`.
    #[schema(example = "postgres")]
    kind: String,
    /// `connected`, or `reconnecting` (the node then answers 503).
    #[schema(example = "connected")]
    state: String,
    /// How many times it has connected: 1, plus one per reconnection.
    connections: u64,
    /// When it last (re)connected and had the stored state reloaded, in unix seconds.
    last_resync: Option<i64>,
    /// When this node last reloaded the stored deny-list (in session mode: dropped its
    /// near-cache), in unix seconds.
    last_reload: Option<i64>,
}

/// The stores `/readyz` checked.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ReadyStores {
    /// Where users and keys are kept, e.g. `sqlite`.
    users: String,
    /// Where sessions are kept, e.g. `sqlite` or `memory`.
    sessions: String,
}
