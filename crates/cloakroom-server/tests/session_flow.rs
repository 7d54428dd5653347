//! Session mode end to end over HTTP: sign in, who am I, sign out, and everything that must
//! hold on the way (fixation, cookie attributes, expiry, restarts).

mod common;

use std::time::Duration;

use cloakroom::session::SessionId;
use cloakroom::user::Password;
use cloakroom_server::settings::SessionStoreKind;
use common::{PASSWORD, Server, expect_error, set_cookie, settings};
use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test]
async fn login_me_logout() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(settings(dir.path())).await;
    let user = server.add_user("alice", &["admin"]).await;
    let http = server.http();

    let res = http.login_response("alice", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let cookie = http.session_cookie(&res).expect("session cookie");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["user"]["id"], user.id.as_str());
    assert_eq!(body["user"]["username"], "alice");
    assert_eq!(body["user"]["roles"], serde_json::json!(["admin"]));

    let res = http
        .with_cookie(http.get("/auth/me"), &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let me: Value = res.json().await.unwrap();
    assert_eq!(me["id"], user.id.as_str());
    assert_eq!(me["username"], "alice");
    assert_eq!(me["roles"], serde_json::json!(["admin"]));
    assert_eq!(me["auth"], "session");
    assert_eq!(me["session"].as_str().map(str::len), Some(22), "{me}");

    let res = http
        .with_cookie(http.post("/auth/logout"), &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let cleared = set_cookie(&res, &http.cookie_name).expect("a clearing cookie");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");

    // The server forgot the session: the old cookie is worth nothing, even if a client keeps it.
    let res = http
        .with_cookie(http.get("/auth/me"), &cookie)
        .send()
        .await
        .unwrap();
    expect_error(res, StatusCode::UNAUTHORIZED, Some("unauthenticated")).await;
    let res = http.get("/auth/me").send().await.unwrap();
    expect_error(res, StatusCode::UNAUTHORIZED, Some("unauthenticated")).await;
    server.stop().await;
}

#[tokio::test]
async fn logout_all_ends_every_session_of_the_user_only() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(settings(dir.path())).await;
    server.add_user("alice", &[]).await;
    server.add_user("bob", &[]).await;
    let http = server.http();
    let laptop = http.login("alice").await;
    let phone = http.login("alice").await;
    let bobs = http.login("bob").await;

    let res = http
        .with_cookie(http.post("/auth/logout-all"), &laptop)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(http.me_status(&laptop).await, StatusCode::UNAUTHORIZED);
    assert_eq!(http.me_status(&phone).await, StatusCode::UNAUTHORIZED);
    assert_eq!(http.me_status(&bobs).await, StatusCode::OK);

    let res = http.post("/auth/logout-all").send().await.unwrap();
    expect_error(res, StatusCode::UNAUTHORIZED, Some("unauthenticated")).await;
    server.stop().await;
}

#[tokio::test]
async fn wrong_password_unknown_user_and_disabled_user_look_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(settings(dir.path())).await;
    server.add_user("alice", &[]).await;
    let carol = server.add_user("carol", &[]).await;
    server
        .app
        .users()
        .set_disabled(&carol.id, true)
        .await
        .unwrap();
    let http = server.http();

    let mut answers = Vec::new();
    for (user, password) in [
        ("alice", "wrong password!"),
        ("nobody", PASSWORD),
        ("carol", PASSWORD),
    ] {
        let res = http.login_response(user, password).await;
        assert!(http.session_cookie(&res).is_none(), "{user} got a cookie");
        let status = res.status();
        let body = res.text().await.unwrap();
        answers.push((status, body));
    }
    assert_eq!(answers[0].0, StatusCode::UNAUTHORIZED);
    assert!(
        answers[0].1.contains("invalid_credentials"),
        "{}",
        answers[0].1
    );
    assert_eq!(answers[0], answers[1], "wrong password vs unknown user");
    assert_eq!(answers[0], answers[2], "wrong password vs disabled user");
    server.stop().await;
}

