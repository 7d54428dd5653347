//! Token introspection (RFC 7662) and revocation (RFC 7009) over HTTP.

mod common;

use cloakroom_server::settings::Mode;
use common::{Server, expect_error, settings_in};
use reqwest::StatusCode;
use serde_json::Value;

async fn introspect(
    server: &Server,
    caller: &str,
    token: &str,
    hint: Option<&str>,
) -> reqwest::Response {
    let http = server.http();
    let mut form = vec![("token", token)];
    if let Some(h) = hint {
        form.push(("token_type_hint", h));
    }
    http.with_bearer(http.post("/auth/introspect"), caller)
        .form(&form)
        .send()
        .await
        .unwrap()
}

async fn revoke(server: &Server, token: &str) -> StatusCode {
    let http = server.http();
    http.post("/auth/revoke")
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn admins_and_services_introspect_access_and_refresh_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(settings_in(dir.path(), Mode::Hybrid)).await;
    server.add_user("gateway", &["service"]).await;
    let alice = server.add_user("alice", &[]).await;
    let http = server.http();
    let gateway = http.login_tokens("gateway").await;
    let tokens = http.login_tokens("alice").await;

    let res = introspect(&server, &gateway.access, &tokens.access, None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["active"], true, "{body}");
    assert_eq!(body["token_type"], "access_token");
    assert_eq!(body["sub"], alice.id.as_str());
    assert_eq!(body["username"], "alice");
    assert!(body["exp"].as_i64().unwrap() > body["iat"].as_i64().unwrap());

    let res = introspect(
        &server,
        &gateway.access,
        tokens.refresh(),
        Some("refresh_token"),
    )
    .await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["active"], true, "{body}");
    assert_eq!(body["token_type"], "refresh_token");

    for dead in [
        "",
        "not-a-token",
        "eyJhbGciOiJub25lIn0.e30.",
        &"A".repeat(43),
    ] {
        let res = introspect(&server, &gateway.access, dead, None).await;
        assert_eq!(res.status(), StatusCode::OK);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body, serde_json::json!({"active": false}), "{dead:?}");
    }
}

#[tokio::test]
async fn introspection_needs_a_caller_with_the_role() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(settings_in(dir.path(), Mode::Jwt)).await;
    server.add_user("alice", &[]).await;
    let http = server.http();
    let tokens = http.login_tokens("alice").await;

    let res = http
        .post("/auth/introspect")
        .form(&[("token", tokens.access.as_str())])
        .send()
        .await
        .unwrap();
    assert!(res.headers().contains_key("www-authenticate"));
    expect_error(res, StatusCode::UNAUTHORIZED, Some("unauthenticated")).await;

    let res = introspect(&server, &tokens.access, &tokens.access, None).await;
    expect_error(res, StatusCode::FORBIDDEN, Some("insufficient_role")).await;
}

#[tokio::test]
async fn revoking_an_access_token_ends_it_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(settings_in(dir.path(), Mode::Jwt)).await;
    server.add_user("alice", &[]).await;
    let http = server.http();
    let tokens = http.login_tokens("alice").await;
    let other = http.login_tokens("alice").await;
    assert_eq!(http.me_bearer_status(&tokens.access).await, StatusCode::OK);

    assert_eq!(revoke(&server, &tokens.access).await, StatusCode::OK);
    assert_eq!(
        http.me_bearer_status(&tokens.access).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(http.me_bearer_status(&other.access).await, StatusCode::OK);
    // Revoking garbage or a token twice answers the same: it tells nothing.
    assert_eq!(revoke(&server, &tokens.access).await, StatusCode::OK);
    assert_eq!(revoke(&server, "garbage").await, StatusCode::OK);
}

#[tokio::test]
async fn revoking_a_refresh_token_ends_its_session_and_access_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(settings_in(dir.path(), Mode::Hybrid)).await;
    server.add_user("alice", &[]).await;
    let http = server.http();
    let tokens = http.login_tokens("alice").await;

    assert_eq!(revoke(&server, tokens.refresh()).await, StatusCode::OK);
    assert_eq!(
        http.me_bearer_status(&tokens.access).await,
        StatusCode::UNAUTHORIZED
    );
    let res = http.refresh_response(tokens.refresh()).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn session_mode_has_neither() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(settings_in(dir.path(), Mode::Session)).await;
    let http = server.http();
    let res = http
        .post("/auth/revoke")
        .form(&[("token", "x")])
        .send()
        .await
        .unwrap();
    expect_error(res, StatusCode::NOT_FOUND, Some("not_available_in_mode")).await;
}

#[tokio::test]
async fn a_revoke_without_a_token_is_a_json_400() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(settings_in(dir.path(), Mode::Jwt)).await;
    let http = server.http();
    let res = http
        .post("/auth/revoke")
        .form(&[("nope", "x")])
        .send()
        .await
        .unwrap();
    assert!(res.status().is_client_error(), "{}", res.status());
    assert_eq!(res.headers()["content-type"], "application/json");
}
