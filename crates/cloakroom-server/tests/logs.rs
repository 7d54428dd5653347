//! The server's logs: one line per request with the matched route, and never a password, a
//! cookie, a token, a query string or a body, at any level, from any crate.

mod common;

use std::fs::File;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::PASSWORD;
use common::bin::{cloakroom, text, user};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, SET_COOKIE};
use serde_json::Value;

const WRONG: &str = "hunter2-wrong-password";

/// `cloakroom serve` in `mode`, logging with `filter` to a file; its URL and the log's path.
async fn serve(dir: &Path, mode: &str, filter: &str) -> (Child, String, PathBuf) {
    let out = user(dir, &["add", "alice", "--password-stdin"], PASSWORD);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let log_path = dir.join("server.log");
    let mut child = cloakroom(dir)
        .args(["serve", "--listen", "127.0.0.1:0", "--mode", mode])
        .env("CLOAKROOM_LOG__FILTER", filter)
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

/// Stops the server with SIGTERM; returns its log.
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

fn login(http: &reqwest::Client, url: &str, password: &str) -> reqwest::RequestBuilder {
    http.post(format!("{url}/auth/login"))
        .json(&serde_json::json!({ "username": "alice", "password": password }))
}

/// The `name=value` pair of the cookie `name` that `res` sets.
fn cookie_pair(res: &reqwest::Response, name: &str) -> String {
    res.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .and_then(|v| v.split(';').next())
        .expect("the cookie")
        .to_owned()
}

/// A secret and its obvious encodings: base64 (both alphabets), percent-encoding, and, for a
/// base64url secret, the hex of its bytes.
fn encodings(secret: &str) -> Vec<String> {
    let mut out = vec![
        secret.to_owned(),
        STANDARD.encode(secret),
        URL_SAFE_NO_PAD.encode(secret),
        secret.replace(' ', "%20").replace('+', "%2B"),
        secret.replace(' ', "+"),
    ];
    if let Ok(bytes) = URL_SAFE_NO_PAD.decode(secret) {
        out.push(bytes.iter().map(|b| format!("{b:02x}")).collect());
    }
    out
}

/// Fails if any of `secrets` (in any encoding) appears in `text`.
fn assert_absent(what: &str, text: &str, secrets: &[String]) {
    for secret in secrets {
        for form in encodings(secret) {
            assert!(
                !text.contains(&form),
                "{form:?} (a form of a secret) leaked into the {what}:\n{text}"
            );
        }
    }
}

#[tokio::test]
async fn logs_name_routes_and_never_carry_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let (child, url, log_path) = serve(
        dir.path(),
        "session",
        "info,cloakroom=trace,cloakroom_axum=trace,cloakroom_server=trace",
    )
    .await;
    let http = reqwest::Client::new();
    let res = login(&http, &url, WRONG).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = login(&http, &url, PASSWORD).send().await.unwrap();
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
    let log = stop(child, &log_path).await;

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

/// Session mode at `trace` everywhere: sign in (wrongly, then rightly), use the cookie, sign
/// out, use it again. Returns the secrets seen and the bodies of the errors.
async fn session_walk(http: &reqwest::Client, url: &str) -> (Vec<String>, String) {
    let mut errors = String::new();
    let res = login(http, url, WRONG).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    errors += &res.text().await.unwrap();
    let res = login(http, url, PASSWORD).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let pair = cookie_pair(&res, "cloakroom_session");
    let me = || http.get(format!("{url}/auth/me")).header(COOKIE, &pair);
    assert_eq!(me().send().await.unwrap().status(), StatusCode::OK);
    let res = http
        .post(format!("{url}/auth/logout"))
        .header(COOKIE, &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = me().send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    errors += &res.text().await.unwrap();
    let secret = pair.split_once('=').unwrap().1.to_owned();
    (vec![secret], errors)
}

async fn tokens(res: reqwest::Response) -> (String, String, String) {
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = cookie_pair(&res, "cloakroom_refresh");
    let body: Value = res.json().await.unwrap();
    let access = body["access_token"].as_str().unwrap().to_owned();
    let refresh = body["refresh_token"].as_str().unwrap().to_owned();
    (access, refresh, cookie)
}

/// Hybrid mode at `trace` everywhere: sign in, use the access token, refresh (by body and by
/// cookie), replay a spent refresh token, sign out, use the token again.
async fn hybrid_walk(http: &reqwest::Client, url: &str) -> (Vec<String>, String) {
    let mut errors = String::new();
    let mut secrets = Vec::new();
    let res = login(http, url, WRONG).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    errors += &res.text().await.unwrap();
    let (access, refresh, _) = tokens(login(http, url, PASSWORD).send().await.unwrap()).await;
    let me = |token: &str| http.get(format!("{url}/auth/me")).bearer_auth(token).send();
    assert_eq!(me(&access).await.unwrap().status(), StatusCode::OK);
    let refresh_body = |token: &str| {
        http.post(format!("{url}/auth/refresh"))
            .json(&serde_json::json!({ "refresh_token": token }))
            .send()
    };
    let (access2, refresh2, cookie2) = tokens(refresh_body(&refresh).await.unwrap()).await;
    let res = http
        .post(format!("{url}/auth/refresh"))
        .header(COOKIE, &cookie2)
        .send()
        .await
        .unwrap();
    let (access3, refresh3, _) = tokens(res).await;
    // The first refresh token again: reuse, and the session is revoked.
    let res = refresh_body(&refresh).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    errors += &res.text().await.unwrap();
    let (access4, refresh4, _) = tokens(login(http, url, PASSWORD).send().await.unwrap()).await;
    let res = http
        .post(format!("{url}/auth/logout"))
        .bearer_auth(&access4)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = me(&access4).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    errors += res.headers()["www-authenticate"].to_str().unwrap();
    errors += &res.text().await.unwrap();
    for token in [&access, &access2, &access3, &access4] {
        secrets.push(token.clone());
        // The signature alone is what makes a token; the header and claims are not secret.
        secrets.push(token.rsplit('.').next().unwrap().to_owned());
    }
    secrets.extend([refresh, refresh2, refresh3, refresh4]);
    (secrets, errors)
}

#[tokio::test]
async fn trace_logs_of_every_crate_carry_no_secret() {
    for mode in ["session", "hybrid"] {
        let dir = tempfile::tempdir().unwrap();
        let (child, url, log_path) = serve(dir.path(), mode, "trace").await;
        let http = reqwest::Client::new();
        let (mut secrets, errors) = match mode {
            "session" => session_walk(&http, &url).await,
            _ => hybrid_walk(&http, &url).await,
        };
        let log = stop(child, &log_path).await;
        // The filter reached the dependencies: sqlx logs every statement at debug.
        assert!(log.contains("DEBUG sqlx"), "{mode}: verbose logs:\n{log}");
        secrets.push(PASSWORD.to_owned());
        secrets.push(WRONG.to_owned());
        assert_absent(&format!("{mode} log"), &log, &secrets);
        assert_absent(&format!("{mode} error bodies"), &errors, &secrets);
    }
}
