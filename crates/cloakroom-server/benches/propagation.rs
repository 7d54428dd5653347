//! How long a logout on one node takes to reach the others: three `cloakroom serve` processes
//! (the bench-profile binary) in hybrid mode, sharing a Redis of their own and the test
//! PostgreSQL, on loopback. Each trial signs in on A, checks the token on B and C, logs out
//! on A, and polls B and C back to back until each answers 401.
//!
//! ```text
//! cargo bench -p cloakroom-server --bench propagation            # 300 trials
//! TRIALS=1000 cargo bench -p cloakroom-server --bench propagation
//! ```
//!
//! Prints p50, p90, p99 and the worst time, from the moment the logout was sent and from the
//! moment its 204 arrived, to the 401 on each other node.

#[path = "../tests/common/mod.rs"]
#[allow(unused_imports)]
mod common;

use std::time::{Duration, Instant};

use common::PASSWORD;
use common::cluster::{
    Node, OwnRedis, add_user, drop_schema, services_available, unique_name, write_config,
};
use reqwest::StatusCode;

/// Polls `node` with `token` until it answers 401; when that answer arrived.
async fn refused_at(node: &Node, token: &str) -> Instant {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if node.http.me_bearer_status(token).await == StatusCode::UNAUTHORIZED {
            return Instant::now();
        }
        assert!(Instant::now() < deadline, "no 401 within 5 s");
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn report(what: &str, mut times: Vec<Duration>) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{what:<34} n={:<5} p50 {:>6.2} ms  p90 {:>6.2} ms  p99 {:>6.2} ms  max {:>6.2} ms",
        times.len(),
        ms(percentile(&times, 50.0)),
        ms(percentile(&times, 90.0)),
        ms(percentile(&times, 99.0)),
        ms(*times.last().expect("trials")),
    );
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this with no argument and
    // wants it quick.
    let quick = !std::env::args().any(|a| a == "--bench");
    if !services_available() {
        return;
    }
    let trials: usize = match std::env::var("TRIALS") {
        Ok(n) => n.parse().expect("TRIALS is a number"),
        Err(_) if quick => 3,
        Err(_) => 300,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(trials));
}

async fn run(trials: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let shared = unique_name("bench");
    let redis = OwnRedis::start(dir.path());
    let config = write_config(
        dir.path(),
        "node",
        &shared,
        &redis.url(),
        "mode = \"hybrid\"\n[log]\nfilter = \"warn\"",
    );
    add_user(dir.path(), &config, "alice", PASSWORD);
    let a = Node::start(dir.path(), &config).await;
    let b = Node::start(dir.path(), &config).await;
    let c = Node::start(dir.path(), &config).await;

    let (mut from_send, mut from_done) = (Vec::new(), Vec::new());
    for _ in 0..trials {
        let tokens = a.http.login_tokens("alice").await;
        for node in [&b, &c] {
            assert_eq!(
                node.http.me_bearer_status(&tokens.access).await,
                StatusCode::OK
            );
        }
        let sent = Instant::now();
        let res = a
            .http
            .with_bearer(a.http.post("/auth/logout"), &tokens.access)
            .send()
            .await
            .expect("logout");
        let done = Instant::now();
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
        let (at_b, at_c) = tokio::join!(
            refused_at(&b, &tokens.access),
            refused_at(&c, &tokens.access)
        );
        for at in [at_b, at_c] {
            from_send.push(at - sent);
            from_done.push(at.saturating_duration_since(done));
        }
    }
    println!("revocation propagation, 3 nodes (hybrid, Redis bus), {trials} logouts:");
    report("logout sent -> 401 on B and C", from_send);
    report("logout answered -> 401 on B and C", from_done);
    drop((a, b, c));
    drop_schema(&shared);
}
