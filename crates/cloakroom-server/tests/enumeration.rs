//! Whether an account exists, or is disabled, cannot be told from the answer to a sign-in:
//! unknown user, wrong password and disabled account get the same status and the same bytes,
//! in the same time (each runs one argon2 verification; the unknown user's against a dummy
//! hash).

mod common;

use std::time::{Duration, Instant};

use cloakroom::clock::ManualClock;
use cloakroom::user::HashParams;
use cloakroom_server::settings::{Mode, Settings};
use common::{PASSWORD, Server, settings_in};
use reqwest::StatusCode;

/// Costly enough that the hash dominates a request's time, cheap enough for a debug build.
const PARAMS: HashParams = HashParams {
    m_cost: 4 * 1024,
    t_cost: 2,
    p_cost: 1,
};

fn unthrottled(dir: &std::path::Path, mode: Mode) -> Settings {
    let mut s = settings_in(dir, mode);
    s.login.max_failures = 10_000;
    s
}

/// A server with alice (active) and bob (disabled), both with `PASSWORD`.
async fn server(dir: &std::path::Path, mode: Mode) -> Server {
    let server =
        Server::start_full(unthrottled(dir, mode), ManualClock::starting_now(), PARAMS).await;
    server.add_user("alice", &[]).await;
    let bob = server.add_user("bob", &[]).await;
    let found = server
        .app
        .users()
        .set_disabled(&bob.id, true)
        .await
        .unwrap();
    assert!(found);
    server
}

/// The three ways to fail: unknown user, wrong password, disabled account (right password).
const CASES: [(&str, &str, &str); 3] = [
    ("unknown", "nobody-here", PASSWORD),
    ("wrong password", "alice", "wrong horse battery staple"),
    ("disabled", "bob", PASSWORD),
];

#[tokio::test]
async fn the_three_failures_answer_byte_for_byte_alike_in_every_mode() {
    for mode in [Mode::Session, Mode::Jwt, Mode::Hybrid] {
        let dir = tempfile::tempdir().unwrap();
        let server = server(dir.path(), mode).await;
        let http = server.http();
        let mut answers = Vec::new();
        for (name, user, password) in CASES {
            let res = http.login_response(user, password).await;
            let status = res.status();
            let mut headers: Vec<(String, String)> = res
                .headers()
                .iter()
                // The date and the request ID differ for every answer, whatever it says.
                .filter(|(k, _)| *k != "date" && *k != "x-request-id")
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("?").to_owned()))
                .collect();
            headers.sort();
            let body = res.bytes().await.unwrap();
            answers.push((name, status, headers, body));
        }
        let (_, status, headers, body) = &answers[0];
        assert_eq!(*status, StatusCode::UNAUTHORIZED);
        for (name, s, h, b) in &answers[1..] {
            assert_eq!(s, status, "{mode:?} {name}");
            assert_eq!(h, headers, "{mode:?} {name}");
            assert_eq!(b, body, "{mode:?} {name}");
        }
        server.stop().await;
    }
}

fn median(samples: &mut [Duration]) -> f64 {
    samples.sort();
    samples[samples.len() / 2].as_secs_f64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_three_failures_take_the_same_time() {
    const ROUNDS: usize = 15;
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path(), Mode::Hybrid).await;
    let http = server.http();
    // Warm up: the dummy hash is made on first use.
    for (_, user, password) in CASES {
        http.login_response(user, password).await;
    }
    let mut times = [Vec::new(), Vec::new(), Vec::new()];
    // Interleaved, so that a burst of load elsewhere hits all three alike.
    for _ in 0..ROUNDS {
        for (i, (_, user, password)) in CASES.iter().enumerate() {
            let start = Instant::now();
            let res = http.login_response(user, password).await;
            times[i].push(start.elapsed());
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        }
    }
    let medians: Vec<f64> = times.iter_mut().map(|t| median(t)).collect();
    // Shown with --nocapture: the numbers docs/SECURITY.md quotes come from here.
    for (i, (name, _, _)) in CASES.iter().enumerate() {
        eprintln!("median of {ROUNDS} {name}: {:.1} ms", medians[i] * 1000.0);
    }
    // A path that skipped the hash would answer in well under a millisecond; make sure the
    // hash is what is being measured.
    let floor = 0.005;
    assert!(
        medians.iter().all(|m| *m > floor),
        "medians {medians:?} s: the hash is too cheap to measure against"
    );
    for (i, (name, _, _)) in CASES.iter().enumerate() {
        let ratio = medians[i] / medians[1];
        assert!(
            (0.5..=2.0).contains(&ratio),
            "{name}: median {:.1} ms against {:.1} ms for a wrong password",
            medians[i] * 1000.0,
            medians[1] * 1000.0
        );
    }
    server.stop().await;
}
