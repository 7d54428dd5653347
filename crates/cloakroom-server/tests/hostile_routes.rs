//! Every route of the OpenAPI document (so a new route is covered the day it is described), in
//! every mode, signed in, against a table of hostile requests: wrong types, missing fields, NUL
//! bytes, huge strings, deeply nested JSON, broken UTF-8, wrong content types, absurd headers.
//! Malformed bodies must get a 4xx; nothing may get a 5xx; every error is JSON; and the server
//! is healthy afterwards. Operations tagged `pages` (the HTML pages) get only the made-up
//! method here; tests/pages.rs covers their forms.

mod common;
mod hostile;

use std::time::Duration;

use cloakroom_server::settings::Mode;
use common::{Http, Server, expect_error, settings_in};
use hostile::{BodyKind, Expect, cases, fields};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, HeaderName};
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// The credential of a signed-in admin, as one request header.
async fn credential(http: &Http, mode: Mode) -> (HeaderName, String) {
    if mode.uses_tokens() {
        let tokens = http.login_tokens("alice").await;
        (AUTHORIZATION, format!("Bearer {}", tokens.access))
    } else {
        let cookie = http.login("alice").await;
        (COOKIE, format!("{}={cookie}", http.cookie_name))
    }
}

async fn check(res: reqwest::Response, expect: Expect, what: &str) {
    let status = res.status();
    assert!(!status.is_server_error(), "{what}: {status}");
    if expect == Expect::ClientError {
        assert!(status.is_client_error(), "{what}: {status}");
    }
    if status.is_client_error() {
        let content_type = res
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(
            content_type.starts_with("application/json"),
            "{what}: {content_type}"
        );
        let body: Value = res.json().await.unwrap_or(Value::Null);
        assert!(
            body["error"].is_string() && body["message"].is_string(),
            "{what}: {body}"
        );
    }
}

async fn every_route_in(mode: Mode) {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = settings_in(dir.path(), mode);
    // The bad sign-ins of the table (wrong passwords among them) would lock out this client
    // address and then alice's own sign-in: this table is about parsing, and the throttle has
    // its own tests (tests/brute_force.rs).
    settings.login.max_failures = u32::MAX;
    let server = Server::start(settings).await;
    server.add_user("alice", &["admin"]).await;
    let http = server.http();
    let doc: Value = http
        .get("/openapi.json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut tried = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap();
            let content = &op["requestBody"]["content"];
            let kind = if content.get("application/json").is_some() {
                BodyKind::Json
            } else if content.get("application/x-www-form-urlencoded").is_some() {
                BodyKind::Form
            } else {
                BodyKind::None
            };
            let media = match kind {
                BodyKind::Form => "application/x-www-form-urlencoded",
                _ => "application/json",
            };
            let fields = fields(&doc, op, media);
            // Paths with a parameter get a plausible one and some hostile ones.
            let urls: Vec<String> = if path.contains('{') {
                ["x", "%00", "%FF%FE", "..%2F..%2Fhealthz", &"a".repeat(5000)]
                    .iter()
                    .map(|id| path.replace("{id}", id))
                    .collect()
            } else {
                vec![path.clone()]
            };
            // The HTML pages are for browsers: their forms carry a CSRF token, so these cases
            // would stop at the CSRF check, and their errors are HTML pages, not JSON. They have
            // their own CSRF and hostile-input tests in tests/pages.rs.
            let is_page = op["tags"]
                .as_array()
                .is_some_and(|tags| tags.iter().any(|t| t == "pages"));
            let urls = if is_page { Vec::new() } else { urls };
            for url in urls {
                for c in cases(kind, &fields) {
                    let (name, value) = credential(&http, mode).await;
                    let mut req = http
                        .client
                        .request(method.clone(), format!("{}{url}", http.url))
                        .header(name.clone(), value)
                        .body(c.body.clone());
                    if let Some(ct) = &c.content_type {
                        req = req.header(CONTENT_TYPE, ct);
                    }
                    for (h, v) in &c.headers {
                        req = req.header(h.clone(), v.clone());
                    }
                    let what = format!("{mode:?} {method} {url}: {}", c.name);
                    let res = req.send().await.unwrap_or_else(|e| panic!("{what}: {e}"));
                    check(res, c.expect, &what).await;
                    tried += 1;
                    if url.contains("logout") {
                        // The server's clock stands still; a person cannot sign out everywhere
                        // dozens of times within one second (each pushes the user's cut-off).
                        server.clock.advance(Duration::from_secs(2));
                    }
                }
            }
            // A made-up method on every path.
            let res = http
                .client
                .request(
                    Method::from_bytes(b"FROB").unwrap(),
                    format!("{}{path}", http.url),
                )
                .send()
                .await
                .unwrap();
            expect_error(
                res,
                StatusCode::METHOD_NOT_ALLOWED,
                Some("method_not_allowed"),
            )
            .await;
        }
    }
    assert!(tried > 400, "only {tried} requests");

    let res = http.get("/healthz").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let (name, value) = credential(&http, mode).await;
    let res = http
        .get("/auth/me")
        .header(name, value)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{mode:?}: signed in after it all"
    );
    server.stop().await;
}

#[tokio::test]
async fn every_route_in_session_mode() {
    every_route_in(Mode::Session).await;
}

#[tokio::test]
async fn every_route_in_jwt_mode() {
    every_route_in(Mode::Jwt).await;
}

#[tokio::test]
async fn every_route_in_hybrid_mode() {
    every_route_in(Mode::Hybrid).await;
}

/// Past 100 headers hyper answers 431 itself, without a body (axum's `serve` cannot change
/// that): a refusal all the same, and the server carries on.
#[tokio::test]
async fn too_many_headers_are_refused_by_hyper() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(settings_in(dir.path(), Mode::Session)).await;
    let http = server.http();
    let mut req = http.get("/healthz");
    for i in 0..120 {
        req = req.header(format!("x-junk-{i}"), "junk");
    }
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    let res = http.get("/healthz").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    server.stop().await;
}
