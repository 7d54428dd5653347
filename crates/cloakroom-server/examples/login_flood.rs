//! Does a flood of sign-ins hurt the users already signed in? A server in `session` mode with
//! OWASP's argon2id parameters; `GET /auth/me` for a signed-in user is timed from a few
//! keep-alive connections, first on a quiet server, then while many clients sign in at once
//! (each sign-in is one real argon2 hash), and the two 99th percentiles are compared; then the
//! resident memory (idle, peak, after) against the bound of one argon2 buffer per hash at once
//! plus 30 MB.
//!
//! ```text
//! cargo run --release -p cloakroom-server --example login_flood -- [SECONDS] [LOGIN_CLIENTS]
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use cloakroom::user::{HashParams, Password};
use cloakroom_server::App;
use cloakroom_server::settings::{Mode, Settings};
use serde_json::json;

const PASSWORD: &str = "correct horse battery staple";
/// Connections timing `/auth/me`.
const READERS: usize = 4;

/// `/auth/me` from `READERS` connections until `stop`; the latencies, sorted, in µs.
async fn me_latencies(url: String, cookie: String, duration: Duration) -> Vec<u64> {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + duration;
    let tasks: Vec<_> = (0..READERS)
        .map(|_| {
            let (client, url, cookie) = (client.clone(), url.clone(), cookie.clone());
            tokio::spawn(async move {
                let mut out = Vec::new();
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    let res = client
                        .get(format!("{url}/auth/me"))
                        .header("cookie", &cookie)
                        .send()
                        .await
                        .expect("/auth/me answers");
                    assert!(res.status().is_success(), "{}", res.status());
                    out.push(sent.elapsed().as_micros() as u64);
                    // A client that reads a page now and then, not a load generator: the
                    // question is how long a request waits, not how many fit.
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                out
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("reader"));
    }
    all.sort_unstable();
    all
}

fn p(sorted: &[u64], q: f64) -> f64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1] as f64 / 1000.0
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seconds: u64 = args.get(1).and_then(|v| v.parse().ok()).unwrap_or(10);
    let flooders: usize = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(32);
    let duration = Duration::from_secs(seconds);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut settings = Settings {
        mode: Mode::Session,
        data_dir: dir.path().to_owned(),
        ..Settings::default()
    };
    // The flood is many clients signing in to one account from one address, in parallel. The
    // sign-in throttle counts an attempt before its hash, so it would answer 429 (without
    // hashing) past `max_failures` attempts in flight: right for an attacker, but here every
    // sign-in is meant to cost a hash.
    settings.login.max_failures = u32::MAX;
    let app = App::builder(settings).build().await.expect("the app");
    app.user_admin()
        .add("reader", &[], &Password::new(PASSWORD))
        .await
        .expect("a user");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("port 0");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(cloakroom_server::run(listener, app, std::future::pending()));

    let client = reqwest::Client::new();
    let login = |client: reqwest::Client, url: String| async move {
        client
            .post(format!("{url}/auth/login"))
            .json(&json!({"username": "reader", "password": PASSWORD}))
            .send()
            .await
            .expect("login answers")
    };
    let res = login(client.clone(), url.clone()).await;
    let cookie = res
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_owned();

    let quiet = me_latencies(url.clone(), cookie.clone(), duration).await;
    let idle_rss = status_kib("VmRSS");

    let stop = Arc::new(AtomicBool::new(false));
    let logins = Arc::new(AtomicU64::new(0));
    let flood: Vec<_> = (0..flooders)
        .map(|_| {
            let (client, url, stop, logins) =
                (client.clone(), url.clone(), stop.clone(), logins.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let res = login(client.clone(), url.clone()).await;
                    assert!(res.status().is_success(), "{}", res.status());
                    logins.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    // Let the flood fill the hashing pool before timing.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = logins.load(Ordering::Relaxed);
    let loaded = me_latencies(url.clone(), cookie.clone(), duration).await;
    let signed_in = logins.load(Ordering::Relaxed) - before;
    stop.store(true, Ordering::Relaxed);
    for f in flood {
        f.await.expect("flooder");
    }
    let after_rss = status_kib("VmRSS");
    // The peak, over the whole run: what the flood made the process hold at its highest.
    let peak_rss = status_kib("VmHWM");

    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    println!("{cores} cores; {seconds} s each; {READERS} readers, {flooders} clients signing in");
    println!(
        "quiet:       {} requests, p50 {:.2} ms, p99 {:.2} ms",
        quiet.len(),
        p(&quiet, 0.5),
        p(&quiet, 0.99)
    );
    println!(
        "login flood: {} requests, p50 {:.2} ms, p99 {:.2} ms ({signed_in} sign-ins, {:.1}/s)",
        loaded.len(),
        p(&loaded, 0.5),
        p(&loaded, 0.99),
        signed_in as f64 / seconds as f64
    );
    println!("p99 ratio: {:.2}", p(&loaded, 0.99) / p(&quiet, 0.99));
    // The goal (issue 16): resident memory under a sign-in flood at most the hashing pool's
    // working memory (one argon2 buffer per hash at once) plus 30 MB.
    let hashing = cores.saturating_sub(1).max(1) as u64;
    let bound = hashing * u64::from(HashParams::OWASP.m_cost) + 30 * 1024;
    println!(
        "resident memory: idle {:.1} MiB, peak {:.1} MiB, after the flood {:.1} MiB; \
         bound {hashing} hash(es) at once x {:.1} MiB + 30 MB = {:.1} MiB: {}",
        idle_rss as f64 / 1024.0,
        peak_rss as f64 / 1024.0,
        after_rss as f64 / 1024.0,
        f64::from(HashParams::OWASP.m_cost) / 1024.0,
        bound as f64 / 1024.0,
        if peak_rss <= bound { "within" } else { "OVER" }
    );
}

/// A `/proc/self/status` field in KiB (`VmRSS`: now, `VmHWM`: the peak); 0 where there is none.
fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}
