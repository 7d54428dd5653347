//! The usual axum JWT stack: the `jsonwebtoken` crate, HS256. `POST /login` answers
//! `{"token"}`; `GET /me` verifies the `Authorization: Bearer` token (signature, `exp`, `iss`,
//! `aud`), 401 otherwise.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::{
    Json, Router,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::IntoResponse,
    routing::{get, post},
};
use cloakroom_bench_targets::{Me, serve};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Serialize, Deserialize)]
struct Claims {
    sub: String,
    name: String,
    roles: Vec<String>,
    sid: String,
    iss: String,
    aud: String,
    exp: u64,
}

#[derive(Clone)]
struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

async fn login(State(keys): State<Keys>) -> Result<Json<Value>, StatusCode> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?
        .as_secs();
    let claims = Claims {
        sub: "0b6a5c0e-6f4f-4c1a-9d5e-2f7d9a3b8c41".into(),
        name: "bench".into(),
        roles: vec![],
        sid: "Qm9uam91ciBsZSBtb25kZQ".into(),
        iss: "http://127.0.0.1".into(),
        aud: "bench".into(),
        exp: now + 3600,
    };
    let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &keys.encoding)
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    Ok(Json(json!({ "token": token })))
}

async fn me(State(keys): State<Keys>, headers: HeaderMap) -> Result<impl IntoResponse, StatusCode> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(StatusCode::UNAUTHORIZED)?;
    let data = jsonwebtoken::decode::<Claims>(token, &keys.decoding, &keys.validation)
        .map_err(|_| StatusCode::UNAUTHORIZED)?;
    let c = data.claims;
    Ok(Json(Me {
        id: &c.sub,
        username: &c.name,
        roles: &c.roles,
        session: &c.sid,
        auth: "jwt",
    })
    .into_response())
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    // A fixed secret is fine for a benchmark peer; it never leaves the loopback.
    let secret = std::env::var("JWT_SECRET").unwrap_or_else(|_| "bench-secret-32-bytes-long-000000".into());
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&["http://127.0.0.1"]);
    validation.set_audience(&["bench"]);
    let keys = Keys {
        encoding: EncodingKey::from_secret(secret.as_bytes()),
        decoding: DecodingKey::from_secret(secret.as_bytes()),
        validation,
    };
    let app = Router::new()
        .route("/login", post(login))
        .route("/me", get(me))
        .with_state(keys);
    serve(app).await
}
