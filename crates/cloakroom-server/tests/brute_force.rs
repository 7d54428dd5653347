//! Password guessing over HTTP: failed sign-ins are counted per account and client address;
//! past `login.max_failures` that pair is locked out with 429 and `Retry-After`, the lockout
//! doubles with each further failure, and not even the right password gets in from there
//! meanwhile, while the owner elsewhere does. A client guessing many accounts is locked out
//! past `login.client_max_failures`; an account guessed from many clients is slowed past
//! `login.account_max_failures`, never locked. In every mode, and before any hashing.

mod common;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use cloakroom::clock::ManualClock;
use cloakroom::user::HashParams;
use cloakroom_server::settings::Mode;
use common::{Http, PASSWORD, Server, expect_error, settings_in};
use reqwest::StatusCode;
use reqwest::header::RETRY_AFTER;

const WRONG: &str = "not the password at all";

/// A client whose connections come from `ip` (any of 127.0.0.0/8 reaches the server).
fn from(http: &Http, ip: &str) -> Http {
    let local: IpAddr = ip.parse().expect("an address");
    Http {
        client: reqwest::Client::builder()
            .local_address(local)
            .build()
            .expect("a client"),
        ..http.clone()
    }
}

async fn refused(http: &Http, user: &str, password: &str) {
    let res = http.login_response(user, password).await;
    expect_error(res, StatusCode::UNAUTHORIZED, Some("invalid_credentials")).await;
}

/// Asserts a 429 `too_many_attempts`; returns its `Retry-After` in seconds.
async fn locked(http: &Http, user: &str, password: &str) -> u64 {
    let res = http.login_response(user, password).await;
    let retry: u64 = res
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After of whole seconds");
    let body = expect_error(
        res,
        StatusCode::TOO_MANY_REQUESTS,
        Some("too_many_attempts"),
    )
    .await;
    assert!(!body.to_string().contains(user), "{body}");
    retry
}

