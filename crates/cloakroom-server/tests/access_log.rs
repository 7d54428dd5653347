//! The access log as shipped (the default `info` filter): one line per request with the
//! client's address, user agent and request ID, the request ID echoed in `X-Request-Id`, no
//! secret, and every line written by a graceful shutdown even though lines are written in
//! batches off the request path.

mod common;

use std::fs::File;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::PASSWORD;
use common::bin::{cloakroom, text, user};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, SET_COOKIE, USER_AGENT};

/// `cloakroom serve` in session mode with `config` (TOML) and the default log filter, its
/// standard error in a file; its URL and the log's path.
async fn serve(dir: &Path, config: &str) -> (Child, String, PathBuf) {
    let out = user(dir, &["add", "alice", "--password-stdin"], PASSWORD);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let config_path = dir.join("c.toml");
    std::fs::write(&config_path, format!("mode = \"session\"\n{config}")).unwrap();
    let log_path = dir.join("server.log");
    let mut child = cloakroom(dir)
        .arg("--config")
        .arg(&config_path)
        .args(["serve", "--listen", "127.0.0.1:0"])
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
    (child, url, log_path)
}

/// SIGTERM at once (a graceful shutdown); returns the log.
async fn stop(child: Child, log_path: &Path) -> String {
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let mut child = child;
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());
    std::fs::read_to_string(log_path).unwrap()
}

/// The access log's lines.
fn access_lines(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.contains("cloakroom_server::access: request "))
        .collect()
}

async fn sign_in(http: &reqwest::Client, url: &str) -> String {
    let res = http
        .post(format!("{url}/auth/login"))
        .json(&serde_json::json!({ "username": "alice", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let set_cookie = res.headers()[SET_COOKIE].to_str().unwrap();
    set_cookie.split(';').next().unwrap().to_owned()
}

fn request_id(res: &reqwest::Response) -> String {
    res.headers()
        .get("x-request-id")
        .expect("every response carries X-Request-Id")
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn every_request_is_one_line_with_its_client_agent_and_id_and_none_is_lost_on_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let (child, url, log_path) = serve(dir.path(), "").await;
    let http = reqwest::Client::new();
    let cookie = sign_in(&http, &url).await;
    let secret = cookie.split_once('=').unwrap().1.to_owned();
    let mut ids = Vec::new();
    for n in 0..50 {
        let res = http
            .get(format!("{url}/auth/me"))
            .header(COOKIE, &cookie)
            .header(USER_AGENT, format!("probe/{n} \"quoted\""))
            // From a peer that is not a trusted proxy: ignored, a new ID is made.
            .header("x-request-id", "chosen-by-the-client")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let id = request_id(&res);
        assert_eq!(id.len(), 32, "{id}");
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
        ids.push(id);
    }
    // An error answer carries one too.
    let res = http
        .get(format!("{url}/no-such-page"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    ids.push(request_id(&res));
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 51, "request IDs are unique");
    // Stopped right after the last answer: the lines still queued must be written.
    let log = stop(child, &log_path).await;

    let lines = access_lines(&log);
    assert_eq!(
        lines.len(),
        52,
        "one line per request (sign-in, 50, 404):\n{log}"
    );
    for n in 0..50 {
        let line = lines
            .iter()
            .find(|l| l.contains(&format!("user_agent=\"probe/{n} \\\"quoted\\\"\"")))
            .unwrap_or_else(|| panic!("the line of request {n}:\n{log}"));
        assert!(line.contains(" route=/auth/me status=200 "), "{line}");
        assert!(line.contains(" client=127.0.0.1 "), "{line}");
        let id = line
            .split(" request_id=")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .unwrap();
        assert!(ids.binary_search(&id.to_owned()).is_ok(), "{line}");
    }
    assert!(!log.contains("chosen-by-the-client"), "{log}");
    assert!(log.contains(" route=unmatched status=404 "), "{log}");
    for leaked in [secret.as_str(), PASSWORD, "cloakroom_session"] {
        assert!(!log.contains(leaked), "{leaked:?} leaked into:\n{log}");
    }
}

#[tokio::test]
async fn a_trusted_proxy_names_the_client_and_the_request_id_if_it_is_a_sane_token() {
    let dir = tempfile::tempdir().unwrap();
    let (child, url, log_path) = serve(dir.path(), "trusted_proxies = [\"127.0.0.1\"]\n").await;
    let http = reqwest::Client::new();
    let via_proxy = |id: &str| {
        http.get(format!("{url}/healthz"))
            .header("x-forwarded-for", "198.51.100.7")
            .header("x-request-id", id)
            .send()
    };
    let res = via_proxy("Root=1-67891233-abc.def_0:9").await.unwrap();
    assert_eq!(request_id(&res), "Root=1-67891233-abc.def_0:9");
    let long = "a".repeat(65);
    for insane in ["two words", "semi;colon", "quote\"d", long.as_str()] {
        let res = via_proxy(insane).await.unwrap();
        let id = request_id(&res);
        assert_ne!(id, insane);
        assert_eq!(id.len(), 32, "a new one instead: {id}");
    }
    let log = stop(child, &log_path).await;
    let lines = access_lines(&log);
    assert_eq!(lines.len(), 5, "{log}");
    assert!(
        lines[0].contains(" client=198.51.100.7 request_id=Root=1-67891233-abc.def_0:9 "),
        "{log}"
    );
    for line in &lines[1..] {
        assert!(line.contains(" client=198.51.100.7 "), "{line}");
    }
    for insane in ["two words", "semi;colon", "quote"] {
        assert!(!log.contains(insane), "{insane:?} in:\n{log}");
    }
}

#[tokio::test]
async fn the_access_log_can_be_turned_off_and_the_id_is_still_sent() {
    let dir = tempfile::tempdir().unwrap();
    let (child, url, log_path) = serve(dir.path(), "[log]\nfilter = \"warn\"\n").await;
    let res = reqwest::get(format!("{url}/healthz")).await.unwrap();
    assert_eq!(request_id(&res).len(), 32);
    let log = stop(child, &log_path).await;
    assert!(access_lines(&log).is_empty(), "{log}");
}
