//! Password rules: length only (at least `password.min_length`, default 8; 64 characters and
//! more always allowed; no composition rules), an upper bound in bytes checked before any
//! hashing, and hashes brought up to the current argon2 parameters at sign-in.

mod common;

use std::time::{Duration, Instant};

use cloakroom::clock::ManualClock;
use cloakroom::user::{HashParams, Password};
use cloakroom_server::Error;
use cloakroom_server::settings::{Mode, Settings};
use common::{PASSWORD, Server, expect_error, settings_in};
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

async fn add(server: &Server, name: &str, password: &str) -> Result<(), Error> {
    server
        .app
        .user_admin()
        .add(name, &[], &Password::new(password))
        .await
        .map(drop)
}

#[tokio::test]
async fn length_is_the_only_rule() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(settings_in(dir.path(), Mode::Session)).await;
    assert!(matches!(
        add(&server, "short", "7 chars").await,
        Err(Error::PasswordRejected(_))
    ));
    // No composition rules: eight of one letter is a password.
    add(&server, "eight", "aaaaaaaa").await.unwrap();
    // 64 characters, and 64 characters of four bytes each.
    let long = "correct horse battery staple ".repeat(3)[..64].to_owned();
    add(&server, "long", &long).await.unwrap();
    let emoji = "\u{1F511}".repeat(64);
    add(&server, "emoji", &emoji).await.unwrap();
    let http = server.http();
    for (user, password) in [
        ("eight", "aaaaaaaa"),
        ("long", &long[..]),
        ("emoji", &emoji[..]),
    ] {
        let res = http.login_response(user, password).await;
        assert_eq!(res.status(), StatusCode::OK, "{user}");
    }
    // Over the byte bound (1024 by default).
    assert!(matches!(
        add(&server, "huge", &"x".repeat(1025)).await,
        Err(Error::PasswordRejected(_))
    ));
    server.stop().await;
}

#[tokio::test]
async fn the_minimum_length_is_a_setting() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = settings_in(dir.path(), Mode::Session);
    settings.password.min_length = 12;
    let server = Server::start(settings).await;
    assert!(matches!(
        add(&server, "a", "eleven char").await,
        Err(Error::PasswordRejected(_))
    ));
    add(&server, "b", "twelve chars").await.unwrap();
    server.stop().await;

    for (min, max) in [(7, 1024), (65, 1024), (8, 255), (8, 4097)] {
        let mut bad = settings_in(dir.path(), Mode::Session);
        bad.password.min_length = min;
        bad.password.max_bytes = max;
        let e = bad.validate().unwrap_err().to_string();
        assert!(e.contains("password."), "{e}");
    }
}

/// Costly enough for hashing to be seen in a request's time.
const SLOW: HashParams = HashParams {
    m_cost: 8 * 1024,
    t_cost: 2,
    p_cost: 1,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlong_passwords_are_refused_before_hashing() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_full(
        settings_in(dir.path(), Mode::Hybrid),
        ManualClock::starting_now(),
        SLOW,
    )
    .await;
    server.add_user("alice", &[]).await;
    let http = server.http();
    let start = Instant::now();
    let res = http.login_response("alice", "wrong password").await;
    let hashed = start.elapsed();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    // Within the body limit, over the password bound: 400, without a hash. The quickest of
    // three, so that a scheduling hiccup on a busy machine is not mistaken for a hash.
    let mut refused = Duration::MAX;
    for _ in 0..3 {
        let start = Instant::now();
        let res = http.login_response("alice", &"p".repeat(2000)).await;
        refused = refused.min(start.elapsed());
        expect_error(res, StatusCode::BAD_REQUEST, Some("password_too_long")).await;
    }
    assert!(
        refused * 4 < hashed,
        "refused in {refused:?}, a hashed attempt took {hashed:?}"
    );

    // A megabyte: the declared length alone gets 413, before the body is read.
    let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let start = Instant::now();
    let head = format!(
        "POST /auth/login HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{{\"username\":\"alice\",\"password\":\"",
        server.addr,
        1024 * 1024
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut answer))
        .await
        .expect("an answer without the body")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]).into_owned();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("payload_too_large"), "{answer}");
    assert!(
        start.elapsed() < hashed.max(Duration::from_millis(500)),
        "{:?}",
        start.elapsed()
    );
    // Neither counted as a guess: the right password still gets in.
    let res = http.login_response("alice", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK);
    server.stop().await;
}

/// The stored hash's `m=…,t=…,p=…` part.
async fn stored_params(server: &Server, name: &str) -> String {
    let user = server
        .app
        .users()
        .by_username(name)
        .await
        .unwrap()
        .expect("the user");
    let phc = user.password_hash.as_phc().to_owned();
    phc.split('$').nth(3).expect("PHC parameters").to_owned()
}

#[tokio::test]
async fn signing_in_rehashes_with_the_current_parameters() {
    let dir = tempfile::tempdir().unwrap();
    let settings = || -> Settings { settings_in(dir.path(), Mode::Hybrid) };
    let old = HashParams {
        m_cost: 8,
        t_cost: 1,
        p_cost: 1,
    };
    let new = HashParams {
        m_cost: 64,
        t_cost: 2,
        p_cost: 1,
    };
    let server = Server::start_full(settings(), ManualClock::starting_now(), old).await;
    server.add_user("alice", &[]).await;
    assert_eq!(stored_params(&server, "alice").await, "m=8,t=1,p=1");
    server.stop().await;

    let server = Server::start_full(settings(), ManualClock::starting_now(), new).await;
    let http = server.http();
    // A wrong password changes nothing.
    let res = http.login_response("alice", "wrong password!").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(stored_params(&server, "alice").await, "m=8,t=1,p=1");
    let res = http.login_response("alice", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(stored_params(&server, "alice").await, "m=64,t=2,p=1");
    // And the new hash still takes the password.
    let res = http.login_response("alice", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK);
    server.stop().await;
}
