//! What the three reference servers share: where they listen and the body they answer with.

use serde::Serialize;

/// The "who am I" body, shaped like Cloakroom's `GET /auth/me`.
#[derive(Debug, Serialize)]
pub struct Me<'a> {
    /// The user's ID.
    pub id: &'a str,
    /// The user's name.
    pub username: &'a str,
    /// The user's roles.
    pub roles: &'a [String],
    /// The session's public handle.
    pub session: &'a str,
    /// How the caller authenticated.
    pub auth: &'a str,
}

/// Binds the address in `$LISTEN` (default `127.0.0.1:3000`) and serves `app` on it.
pub async fn serve(app: axum::Router) -> std::io::Result<()> {
    let addr = std::env::var("LISTEN").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(addr).await?;
    axum::serve(listener, app).await
}
