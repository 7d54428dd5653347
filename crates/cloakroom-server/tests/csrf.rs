//! The CSRF guard: state-changing requests from another site are refused, the site's own go
//! through.

mod common;

use common::{PASSWORD, Server, expect_error, settings};
use reqwest::StatusCode;
use serde_json::json;

const EVIL: &str = "http://evil.example";

#[tokio::test]
async fn cross_site_requests_with_the_cookie_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(settings(dir.path())).await;
    server.add_user("alice", &[]).await;
    let http = server.http();
    let cookie = http.login("alice").await;
    let handle = "AAAAAAAAAAAAAAAAAAAAAA";

    let attempts = [
        http.post("/auth/logout").header("origin", EVIL),
        http.post("/auth/logout")
            .header("sec-fetch-site", "cross-site"),
        http.post("/auth/logout-all").header("origin", EVIL),
        http.post("/auth/logout-all").header("origin", "null"),
        http.delete(&format!("/auth/sessions/{handle}"))
            .header("origin", EVIL),
        // A browser's word beats a matching Origin.
        http.post("/auth/logout")
            .header("origin", http.origin.clone())
            .header("sec-fetch-site", "cross-site"),
    ];
    for attempt in attempts {
        let res = http.with_cookie(attempt, &cookie).send().await.unwrap();
        expect_error(res, StatusCode::FORBIDDEN, Some("cross_site_request")).await;
    }
    assert_eq!(
        http.me_status(&cookie).await,
        StatusCode::OK,
        "still signed in"
    );
    server.stop().await;
}

#[tokio::test]
async fn cross_site_login_is_refused_even_without_a_cookie() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(settings(dir.path())).await;
    server.add_user("alice", &[]).await;
    let http = server.http();
    let body = json!({ "username": "alice", "password": PASSWORD });
    for (name, value) in [("origin", EVIL), ("sec-fetch-site", "cross-site")] {
        let res = http
            .post("/auth/login")
            .header(name, value)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(http.session_cookie(&res).is_none());
        expect_error(res, StatusCode::FORBIDDEN, Some("cross_site_request")).await;
    }
    server.stop().await;
}

#[tokio::test]
async fn same_origin_same_site_and_non_browser_requests_go_through() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(settings(dir.path())).await;
    server.add_user("alice", &[]).await;
    let http = server.http();
    let body = json!({ "username": "alice", "password": PASSWORD });
    let origin = http.origin.clone();

    let logins = [
        http.post("/auth/login").header("origin", origin.clone()),
        http.post("/auth/login")
            .header("sec-fetch-site", "same-origin"),
        http.post("/auth/login")
            .header("sec-fetch-site", "same-site")
            .header("origin", origin.clone()),
        http.post("/auth/login").header("sec-fetch-site", "none"),
        http.post("/auth/login"),
    ];
    let mut cookies = Vec::new();
    for login in logins {
        let res = login.json(&body).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        cookies.push(http.session_cookie(&res).unwrap());
    }

    let logouts = [
        http.post("/auth/logout").header("origin", origin.clone()),
        http.post("/auth/logout")
            .header("sec-fetch-site", "same-origin"),
        http.post("/auth/logout")
            .header("sec-fetch-site", "same-site")
            .header("origin", origin.clone()),
        http.post("/auth/logout").header("sec-fetch-site", "none"),
        http.post("/auth/logout"),
    ];
    for (logout, cookie) in logouts.into_iter().zip(&cookies) {
        let res = http.with_cookie(logout, cookie).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
        assert_eq!(http.me_status(cookie).await, StatusCode::UNAUTHORIZED);
    }
    server.stop().await;
}
