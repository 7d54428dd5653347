//! The client's address, for the sign-in throttle and the list of sessions: forwarding headers
//! count only when the TCP peer is a trusted proxy, and then only back to the first hop that
//! is not one. A client that forges them gains nothing.

mod common;

use std::net::IpAddr;

use cloakroom_server::settings::{ForwardedHeaderName, Mode, Settings};
use common::{Http, PASSWORD, Server, expect_error, settings_in};
use reqwest::StatusCode;
use serde_json::Value;

const WRONG: &str = "not the password at all";

fn from(http: &Http, ip: &str) -> Http {
    let local: IpAddr = ip.parse().expect("an address");
    Http {
        client: reqwest::Client::builder()
            .local_address(local)
            .build()
            .expect("a client"),
        ..http.clone()
    }
}

fn trusting(dir: &std::path::Path, mode: Mode, proxies: &[&str]) -> Settings {
    let mut settings = Settings {
        trusted_proxies: proxies.iter().map(|p| (*p).to_owned()).collect(),
        ..settings_in(dir, mode)
    };
    // The per-address limit these tests count to (across accounts; 20 by default).
    settings.login.client_max_failures = 5;
    settings
}

/// A failed sign-in as `user` carrying `headers`; the status.
async fn guess(http: &Http, user: &str, headers: &[(&str, String)]) -> StatusCode {
    let mut req = http
        .post("/auth/login")
        .json(&serde_json::json!({ "username": user, "password": WRONG }));
    for (name, value) in headers {
        req = req.header(*name, value);
    }
    req.send().await.expect("login request").status()
}

#[tokio::test]
async fn forged_forwarding_headers_from_an_untrusted_peer_do_not_dodge_the_address_limit() {
    let dir = tempfile::tempdir().unwrap();
    // A proxy is trusted, but not the loopback peer the test connects from.
    let server = Server::start(trusting(dir.path(), Mode::Hybrid, &["10.0.0.0/8"])).await;
    let http = server.http();
    for i in 0..5 {
        // A new account and a new forged address each time, in every header there is.
        let forged = vec![
            ("x-forwarded-for", format!("198.51.100.{i}")),
            ("forwarded", format!("for=198.51.100.{i}")),
            ("x-real-ip", format!("198.51.100.{i}")),
        ];
        assert_eq!(
            guess(&http, &format!("user{i}"), &forged).await,
            StatusCode::UNAUTHORIZED
        );
    }
    let forged = vec![("x-forwarded-for", "203.0.113.200".to_owned())];
    assert_eq!(
        guess(&http, "user-new", &forged).await,
        StatusCode::TOO_MANY_REQUESTS,
        "the peer's address is what counts"
    );
    server.stop().await;
}

#[tokio::test]
async fn through_a_trusted_proxy_the_client_behind_it_counts() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(trusting(dir.path(), Mode::Session, &["127.0.0.1"])).await;
    server.add_user("alice", &[]).await;
    let proxy = server.http();
    // Five clients behind the proxy, one failure each: none is locked out.
    for i in 0..5 {
        let xff = vec![("x-forwarded-for", format!("203.0.113.{i}"))];
        assert_eq!(
            guess(&proxy, &format!("u{i}"), &xff).await,
            StatusCode::UNAUTHORIZED
        );
    }
    let xff = vec![("x-forwarded-for", "203.0.113.99".to_owned())];
    assert_eq!(guess(&proxy, "u99", &xff).await, StatusCode::UNAUTHORIZED);
    // One client behind it that forges the left part of the header: the hop the proxy
    // added is what counts, so all five failures land on 198.51.100.9.
    for i in 0..5 {
        let xff = vec![("x-forwarded-for", format!("6.6.6.{i}, 198.51.100.9"))];
        assert_eq!(
            guess(&proxy, &format!("v{i}"), &xff).await,
            StatusCode::UNAUTHORIZED
        );
    }
    let res = proxy
        .post("/auth/login")
        .header("x-forwarded-for", "198.51.100.9")
        .json(&serde_json::json!({ "username": "alice", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    expect_error(
        res,
        StatusCode::TOO_MANY_REQUESTS,
        Some("too_many_attempts"),
    )
    .await;
    // Alice behind the same proxy, from another client, signs in.
    let res = proxy
        .post("/auth/login")
        .header("x-forwarded-for", "192.0.2.44")
        .json(&serde_json::json!({ "username": "alice", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    server.stop().await;
}

#[tokio::test]
async fn only_the_configured_header_is_believed() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = trusting(dir.path(), Mode::Jwt, &["127.0.0.1"]);
    settings.forwarded_header = ForwardedHeaderName::XRealIp;
    let server = Server::start(settings).await;
    let proxy = server.http();
    // The proxy sets X-Real-IP; X-Forwarded-For came from the client and varies.
    for i in 0..5 {
        let headers = vec![
            ("x-real-ip", "198.51.100.5".to_owned()),
            ("x-forwarded-for", format!("203.0.113.{i}")),
        ];
        assert_eq!(
            guess(&proxy, &format!("u{i}"), &headers).await,
            StatusCode::UNAUTHORIZED
        );
    }
    let headers = vec![
        ("x-real-ip", "198.51.100.5".to_owned()),
        ("x-forwarded-for", "203.0.113.77".to_owned()),
    ];
    assert_eq!(
        guess(&proxy, "u9", &headers).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    server.stop().await;
}

/// The `ip` of the caller's only session.
async fn session_ip(http: &Http, cookie: &str) -> Value {
    let res = http
        .with_cookie(http.get("/auth/sessions"), cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let sessions: Value = res.json().await.unwrap();
    let current: Vec<&Value> = sessions
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["current"] == true)
        .collect();
    current[0]["ip"].clone()
}

#[tokio::test]
async fn the_sessions_list_shows_the_same_address_the_throttle_counts() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(trusting(dir.path(), Mode::Session, &["127.0.0.1"])).await;
    server.add_user("alice", &[]).await;
    let proxy = server.http();
    let login = |http: &Http| {
        http.post("/auth/login")
            .header("x-forwarded-for", "198.51.100.23")
            .json(&serde_json::json!({ "username": "alice", "password": PASSWORD }))
            .send()
    };
    let res = login(&proxy).await.unwrap();
    let cookie = proxy.session_cookie(&res).expect("a session");
    assert_eq!(session_ip(&proxy, &cookie).await, "198.51.100.23");
    // The same header from a peer that is not a trusted proxy is ignored.
    let direct = from(&proxy, "127.0.0.2");
    let res = login(&direct).await.unwrap();
    let cookie = direct.session_cookie(&res).expect("a session");
    assert_eq!(session_ip(&direct, &cookie).await, "127.0.0.2");
    server.stop().await;
}
