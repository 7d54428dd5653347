//! The ceiling: `GET /me` answers the same JSON body as Cloakroom's `/auth/me`, serialized per
//! request like a handler would, with no authentication and no middleware at all.

use axum::{Json, Router, response::IntoResponse, routing::get};
use cloakroom_bench_targets::{Me, serve};

// The same lengths as a real answer: a UUID user ID and a 22-character session handle.
const ID: &str = "0b6a5c0e-6f4f-4c1a-9d5e-2f7d9a3b8c41";
const SESSION: &str = "Qm9uam91ciBsZSBtb25kZQ";

async fn me() -> impl IntoResponse {
    Json(Me {
        id: ID,
        username: "bench",
        roles: &[],
        session: SESSION,
        auth: "session",
    })
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    serve(Router::new().route("/me", get(me))).await
}
