//! Three `cloakroom serve` processes sharing Redis (sessions, deny-list, bus) and PostgreSQL
//! (users, keys): a sign-in on one node holds on the others, a logout on one reaches the
//! others within milliseconds, a node cut off from Redis catches up when it reconnects, a
//! Redis restart is survived, and a killed node rejoins with the current deny-list.

mod common;

use std::path::Path;
use std::time::Duration;

use common::cluster::{
    Node, OwnRedis, Proxy, add_user, drop_schema, services_available, unique_name, wait_for,
    write_config,
};
use common::{PASSWORD, Tokens, expect_error};
use reqwest::StatusCode;
use serde_json::Value;

/// Long enough for anything that should take milliseconds, on a loaded CI machine.
const SOON: Duration = Duration::from_secs(5);

async fn logout(node: &Node, tokens: &Tokens) {
    let res = node
        .http
        .with_bearer(node.http.post("/auth/logout"), &tokens.access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
}

async fn ready(node: &Node) -> StatusCode {
    match node.http.get("/readyz").send().await {
        Ok(res) => res.status(),
        Err(_) => StatusCode::BAD_GATEWAY,
    }
}

/// Node `i` of three, each behind its own proxy to Redis.
async fn start_nodes(dir: &Path, shared: &str, proxies: &[Proxy], extra: &str) -> Vec<Node> {
    let mut nodes = Vec::new();
    for (i, proxy) in proxies.iter().enumerate() {
        let url = format!("redis://{}", proxy.addr);
        let config = write_config(dir, &format!("node{i}"), shared, &url, extra);
        if i == 0 {
            add_user(dir, &config, "alice", PASSWORD);
        }
        nodes.push(Node::start(dir, &config).await);
    }
    nodes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hybrid_on_three_nodes_survives_partitions_and_a_redis_restart() {
    if !services_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let shared = unique_name("nodes");
    let mut redis = OwnRedis::start(dir.path());
    let upstream = format!("127.0.0.1:{}", redis.port).parse().unwrap();
    let proxies = [
        Proxy::start(upstream).await,
        Proxy::start(upstream).await,
        Proxy::start(upstream).await,
    ];
    let nodes = start_nodes(dir.path(), &shared, &proxies, "mode = \"hybrid\"").await;
    let (a, b, c) = (&nodes[0], &nodes[1], &nodes[2]);
    for node in &nodes {
        let body: Value = node
            .http
            .get("/readyz")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(body["stores"]["users"], "postgres", "{body}");
        assert_eq!(body["stores"]["sessions"], "redis", "{body}");
        assert_eq!(body["stores"]["bus"], "redis", "{body}");
    }

    // Sign in on A; B and C accept the token; a logout on A reaches both.
    let tokens = a.http.login_tokens("alice").await;
    for node in [b, c] {
        assert_eq!(
            node.http.me_bearer_status(&tokens.access).await,
            StatusCode::OK
        );
    }
    logout(a, &tokens).await;
    for node in [b, c] {
        wait_for(SOON, StatusCode::UNAUTHORIZED, || {
            node.http.me_bearer_status(&tokens.access)
        })
        .await;
    }
    // The refresh session is gone for everyone, too.
    let res = b.http.refresh_response(tokens.refresh()).await;
    expect_error(res, StatusCode::UNAUTHORIZED, None).await;

    // C is cut off Redis; a logout on A meanwhile reaches B, and reaches C once it is back.
    let tokens = a.http.login_tokens("alice").await;
    assert_eq!(
        c.http.me_bearer_status(&tokens.access).await,
        StatusCode::OK
    );
    proxies[2].cut().await;
    wait_for(SOON, StatusCode::SERVICE_UNAVAILABLE, || ready(c)).await;
    logout(a, &tokens).await;
    wait_for(SOON, StatusCode::UNAUTHORIZED, || {
        b.http.me_bearer_status(&tokens.access)
    })
    .await;
    // Cut off, C cannot refresh anyone (fail closed: 503, never a new pair)…
    let other = b.http.login_tokens("alice").await;
    let res = c.http.refresh_response(other.refresh()).await;
    expect_error(
        res,
        StatusCode::SERVICE_UNAVAILABLE,
        Some("store_unavailable"),
    )
    .await;
    proxies[2].heal().await;
    // …and once reconnected it reloads what it missed.
    wait_for(Duration::from_secs(15), StatusCode::UNAUTHORIZED, || {
        c.http.me_bearer_status(&tokens.access)
    })
    .await;
    wait_for(SOON, StatusCode::OK, || ready(c)).await;

    // Redis itself restarts: every node says so, then reconnects by itself, and nothing that
    // was revoked or signed in before comes back wrong.
    let before = a.http.login_tokens("alice").await;
    redis.kill();
    for node in &nodes {
        wait_for(SOON, StatusCode::SERVICE_UNAVAILABLE, || ready(node)).await;
    }
    let res = a.http.login_response("alice", PASSWORD).await;
    expect_error(
        res,
        StatusCode::SERVICE_UNAVAILABLE,
        Some("store_unavailable"),
    )
    .await;
    redis.restart();
    for node in &nodes {
        wait_for(Duration::from_secs(20), StatusCode::OK, || ready(node)).await;
    }
    assert_eq!(
        c.http.me_bearer_status(&tokens.access).await,
        StatusCode::UNAUTHORIZED,
        "a revocation from before the restart still holds"
    );
    let res = c.http.refresh_response(before.refresh()).await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "the refresh session outlived the restart"
    );
    let after = Tokens::from_response(res).await;
    logout(c, &after).await;
    for node in [a, b] {
        wait_for(SOON, StatusCode::UNAUTHORIZED, || {
            node.http.me_bearer_status(&after.access)
        })
        .await;
    }
    drop(nodes);
    drop_schema(&shared);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_node_rejoins_with_the_current_deny_list() {
    if !services_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let shared = unique_name("rejoin");
    let redis = OwnRedis::start(dir.path());
    let url = redis.url();
    let config = write_config(dir.path(), "node", &shared, &url, "mode = \"hybrid\"");
    add_user(dir.path(), &config, "alice", PASSWORD);
    let a = Node::start(dir.path(), &config).await;
    let mut b = Node::start(dir.path(), &config).await;

    let tokens = a.http.login_tokens("alice").await;
    assert_eq!(
        b.http.me_bearer_status(&tokens.access).await,
        StatusCode::OK
    );
    b.kill();
    logout(&a, &tokens).await;
    let b = Node::start(dir.path(), &config).await;
    assert_eq!(
        b.http.me_bearer_status(&tokens.access).await,
        StatusCode::UNAUTHORIZED
    );
    drop((a, b));
    drop_schema(&shared);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_mode_on_redis_with_a_near_cache_logs_out_everywhere_at_once() {
    if !services_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let shared = unique_name("near");
    let redis = OwnRedis::start(dir.path());
    let upstream = format!("127.0.0.1:{}", redis.port).parse().unwrap();
    let proxies = [
        Proxy::start(upstream).await,
        Proxy::start(upstream).await,
        Proxy::start(upstream).await,
    ];
    // A cache far longer than the test waits: only the bus can explain a quick 401.
    let extra = "mode = \"session\"\n[session]\nnear_cache = \"30s\"";
    let nodes = start_nodes(dir.path(), &shared, &proxies, extra).await;
    let (a, b, c) = (&nodes[0], &nodes[1], &nodes[2]);

    let cookie = a.http.login("alice").await;
    for node in [b, c] {
        // Twice: the second answer comes from the node's near-cache.
        assert_eq!(node.http.me_status(&cookie).await, StatusCode::OK);
        assert_eq!(node.http.me_status(&cookie).await, StatusCode::OK);
    }
    let res = a
        .http
        .with_cookie(a.http.post("/auth/logout"), &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    for node in [b, c] {
        let took = wait_for(SOON, StatusCode::UNAUTHORIZED, || {
            node.http.me_status(&cookie)
        })
        .await;
        assert!(took < Duration::from_secs(2), "took {took:?}");
    }

    // With Redis gone, a session that is not in a node's cache fails closed.
    let fresh = a.http.login("alice").await;
    proxies[1].cut().await;
    let res = b
        .http
        .with_cookie(b.http.get("/auth/me"), &fresh)
        .send()
        .await
        .unwrap();
    expect_error(
        res,
        StatusCode::SERVICE_UNAVAILABLE,
        Some("store_unavailable"),
    )
    .await;
    proxies[1].heal().await;
    wait_for(Duration::from_secs(15), StatusCode::OK, || {
        b.http.me_status(&fresh)
    })
    .await;
    drop(nodes);
    drop_schema(&shared);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_sign_ins_are_counted_across_nodes() {
    if !services_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let shared = unique_name("throttle");
    let redis = OwnRedis::start(dir.path());
    let url = redis.url();
    let extra = "mode = \"hybrid\"\n[login]\nmax_failures = 3";
    let config = write_config(dir.path(), "node", &shared, &url, extra);
    add_user(dir.path(), &config, "alice", PASSWORD);
    let nodes = [
        Node::start(dir.path(), &config).await,
        Node::start(dir.path(), &config).await,
        Node::start(dir.path(), &config).await,
    ];
    // One wrong guess on each node: three in all, the limit.
    for node in &nodes {
        let res = node.http.login_response("alice", "not the password").await;
        expect_error(res, StatusCode::UNAUTHORIZED, Some("invalid_credentials")).await;
    }
    // Every node now refuses, even the right password, without checking it.
    for node in &nodes {
        let res = node.http.login_response("alice", PASSWORD).await;
        assert!(res.headers().contains_key("retry-after"));
        expect_error(
            res,
            StatusCode::TOO_MANY_REQUESTS,
            Some("too_many_attempts"),
        )
        .await;
    }
    drop(nodes);
    drop_schema(&shared);
}
