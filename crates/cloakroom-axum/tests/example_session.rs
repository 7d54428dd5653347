//! The ported express-session example behaves like the original.

#[allow(dead_code)]
#[path = "../examples/session.rs"]
mod example;

use axum::body::Body;
use http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;

async fn text(res: axum::response::Response) -> String {
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[tokio::test]
async fn login_then_profile_welcomes_bhaskar() {
    let app = example::app();
    let res = app
        .clone()
        .oneshot(Request::post("/login").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = res.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("connect.sid="));
    assert!(cookie.contains("HttpOnly"));
    assert_eq!(text(res).await, "Logged in");

    let pair = cookie.split(';').next().unwrap().to_owned();
    let res = app
        .oneshot(
            Request::get("/profile")
                .header(header::COOKIE, pair)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(text(res).await, "Welcome Bhaskar");
}

#[tokio::test]
async fn profile_without_a_session_is_unauthorized() {
    let res = example::app()
        .oneshot(Request::get("/profile").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(text(res).await, "Unauthorized");
}

#[tokio::test]
async fn a_made_up_cookie_is_unauthorized() {
    let res = example::app()
        .oneshot(
            Request::get("/profile")
                .header(
                    header::COOKIE,
                    "connect.sid=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                )
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}
