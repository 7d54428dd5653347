//! What one client can make the server hold: the size of a request's head (431), the time it
//! may take to send it (slowloris), the number of connections at once (503 past the cap), a
//! bearer token's length, and JSON's depth. And a shutdown lets requests in flight finish.

mod common;

use std::time::{Duration, Instant};

use cloakroom_server::settings::{Mode, Settings};
use common::{PASSWORD, Server, expect_error, settings_in};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, RETRY_AFTER};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// Everything the server sends on `tcp` until it closes it (or `limit` passes).
async fn read_all(tcp: &mut TcpStream, limit: Duration) -> String {
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(limit, tcp.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

async fn healthy(server: &Server) {
    // A fresh client each time: a pooled connection would hold one of the few slots.
    let res = reqwest::Client::new()
        .get(format!("{}/healthz", server.url))
        .header("connection", "close")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn oversized_heads_get_431() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(settings_in(dir.path(), Mode::Session)).await;
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(20 * 1024)
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    let answer = read_all(&mut tcp, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    // Just under the bound is fine.
    let res = reqwest::Client::new()
        .get(format!("{}/healthz", server.url))
        .header("x-big", "a".repeat(15 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    server.stop().await;
}

fn slow(dir: &std::path::Path) -> Settings {
    let mut s = settings_in(dir, Mode::Session);
    s.limits.header_read_timeout = Duration::from_secs(1);
    s
}

#[tokio::test]
async fn a_client_sending_its_head_byte_by_byte_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(slow(dir.path())).await;
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    let start = Instant::now();
    let head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ".to_vec();
    let mut closed = false;
    // Far longer than the timeout: one byte every 100 ms for up to 10 s.
    for byte in head.iter().chain(std::iter::repeat(&b'a')).take(100) {
        if tcp.write_all(&[*byte]).await.is_err() {
            closed = true;
            break;
        }
        let mut buf = [0u8; 256];
        match tokio::time::timeout(Duration::from_millis(100), tcp.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => {
                closed = true;
                break;
            }
            Ok(Ok(n)) => {
                let answer = String::from_utf8_lossy(&buf[..n]).into_owned();
                assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
                closed = true;
                break;
            }
            Err(_) => {} // nothing yet
        }
    }
    let took = start.elapsed();
    assert!(closed, "still open after {took:?}");
    assert!(
        took < Duration::from_millis(2500),
        "closed only after {took:?}"
    );
    healthy(&server).await;
    server.stop().await;
}

#[tokio::test]
async fn an_idle_connection_is_closed_after_the_header_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(slow(dir.path())).await;
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    let start = Instant::now();
    let _ = read_all(&mut tcp, Duration::from_secs(5)).await;
    let took = start.elapsed();
    assert!(
        took < Duration::from_millis(2500),
        "closed only after {took:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn connections_past_the_cap_get_503_and_the_slots_come_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = settings_in(dir.path(), Mode::Session);
    settings.limits.max_connections = 2;
    let server = Server::start(settings).await;
    let first = TcpStream::connect(server.addr).await.unwrap();
    let second = TcpStream::connect(server.addr).await.unwrap();
    // Let the server take both before the third arrives.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let res = reqwest::Client::new()
        .get(format!("{}/healthz", server.url))
        .send()
        .await
        .expect("an answer, not a hang or a reset");
    let retry = res.headers().get(RETRY_AFTER).cloned();
    expect_error(
        res,
        StatusCode::SERVICE_UNAVAILABLE,
        Some("too_many_connections"),
    )
    .await;
    assert_eq!(retry.unwrap(), "1");
    drop(first);
    drop(second);
    tokio::time::sleep(Duration::from_millis(200)).await;
    healthy(&server).await;
    server.stop().await;
}

/// One client holding its share of connections with slow heads cannot take every slot
/// (issue 12, item 9): its next connection gets 503, another client is still served.
#[tokio::test]
async fn one_client_cannot_hold_every_connection() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = settings_in(dir.path(), Mode::Session);
    settings.limits.max_connections = 16;
    settings.limits.max_connections_per_client = 2;
    let server = Server::start(settings).await;
    let from = |ip: &str| {
        let ip: std::net::IpAddr = ip.parse().unwrap();
        async move {
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.bind((ip, 0).into()).unwrap();
            socket.connect(server.addr).await.unwrap()
        }
    };
    // Two connections from 127.0.0.2 that never finish their request heads.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut tcp = from("127.0.0.2").await;
        tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        held.push(tcp);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut third = from("127.0.0.2").await;
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let answer = read_all(&mut third, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("too_many_connections"), "{answer}");
    // Anyone else is served meanwhile.
    let mut other = from("127.0.0.3").await;
    other
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let answer = read_all(&mut other, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    drop(held);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut again = from("127.0.0.2").await;
    again
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let answer = read_all(&mut again, Duration::from_secs(5)).await;
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "the slots come back: {answer}"
    );
    server.stop().await;
}

#[tokio::test]
async fn overlong_bearer_tokens_are_refused_unread() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(settings_in(dir.path(), Mode::Jwt)).await;
    let http = server.http();
    // Three well-formed parts, 9 KiB in all: refused on length alone.
    let part = "A".repeat(3 * 1024);
    let token = format!("{part}.{part}.{part}");
    let res = http
        .with_bearer(http.get("/auth/me"), &token)
        .send()
        .await
        .unwrap();
    let challenge = res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.starts_with("Bearer error=\"invalid_token\""),
        "{challenge}"
    );
    let body = expect_error(res, StatusCode::UNAUTHORIZED, Some("invalid_token")).await;
    assert!(!body.to_string().contains(&part), "{body}");
    server.stop().await;
}

#[tokio::test]
async fn deeply_nested_json_is_a_clear_400() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(settings_in(dir.path(), Mode::Hybrid)).await;
    server.add_user("alice", &[]).await;
    let http = server.http();
    let depth = 6000; // 12 KB: inside the body limit, far past serde_json's recursion limit
    let deep = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let in_field = format!(
        "{{\"username\":{}1{},\"password\":\"x\"}}",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    for (path, body) in [
        ("/auth/login", &deep),
        ("/auth/login", &in_field),
        ("/auth/refresh", &deep),
    ] {
        let res = http
            .post(path)
            .header(CONTENT_TYPE, "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        let status = res.status();
        assert!(
            status == StatusCode::BAD_REQUEST || status == StatusCode::UNPROCESSABLE_ENTITY,
            "{path}: {status}"
        );
        expect_error(res, status, None).await;
    }
    let res = http.login_response("alice", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK, "still serving");
    server.stop().await;
}

#[tokio::test]
async fn shutting_down_finishes_the_requests_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(settings_in(dir.path(), Mode::Session)).await;
    server.add_user("alice", &[]).await;
    let addr = server.addr;
    let body = format!("{{\"username\":\"alice\",\"password\":\"{PASSWORD}\"}}");
    let (first, rest) = body.split_at(10);
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /auth/login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{first}",
        body.len()
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stopping = tokio::spawn(server.stop());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!stopping.is_finished(), "a request is still in flight");
    // No new connections once shutdown has begun.
    assert!(
        reqwest::Client::new()
            .get(format!("http://{addr}/healthz"))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .is_err()
    );
    tcp.write_all(rest.as_bytes()).await.unwrap();
    let answer = read_all(&mut tcp, Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    tokio::time::timeout(Duration::from_secs(10), stopping)
        .await
        .expect("shutdown completes")
        .unwrap();
}
