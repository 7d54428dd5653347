//! The express-session example from the sessions-vs-JWT explainer, ported one to one:
//! `POST /login` keeps `{id: 1, name: "Bhaskar"}` on the server and hands the browser only a
//! random ID in a cookie; `GET /profile` finds the session by that ID.
//!
//! ```text
//! cargo run -p cloakroom-axum --example session        # PORT=3000 by default
//! curl -c jar -X POST localhost:3000/login             # Logged in
//! curl -b jar localhost:3000/profile                   # Welcome Bhaskar
//! ```

use axum::{
    Router,
    http::StatusCode,
    response::IntoResponse,
    routing::{get, post},
};
use cloakroom::{
    auth::SessionManager,
    session::{ClientInfo, SessionPolicy, SessionUser},
    store::MemoryStore,
};
use cloakroom_axum::{ApiError, Auth, AuthLayer, CookieConfig, Sessions};

/// The app: two routes behind the session layer.
pub fn app() -> Router {
    let sessions = SessionManager::new(MemoryStore::new(1_000_000), SessionPolicy::default());
    Router::new()
        .route("/login", post(login))
        .route("/profile", get(profile))
        .layer(AuthLayer::new(sessions, CookieConfig::new("connect.sid")))
}

async fn login(sessions: Sessions) -> Result<impl IntoResponse, ApiError> {
    let user = SessionUser::new("1", "Bhaskar");
    Ok((
        sessions.login(user, ClientInfo::default()).await?,
        "Logged in",
    ))
}

async fn profile(user: Option<Auth>) -> impl IntoResponse {
    match user {
        Some(Auth(user)) => Ok(format!("Welcome {}", user.username)),
        None => Err((StatusCode::UNAUTHORIZED, "Unauthorized")),
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".into());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    axum::serve(listener, app()).await
}
