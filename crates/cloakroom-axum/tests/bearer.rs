//! Access tokens through the layer: RFC 6750 transport, challenges, cookies and CSRF.
#![cfg(feature = "jwt")]

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::routing::{get, post};
use axum::{Json, Router};
use cloakroom::auth::AuthMethod;
use cloakroom::clock::{ManualClock, Timestamp};
use cloakroom::revocation::{DenyList, Revocation};
use cloakroom::token::*;
use cloakroom_axum::{Auth, AuthLayer, CookieConfig, TokenAuth};
use http::{Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;

struct Harness {
    app: Router,
    issuer: TokenIssuer,
    clock: Arc<ManualClock>,
    deny: Arc<DenyList>,
}

async fn harness() -> Harness {
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix(1_800_000_000)));
    let keys = KeyManager::open(
        Arc::new(MemoryKeyStore::new()),
        KeyPolicy::default(),
        clock.clone(),
    )
    .await
    .unwrap();
    let issuer = TokenIssuer::new(
        keys.ring().clone(),
        "https://auth.example",
        "api",
        Duration::from_secs(900),
    )
    .with_clock(clock.clone());
    let deny = Arc::new(DenyList::new());
    let verifier = TokenVerifier::new(
        keys.ring().clone(),
        Validation::new("https://auth.example", "api"),
    )
    .with_deny_list(deny.clone())
    .with_clock(clock.clone());
    let tokens = TokenAuth::new(verifier, AuthMethod::Hybrid).with_cookie(CookieConfig::new("at"));
    let app = Router::new()
        .route("/me", get(me))
        .route("/change", post(me))
        .layer(AuthLayer::tokens(tokens));
    Harness {
        app,
        issuer,
        clock,
        deny,
    }
}

async fn me(Auth(p): Auth) -> Json<Value> {
    Json(
        json!({"sub": p.user_id, "name": p.username, "method": p.method, "jti": p.token.map(|t| t.jti)}),
    )
}

impl Harness {
    fn token(&self) -> IssuedToken {
        self.issuer
            .issue(&TokenSubject {
                user_id: "u1".into(),
                name: "alice".into(),
                roles: vec!["admin".into()],
                session: "AAAAAAAAAAAAAAAAAAAAAA".into(),
            })
            .unwrap()
    }

    async fn send(&self, req: http::request::Builder) -> axum::response::Response {
        self.app
            .clone()
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap()
    }
}

fn challenge(res: &axum::response::Response) -> String {
    res.headers()
        .get(header::WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_bearer_token_authenticates() {
    let h = harness().await;
    let t = h.token();
    let res = h
        .send(Request::get("/me").header(
            header::AUTHORIZATION,
            format!("Bearer {}", t.token.expose_secret()),
        ))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn no_token_is_challenged_without_an_error_code() {
    let h = harness().await;
    let res = h.send(Request::get("/me")).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(challenge(&res), "Bearer");
}

#[tokio::test]
async fn a_bad_token_is_401_invalid_token_with_a_description() {
    let h = harness().await;
    let res = h
        .send(Request::get("/me").header(header::AUTHORIZATION, "Bearer not.a.token"))
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let c = challenge(&res);
    assert!(
        c.starts_with("Bearer error=\"invalid_token\", error_description=\""),
        "{c}"
    );
}

#[tokio::test]
async fn a_token_in_the_query_string_is_never_accepted() {
    let h = harness().await;
    let t = h.token();
    for uri in [
        format!("/me?access_token={}", t.token.expose_secret()),
        format!("/me?token={}", t.token.expose_secret()),
    ] {
        let res = h.send(Request::get(uri)).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn expired_and_revoked_tokens_are_refused() {
    let h = harness().await;
    let t = h.token();
    let bearer = format!("Bearer {}", t.token.expose_secret());
    h.deny
        .apply(&Revocation::token(t.claims.jti.clone(), t.claims.exp));
    let res = h
        .send(Request::get("/me").header(header::AUTHORIZATION, &bearer))
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(challenge(&res).contains("invalid_token"));

    let t = h.token();
    h.clock.advance(Duration::from_secs(900 + 31));
    let res = h
        .send(Request::get("/me").header(
            header::AUTHORIZATION,
            format!("Bearer {}", t.token.expose_secret()),
        ))
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_cookie_works_and_is_guarded_against_csrf() {
    let h = harness().await;
    let t = h.token();
    let cookie = format!("at={}", t.token.expose_secret());
    let res = h
        .send(Request::get("/me").header(header::COOKIE, &cookie))
        .await;
    assert_eq!(res.status(), StatusCode::OK);

    let res = h
        .send(
            Request::post("/change")
                .header(header::HOST, "auth.example")
                .header(header::ORIGIN, "https://evil.example")
                .header(header::COOKIE, &cookie),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    // A bearer header cannot be sent by another site's page: no CSRF check applies.
    let res = h
        .send(
            Request::post("/change")
                .header(header::ORIGIN, "https://other.example")
                .header(
                    header::AUTHORIZATION,
                    format!("Bearer {}", t.token.expose_secret()),
                ),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
}
