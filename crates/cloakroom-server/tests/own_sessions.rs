//! `GET /auth/sessions` and `DELETE /auth/sessions/{id}`: each user sees and ends only their
//! own sessions.

mod common;

use common::{Server, expect_error, set_cookie, settings};
use reqwest::StatusCode;
use serde_json::Value;

async fn list(http: &common::Http, cookie: &str) -> Vec<Value> {
    let res = http
        .with_cookie(http.get("/auth/sessions"), cookie)
        .header("user-agent", "session-test/1.0")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    res.json().await.unwrap()
}

fn is_rfc3339_utc(v: &Value) -> bool {
    let Some(s) = v.as_str() else { return false };
    let b = s.as_bytes();
    s.len() == 20 && b[4] == b'-' && b[10] == b'T' && b[13] == b':' && s.ends_with('Z')
}

#[tokio::test]
async fn lists_only_the_callers_sessions_with_their_details() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(settings(dir.path())).await;
    server.add_user("alice", &[]).await;
    server.add_user("bob", &[]).await;
    let http = server.http();
    let laptop = http
        .post("/auth/login")
        .header("user-agent", "laptop-browser/1.0")
        .json(&serde_json::json!({ "username": "alice", "password": common::PASSWORD }))
        .send()
        .await
        .unwrap();
    let laptop = http.session_cookie(&laptop).unwrap();
    let phone = http.login("alice").await;
    let _bobs = http.login("bob").await;

    let sessions = list(&http, &phone).await;
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    let current: Vec<_> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    for s in &sessions {
        assert_eq!(s["id"].as_str().map(str::len), Some(22), "{s}");
        for key in ["created_at", "last_seen_at", "expires_at"] {
            assert!(is_rfc3339_utc(&s[key]), "{key} in {s}");
        }
        assert_eq!(s["ip"], "127.0.0.1");
        // Never the secret: the handle is another value.
        assert_ne!(s["id"], laptop.as_str());
        assert_ne!(s["id"], phone.as_str());
    }
    assert!(
        sessions
            .iter()
            .any(|s| s["user_agent"] == "laptop-browser/1.0"),
        "{sessions:?}"
    );
    let me: Value = http
        .with_cookie(http.get("/auth/me"), &phone)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(current[0]["id"], me["session"]);

    let res = http.get("/auth/sessions").send().await.unwrap();
    expect_error(res, StatusCode::UNAUTHORIZED, Some("unauthenticated")).await;
    server.stop().await;
}

#[tokio::test]
async fn deletes_only_the_callers_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(settings(dir.path())).await;
    server.add_user("alice", &[]).await;
    server.add_user("bob", &[]).await;
    let http = server.http();
    let laptop = http.login("alice").await;
    let phone = http.login("alice").await;
    let bobs = http.login("bob").await;
    let bobs_handle = list(&http, &bobs).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let alices = list(&http, &phone).await;
    let laptop_handle = alices.iter().find(|s| s["current"] == false).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let phone_handle = alices.iter().find(|s| s["current"] == true).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Bob's session, a made-up handle and junk: the same 404, and Bob stays signed in.
    for handle in [
        bobs_handle.as_str(),
        "AAAAAAAAAAAAAAAAAAAAAA",
        "..%2F..%2Fetc",
        "%00",
    ] {
        let res = http
            .with_cookie(http.delete(&format!("/auth/sessions/{handle}")), &phone)
            .send()
            .await
            .unwrap();
        expect_error(res, StatusCode::NOT_FOUND, Some("not_found")).await;
    }
    assert_eq!(http.me_status(&bobs).await, StatusCode::OK);

    // Her laptop's session: gone, and the phone is still signed in.
    let res = http
        .with_cookie(
            http.delete(&format!("/auth/sessions/{laptop_handle}")),
            &phone,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(
        set_cookie(&res, &http.cookie_name).is_none(),
        "the phone keeps its cookie"
    );
    assert_eq!(http.me_status(&laptop).await, StatusCode::UNAUTHORIZED);
    assert_eq!(http.me_status(&phone).await, StatusCode::OK);

    // Her own current session: ended, and the cookie cleared.
    let res = http
        .with_cookie(
            http.delete(&format!("/auth/sessions/{phone_handle}")),
            &phone,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let cleared = set_cookie(&res, &http.cookie_name).expect("a clearing cookie");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    assert_eq!(http.me_status(&phone).await, StatusCode::UNAUTHORIZED);

    let res = http
        .delete(&format!("/auth/sessions/{bobs_handle}"))
        .send()
        .await
        .unwrap();
    expect_error(res, StatusCode::UNAUTHORIZED, Some("unauthenticated")).await;
    server.stop().await;
}
