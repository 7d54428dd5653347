//! The jsonwebtoken example from the sessions-vs-JWT explainer, ported one to one:
//! `POST /login` signs a token carrying `{id: 1, name: "Bhaskar"}` for an hour; `GET /profile`
//! verifies the `Authorization: Bearer` token's signature, with no lookup.
//!
//! Unlike the original's `"mysecret"`, the HS256 secret is 256 random bits made at start-up,
//! and the token says who issued it, for whom, and what it is (`iss`, `aud`, `typ: at+jwt`).
//!
//! ```text
//! cargo run -p cloakroom-axum --features jwt --example jwt        # PORT=3000 by default
//! TOKEN=$(curl -s -X POST localhost:3000/login | jq -r .token)
//! curl -H "Authorization: Bearer $TOKEN" localhost:3000/profile   # Welcome Bhaskar
//! ```

use std::{sync::Arc, time::Duration};

use axum::{
    Json, Router,
    extract::State,
    http::StatusCode,
    response::IntoResponse,
    routing::{get, post},
};
use cloakroom::{auth::AuthMethod, session::SessionHandle, token::*};
use cloakroom_axum::{ApiError, Auth, AuthLayer, TokenAuth};
use serde_json::{Value, json};

const ISSUER: &str = "http://127.0.0.1:3000";
const AUDIENCE: &str = "example";

/// The app: two routes; tokens are verified by the layer.
pub async fn app() -> Result<Router, KeyError> {
    let policy = KeyPolicy {
        algorithm: Algorithm::Hs256,
        ..KeyPolicy::default()
    };
    let keys = KeyManager::open_system(Arc::new(MemoryKeyStore::new()), policy).await?;
    let issuer = TokenIssuer::new(
        keys.ring().clone(),
        ISSUER,
        AUDIENCE,
        Duration::from_secs(3600),
    );
    let verifier = TokenVerifier::new(keys.ring().clone(), Validation::new(ISSUER, AUDIENCE));
    Ok(Router::new()
        .route("/login", post(login))
        .route("/profile", get(profile))
        .layer(AuthLayer::tokens(TokenAuth::new(verifier, AuthMethod::Jwt)))
        .with_state(issuer))
}

async fn login(State(issuer): State<TokenIssuer>) -> Result<Json<Value>, ApiError> {
    let user = TokenSubject {
        user_id: "1".into(),
        name: "Bhaskar".into(),
        roles: vec![],
        session: SessionHandle::generate()?.to_string(),
    };
    let issued = issuer.issue(&user)?;
    Ok(Json(json!({ "token": issued.token.expose_secret() })))
}

async fn profile(auth: Result<Auth, ApiError>) -> impl IntoResponse {
    match auth {
        Ok(Auth(user)) => Ok(format!("Welcome {}", user.username)),
        Err(e) if e.code == "invalid_token" => Err((StatusCode::UNAUTHORIZED, "Invalid Token")),
        Err(_) => Err((StatusCode::UNAUTHORIZED, "Unauthorized")),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".into());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    axum::serve(listener, app().await?).await?;
    Ok(())
}