#[tokio::test]
async fn a_planted_cookie_is_never_adopted() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(settings(dir.path())).await;
    server.add_user("alice", &[]).await;
    server.add_user("mallory", &[]).await;
    let http = server.http();

    // An ID the attacker made up and planted in the victim's browser.
    let planted = SessionId::generate().unwrap().expose_secret();
    let res = http
        .with_cookie(http.post("/auth/login"), &planted)
        .json(&serde_json::json!({ "username": "alice", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let issued = http.session_cookie(&res).expect("a new cookie");
    assert_ne!(issued, planted);
    assert_eq!(http.me_status(&planted).await, StatusCode::UNAUTHORIZED);
    assert_eq!(http.me_status(&issued).await, StatusCode::OK);

    // A real session of the attacker's, planted: logging in ends it and issues another.
    let mallorys = http.login("mallory").await;
    let res = http
        .with_cookie(http.post("/auth/login"), &mallorys)
        .json(&serde_json::json!({ "username": "alice", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    let issued = http.session_cookie(&res).expect("a new cookie");
    assert_ne!(issued, mallorys);
    assert_eq!(http.me_status(&mallorys).await, StatusCode::UNAUTHORIZED);
    server.stop().await;
}

#[tokio::test]
async fn cookie_attributes_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(settings(dir.path())).await;
    server.add_user("alice", &[]).await;
    let http = server.http();
    let res = http.login_response("alice", PASSWORD).await;
    let header = set_cookie(&res, "cloakroom_session").expect("cookie named cloakroom_session");
    let attrs: Vec<&str> = header.split(';').map(str::trim).collect();
    assert!(attrs.contains(&"HttpOnly"), "{header}");
    assert!(attrs.contains(&"SameSite=Lax"), "{header}");
    assert!(attrs.contains(&"Path=/"), "{header}");
    assert!(!header.contains("Domain"), "{header}");
    assert!(!header.contains("Secure"), "{header}");
    // 256 bits of base64url.
    assert_eq!(http.session_cookie(&res).unwrap().len(), 43);
    server.stop().await;
}

#[tokio::test]
async fn cookie_attributes_with_an_https_public_url() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(dir.path());
    s.public_url = "https://auth.example".to_owned();
    s.session.cookie_name = "sid".to_owned();
    let server = Server::start(s).await;
    server.add_user("alice", &[]).await;
    let http = server.http();
    assert_eq!(http.cookie_name, "__Host-sid");
    let res = http.login_response("alice", PASSWORD).await;
    let header = set_cookie(&res, "__Host-sid").expect("cookie named __Host-sid");
    let attrs: Vec<&str> = header.split(';').map(str::trim).collect();
    for attr in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(attrs.contains(&attr), "{attr} in {header}");
    }
    assert!(!header.contains("Domain"), "{header}");
    let cookie = http.session_cookie(&res).unwrap();
    assert_eq!(http.me_status(&cookie).await, StatusCode::OK);
    server.stop().await;
}

fn short_lived(
    dir: &std::path::Path,
    idle: u64,
    absolute: u64,
) -> cloakroom_server::settings::Settings {
    let mut s = settings(dir);
    s.session.idle_timeout = Duration::from_secs(idle * 60);
    s.session.absolute_timeout = Duration::from_secs(absolute * 60);
    s
}

#[tokio::test]
async fn idle_timeout_ends_a_quiet_session_and_activity_extends_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(short_lived(dir.path(), 5, 60)).await;
    server.add_user("alice", &[]).await;
    let http = server.http();
    let cookie = http.login("alice").await;
    let minutes = |m: u64| Duration::from_secs(m * 60);

    server.clock.advance(minutes(4));
    assert_eq!(http.me_status(&cookie).await, StatusCode::OK);
    // 8 minutes after login, but only 4 after the last request.
    server.clock.advance(minutes(4));
    assert_eq!(http.me_status(&cookie).await, StatusCode::OK);
    server.clock.advance(minutes(5));
    assert_eq!(http.me_status(&cookie).await, StatusCode::UNAUTHORIZED);
    server.stop().await;
}

#[tokio::test]
async fn absolute_timeout_ends_even_a_busy_session() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(short_lived(dir.path(), 5, 12)).await;
    server.add_user("alice", &[]).await;
    let http = server.http();
    let cookie = http.login("alice").await;
    for _ in 0..2 {
        server.clock.advance(Duration::from_secs(4 * 60));
        assert_eq!(http.me_status(&cookie).await, StatusCode::OK);
    }
    server.clock.advance(Duration::from_secs(4 * 60));
    assert_eq!(http.me_status(&cookie).await, StatusCode::UNAUTHORIZED);
    server.stop().await;
}

#[tokio::test]
async fn sessions_survive_a_restart_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(settings(dir.path())).await;
    server.add_user("alice", &[]).await;
    let cookie = server.http().login("alice").await;
    let clock = server.clock.clone();
    server.stop().await;

    let server = Server::start_with_clock(settings(dir.path()), clock).await;
    let http = server.http();
    assert_eq!(http.me_status(&cookie).await, StatusCode::OK);
    server.stop().await;
}

#[tokio::test]
async fn the_memory_store_serves_the_same_flow() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(dir.path());
    s.session_store = Some(SessionStoreKind::Memory);
    s.session.max_sessions = 2;
    let server = Server::start(s).await;
    server.add_user("alice", &[]).await;
    let http = server.http();
    let first = http.login("alice").await;
    assert_eq!(http.me_status(&first).await, StatusCode::OK);
    let _second = http.login("alice").await;
    // Bounded: a third live session is refused rather than evicting someone.
    let res = http.login_response("alice", PASSWORD).await;
    expect_error(res, StatusCode::SERVICE_UNAVAILABLE, Some("store_full")).await;
    let res = http
        .with_cookie(http.post("/auth/logout"), &first)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(http.me_status(&first).await, StatusCode::UNAUTHORIZED);
    server.stop().await;
}

#[tokio::test]
async fn changing_a_password_or_removing_a_user_ends_their_sessions() {
    for store in [SessionStoreKind::Sqlite, SessionStoreKind::Memory] {
        let dir = tempfile::tempdir().unwrap();
        let mut s = settings(dir.path());
        s.session_store = Some(store.clone());
        let server = Server::start(s).await;
        server.add_user("alice", &[]).await;
        server.add_user("bob", &[]).await;
        let http = server.http();
        let alices = http.login("alice").await;
        let bobs = http.login("bob").await;
        let admin = server.app.user_admin();

        let ended = admin
            .set_password("alice", &Password::new("a new long password"))
            .await
            .unwrap();
        assert_eq!(ended, 1, "{store:?}");
        assert_eq!(http.me_status(&alices).await, StatusCode::UNAUTHORIZED);
        assert_eq!(
            http.login_response("alice", PASSWORD).await.status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            http.login_response("alice", "a new long password")
                .await
                .status(),
            StatusCode::OK
        );

        admin.remove("bob").await.unwrap();
        assert_eq!(http.me_status(&bobs).await, StatusCode::UNAUTHORIZED);
        assert_eq!(
            http.login_response("bob", PASSWORD).await.status(),
            StatusCode::UNAUTHORIZED
        );
        server.stop().await;
    }
}
