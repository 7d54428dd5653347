//! The explainer's app in `hybrid` mode: a short-lived access token that `/profile` verifies
//! without a lookup, and a refresh token that rotates at every use and is caught when copied.
//! The library does the work: this file only wires the demo user (`{id: 1, name: "Bhaskar"}`,
//! no password, as in the explainer) to Cloakroom's [`Authority`].
//!
//! ```text
//! cargo run -p cloakroom-axum --all-features --example hybrid     # PORT=3000 by default
//! PAIR=$(curl -s -X POST localhost:3000/login)
//! curl -H "Authorization: Bearer $(jq -r .access_token <<<"$PAIR")" localhost:3000/profile
//! curl -s -H 'Content-Type: application/json' \
//!      -d "{\"refresh_token\": \"$(jq -r .refresh_token <<<"$PAIR")\"}" localhost:3000/refresh
//! ```

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use cloakroom::authority::{Accounts, Authority, Credential, Flow};
use cloakroom::clock::SystemClock;
use cloakroom::revocation::{MemoryRevocationStore, Revocations};
use cloakroom::session::{ClientInfo, SessionPolicy, SessionUser};
use cloakroom::store::MemoryStore;
use cloakroom::throttle::{MemoryThrottle, ThrottlePolicy};
use cloakroom::token::{
    KeyManager, KeyPolicy, MemoryKeyStore, TokenIssuer, TokenVerifier, Validation,
};
use cloakroom::token_auth::HybridAuth;
use cloakroom::user::{MemoryUserStore, PasswordHasher, PasswordPolicy};
use cloakroom_axum::routes::{AuthApi, RefreshToken, pair_response, refresh_with};
use cloakroom_axum::{ApiError, Auth};

const ISSUER: &str = "http://127.0.0.1:3000";
const AUDIENCE: &str = "example";

/// The app: Cloakroom's facade in hybrid mode, in memory, and the explainer's routes.
pub async fn app() -> Result<Router, Box<dyn std::error::Error>> {
    let clock = Arc::new(SystemClock);
    let keys =
        KeyManager::open_system(Arc::new(MemoryKeyStore::new()), KeyPolicy::default()).await?;
    let revocations =
        Arc::new(Revocations::open(Arc::new(MemoryRevocationStore::new()), clock).await?);
    let access_ttl = Duration::from_secs(15 * 60);
    let issuer = TokenIssuer::new(keys.ring().clone(), ISSUER, AUDIENCE, access_ttl);
    let verifier = TokenVerifier::new(keys.ring().clone(), Validation::new(ISSUER, AUDIENCE))
        .with_deny_list(revocations.deny_list().clone());
    let refresh_sessions = SessionPolicy::new(
        Duration::from_secs(86_400),
        Duration::from_secs(30 * 86_400),
    )?;
    let flow = Flow::Hybrid {
        auth: HybridAuth::new(
            Arc::new(MemoryStore::new(10_000)),
            refresh_sessions,
            issuer,
            revocations,
            Duration::from_secs(30),
        )
        // The explainer's contract: a second use of a refresh token is refused at once. (The
        // server allows a few seconds for two tabs refreshing together.)
        .with_reuse_interval(Duration::ZERO),
        verifier,
    };
    let accounts = Accounts {
        users: Arc::new(MemoryUserStore::new()),
        hasher: PasswordHasher::owasp(),
        throttle: Arc::new(MemoryThrottle::new(ThrottlePolicy::default(), 10_000)),
        password_policy: PasswordPolicy::default(),
    };
    let api = AuthApi::new(Authority::new(flow, accounts));
    Ok(Router::new()
        .route("/", get(home))
        .route("/login", post(login))
        .route("/profile", get(profile))
        .route("/refresh", post(refresh))
        .route("/logout", post(logout))
        .layer(api.layer())
        .with_state(api))
}

/// Signs the demo user in: the explainer has no password, so this is the one place that skips
/// it (`cloakroom::dangerous`). A real app calls `Authority::sign_in`, throttled.
async fn login(State(api): State<AuthApi>) -> Result<Response, ApiError> {
    let bhaskar = SessionUser::new("1", "Bhaskar");
    match cloakroom::dangerous::sign_in_unchecked(api.authority(), bhaskar, ClientInfo::default())
        .await?
    {
        Credential::Pair(pair) => Ok(pair_response(&api, &pair)),
        _ => Err(ApiError::internal()),
    }
}

async fn profile(Auth(user): Auth) -> String {
    format!("Welcome {}", user.username)
}

async fn home(user: Option<Auth>) -> String {
    match user {
        Some(Auth(user)) => format!("Hello, {}", user.username),
        None => "Hello, guest".to_owned(),
    }
}

/// Spends the refresh token for a new pair; a second use of one is 401 and ends the session.
async fn refresh(State(api): State<AuthApi>, token: RefreshToken) -> Result<Response, Response> {
    refresh_with(&api, &token).await
}

async fn logout(
    State(api): State<AuthApi>,
    Auth(user): Auth,
) -> Result<impl IntoResponse, ApiError> {
    api.authority().sign_out(&user).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".into());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    axum::serve(listener, app().await?).await?;
    Ok(())
}
