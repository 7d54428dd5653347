//! Input the contract does not allow, and secrets and files at the edges (issue 12, items 7
//! and 8), through the CLI as an operator meets them.

mod common;

use std::io::{BufRead as _, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::PASSWORD;
use common::bin::{cloakroom, text, user};

/// Roles have a character set without commas or spaces (they travel comma-separated in
/// `X-Cloakroom-Roles`): `ops,admin` would read as two roles downstream.
#[test]
fn roles_outside_the_character_set_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for bad in [
        "ops,admin",
        "has space",
        "tab\there",
        "é",
        "a;b",
        &"x".repeat(65),
    ] {
        let out = user(
            dir.path(),
            &["add", "carol", "--role", bad, "--password-stdin"],
            PASSWORD,
        );
        assert!(!out.status.success(), "{bad:?} was accepted");
        assert!(
            text(&out.stderr).contains("invalid role"),
            "{}",
            text(&out.stderr)
        );
    }
    let ok = user(
        dir.path(),
        &[
            "add",
            "carol",
            "--role",
            "team:ops-1.read_only",
            "--password-stdin",
        ],
        PASSWORD,
    );
    assert!(ok.status.success(), "{}", text(&ok.stderr));
}

/// The CLI checks new passwords against the configured `[password]` policy, as the server
/// does.
#[test]
fn the_cli_follows_the_configured_password_policy() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = cloakroom(dir.path());
    cmd.env("CLOAKROOM_PASSWORD__MIN_LENGTH", "40");
    cmd.args(["user", "add", "dave", "--password-stdin"]);
    let out = common::bin::run_with_stdin(cmd, PASSWORD);
    assert!(
        !out.status.success(),
        "a password under the policy's 40 characters was taken"
    );
    assert!(
        text(&out.stderr).contains("password"),
        "{}",
        text(&out.stderr)
    );
}

/// A `database_url` with a query string still makes the database private: it holds the
/// signing keys and the password hashes.
#[cfg(unix)]
#[test]
fn the_database_is_private_whatever_the_url() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.db");
    let mut cmd = cloakroom(dir.path());
    cmd.env(
        "CLOAKROOM_DATABASE_URL",
        format!("sqlite://{}?mode=rwc", db.display()),
    );
    cmd.args(["user", "add", "erin", "--password-stdin"]);
    let out = common::bin::run_with_stdin(cmd, PASSWORD);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mode = std::fs::metadata(&db).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the database file is {mode:o}");
}

/// A password in a PostgreSQL URL's query string is never printed: not in the banner, not in
/// the logs.
#[test]
fn a_password_in_the_database_url_is_never_printed() {
    if !common::cluster::services_available() {
        return;
    }
    let pg = common::cluster::POSTGRES_URL;
    let schema = common::cluster::unique_name("inputs");
    let dir = tempfile::tempdir().unwrap();
    let url = format!("{pg}?password=hunter2secret");
    let mut cmd = cloakroom(dir.path());
    cmd.env("CLOAKROOM_DATABASE_URL", &url)
        .env("CLOAKROOM_POSTGRES__SCHEMA", &schema)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut banner = String::new();
    while Instant::now() < deadline {
        let Some(Ok(line)) = lines.next() else { break };
        banner.push_str(&line);
        banner.push('\n');
        if line.contains("listening on") {
            break;
        }
    }
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    common::cluster::drop_schema(&schema);
    assert!(
        banner.contains("listening on"),
        "{banner}{}",
        text(&out.stderr)
    );
    assert!(banner.contains("password=***"), "{banner}");
    assert!(!banner.contains("hunter2secret"), "{banner}");
    assert!(!text(&out.stderr).contains("hunter2secret"));
}
