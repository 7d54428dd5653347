//! Probes and metrics: `/healthz`, `/readyz`, `/metrics`.

mod common;

use common::{PASSWORD, Server, expect_error, settings};
use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test]
async fn metrics_count_logins_authentications_sessions_and_latency() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(settings(dir.path())).await;
    server.add_user("alice", &[]).await;
    let http = server.http();
    let cookie = http.login("alice").await;
    assert_eq!(
        http.login_response("alice", "wrong password")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(http.me_status(&cookie).await, StatusCode::OK);
    let handle = "AAAAAAAAAAAAAAAAAAAAAA";
    let res = http
        .with_cookie(http.delete(&format!("/auth/sessions/{handle}")), &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let _ = http.get("/no/such/path").send().await.unwrap();

    let res = http.get("/metrics").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let content_type = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let text = res.text().await.unwrap();
    for needle in [
        "cloakroom_logins_total{outcome=\"success\"}",
        "cloakroom_logins_total{outcome=\"invalid_credentials\"}",
        "cloakroom_authentications_total{outcome=\"success\"}",
        "cloakroom_active_sessions",
        "# TYPE cloakroom_http_request_duration_seconds histogram",
        "cloakroom_http_request_duration_seconds_bucket{method=\"GET\",route=\"/auth/me\",status=\"200\"",
        "route=\"/auth/sessions/{id}\"",
        "route=\"unmatched\"",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
    // Labels carry the matched route, never the raw path.
    assert!(!text.contains(handle), "{text}");
    assert!(!text.contains("/no/such/path"), "{text}");
    server.stop().await;
}

#[tokio::test]
async fn health_and_readiness() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(settings(dir.path())).await;
    let http = server.http();
    let res = http.get("/healthz").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = http.get("/readyz").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["stores"]["sessions"], "sqlite");

    // A database that stops answering: not ready, with the store named; alive all the same.
    server.app.database().close().await;
    let res = http.get("/readyz").send().await.unwrap();
    let body = expect_error(res, StatusCode::SERVICE_UNAVAILABLE, Some("not_ready")).await;
    assert!(
        body["message"].as_str().unwrap().contains("sqlite"),
        "{body}"
    );
    assert_eq!(
        http.get("/healthz").send().await.unwrap().status(),
        StatusCode::OK
    );
    // Sign-in fails closed, with a JSON error and no cookie.
    let res = http.login_response("alice", PASSWORD).await;
    assert!(res.status().is_server_error(), "{}", res.status());
    assert!(http.session_cookie(&res).is_none());
    expect_error(res, StatusCode::SERVICE_UNAVAILABLE, None).await;
    server.stop().await;
}
