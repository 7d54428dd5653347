//! The server's logs: one line per request with the matched route, and never a password, a
//! cookie, a query string or a body.

mod common;

use std::fs::File;
use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::PASSWORD;
use common::bin::{cloakroom, text, user};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, SET_COOKIE};

#[tokio::test]
async fn logs_name_routes_and_never_carry_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_owned();
    let out = user(&d, &["add", "alice", "--password-stdin"], PASSWORD);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let log_path = d.join("server.log");
    let mut child = cloakroom(&d)
        .args(["serve", "--listen", "127.0.0.1:0", "--mode", "session"])
        // Our own crates at their most talkative.
        .env(
            "CLOAKROOM_LOG__FILTER",
            "info,cloakroom=trace,cloakroom_axum=trace,cloakroom_server=trace",
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(File::create(&log_path).unwrap())
        .spawn()
        .expect("spawn cloakroom serve");
    let stdout = child.stdout.take().expect("stdout");
    let first = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout).lines().next().and_then(Result::ok)
    });
    let banner = tokio::time::timeout(Duration::from_secs(60), first)
        .await
        .expect("serve prints its banner")
        .unwrap()
        .unwrap_or_default();
    let url = banner
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("the address")
        .to_owned();

    let http = reqwest::Client::new();
    let login = |password: &'static str| {
        http.post(format!("{url}/auth/login"))
            .json(&serde_json::json!({ "username": "alice", "password": password }))
            .send()
    };
    let res = login("hunter2-wrong-password").await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = login(PASSWORD).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let set_cookie = res.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    let pair = set_cookie.split(';').next().unwrap().to_owned();
    let secret = pair.split_once('=').unwrap().1.to_owned();
    let res = http
        .get(format!("{url}/auth/me?access_token=QUERY-SECRET"))
        .header(COOKIE, &pair)
        .header("x-api-key", "HEADER-SECRET")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = http
        .post(format!("{url}/auth/logout"))
        .header(COOKIE, &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());

    let log = std::fs::read_to_string(&log_path).unwrap();
    for route in ["/auth/login", "/auth/me", "/auth/logout"] {
        assert!(
            log.contains(&format!("route={route} ")),
            "{route} in:\n{log}"
        );
    }
    assert!(
        log.contains("status=401") && log.contains("status=204"),
        "{log}"
    );
    for secret in [
        PASSWORD,
        "hunter2",
        &secret,
        "QUERY-SECRET",
        "access_token",
        "HEADER-SECRET",
        "argon2",
    ] {
        assert!(!log.contains(secret), "{secret:?} leaked into:\n{log}");
    }
}
