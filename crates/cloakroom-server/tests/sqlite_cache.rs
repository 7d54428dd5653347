//! Session mode on SQLite (the default store) answers from a short per-node copy of each
//! session (`session.sqlite_cache`, 1 s): a sign-out on this node ends the session at once, and
//! one ended by another process sharing the file (the CLI) stops working within the bound.

mod common;

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::PASSWORD;
use common::bin::{cloakroom, text, user};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, SET_COOKIE};

/// The documented bound (the default `session.sqlite_cache`).
const BOUND: Duration = Duration::from_secs(1);

async fn serve(dir: &Path) -> (Child, String) {
    for name in ["alice", "bob"] {
        let out = user(dir, &["add", name, "--password-stdin"], PASSWORD);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let mut child = cloakroom(dir)
        .args(["serve", "--listen", "127.0.0.1:0", "--mode", "session"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
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
    (child, url)
}

async fn sign_in(http: &reqwest::Client, url: &str, name: &str) -> String {
    let res = http
        .post(format!("{url}/auth/login"))
        .json(&serde_json::json!({ "username": name, "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let set_cookie = res.headers()[SET_COOKIE].to_str().unwrap();
    set_cookie.split(';').next().unwrap().to_owned()
}

async fn me(http: &reqwest::Client, url: &str, cookie: &str) -> StatusCode {
    http.get(format!("{url}/auth/me"))
        .header(COOKIE, cookie)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn a_session_ended_elsewhere_stops_within_the_bound_and_at_once_here() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, url) = serve(dir.path()).await;
    let http = reqwest::Client::new();

    // Signed out on this node: refused at once, no copy outlives its own write.
    let bob = sign_in(&http, &url, "bob").await;
    assert_eq!(me(&http, &url, &bob).await, StatusCode::OK);
    let res = http
        .post(format!("{url}/auth/logout"))
        .header(COOKIE, &bob)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(me(&http, &url, &bob).await, StatusCode::UNAUTHORIZED);

    // Ended by another process sharing the file: the CLI removes the user and their sessions.
    let alice = sign_in(&http, &url, "alice").await;
    for _ in 0..5 {
        // Read and re-read: the node now holds a copy.
        assert_eq!(me(&http, &url, &alice).await, StatusCode::OK);
    }
    let out = cloakroom(dir.path())
        .args(["user", "remove", "alice"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let removed = Instant::now();
    let refused_after = loop {
        if me(&http, &url, &alice).await == StatusCode::UNAUTHORIZED {
            break removed.elapsed();
        }
        assert!(
            removed.elapsed() < BOUND * 10,
            "still accepted {:?} after the CLI ended it (bound {BOUND:?})",
            removed.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // Once refused, refused for good.
    for _ in 0..3 {
        assert_eq!(me(&http, &url, &alice).await, StatusCode::UNAUTHORIZED);
    }
    eprintln!("refused {refused_after:?} after the CLI removed the user");
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}
