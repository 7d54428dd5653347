//! The binary's `keys` and `token` commands against the database a server uses: rotation
//! reaches a running server, and `token inspect` says what is in a token and why it fails.

mod common;

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use cloakroom::clock::{Clock as _, ManualClock, SystemClock, Timestamp};
use cloakroom_server::settings::{Mode, Settings};
use common::bin::{cloakroom, run_with_stdin, text};
use common::{Server, jwt_header, settings_in};
use reqwest::StatusCode;
use serde_json::Value;

fn run(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = cloakroom(dir);
    cmd.args(args);
    run_with_stdin(cmd, "")
}

fn quick_reload(dir: &Path, mode: Mode) -> Settings {
    let mut s = settings_in(dir, mode);
    s.jwt.reload_interval = Duration::from_secs(1);
    s
}

async fn jwks_kids(http: &common::Http) -> Vec<String> {
    let jwks: Value = http
        .get("/.well-known/jwks.json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn keys_rotate_through_the_binary_reaches_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let server = Server::start(quick_reload(d, Mode::Hybrid)).await;
    server.add_user("alice", &[]).await;
    let http = server.http();
    let before = http.login_tokens("alice").await.access;
    let old_kid = jwt_header(&before)["kid"].as_str().unwrap().to_owned();

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(d.join("cloakroom.db"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o077,
            0,
            "the file with the keys is private: {mode:o}"
        );
    }
    let out = run(d, &["keys", "list"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listed = text(&out.stdout);
    assert!(
        listed.starts_with(&format!("{old_kid}\tEdDSA\tactive\t")),
        "{listed}"
    );
    assert_eq!(listed.lines().count(), 1);

    let out = run(d, &["keys", "rotate"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(said.contains("new signing key"), "{said}");
    assert!(said.contains(&old_kid), "{said}");

    // The running server picks the new key up by itself.
    let deadline = Instant::now() + Duration::from_secs(30);
    let kids = loop {
        let kids = jwks_kids(&http).await;
        if kids.len() == 2 || Instant::now() > deadline {
            break kids;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(kids.len(), 2, "{kids:?}");
    assert_eq!(kids[1], old_kid, "the new key first, then the old one");
    assert_eq!(http.me_bearer_status(&before).await, StatusCode::OK);
    let after = http.login_tokens("alice").await.access;
    assert_eq!(jwt_header(&after)["kid"], kids[0].as_str());
    assert_eq!(http.me_bearer_status(&after).await, StatusCode::OK);

    let out = run(d, &["keys", "list"]);
    let listed = text(&out.stdout);
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines.len(), 2, "{listed}");
    assert!(
        lines[0].starts_with(&format!("{}\tEdDSA\tactive", kids[0])),
        "{listed}"
    );
    assert!(
        lines[1].starts_with(&format!("{old_kid}\tEdDSA\tverifying")),
        "{listed}"
    );
    assert!(lines[1].contains("verifies until"), "{listed}");
    assert!(!listed.contains("material"), "{listed}");
    server.stop().await;
}

#[tokio::test]
async fn a_token_with_an_unknown_kid_makes_a_server_reload_its_keys() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A server that would not reload on its own for an hour.
    let mut slow = settings_in(d, Mode::Jwt);
    slow.jwt.reload_interval = Duration::from_secs(3600);
    let a = Server::start(slow.clone()).await;
    a.add_user("alice", &[]).await;
    let out = run(d, &["keys", "rotate"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Another node, started after the rotation, signs with the new key.
    let b = Server::start(slow).await;
    let token = b.http().login_tokens("alice").await.access;
    let http = a.http();
    assert_eq!(jwks_kids(&http).await.len(), 1);
    assert_eq!(http.me_bearer_status(&token).await, StatusCode::OK);
    assert_eq!(jwks_kids(&http).await.len(), 2);
    // A made-up kid costs at most one reload per cooldown, and is refused.
    let forged = format!("eyJhbGciOiJFZERTQSIsImtpZCI6Im5vcGUifQ.{}", "e30.AAAA");
    for _ in 0..20 {
        assert_eq!(
            http.me_bearer_status(&forged).await,
            StatusCode::UNAUTHORIZED
        );
    }
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn token_inspect_shows_a_good_an_expired_a_tampered_and_a_revoked_token() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let now = SystemClock.now();
    // Issue one token two hours ago (an hour's lifetime in jwt mode), then one now.
    let clock = ManualClock::new(Timestamp::from_unix(now.unix() - 7200));
    let server = Server::start_with_clock(settings_in(d, Mode::Jwt), clock.clone()).await;
    server.add_user("alice", &[]).await;
    let http = server.http();
    let expired = http.login_tokens("alice").await.access;
    clock.set(now);
    let good = http.login_tokens("alice").await.access;
    let revoked = http.login_tokens("alice").await.access;
    let res = http
        .with_bearer(http.post("/auth/logout"), &revoked)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);

    let out = run(d, &["token", "inspect", &good]);
    let shown = text(&out.stdout);
    assert!(out.status.success(), "{shown}{}", text(&out.stderr));
    assert!(shown.contains("\"typ\": \"at+jwt\""), "{shown}");
    assert!(shown.contains("\"name\": \"alice\""), "{shown}");
    assert!(shown.contains("expires:"), "{shown}");
    assert!(shown.contains("valid: "), "{shown}");

    // Also from standard input, which keeps the token out of the shell's history.
    let mut cmd = cloakroom(d);
    cmd.args(["token", "inspect", "-"]);
    let out = run_with_stdin(cmd, &format!("{good}\n"));
    assert!(out.status.success(), "{}", text(&out.stdout));

    let out = run(d, &["token", "inspect", &expired]);
    let shown = text(&out.stdout);
    assert!(!out.status.success(), "{shown}");
    assert!(
        shown.contains("\"name\": \"alice\""),
        "claims shown anyway: {shown}"
    );
    assert!(shown.contains("invalid: the token expired at"), "{shown}");
    assert!(shown.contains("[expired]"), "{shown}");
    assert!(
        text(&out.stderr).contains("not valid"),
        "{}",
        text(&out.stderr)
    );

    let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    parts[1] = common::b64(br#"{"sub":"someone-else"}"#);
    let tampered = parts.join(".");
    let out = run(d, &["token", "inspect", &tampered]);
    let shown = text(&out.stdout);
    assert!(!out.status.success(), "{shown}");
    assert!(shown.contains("someone-else"), "{shown}");
    assert!(shown.contains("[bad_signature]"), "{shown}");

    let out = run(d, &["token", "inspect", &revoked]);
    let shown = text(&out.stdout);
    assert!(!out.status.success(), "{shown}");
    assert!(shown.contains("[revoked]"), "{shown}");

    let out = run(d, &["token", "inspect", "not a token"]);
    let shown = text(&out.stdout);
    assert!(!out.status.success(), "{shown}");
    assert!(shown.contains("[malformed]"), "{shown}");
    server.stop().await;
}

#[test]
fn token_inspect_without_keys_says_so() {
    let dir = tempfile::tempdir().unwrap();
    // A database without keys: `user add` makes one (only it and `serve` create a database).
    let out = common::bin::user(
        dir.path(),
        &["add", "alice", "--password-stdin"],
        common::PASSWORD,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(dir.path(), &["token", "inspect", "a.b.c"]);
    assert!(!out.status.success());
    let shown = text(&out.stdout);
    assert!(shown.contains("no signing keys yet"), "{shown}");
    let out = run(dir.path(), &["keys", "list"]);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("no keys yet"));
}
