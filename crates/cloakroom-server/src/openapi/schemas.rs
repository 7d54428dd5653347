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
}

/// The stores `/readyz` checked.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ReadyStores {
    /// Where users and keys are kept, e.g. `sqlite`.
    users: String,
    /// Where sessions are kept, e.g. `sqlite` or `memory`.
    sessions: String,
}
