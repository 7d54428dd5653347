//! The measurements, one function each: what checking a request costs in-process, HTTP
//! throughput of `/auth/me`, store round trips per request, and how long a logout on one node
//! takes to reach another.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cloakroom::auth::SessionManager;
use cloakroom::session::SessionId;
use serde::Serialize;

use super::CompareError;
use super::counting::Counting;
use super::node::{self, Credential};
use crate::app::App;
use crate::settings::Mode;

/// Requests timed per batch before the clock is read again.
const BATCH: u32 = 64;

/// What checking one request's credential costs in-process, in microseconds.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Verification {
    /// The credential presented again: a store lookup (session), or the verified-token cache
    /// plus the deny-list (token modes).
    pub(crate) repeat_us: f64,
    /// Token modes: the full check of a token not seen before (signature included).
    pub(crate) first_sight_us: Option<f64>,
}

/// Times `op` for about `budget`, returning microseconds per call.
async fn per_call<F, Fut>(budget: Duration, mut op: F) -> Result<f64, CompareError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), CompareError>>,
{
    let start = Instant::now();
    let mut calls = 0u64;
    while start.elapsed() < budget || calls == 0 {
        for _ in 0..BATCH {
            op().await?;
        }
        calls += u64::from(BATCH);
        tokio::task::yield_now().await;
    }
    Ok(start.elapsed().as_secs_f64() * 1e6 / calls as f64)
}

/// What the app's own request path does with `credential`, timed.
pub(crate) async fn verification(
    app: &App,
    credential: &Credential,
    budget: Duration,
) -> Result<Verification, CompareError> {
    match app.tokens() {
        None => {
            let id = SessionId::parse(&credential.secret)
                .map_err(|e| CompareError::Unexpected(e.to_string()))?;
            let sessions = app.sessions();
            let repeat_us = per_call(budget, || async {
                sessions.authenticate(&id).await?;
                Ok(())
            })
            .await?;
            Ok(Verification {
                repeat_us,
                first_sight_us: None,
            })
        }
        Some(tokens) => {
            let cached = tokens.verifier();
            let full = cached.clone().with_verified_cache(0);
            let token = credential.secret.as_str();
            let repeat_us = per_call(budget / 2, || async {
                cached.verify(token)?;
                Ok(())
            })
            .await?;
            let first_sight_us = per_call(budget / 2, || async {
                full.verify(token)?;
                Ok(())
            })
            .await?;
            Ok(Verification {
                repeat_us,
                first_sight_us: Some(first_sight_us),
            })
        }
    }
}

/// Store calls per authenticated request, counted by a decorator around the app's session
/// store. In the token modes the request path is the verifier, which is given no store (keys
/// and the deny-list are in memory): nothing reaches the decorator, and it counts 0.
pub(crate) async fn round_trips(
    app: &App,
    mode: Mode,
    credential: &Credential,
    requests: u32,
) -> Result<f64, CompareError> {
    let counting = Arc::new(Counting::new(app.sessions().store().clone()));
    let sessions = SessionManager::from_shared(counting.clone(), *app.sessions().policy());
    for _ in 0..requests {
        match (mode, app.tokens()) {
            (Mode::Session, _) | (_, None) => {
                let id = SessionId::parse(&credential.secret)
                    .map_err(|e| CompareError::Unexpected(e.to_string()))?;
                sessions.authenticate(&id).await?;
            }
            (Mode::Jwt | Mode::Hybrid, Some(tokens)) => {
                tokens.verifier().verify(&credential.secret)?;
            }
        }
    }
    Ok(counting.calls() as f64 / f64::from(requests.max(1)))
}

/// HTTP throughput of `GET /auth/me` over keep-alive connections.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Throughput {
    /// Concurrent connections.
    pub(crate) connections: usize,
    /// Answered 200.
    pub(crate) requests: u64,
    /// Answered otherwise, or failed.
    pub(crate) errors: u64,
    /// Requests (200) per second.
    pub(crate) per_second: f64,
    /// Median latency, milliseconds.
    pub(crate) p50_ms: f64,
    /// 99th percentile latency, milliseconds.
    pub(crate) p99_ms: f64,
}

