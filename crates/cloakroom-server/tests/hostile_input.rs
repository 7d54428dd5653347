//! Bad input of any kind gets a 4xx with a JSON error, never a 5xx, and the server stays
//! healthy.

mod common;

use common::{PASSWORD, Server, expect_error, settings};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, COOKIE, HeaderValue};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

async fn healthy(http: &common::Http) {
    let res = http.get("/healthz").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn malformed_cookies_are_simply_not_signed_in() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(settings(dir.path())).await;
    let http = server.http();
    let name = http.cookie_name.clone();
    let long = "A".repeat(4000);
    let values: Vec<HeaderValue> = vec![
        HeaderValue::from_str(&format!("{name}=garbage")).unwrap(),
        HeaderValue::from_str(&format!("{name}=")).unwrap(),
        HeaderValue::from_str(&name).unwrap(),
        HeaderValue::from_str(&format!("{name}={long}")).unwrap(),
        HeaderValue::from_str(&format!("{name}=\"quoted\"; {name}=again")).unwrap(),
        HeaderValue::from_str(&format!("{name}=%00%00; other=1")).unwrap(),
        HeaderValue::from_bytes(format!("{name}=\u{e9}\u{e9}").as_bytes()).unwrap(),
        HeaderValue::from_bytes(b"\xff\xfe=\xff").unwrap(),
        HeaderValue::from_static(";;;=;=="),
    ];
    for value in values {
        let res = http
            .get("/auth/me")
            .header(COOKIE, value.clone())
            .send()
            .await
            .unwrap();
        expect_error(res, StatusCode::UNAUTHORIZED, Some("unauthenticated")).await;
        let res = http
            .post("/auth/logout")
            .header(COOKIE, value)
            .send()
            .await
            .unwrap();
        assert!(
            res.status().is_success() || res.status().is_client_error(),
            "{}",
            res.status()
        );
    }
    healthy(&http).await;
    server.stop().await;
}

#[tokio::test]
async fn login_bodies_of_the_wrong_shape_or_type() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(settings(dir.path())).await;
    server.add_user("alice", &[]).await;
    let http = server.http();
    let json_cases: [(&str, StatusCode, &str); 9] = [
        ("{", StatusCode::BAD_REQUEST, "malformed_json"),
        ("", StatusCode::BAD_REQUEST, "malformed_json"),
        (
            "{\"username\": \"alice\", \"password\": \"x\u{0}y\"}",
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        ("[]", StatusCode::UNPROCESSABLE_ENTITY, "invalid_request"),
        ("null", StatusCode::UNPROCESSABLE_ENTITY, "invalid_request"),
        (
            "\"alice\"",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
        (
            "{\"username\": \"alice\"}",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
        (
            "{\"username\": 1, \"password\": 2}",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
        (
            "{\"username\": [\"alice\"], \"password\": {}}",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
    ];
    for (body, status, code) in json_cases {
        let res = http
            .post("/auth/login")
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let shown = expect_error(res, status, Some(code)).await;
        assert!(!shown.to_string().contains(PASSWORD));
    }
    let body = format!("{{\"username\":\"alice\",\"password\":\"{PASSWORD}\"}}");
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let mut req = http.post("/auth/login").body(body.clone());
        if let Some(ct) = content_type {
            req = req.header(CONTENT_TYPE, ct);
        }
        let res = req.send().await.unwrap();
        expect_error(
            res,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Some("unsupported_media_type"),
        )
        .await;
    }
    // Escaped NUL bytes are valid JSON, and match nobody.
    let res = http.login_response("ali\u{0}ce", PASSWORD).await;
    expect_error(res, StatusCode::UNAUTHORIZED, Some("invalid_credentials")).await;
    let res = http.login_response("alice", "pass\u{0}word").await;
    expect_error(res, StatusCode::UNAUTHORIZED, Some("invalid_credentials")).await;
    // Over the password policy's byte bound: refused before hashing.
    let res = http.login_response("alice", &"p".repeat(5000)).await;
    expect_error(res, StatusCode::BAD_REQUEST, Some("password_too_long")).await;
    healthy(&http).await;
    server.stop().await;
}

#[tokio::test]
async fn huge_bodies_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(settings(dir.path())).await;
    let http = server.http();
    // Over the limit several times, yet small enough for loopback socket buffers: the client
    // finishes writing before it reads the early 413, whatever the machine's speed.
    let huge = format!(
        "{{\"username\":\"{}\",\"password\":\"x\"}}",
        "a".repeat(100 * 1024)
    );
    for path in ["/auth/login", "/auth/logout", "/nowhere"] {
        let res = http
            .post(path)
            .header(CONTENT_TYPE, "application/json")
            .body(huge.clone())
            .send()
            .await
            .unwrap();
        expect_error(
            res,
            StatusCode::PAYLOAD_TOO_LARGE,
            Some("payload_too_large"),
        )
        .await;
    }

    // Without a Content-Length (chunked), the limit applies as the body is read.
    let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "POST /auth/login HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        server.addr
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![b'a'; 8192];
    for _ in 0..4 {
        let sent = async {
            tcp.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                .await?;
            tcp.write_all(&chunk).await?;
            tcp.write_all(b"\r\n").await
        };
        if sent.await.is_err() {
            break; // the server may answer and close before reading everything
        }
    }
    let _ = tcp.write_all(b"0\r\n\r\n").await;
    let mut answer = String::new();
    let _ = tcp.read_to_string(&mut answer).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("payload_too_large"), "{answer}");
    healthy(&http).await;
    server.stop().await;
}

#[tokio::test]
async fn unknown_routes_methods_and_paths_get_json_errors() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(settings(dir.path())).await;
    server.add_user("alice", &[]).await;
    let http = server.http();
    let res = http.get("/nowhere?secret=1").send().await.unwrap();
    expect_error(res, StatusCode::NOT_FOUND, Some("not_found")).await;
    let res = http.get("/auth/login").send().await.unwrap();
    let allow = res.headers().get("allow").cloned();
    expect_error(
        res,
        StatusCode::METHOD_NOT_ALLOWED,
        Some("method_not_allowed"),
    )
    .await;
    assert_eq!(allow.as_ref().and_then(|v| v.to_str().ok()), Some("POST"));
    let res = http
        .client
        .put(format!("{}/healthz", http.url))
        .send()
        .await
        .unwrap();
    expect_error(res, StatusCode::METHOD_NOT_ALLOWED, None).await;

    let cookie = http.login("alice").await;
    // Percent-encoding that is not UTF-8 fails axum's path extractor.
    let res = http
        .with_cookie(http.delete("/auth/sessions/%FF%FE"), &cookie)
        .send()
        .await
        .unwrap();
    let status = res.status();
    assert!(status.is_client_error(), "{status}");
    expect_error(res, status, None).await;

    // A raw NUL in the request line or a header: hyper refuses it before any handler.
    let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(
        b"GET /auth/me HTTP/1.1\r\nHost: x\r\nCookie: a=\0b\r\nConnection: close\r\n\r\n",
    )
    .await
    .unwrap();
    let mut answer = String::new();
    let _ = tcp.read_to_string(&mut answer).await;
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 4"),
        "{answer}"
    );
    healthy(&http).await;
    server.stop().await;
}
