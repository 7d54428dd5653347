//! The `cloakroom` binary itself: `serve` on a fresh directory, the `user` commands, and
//! start-up refusing bad settings by name.

mod common;

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::bin::{BIN, cloakroom, run_with_stdin, text, user};
use common::{PASSWORD, Server, settings};
use reqwest::StatusCode;

#[test]
fn user_add_list_remove() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = user(
        d,
        &["add", "alice", "--role", "admin", "--password-stdin"],
        &format!("{PASSWORD}\n"),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("added user alice"));
    assert!(d.join("cloakroom.db").is_file());

    let out = user(d, &["add", "Alice", "--password-stdin"], PASSWORD);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("already exists"),
        "{}",
        text(&out.stderr)
    );
    let out = user(d, &["add", "bob", "--password-stdin"], "short\n");
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("at least 8"),
        "{}",
        text(&out.stderr)
    );
    let out = user(
        d,
        &["add", "carol", "--role", "has space", "--password-stdin"],
        PASSWORD,
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("invalid role"),
        "{}",
        text(&out.stderr)
    );
    // No terminal and no --password-stdin: says what to do instead of hanging.
    let out = user(d, &["add", "dave"], "");
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("--password-stdin"),
        "{}",
        text(&out.stderr)
    );

    let out = user(d, &["list"], "");
    assert!(out.status.success());
    let listing = text(&out.stdout);
    assert!(
        listing.contains("alice") && listing.contains("roles=admin"),
        "{listing}"
    );
    assert!(!listing.contains("bob") && !listing.contains("carol") && !listing.contains("dave"));

    let out = user(d, &["remove", "alice"], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = user(d, &["list"], "");
    assert!(!text(&out.stdout).contains("alice"));
    let out = user(d, &["remove", "alice"], "");
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("no user called"),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test]
async fn user_commands_act_on_the_servers_data_and_end_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut s = settings(&data);
    s.insecure_fast_hashing_for_tests = true;
    let server = Server::start(s).await;
    let http = server.http();
    let data_arg = data.to_str().unwrap().to_owned();

    let mut cmd = cloakroom(dir.path());
    cmd.args([
        "--data-dir",
        &data_arg,
        "user",
        "add",
        "alice",
        "--password-stdin",
    ]);
    let out = run_with_stdin(cmd, PASSWORD);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let laptop = http.login("alice").await;
    let phone = http.login("alice").await;

    let mut cmd = cloakroom(dir.path());
    cmd.env("CLOAKROOM_DATA_DIR", &data_arg);
    cmd.args(["user", "passwd", "alice", "--password-stdin"]);
    let out = run_with_stdin(cmd, "another long password\n");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("ended 2 session(s)"),
        "{}",
        text(&out.stdout)
    );
    refused_soon(&http, &laptop).await;
    refused_soon(&http, &phone).await;
    assert_eq!(
        http.login_response("alice", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let cookie = http
        .session_cookie(&http.login_response("alice", "another long password").await)
        .expect("signed in with the new password");

    let mut cmd = cloakroom(dir.path());
    cmd.args(["user", "remove", "alice", "--data-dir", &data_arg]);
    let out = run_with_stdin(cmd, "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    refused_soon(&http, &cookie).await;
    server.stop().await;
}

/// Waits until the session `cookie` is refused. Another process ended it: the server's copy
/// of a SQLite session lives at most `session.sqlite_cache` (1 s) longer; 10 s is the test's
/// patience, not the bound (`tests/sqlite_cache.rs` checks that).
async fn refused_soon(http: &common::Http, cookie: &str) {
    let ended = std::time::Instant::now();
    while http.me_status(cookie).await != StatusCode::UNAUTHORIZED {
        assert!(ended.elapsed() < Duration::from_secs(10), "still accepted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn serve_fails(dir: &Path, configure: impl FnOnce(&mut Command)) -> String {
    let mut cmd = cloakroom(dir);
    cmd.args(["serve", "--listen", "127.0.0.1:0"]);
    configure(&mut cmd);
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run cloakroom");
    // A server that did start would run forever: give up on it after a while.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while child.try_wait().expect("poll cloakroom").is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("reap cloakroom");
            panic!("it started: {}", text(&out.stdout));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("cloakroom output");
    assert!(!out.status.success(), "started: {}", text(&out.stdout));
    text(&out.stderr)
}

#[test]
fn bad_settings_stop_start_up_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("typo.toml"), "colour = \"blue\"\n").unwrap();
    let err = serve_fails(d, |c| {
        c.args(["--config", "typo.toml"]);
    });
    assert!(err.contains("colour") && err.contains("typo.toml"), "{err}");

    std::fs::write(d.join("nested.toml"), "[session]\nidle_timout = \"5m\"\n").unwrap();
    let err = serve_fails(d, |c| {
        c.args(["--config", "nested.toml"]);
    });
    assert!(err.contains("session.idle_timout"), "{err}");

    std::fs::write(
        d.join("bad.toml"),
        "[session]\nabsolute_timeout = \"12 fortnights\"\n",
    )
    .unwrap();
    let err = serve_fails(d, |c| {
        c.args(["--config", "bad.toml"]);
    });
    assert!(err.contains("session.absolute_timeout"), "{err}");

    let err = serve_fails(d, |c| {
        c.env("CLOAKROOM_SESSION__IDLE_TIMEOUT", "5 parsecs");
    });
    assert!(err.contains("session.idle_timeout"), "{err}");
    assert!(err.contains("CLOAKROOM_SESSION__IDLE_TIMEOUT"), "{err}");

    let err = serve_fails(d, |c| {
        c.env("CLOAKROOM_SESION__IDLE_TIMEOUT", "5m");
    });
    assert!(err.contains("sesion"), "{err}");

    let err = serve_fails(d, |c| {
        c.env("CLOAKROOM_MODE", "passport");
    });
    assert!(err.contains("mode"), "{err}");

    let err = serve_fails(d, |c| {
        c.env("CLOAKROOM_SESSION__IDLE_TIMEOUT", "13h");
    });
    assert!(err.contains("session.idle_timeout"), "{err}");

    let err = serve_fails(d, |c| {
        c.args(["--config", "missing.toml"]);
    });
    assert!(err.contains("missing.toml"), "{err}");
    assert!(!d.join("cloakroom.db").exists(), "nothing was created");
}

#[tokio::test]
async fn serve_on_a_fresh_directory() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_owned();
    let mut child = cloakroom(&d)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn cloakroom serve");
    let stdout = child.stdout.take().expect("stdout");
    let lines = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout)
            .lines()
            .take(3)
            .map(Result::unwrap)
            .collect::<Vec<_>>()
    });
    let lines = tokio::time::timeout(Duration::from_secs(60), lines)
        .await
        .expect("serve prints its banner")
        .unwrap();
    let banner = lines.join("\n");
    let url = banner
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .expect("the address it listens on")
        .to_owned();
    assert!(
        banner.contains(&format!("{BIN} user add admin --role admin")),
        "{banner}"
    );
    assert!(
        d.join("cloakroom.db").is_file(),
        "the SQLite file is created"
    );

    // It serves, and a user added meanwhile can sign in.
    let http = reqwest::Client::new();
    assert_eq!(
        http.get(format!("{url}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        http.get(format!("{url}/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let out = user(&d, &["add", "alice", "--password-stdin"], PASSWORD);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let res = http
        .post(format!("{url}/auth/login"))
        .json(&serde_json::json!({ "username": "alice", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    // SIGTERM: a clean exit.
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");
}
