//! The sign-in throttle shared by three `cloakroom serve` processes: failed sign-ins spread
//! over the nodes count as one account's failures, so the 429 comes by the same try as on one
//! node, on PostgreSQL alone (no Redis) and on Redis; the owner elsewhere still gets in on
//! every node. And with the database out of reach the sign-in fails closed: 503, never a
//! success, until the database answers again.

mod common;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::cluster::{
    Node, OwnRedis, POSTGRES_URL, Proxy, add_user, drop_schema, services_available, unique_name,
    wait_for, write_config,
};
use common::{Http, PASSWORD, expect_error};
use reqwest::StatusCode;

const WRONG: &str = "not the password at all";
/// The most tries any of these tests expects before a 429.
const TRIES: usize = 10;

/// `node`'s client, connecting from `ip` (any of 127.0.0.0/8 reaches the node).
fn from(node: &Node, ip: &str) -> Http {
    let local: IpAddr = ip.parse().expect("an address");
    Http {
        client: reqwest::Client::builder()
            .local_address(local)
            .build()
            .expect("a client"),
        ..node.http.clone()
    }
}

/// Wrong passwords for `user` from `ip`, round-robin over `nodes`: the try (counting from 1)
/// that first answers 429. Every try before it answers 401.
async fn first_refusal(nodes: &[&Node], user: &str, ip: &str) -> usize {
    for try_ in 1..=TRIES {
        let node = nodes[(try_ - 1) % nodes.len()];
        let res = from(node, ip).login_response(user, WRONG).await;
        match res.status() {
            StatusCode::TOO_MANY_REQUESTS => return try_,
            StatusCode::UNAUTHORIZED => {}
            other => panic!("try {try_} on {}: {other}", node.url),
        }
    }
    panic!("no 429 in {TRIES} tries at {user}");
}

async fn failures_on_three_nodes_count_as_one_accounts(nodes: &[Node]) {
    let all: Vec<&Node> = nodes.iter().collect();
    let alone = first_refusal(&all[..1], "solo", "127.0.0.2").await;
    let spread = first_refusal(&all, "alice", "127.0.0.3").await;
    assert_eq!(alone, 6, "on one node, the try after login.max_failures");
    assert_eq!(spread, alone, "three nodes give no more tries than one");
    for node in nodes {
        // The owner, elsewhere, gets in on every node…
        let res = from(node, "127.0.0.4")
            .login_response("alice", PASSWORD)
            .await;
        assert_eq!(res.status(), StatusCode::OK, "{}", node.url);
        // …while the guesser stays locked out everywhere, even with the right password.
        let res = from(node, "127.0.0.3")
            .login_response("alice", PASSWORD)
            .await;
        expect_error(
            res,
            StatusCode::TOO_MANY_REQUESTS,
            Some("too_many_attempts"),
        )
        .await;
    }
}

/// A config for a node on PostgreSQL alone, through `database`.
fn postgres_only_config(dir: &Path, name: &str, schema: &str, database: &str) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    let text = format!(
        "database_url = \"{database}\"\n\
         session_store = \"postgres\"\n\
         insecure_fast_hashing_for_tests = true\n\
         [postgres]\nschema = \"{schema}\"\nmax_connections = 4\nacquire_timeout = \"1s\"\n"
    );
    std::fs::write(&path, text).expect("write config");
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_sign_ins_over_three_nodes_on_postgres_alone_count_as_one() {
    if !services_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let schema = unique_name("throttle_pg");
    let mut nodes = Vec::new();
    for i in 0..3 {
        let config = postgres_only_config(dir.path(), &format!("node{i}"), &schema, POSTGRES_URL);
        if i == 0 {
            add_user(dir.path(), &config, "alice", PASSWORD);
        }
        nodes.push(Node::start(dir.path(), &config).await);
    }
    failures_on_three_nodes_count_as_one_accounts(&nodes).await;
    drop(nodes);
    drop_schema(&schema);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_sign_ins_over_three_nodes_on_redis_count_as_one() {
    if !services_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let shared = unique_name("throttle_redis");
    let redis = OwnRedis::start(dir.path());
    let mut nodes = Vec::new();
    for i in 0..3 {
        let config = write_config(dir.path(), &format!("node{i}"), &shared, &redis.url(), "");
        if i == 0 {
            add_user(dir.path(), &config, "alice", PASSWORD);
        }
        nodes.push(Node::start(dir.path(), &config).await);
    }
    failures_on_three_nodes_count_as_one_accounts(&nodes).await;
    drop(nodes);
    drop_schema(&shared);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_database_out_of_reach_sign_ins_fail_closed() {
    if !services_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let schema = unique_name("throttle_cut");
    let proxy = Proxy::start("127.0.0.1:5432".parse().unwrap()).await;
    let database = format!("postgres://postgres@{}/test", proxy.addr);
    let config = postgres_only_config(dir.path(), "node", &schema, &database);
    add_user(dir.path(), &config, "alice", PASSWORD);
    let node = Node::start(dir.path(), &config).await;
    let res = node.http.login_response("alice", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK);

    proxy.cut().await;
    for _ in 0..3 {
        let res = node.http.login_response("alice", PASSWORD).await;
        expect_error(res, StatusCode::SERVICE_UNAVAILABLE, None).await;
    }
    proxy.heal().await;
    wait_for(Duration::from_secs(10), StatusCode::OK, || async {
        node.http.login_response("alice", PASSWORD).await.status()
    })
    .await;
    drop(node);
    drop_schema(&schema);
}
