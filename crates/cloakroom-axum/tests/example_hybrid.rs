//! The hybrid example behaves as the contract says (shared/API.md, "The library").

#[allow(dead_code)]
#[path = "../examples/hybrid.rs"]
mod example;

use axum::body::Body;
use http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

async fn call(app: &axum::Router, req: Request<Body>) -> (StatusCode, String) {
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

fn get(path: &str, token: Option<&str>) -> Request<Body> {
    let mut req = Request::get(path);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    req.body(Body::empty()).unwrap()
}

fn refresh(token: &str) -> Request<Body> {
    Request::post("/refresh")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(format!("{{\"refresh_token\": \"{token}\"}}")))
        .unwrap()
}

async fn login(app: &axum::Router) -> Value {
    let (status, body) = call(app, Request::post("/login").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    serde_json::from_str(&body).unwrap()
}

#[tokio::test]
async fn login_gives_a_pair_that_profile_and_home_accept() {
    let app = example::app().await.unwrap();
    let pair = login(&app).await;
    assert_eq!(pair["token_type"], "Bearer");
    assert_eq!(pair["expires_in"], 900);
    let access = pair["access_token"].as_str().unwrap();
    assert!(
        pair["refresh_token"]
            .as_str()
            .is_some_and(|r| !r.is_empty())
    );
    assert_eq!(
        call(&app, get("/profile", Some(access))).await,
        (StatusCode::OK, "Welcome Bhaskar".to_owned())
    );
    assert_eq!(
        call(&app, get("/", Some(access))).await,
        (StatusCode::OK, "Hello, Bhaskar".to_owned())
    );
}

#[tokio::test]
async fn without_a_valid_token_profile_is_401_and_home_says_guest() {
    let app = example::app().await.unwrap();
    assert_eq!(
        call(&app, get("/profile", None)).await.0,
        StatusCode::UNAUTHORIZED
    );
    let forged = "eyJhbGciOiJFZERTQSJ9.e30.c2ln";
    assert_eq!(
        call(&app, get("/profile", Some(forged))).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(&app, get("/", None)).await,
        (StatusCode::OK, "Hello, guest".to_owned())
    );
    assert_eq!(
        call(&app, get("/", Some(forged))).await,
        (StatusCode::OK, "Hello, guest".to_owned())
    );
}

#[tokio::test]
async fn refresh_spends_the_token_and_a_reuse_ends_the_session() {
    let app = example::app().await.unwrap();
    let pair = login(&app).await;
    let first = pair["refresh_token"].as_str().unwrap();
    let (status, body) = call(&app, refresh(first)).await;
    assert_eq!(status, StatusCode::OK);
    let next: Value = serde_json::from_str(&body).unwrap();
    let access = next["access_token"].as_str().unwrap().to_owned();
    assert_ne!(next["refresh_token"], pair["refresh_token"]);
    assert_eq!(
        call(&app, get("/profile", Some(&access))).await.0,
        StatusCode::OK
    );

    // A second use of a spent token: theft. The whole session ends, the access token of the
    // new pair included.
    assert_eq!(call(&app, refresh(first)).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        call(&app, get("/profile", Some(&access))).await.0,
        StatusCode::UNAUTHORIZED
    );
    let second = next["refresh_token"].as_str().unwrap();
    assert_eq!(
        call(&app, refresh(second)).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn logout_refuses_both_tokens() {
    let app = example::app().await.unwrap();
    let pair = login(&app).await;
    let access = pair["access_token"].as_str().unwrap();
    let out = Request::post("/logout")
        .header(header::AUTHORIZATION, format!("Bearer {access}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(&app, out).await.0, StatusCode::NO_CONTENT);
    assert_eq!(
        call(&app, get("/profile", Some(access))).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(&app, refresh(pair["refresh_token"].as_str().unwrap()))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(&app, get("/", Some(access))).await,
        (StatusCode::OK, "Hello, guest".to_owned())
    );
}
