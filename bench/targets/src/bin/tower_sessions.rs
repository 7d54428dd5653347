//! The usual axum session stack: tower-sessions with its `MemoryStore`. `POST /login` keeps the
//! user in the session; `GET /me` reads it back, 401 without one.

use axum::{
    Json, Router,
    http::StatusCode,
    response::IntoResponse,
    routing::{get, post},
};
use cloakroom_bench_targets::{Me, serve};
use serde::{Deserialize, Serialize};
use tower_sessions::{MemoryStore, Session, SessionManagerLayer};

#[derive(Serialize, Deserialize)]
struct User {
    id: String,
    name: String,
    roles: Vec<String>,
}

async fn login(session: Session) -> Result<&'static str, StatusCode> {
    let user = User {
        id: "0b6a5c0e-6f4f-4c1a-9d5e-2f7d9a3b8c41".into(),
        name: "bench".into(),
        roles: vec![],
    };
    session
        .insert("user", user)
        .await
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    Ok("Logged in")
}

async fn me(session: Session) -> Result<impl IntoResponse, StatusCode> {
    let user: User = session
        .get("user")
        .await
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?
        .ok_or(StatusCode::UNAUTHORIZED)?;
    let id = session.id().map(|id| id.to_string()).unwrap_or_default();
    Ok(Json(Me {
        id: &user.id,
        username: &user.name,
        roles: &user.roles,
        session: &id,
        auth: "session",
    })
    .into_response())
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let layer = SessionManagerLayer::new(MemoryStore::default()).with_secure(false);
    let app = Router::new()
        .route("/login", post(login))
        .route("/me", get(me))
        .layer(layer);
    serve(app).await
}