#[tokio::test]
async fn every_mode_locks_out_after_the_limit_even_for_the_right_password() {
    for mode in [Mode::Session, Mode::Jwt, Mode::Hybrid] {
        let dir = tempfile::tempdir().unwrap();
        let server = Server::start(settings_in(dir.path(), mode)).await;
        server.add_user("alice", &[]).await;
        let http = server.http();
        for _ in 0..5 {
            refused(&http, "alice", WRONG).await;
        }
        assert_eq!(locked(&http, "alice", PASSWORD).await, 60, "{mode:?}");
        server.clock.advance(Duration::from_secs(59));
        assert_eq!(locked(&http, "alice", PASSWORD).await, 1, "{mode:?}");
        server.clock.advance(Duration::from_secs(1));
        let res = http.login_response("alice", PASSWORD).await;
        assert_eq!(
            res.status(),
            StatusCode::OK,
            "{mode:?}: the lockout is over"
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn each_further_failure_doubles_the_lockout_up_to_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = settings_in(dir.path(), Mode::Session);
    settings.login.max_lockout = Duration::from_secs(300);
    let server = Server::start(settings).await;
    server.add_user("alice", &[]).await;
    let http = server.http();
    for _ in 0..5 {
        refused(&http, "alice", WRONG).await;
    }
    let mut expected = 60;
    for _ in 0..4 {
        assert_eq!(locked(&http, "alice", WRONG).await, expected);
        server.clock.advance(Duration::from_secs(expected));
        refused(&http, "alice", WRONG).await;
        expected = (expected * 2).min(300);
    }
    assert_eq!(locked(&http, "alice", PASSWORD).await, 300, "capped");
    // Failures are remembered for a window past the lockout, so waiting out one lockout does
    // not buy a fresh allowance.
    server.clock.advance(Duration::from_secs(300));
    refused(&http, "alice", WRONG).await;
    assert_eq!(locked(&http, "alice", PASSWORD).await, 300);
    server.stop().await;
}

/// Issue 12, item 4: five bad passwords from anywhere used to lock the account for everyone,
/// the owner included, and one request per lockout kept it locked.
#[tokio::test]
async fn an_attacker_cannot_lock_the_owner_out() {
    for mode in [Mode::Session, Mode::Jwt, Mode::Hybrid] {
        let dir = tempfile::tempdir().unwrap();
        let server = Server::start(settings_in(dir.path(), mode)).await;
        server.add_user("alice", &[]).await;
        let http = server.http();
        let (attacker, owner) = (from(&http, "127.0.0.2"), from(&http, "127.0.0.3"));
        for _ in 0..5 {
            refused(&attacker, "alice", WRONG).await;
        }
        // The attacker keeps knocking, as one request per lockout would.
        for _ in 0..10 {
            locked(&attacker, "alice", WRONG).await;
        }
        let res = owner.login_response("alice", PASSWORD).await;
        assert_eq!(res.status(), StatusCode::OK, "{mode:?}: the owner gets in");
        assert_eq!(
            locked(&attacker, "alice", PASSWORD).await,
            60,
            "{mode:?}: the attacker's address stays locked, even with the right password"
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn success_clears_the_pair_but_not_the_client() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = settings_in(dir.path(), Mode::Hybrid);
    settings.login.client_max_failures = 8;
    let server = Server::start(settings).await;
    server.add_user("alice", &[]).await;
    server.add_user("carol", &[]).await;
    let http = server.http();
    let two = from(&http, "127.0.0.2");
    for _ in 0..4 {
        refused(&two, "alice", WRONG).await;
    }
    assert_eq!(
        two.login_response("alice", PASSWORD).await.status(),
        StatusCode::OK
    );
    // The pair starts again: three more failures and alice still gets in from there.
    for _ in 0..3 {
        refused(&two, "alice", WRONG).await;
    }
    assert_eq!(
        two.login_response("alice", PASSWORD).await.status(),
        StatusCode::OK
    );
    // 127.0.0.2 kept its seven failures: one more, at any account, reaches the client's limit
    // of 8 and locks the address out, even for an account that has no failures at all.
    refused(&two, "nobody", WRONG).await;
    assert_eq!(locked(&two, "carol", PASSWORD).await, 60);
    // Carol herself is fine from elsewhere.
    assert_eq!(
        http.login_response("carol", PASSWORD).await.status(),
        StatusCode::OK
    );
    server.stop().await;
}

#[tokio::test]
async fn one_address_guessing_many_accounts_is_locked_out() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(settings_in(dir.path(), Mode::Jwt)).await;
    server.add_user("alice", &[]).await;
    let http = server.http();
    // login.client_max_failures, by default 20.
    for i in 0..20 {
        refused(&http, &format!("user{i}"), WRONG).await;
    }
    assert_eq!(locked(&http, "alice", PASSWORD).await, 60);
    // Another address may still sign in as alice.
    let other = from(&http, "127.0.0.9");
    assert_eq!(
        other.login_response("alice", PASSWORD).await.status(),
        StatusCode::OK
    );
    server.stop().await;
}

#[tokio::test]
async fn the_account_ceiling_slows_many_guessers_but_never_locks_the_owner_out() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = settings_in(dir.path(), Mode::Session);
    settings.login.account_max_failures = 12;
    let server = Server::start(settings).await;
    server.add_user("alice", &[]).await;
    let http = server.http();
    // Three addresses, four guesses each (under the pair's limit): the twelfth failure reaches
    // the account's ceiling.
    for ip in ["127.0.0.2", "127.0.0.3", "127.0.0.4"] {
        let guesser = from(&http, ip);
        for _ in 0..4 {
            refused(&guesser, "alice", WRONG).await;
        }
    }
    // A client that never failed is slowed by a second, not locked out.
    let owner = from(&http, "127.0.0.5");
    assert_eq!(locked(&owner, "alice", PASSWORD).await, 1);
    server.clock.advance(Duration::from_secs(1));
    assert_eq!(
        owner.login_response("alice", PASSWORD).await.status(),
        StatusCode::OK
    );
    // A new guesser right after: let in for one guess (the owner gave its slot back), which
    // doubles the delay; the next waits two seconds.
    refused(&from(&http, "127.0.0.6"), "alice", WRONG).await;
    assert_eq!(locked(&from(&http, "127.0.0.7"), "alice", WRONG).await, 2);
    server.stop().await;
}

/// Milliseconds of the median of `samples`.
fn median_ms(samples: &mut [Duration]) -> f64 {
    samples.sort();
    samples[samples.len() / 2].as_secs_f64() * 1000.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locked_out_guesses_cost_no_password_hash() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = settings_in(dir.path(), Mode::Session);
    settings.login.max_failures = 8;
    // Costly enough that one hash stands far above the noise of a request.
    let params = HashParams {
        m_cost: 8 * 1024,
        t_cost: 2,
        p_cost: 1,
    };
    let server = Server::start_full(settings, ManualClock::starting_now(), params).await;
    server.add_user("alice", &[]).await;
    let http = server.http();
    let mut hashed = Vec::new();
    for _ in 0..8 {
        let start = Instant::now();
        refused(&http, "alice", WRONG).await;
        hashed.push(start.elapsed());
    }
    let mut throttled = Vec::new();
    for _ in 0..8 {
        let start = Instant::now();
        locked(&http, "alice", WRONG).await;
        throttled.push(start.elapsed());
    }
    let (hashed, throttled) = (median_ms(&mut hashed), median_ms(&mut throttled));
    eprintln!("median hashed guess {hashed:.2} ms, median locked-out guess {throttled:.2} ms");
    assert!(
        throttled * 5.0 < hashed,
        "a refused guess took {throttled:.2} ms, a hashed one {hashed:.2} ms"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_parallel_guesses_gets_no_more_than_the_limit_checked() {
    let dir = tempfile::tempdir().unwrap();
    // Slow enough hashing that the whole burst is in flight before the first answer.
    let params = HashParams {
        m_cost: 4 * 1024,
        t_cost: 2,
        p_cost: 1,
    };
    let server = Server::start_full(
        settings_in(dir.path(), Mode::Hybrid),
        ManualClock::starting_now(),
        params,
    )
    .await;
    server.add_user("alice", &[]).await;
    let http = server.http();
    let guesses: Vec<_> = (0..40)
        .map(|i| {
            let http = http.clone();
            tokio::spawn(async move {
                http.login_response("alice", &format!("guess number {i}"))
                    .await
                    .status()
            })
        })
        .collect();
    let (mut checked, mut throttled) = (0, 0);
    for guess in guesses {
        match guess.await.unwrap() {
            StatusCode::UNAUTHORIZED => checked += 1,
            StatusCode::TOO_MANY_REQUESTS => throttled += 1,
            other => panic!("{other}"),
        }
    }
    assert_eq!((checked, throttled), (5, 35));
    assert_eq!(locked(&http, "alice", PASSWORD).await, 60);
    server.stop().await;
}
