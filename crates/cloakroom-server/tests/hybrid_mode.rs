//! `hybrid` mode over HTTP, the default: short-lived access tokens and rotating refresh tokens.
//! Sign in, refresh, catch a stolen refresh token, list and end sessions, sign out.

mod common;

use std::time::Duration;

use cloakroom_server::settings::{Mode, Settings};
use common::{PASSWORD, Server, Tokens, expect_error, jwt_claims, set_cookie, settings_in};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, WWW_AUTHENTICATE};
use serde_json::Value;

async fn hybrid_server(dir: &std::path::Path) -> Server {
    let s = settings_in(dir, Mode::Hybrid);
    assert_eq!(s.mode, Settings::default().mode, "hybrid is the default");
    Server::start(s).await
}

/// The value of the refresh cookie a `Set-Cookie` header sets.
fn cookie_value(header: &str) -> &str {
    header
        .split(';')
        .next()
        .and_then(|pair| pair.split_once('='))
        .map_or("", |(_, v)| v)
}

#[tokio::test]
async fn login_me_logout_in_hybrid_mode() {
    let dir = tempfile::tempdir().unwrap();
    let server = hybrid_server(dir.path()).await;
    let user = server.add_user("alice", &["admin"]).await;
    let http = server.http();

    let res = http.login_response("alice", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK);
    let tokens = Tokens::from_response(res).await;
    assert_eq!(tokens.expires_in, 15 * 60, "15 minutes by default");
    let refresh = tokens.refresh();
    assert_eq!(refresh.len(), 43, "256 bits in base64url");
    let cookie = tokens.refresh_cookie.clone().expect("a refresh cookie");
    assert_eq!(cookie_value(&cookie), refresh);
    for attribute in [
        "HttpOnly",
        "SameSite=Lax",
        "Path=/auth/refresh",
        "Max-Age=2592000",
    ] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "plain-HTTP development: {cookie}"
    );

    let res = http
        .with_bearer(http.get("/auth/me"), &tokens.access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let me: Value = res.json().await.unwrap();
    assert_eq!(me["id"], user.id.as_str());
    assert_eq!(me["roles"], serde_json::json!(["admin"]));
    assert_eq!(me["auth"], "hybrid");
    assert_eq!(me["session"], jwt_claims(&tokens.access)["sid"]);

    let res = http
        .with_bearer(http.post("/auth/logout"), &tokens.access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let cleared = set_cookie(&res, "cloakroom_refresh").expect("the refresh cookie cleared");
    assert!(cleared.contains("Max-Age=0") && cleared.contains("Path=/auth/refresh"));
    // The access token is dead at once, and so is the refresh token of its session.
    let res = http
        .with_bearer(http.get("/auth/me"), &tokens.access)
        .send()
        .await
        .unwrap();
    assert!(res.headers().contains_key(WWW_AUTHENTICATE));
    expect_error(res, StatusCode::UNAUTHORIZED, Some("invalid_token")).await;
    let res = http.refresh_response(refresh).await;
    expect_error(res, StatusCode::UNAUTHORIZED, Some("invalid_refresh_token")).await;
    server.stop().await;
}

#[tokio::test]
async fn refresh_rotates_by_body_or_cookie_and_the_old_token_is_spent() {
    let dir = tempfile::tempdir().unwrap();
    let server = hybrid_server(dir.path()).await;
    server.add_user("alice", &[]).await;
    let http = server.http();
    let first = http.login_tokens("alice").await;
    server.clock.advance(Duration::from_secs(600));

    let res = http.refresh_response(first.refresh()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let second = Tokens::from_response(res).await;
    assert_ne!(second.refresh(), first.refresh());
    assert_ne!(second.access, first.access);
    let (a, b) = (jwt_claims(&first.access), jwt_claims(&second.access));
    assert_eq!(a["sid"], b["sid"], "the same session");
    assert!(b["exp"].as_i64() > a["exp"].as_i64());
    assert_eq!(http.me_bearer_status(&second.access).await, StatusCode::OK);
    // Rotating does not revoke the earlier access token: it just expires soon.
    assert_eq!(http.me_bearer_status(&first.access).await, StatusCode::OK);

    // By the cookie, as a browser does it: no body at all.
    let cookie = second.refresh_cookie.clone().expect("cookie");
    let res = http
        .post("/auth/refresh")
        .header(
            COOKIE,
            format!("cloakroom_refresh={}", cookie_value(&cookie)),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let third = Tokens::from_response(res).await;
    assert_eq!(
        cookie_value(third.refresh_cookie.as_deref().unwrap()),
        third.refresh()
    );
    // A cross-site request with the cookie is refused, and the token is not spent by it.
    let res = http
        .post("/auth/refresh")
        .header(COOKIE, format!("cloakroom_refresh={}", third.refresh()))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    expect_error(res, StatusCode::FORBIDDEN, Some("cross_site_request")).await;
    assert_eq!(
        http.refresh_response(third.refresh()).await.status(),
        StatusCode::OK
    );
    server.stop().await;
}

#[tokio::test]
async fn bad_refresh_requests_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let server = hybrid_server(dir.path()).await;
    server.add_user("alice", &[]).await;
    let http = server.http();
    let tokens = http.login_tokens("alice").await;

    let res = http.post("/auth/refresh").send().await.unwrap();
    expect_error(res, StatusCode::BAD_REQUEST, Some("invalid_request")).await;
    for garbage in ["", "short", &"A".repeat(43), &"é".repeat(30)] {
        let res = http.refresh_response(garbage).await;
        expect_error(res, StatusCode::UNAUTHORIZED, Some("invalid_refresh_token")).await;
    }
    // An access token is not a refresh token.
    let res = http.refresh_response(&tokens.access).await;
    expect_error(res, StatusCode::UNAUTHORIZED, Some("invalid_refresh_token")).await;
    let res = http
        .post("/auth/refresh")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    expect_error(res, StatusCode::BAD_REQUEST, Some("malformed_json")).await;
    let res = http
        .post("/auth/refresh")
        .header("content-type", "application/json")
        .body(r#"{"refresh_token": 42}"#)
        .send()
        .await
        .unwrap();
    expect_error(
        res,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("invalid_request"),
    )
    .await;
    let res = http
        .post("/auth/refresh")
        .header("content-type", "text/plain")
        .body(tokens.refresh().to_owned())
        .send()
        .await
        .unwrap();
    expect_error(
        res,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        Some("unsupported_media_type"),
    )
    .await;
    // A dead refresh cookie is cleared.
    let res = http
        .post("/auth/refresh")
        .header(COOKIE, format!("cloakroom_refresh={}", "A".repeat(43)))
        .send()
        .await
        .unwrap();
    let cleared = set_cookie(&res, "cloakroom_refresh").expect("cleared");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    expect_error(res, StatusCode::UNAUTHORIZED, Some("invalid_refresh_token")).await;
    // After the refresh session's 30 days, the token is expired.
    server.clock.advance(Duration::from_secs(30 * 86_400 + 1));
    let res = http.refresh_response(tokens.refresh()).await;
    expect_error(res, StatusCode::UNAUTHORIZED, Some("invalid_refresh_token")).await;
    server.stop().await;
}

#[tokio::test]
async fn a_replayed_refresh_token_revokes_the_session_and_its_access_tokens_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = hybrid_server(dir.path()).await;
    server.add_user("alice", &[]).await;
    let http = server.http();
    let other = http.login_tokens("alice").await;
    let stolen = http.login_tokens("alice").await;
    let res = http.refresh_response(stolen.refresh()).await;
    let current = Tokens::from_response(res).await;
    assert_eq!(http.me_bearer_status(&current.access).await, StatusCode::OK);

    // The thief replays the refresh token they copied, after the reuse interval (5 s).
    server.clock.advance(Duration::from_secs(5));
    let res = http.refresh_response(stolen.refresh()).await;
    let body = expect_error(res, StatusCode::UNAUTHORIZED, Some("refresh_token_reused")).await;
    assert!(
        body["message"].as_str().unwrap().contains("revoked"),
        "{body}"
    );
    // Every access token of the session is refused at once, well before it expires...
    for access in [&stolen.access, &current.access] {
        let res = http
            .with_bearer(http.get("/auth/me"), access)
            .send()
            .await
            .unwrap();
        assert!(res.headers().contains_key(WWW_AUTHENTICATE));
        expect_error(res, StatusCode::UNAUTHORIZED, Some("invalid_token")).await;
    }
    // ...the legitimate client's current refresh token is dead too...
    let res = http.refresh_response(current.refresh()).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // ...and the user's other sign-in is untouched.
    assert_eq!(http.me_bearer_status(&other.access).await, StatusCode::OK);
    let res = http.refresh_response(other.refresh()).await;
    assert_eq!(res.status(), StatusCode::OK);

    let metrics = http
        .get("/metrics")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("cloakroom_refreshes_total{outcome=\"reused\"}"),
        "{metrics}"
    );
    server.stop().await;
}

#[tokio::test]
async fn sixteen_parallel_refreshes_of_one_token_share_one_live_session() {
    let dir = tempfile::tempdir().unwrap();
    let server = hybrid_server(dir.path()).await;
    server.add_user("alice", &[]).await;
    let http = server.http();
    let tokens = http.login_tokens("alice").await;
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let http = http.clone();
        let refresh = tokens.refresh().to_owned();
        tasks.push(tokio::spawn(async move {
            http.refresh_response(&refresh).await.status()
        }));
    }
    let mut ok = 0;
    for t in tasks {
        let status = t.await.unwrap();
        match status {
            StatusCode::OK => ok += 1,
            StatusCode::UNAUTHORIZED => {}
            other => panic!("unexpected {other}"),
        }
    }
    // Within the reuse interval every one gets the same successor: an honest race.
    assert_eq!(ok, 16, "{ok} refreshes succeeded");
    let user_id = jwt_claims(&tokens.access)["sub"]
        .as_str()
        .unwrap()
        .to_owned();
    let live = server.app.sessions().list(&user_id).await.unwrap();
    assert_eq!(live.len(), 1, "{} live sessions", live.len());
    server.stop().await;
}

