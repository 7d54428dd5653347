//! A token signed by a key this process has not loaded yet (another node rotated): the layer
//! asks its [`KeyReloader`] and verifies once more, and only then; a made-up `kid` costs one
//! reload request, which the reloader may refuse.
#![cfg(feature = "jwt")]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cloakroom::auth::AuthMethod;
use cloakroom::clock::{ManualClock, Timestamp};
use cloakroom::token::*;
use cloakroom_axum::{Auth, AuthLayer, KeyReloader, TokenAuth};
use http::{Request, StatusCode, header};
use tower::ServiceExt;

/// Reloads node B's keys from the shared store, counting the calls; can be told to refuse.
#[derive(Debug)]
struct Reload {
    keys: Arc<KeyManager>,
    calls: AtomicUsize,
    refuse: AtomicBool,
}

impl KeyReloader for Reload {
    fn reload(&self) -> Pin<Box<dyn Future<Output = bool> + Send + '_>> {
        Box::pin(async move {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if self.refuse.load(Ordering::SeqCst) {
                return false;
            }
            self.keys.reload().await.is_ok()
        })
    }
}

struct Nodes {
    /// Node A: signs, and rotates its key.
    a: KeyManager,
    issuer: TokenIssuer,
    /// Node B: verifies, with or without the reloader.
    b: Arc<KeyManager>,
    clock: Arc<ManualClock>,
}

async fn nodes() -> Nodes {
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix(1_800_000_000)));
    let store = Arc::new(MemoryKeyStore::new());
    let a = KeyManager::open(store.clone(), KeyPolicy::default(), clock.clone())
        .await
        .unwrap();
    let b = Arc::new(
        KeyManager::open(store, KeyPolicy::default(), clock.clone())
            .await
            .unwrap(),
    );
    let issuer = TokenIssuer::new(
        a.ring().clone(),
        "https://auth.example",
        "api",
        Duration::from_secs(900),
    )
    .with_clock(clock.clone());
    Nodes {
        a,
        issuer,
        b,
        clock,
    }
}

impl Nodes {
    fn app(&self, reloader: Option<Arc<Reload>>) -> Router {
        let verifier = TokenVerifier::new(
            self.b.ring().clone(),
            Validation::new("https://auth.example", "api"),
        )
        .with_clock(self.clock.clone());
        let mut tokens = TokenAuth::new(verifier, AuthMethod::Jwt);
        if let Some(reloader) = reloader {
            tokens = tokens.with_key_reloader(reloader);
        }
        Router::new()
            .route("/me", get(|Auth(p): Auth| async move { p.user_id }))
            .layer(AuthLayer::tokens(tokens))
    }

    fn reloader(&self) -> Arc<Reload> {
        Arc::new(Reload {
            keys: self.b.clone(),
            calls: AtomicUsize::new(0),
            refuse: AtomicBool::new(false),
        })
    }

    fn token(&self) -> String {
        self.issuer
            .issue(&TokenSubject {
                user_id: "u1".into(),
                name: "alice".into(),
                roles: vec![],
                session: "AAAAAAAAAAAAAAAAAAAAAA".into(),
            })
            .unwrap()
            .token
            .expose_secret()
            .to_owned()
    }
}

async fn get_me(app: &Router, token: &str) -> StatusCode {
    let req = Request::get("/me")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    app.clone().oneshot(req).await.unwrap().status()
}

#[tokio::test]
async fn a_key_made_elsewhere_is_loaded_once_then_known() {
    let n = nodes().await;
    let reloader = n.reloader();
    let app = n.app(Some(reloader.clone()));
    assert_eq!(get_me(&app, &n.token()).await, StatusCode::OK);
    assert_eq!(
        reloader.calls.load(Ordering::SeqCst),
        0,
        "a known kid never reloads"
    );

    n.a.rotate().await.unwrap();
    let fresh = n.token();
    assert_eq!(get_me(&app, &fresh).await, StatusCode::OK);
    assert_eq!(reloader.calls.load(Ordering::SeqCst), 1);
    assert_eq!(get_me(&app, &fresh).await, StatusCode::OK);
    assert_eq!(
        reloader.calls.load(Ordering::SeqCst),
        1,
        "loaded once, then known"
    );
}

#[tokio::test]
async fn without_a_reloader_or_when_it_refuses_the_token_stays_refused() {
    let n = nodes().await;
    n.a.rotate().await.unwrap();
    let fresh = n.token();
    assert_eq!(get_me(&n.app(None), &fresh).await, StatusCode::UNAUTHORIZED);

    let reloader = n.reloader();
    reloader.refuse.store(true, Ordering::SeqCst);
    let app = n.app(Some(reloader.clone()));
    assert_eq!(get_me(&app, &fresh).await, StatusCode::UNAUTHORIZED);
    assert_eq!(reloader.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_made_up_kid_asks_once_per_request_and_is_refused() {
    let n = nodes().await;
    let reloader = n.reloader();
    let app = n.app(Some(reloader.clone()));
    let token = n.token();
    let (_, rest) = token.split_once('.').unwrap();
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"at+jwt","kid":"made-up"}"#);
    let forged = format!("{header}.{rest}");
    assert_eq!(get_me(&app, &forged).await, StatusCode::UNAUTHORIZED);
    assert_eq!(reloader.calls.load(Ordering::SeqCst), 1);
    // A malformed token is refused before any key is looked up: no reload.
    assert_eq!(get_me(&app, "not.a.token").await, StatusCode::UNAUTHORIZED);
    assert_eq!(reloader.calls.load(Ordering::SeqCst), 1);
}