/// `connections` clients each sending `GET /auth/me` one after the other for `duration`.
pub(crate) async fn throughput(
    url: &str,
    credential: &Credential,
    duration: Duration,
    connections: usize,
) -> Result<Throughput, CompareError> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .build()?;
    // One request each first, so that connecting is not timed.
    for _ in 0..connections {
        node::me(&client, url, credential).await?;
    }
    let start = Instant::now();
    let deadline = start + duration;
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            let client = client.clone();
            let url = url.to_owned();
            let credential = credential.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0u64;
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    match node::me(&client, &url, &credential).await {
                        Ok(status) if status.is_success() => {
                            latencies.push(sent.elapsed().as_micros() as u64);
                        }
                        _ => errors += 1,
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (l, e) = task.await.map_err(|e| CompareError::Task(e.to_string()))?;
        latencies.extend(l);
        errors += e;
    }
    let elapsed = start.elapsed().as_secs_f64();
    latencies.sort_unstable();
    Ok(Throughput {
        connections,
        requests: latencies.len() as u64,
        errors,
        per_second: latencies.len() as f64 / elapsed,
        p50_ms: percentile(&latencies, 0.50) / 1e3,
        p99_ms: percentile(&latencies, 0.99) / 1e3,
    })
}

/// The `q` quantile of sorted samples (nearest rank); 0 for none.
pub(crate) fn percentile(sorted: &[u64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1] as f64
}

/// How long a logout on node A takes to be refused on node B.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Propagation {
    /// Why there is no measurement, if there is none (e.g. a memory store is per node).
    pub(crate) not_applicable: Option<String>,
    /// Each trial's delay, milliseconds, from the logout's answer to B's first 401.
    pub(crate) samples_ms: Vec<f64>,
    /// Trials in which B still accepted the credential after `wait_ms`.
    pub(crate) timed_out: u32,
    /// How long each trial waited at most, milliseconds.
    pub(crate) wait_ms: f64,
    /// Median and 99th percentile of the samples, milliseconds.
    pub(crate) p50_ms: Option<f64>,
    /// See `p50_ms`.
    pub(crate) p99_ms: Option<f64>,
}

/// Signs in on A, checks that B accepts the credential, logs out on A, and polls B until it
/// refuses (or `wait` passes); `trials` times, stopping after the first that times out.
pub(crate) async fn propagation(
    a: &node::Node,
    b: &node::Node,
    username: &str,
    password: &str,
    trials: u32,
    wait: Duration,
) -> Result<Propagation, CompareError> {
    let client = reqwest::Client::new();
    let settings = a.app.settings();
    let mut samples = Vec::new();
    let mut timed_out = 0;
    for _ in 0..trials {
        let credential = node::login(&client, &a.url, settings, username, password).await?;
        if !node::me(&client, &b.url, &credential).await?.is_success() {
            return Ok(Propagation {
                not_applicable: Some("node B does not know node A's sign-ins".into()),
                samples_ms: Vec::new(),
                timed_out: 0,
                wait_ms: wait.as_secs_f64() * 1e3,
                p50_ms: None,
                p99_ms: None,
            });
        }
        node::logout(&client, &a.url, &credential).await?;
        let logged_out = Instant::now();
        let refused = loop {
            let status = node::me(&client, &b.url, &credential).await?;
            if status == reqwest::StatusCode::UNAUTHORIZED {
                break Some(logged_out.elapsed());
            }
            if logged_out.elapsed() >= wait {
                break None;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        match refused {
            Some(delay) => samples.push(delay.as_micros() as u64),
            None => {
                timed_out += 1;
                break;
            }
        }
    }
    samples.sort_unstable();
    let ms = |us: f64| us / 1e3;
    Ok(Propagation {
        not_applicable: None,
        p50_ms: (!samples.is_empty()).then(|| ms(percentile(&samples, 0.50))),
        p99_ms: (!samples.is_empty()).then(|| ms(percentile(&samples, 0.99))),
        samples_ms: samples.iter().map(|us| ms(*us as f64)).collect(),
        timed_out,
        wait_ms: wait.as_secs_f64() * 1e3,
    })
}