#[tokio::test]
async fn sessions_are_the_refresh_sessions_and_ending_one_revokes_its_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let server = hybrid_server(dir.path()).await;
    server.add_user("alice", &[]).await;
    server.add_user("bob", &[]).await;
    let http = server.http();
    let laptop = http.login_tokens("alice").await;
    let phone = http.login_tokens("alice").await;
    let bobs = http.login_tokens("bob").await;

    let res = http
        .with_bearer(http.get("/auth/sessions"), &laptop.access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let list: Vec<Value> = res.json().await.unwrap();
    assert_eq!(list.len(), 2);
    let laptop_sid = jwt_claims(&laptop.access)["sid"].clone();
    let phone_sid = jwt_claims(&phone.access)["sid"].clone();
    for s in &list {
        assert_eq!(s["current"], s["id"] == laptop_sid, "{s}");
        for field in ["created_at", "last_seen_at", "expires_at"] {
            assert!(s[field].is_string(), "{field} in {s}");
        }
    }

    // Bob cannot end Alice's session, nor learn that it exists.
    let res = http
        .with_bearer(
            http.delete(&format!("/auth/sessions/{}", phone_sid.as_str().unwrap())),
            &bobs.access,
        )
        .send()
        .await
        .unwrap();
    expect_error(res, StatusCode::NOT_FOUND, Some("not_found")).await;
    assert_eq!(http.me_bearer_status(&phone.access).await, StatusCode::OK);

    let res = http
        .with_bearer(
            http.delete(&format!("/auth/sessions/{}", phone_sid.as_str().unwrap())),
            &laptop.access,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        http.me_bearer_status(&phone.access).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        http.refresh_response(phone.refresh()).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(http.me_bearer_status(&laptop.access).await, StatusCode::OK);
    server.stop().await;
}

#[tokio::test]
async fn logout_all_ends_every_session_of_the_user_only() {
    let dir = tempfile::tempdir().unwrap();
    let server = hybrid_server(dir.path()).await;
    server.add_user("alice", &[]).await;
    server.add_user("bob", &[]).await;
    let http = server.http();
    let laptop = http.login_tokens("alice").await;
    let phone = http.login_tokens("alice").await;
    let bobs = http.login_tokens("bob").await;
    let res = http
        .with_bearer(http.post("/auth/logout-all"), &phone.access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    for t in [&laptop, &phone] {
        assert_eq!(
            http.me_bearer_status(&t.access).await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            http.refresh_response(t.refresh()).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(http.me_bearer_status(&bobs.access).await, StatusCode::OK);
    let again = http.login_tokens("alice").await;
    assert_eq!(http.me_bearer_status(&again.access).await, StatusCode::OK);
    server.stop().await;
}

#[tokio::test]
async fn removing_a_user_revokes_their_access_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let server = hybrid_server(dir.path()).await;
    server.add_user("alice", &[]).await;
    let http = server.http();
    let tokens = http.login_tokens("alice").await;
    server.app.user_admin().remove("alice").await.unwrap();
    assert_eq!(
        http.me_bearer_status(&tokens.access).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        http.refresh_response(tokens.refresh()).await.status(),
        StatusCode::UNAUTHORIZED
    );
    server.stop().await;
}
