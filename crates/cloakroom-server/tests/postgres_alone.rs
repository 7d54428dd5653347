//! Three `cloakroom serve` processes on one PostgreSQL database and no Redis (issue 14): a
//! logout on one node is refused by the other two at once, through the PostgreSQL bus
//! (`LISTEN`/`NOTIFY`), in every mode. The keys and stored deny-list are reloaded only every
//! hour here, so nothing but the bus can tell the other nodes in time.
//!
//! The propagation figure (p50/p99 over 40 logouts per mode) is printed, not asserted:
//! `cargo test -p cloakroom-server --all-features --test postgres_alone -- --nocapture`.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::PASSWORD;
use common::cluster::{
    Node, POSTGRES_URL, add_user, drop_schema, services_available, unique_name, wait_for,
};
use reqwest::StatusCode;
use serde_json::Value;

/// Long enough for anything that should take milliseconds, on a loaded CI machine.
const SOON: Duration = Duration::from_secs(5);
const LOGOUTS: usize = 40;

fn config(dir: &Path, name: &str, schema: &str, mode: &str) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    let near_cache = if mode == "session" {
        "near_cache = \"30s\"\n"
    } else {
        ""
    };
    let text = format!(
        "mode = \"{mode}\"\n\
         database_url = \"{POSTGRES_URL}\"\n\
         session_store = \"postgres\"\n\
         insecure_fast_hashing_for_tests = true\n\
         public_url = \"http://127.0.0.1:8080\"\n\
         [login]\nmax_failures = 1000\nclient_max_failures = 1000\n\
         [session]\n{near_cache}\
         [jwt]\nreload_interval = \"1h\"\n\
         [postgres]\nschema = \"{schema}\"\nmax_connections = 4\n"
    );
    std::fs::write(&path, text).expect("write config");
    path
}

/// Signs in on `node`: the credential to send (a session cookie or a bearer token).
async fn sign_in(node: &Node, mode: &str) -> String {
    if mode == "session" {
        node.http.login("alice").await
    } else {
        node.http.login_tokens("alice").await.access
    }
}

async fn me(node: &Node, mode: &str, credential: &str) -> StatusCode {
    if mode == "session" {
        node.http.me_status(credential).await
    } else {
        node.http.me_bearer_status(credential).await
    }
}

async fn logout(node: &Node, mode: &str, credential: &str) {
    let req = node.http.post("/auth/logout");
    let req = if mode == "session" {
        node.http.with_cookie(req, credential)
    } else {
        node.http.with_bearer(req, credential)
    };
    assert_eq!(req.send().await.unwrap().status(), StatusCode::NO_CONTENT);
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

async fn logouts_reach_the_other_nodes(mode: &str) {
    let dir = tempfile::tempdir().unwrap();
    let schema = unique_name(&format!("pga{}", &mode[..1]));
    let mut nodes = Vec::new();
    for i in 0..3 {
        let config = config(dir.path(), &format!("node{i}"), &schema, mode);
        if i == 0 {
            add_user(dir.path(), &config, "alice", PASSWORD);
        }
        nodes.push(Node::start(dir.path(), &config).await);
    }
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
        assert_eq!(body["stores"]["bus"], "postgres", "{body}");
        assert_eq!(body["bus"]["state"], "connected", "{body}");
    }
    let mut took = Vec::with_capacity(LOGOUTS);
    for round in 0..LOGOUTS {
        let (a, others) = (
            &nodes[round % 3],
            [&nodes[(round + 1) % 3], &nodes[(round + 2) % 3]],
        );
        let credential = sign_in(a, mode).await;
        for other in others {
            // Seen once on every node first: warm caches (the near-cache, verified tokens).
            assert_eq!(me(other, mode, &credential).await, StatusCode::OK, "{mode}");
        }
        logout(a, mode, &credential).await;
        let start = std::time::Instant::now();
        for other in others {
            wait_for(SOON, StatusCode::UNAUTHORIZED, || {
                me(other, mode, &credential)
            })
            .await;
        }
        took.push(start.elapsed());
    }
    took.sort();
    println!(
        "postgres alone, {mode}: logout on one node to 401 on both others, {LOGOUTS} logouts: \
         p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&took, 0.5).as_secs_f64() * 1e3,
        percentile(&took, 0.99).as_secs_f64() * 1e3,
        took[took.len() - 1].as_secs_f64() * 1e3,
    );
    drop(nodes);
    drop_schema(&schema);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_reaches_the_other_nodes_through_postgres_alone_in_every_mode() {
    if !services_available() {
        return;
    }
    for mode in ["session", "jwt", "hybrid"] {
        logouts_reach_the_other_nodes(mode).await;
    }
}
