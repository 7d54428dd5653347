//! `jwt` mode over HTTP: the passport. Sign in for a bearer token, use it, revoke it; RFC 6750
//! errors; a JWKS with public keys only; no sessions to list.

mod common;

use std::time::Duration;

use cloakroom_server::settings::Mode;
use common::{PASSWORD, Server, expect_error, jwt_claims, jwt_header, settings_in};
use reqwest::StatusCode;
use reqwest::header::WWW_AUTHENTICATE;
use serde_json::Value;

async fn jwt_server(dir: &std::path::Path) -> Server {
    Server::start(settings_in(dir, Mode::Jwt)).await
}

/// Asserts an RFC 6750 challenge on a 401 and returns the JSON error body.
pub async fn expect_bearer_401(res: reqwest::Response, code: &str) -> Value {
    let challenge = res
        .headers()
        .get(WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(challenge.starts_with("Bearer"), "challenge {challenge:?}");
    if code == "invalid_token" {
        assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    }
    expect_error(res, StatusCode::UNAUTHORIZED, Some(code)).await
}

#[tokio::test]
async fn login_me_logout_in_jwt_mode() {
    let dir = tempfile::tempdir().unwrap();
    let server = jwt_server(dir.path()).await;
    let user = server.add_user("alice", &["admin"]).await;
    let http = server.http();

    let res = http.login_response("alice", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers().get("set-cookie").is_none(),
        "jwt mode sets no cookie"
    );
    let tokens = common::Tokens::from_response(res).await;
    assert_eq!(tokens.refresh, None, "jwt mode has no refresh token");
    assert_eq!(tokens.expires_in, 3600, "an hour by default in jwt mode");
    let header = jwt_header(&tokens.access);
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "EdDSA");
    assert!(header["kid"].is_string());
    let claims = jwt_claims(&tokens.access);
    assert_eq!(claims["sub"], user.id.as_str());
    assert_eq!(claims["aud"], "cloakroom");
    assert_eq!(claims["iss"], "http://127.0.0.1:8080");
    assert_eq!(claims["name"], "alice");
    assert_eq!(claims["roles"], serde_json::json!(["admin"]));

    let res = http
        .with_bearer(http.get("/auth/me"), &tokens.access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let me: Value = res.json().await.unwrap();
    assert_eq!(me["id"], user.id.as_str());
    assert_eq!(me["username"], "alice");
    assert_eq!(me["auth"], "jwt");
    assert_eq!(me["session"], claims["sid"]);

    let res = http
        .with_bearer(http.post("/auth/logout"), &tokens.access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    // Revoked at once: the token is still well within its hour.
    let res = http
        .with_bearer(http.get("/auth/me"), &tokens.access)
        .send()
        .await
        .unwrap();
    let body = expect_bearer_401(res, "invalid_token").await;
    assert!(
        body["message"].as_str().unwrap().contains("revoked"),
        "{body}"
    );
    // Signing out again is harmless.
    let res = http
        .with_bearer(http.post("/auth/logout"), &tokens.access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    server.stop().await;
}

#[tokio::test]
async fn logout_all_refuses_every_token_of_the_user_only() {
    let dir = tempfile::tempdir().unwrap();
    let server = jwt_server(dir.path()).await;
    server.add_user("alice", &[]).await;
    server.add_user("bob", &[]).await;
    let http = server.http();
    let laptop = http.login_tokens("alice").await.access;
    let phone = http.login_tokens("alice").await.access;
    let bobs = http.login_tokens("bob").await.access;

    let res = http
        .with_bearer(http.post("/auth/logout-all"), &laptop)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        http.me_bearer_status(&laptop).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        http.me_bearer_status(&phone).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(http.me_bearer_status(&bobs).await, StatusCode::OK);
    // Signing in again, even within the same second, gives a token that works.
    let again = http.login_tokens("alice").await.access;
    assert_eq!(http.me_bearer_status(&again).await, StatusCode::OK);
    // logout-all needs a valid token.
    let res = http.post("/auth/logout-all").send().await.unwrap();
    expect_bearer_401(res, "unauthenticated").await;
    server.stop().await;
}

#[tokio::test]
async fn bearer_401s_carry_a_challenge_and_the_query_string_is_never_read() {
    let dir = tempfile::tempdir().unwrap();
    let server = jwt_server(dir.path()).await;
    server.add_user("alice", &[]).await;
    let http = server.http();
    let token = http.login_tokens("alice").await.access;

    let res = http.get("/auth/me").send().await.unwrap();
    expect_bearer_401(res, "unauthenticated").await;
    let res = http
        .get(&format!("/auth/me?access_token={token}"))
        .send()
        .await
        .unwrap();
    expect_bearer_401(res, "unauthenticated").await;
    let mut tampered = token.clone();
    tampered.push('A');
    let res = http
        .with_bearer(http.get("/auth/me"), &tampered)
        .send()
        .await
        .unwrap();
    expect_bearer_401(res, "invalid_token").await;
    for garbage in ["x", "a.b.c", &"A".repeat(9000)] {
        let res = http
            .with_bearer(http.get("/auth/me"), garbage)
            .send()
            .await
            .unwrap();
        expect_bearer_401(res, "invalid_token").await;
    }
    // Expired: an hour and the leeway later.
    server.clock.advance(Duration::from_secs(3600 + 31));
    let res = http
        .with_bearer(http.get("/auth/me"), &token)
        .send()
        .await
        .unwrap();
    let body = expect_bearer_401(res, "invalid_token").await;
    assert!(
        body["message"].as_str().unwrap().contains("expired"),
        "{body}"
    );
    server.stop().await;
}

#[tokio::test]
async fn the_access_cookie_works_like_the_bearer_and_is_csrf_guarded() {
    let dir = tempfile::tempdir().unwrap();
    let server = jwt_server(dir.path()).await;
    server.add_user("alice", &[]).await;
    let http = server.http();
    let token = http.login_tokens("alice").await.access;
    let cookie = format!("cloakroom_access={token}");
    let res = http
        .get("/auth/me")
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = http
        .post("/auth/logout")
        .header("cookie", &cookie)
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    expect_error(res, StatusCode::FORBIDDEN, Some("cross_site_request")).await;
    assert_eq!(http.me_bearer_status(&token).await, StatusCode::OK);
    let res = http
        .post("/auth/logout")
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let cleared = common::set_cookie(&res, "cloakroom_access").expect("cleared");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    assert_eq!(
        http.me_bearer_status(&token).await,
        StatusCode::UNAUTHORIZED
    );
    server.stop().await;
}

#[tokio::test]
async fn jwt_mode_keeps_no_sessions_and_has_no_refresh() {
    let dir = tempfile::tempdir().unwrap();
    let server = jwt_server(dir.path()).await;
    server.add_user("alice", &[]).await;
    let http = server.http();
    let token = http.login_tokens("alice").await.access;
    let res = http
        .with_bearer(http.get("/auth/sessions"), &token)
        .send()
        .await
        .unwrap();
    expect_error(res, StatusCode::NOT_FOUND, Some("not_available_in_mode")).await;
    let res = http
        .with_bearer(http.delete("/auth/sessions/AAAAAAAAAAAAAAAAAAAAAA"), &token)
        .send()
        .await
        .unwrap();
    expect_error(res, StatusCode::NOT_FOUND, Some("not_available_in_mode")).await;
    let res = http.refresh_response("anything").await;
    expect_error(res, StatusCode::NOT_FOUND, Some("not_available_in_mode")).await;
    server.stop().await;
}

#[tokio::test]
async fn jwks_lists_public_keys_only() {
    for (algorithm, expect_keys) in [("EdDSA", 1), ("ES256", 1), ("RS256", 1), ("HS256", 0)] {
        let dir = tempfile::tempdir().unwrap();
        let mut s = settings_in(dir.path(), Mode::Jwt);
        s.jwt.algorithm = algorithm.parse().unwrap();
        let server = Server::start(s).await;
        server.add_user("alice", &[]).await;
        let http = server.http();
        let token = http.login_tokens("alice").await.access;
        assert_eq!(jwt_header(&token)["alg"], algorithm);
        assert_eq!(http.me_bearer_status(&token).await, StatusCode::OK);

        let res = http.get("/.well-known/jwks.json").send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let jwks: Value = res.json().await.unwrap();
        let keys = jwks["keys"].as_array().expect("keys");
        assert_eq!(keys.len(), expect_keys, "{algorithm}: {jwks}");
        for key in keys {
            assert_eq!(key["kid"], jwt_header(&token)["kid"]);
            assert_eq!(key["alg"], algorithm);
            assert_eq!(key["use"], "sig");
            for private in ["d", "p", "q", "dp", "dq", "qi", "k", "oth"] {
                assert!(
                    key.get(private).is_none(),
                    "{algorithm}: {private} in {key}"
                );
            }
        }
        server.stop().await;
    }
}

#[tokio::test]
async fn session_mode_has_no_key_set_and_no_refresh() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(common::settings(dir.path())).await;
    let http = server.http();
    let res = http.get("/.well-known/jwks.json").send().await.unwrap();
    expect_error(res, StatusCode::NOT_FOUND, Some("not_available_in_mode")).await;
    let res = http.refresh_response("anything").await;
    expect_error(res, StatusCode::NOT_FOUND, Some("not_available_in_mode")).await;
    server.stop().await;
}
