//! The ported jsonwebtoken example behaves like the original.

#[allow(dead_code)]
#[path = "../examples/jwt.rs"]
mod example;

use axum::body::Body;
use http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;

async fn text(res: axum::response::Response) -> String {
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

async fn profile(app: &axum::Router, authorization: Option<&str>) -> (StatusCode, String) {
    let mut req = Request::get("/profile");
    if let Some(a) = authorization {
        req = req.header(header::AUTHORIZATION, a);
    }
    let res = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    (res.status(), text(res).await)
}

#[tokio::test]
async fn login_returns_a_token_that_profile_accepts() {
    let app = example::app().await.unwrap();
    let res = app
        .clone()
        .oneshot(Request::post("/login").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: serde_json::Value = serde_json::from_str(&text(res).await).unwrap();
    let token = body["token"].as_str().unwrap().to_owned();
    assert_eq!(token.split('.').count(), 3);

    let got = profile(&app, Some(&format!("Bearer {token}"))).await;
    assert_eq!(got, (StatusCode::OK, "Welcome Bhaskar".to_owned()));
}

#[tokio::test]
async fn no_token_is_unauthorized_and_a_bad_one_invalid() {
    let app = example::app().await.unwrap();
    assert_eq!(
        profile(&app, None).await,
        (StatusCode::UNAUTHORIZED, "Unauthorized".to_owned())
    );
    let bad = profile(&app, Some("Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2ln")).await;
    assert_eq!(bad, (StatusCode::UNAUTHORIZED, "Invalid Token".to_owned()));
}
