//! The PostgreSQL sign-in throttle against the real server at 127.0.0.1:5432 (database
//! `test`), each test in a schema of its own: the conformance suite on two nodes (two pools),
//! racing attempts from two pools that never pass the limit, a lockout that really ends,
//! expired rows purged, rows that hold no username, and a database that does not answer
//! failing closed.

#[path = "postgres_store/support.rs"]
mod support;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use cloakroom::store::{PostgresOptions, PostgresStore, StoreError};
use cloakroom::throttle::{
    Attempt, LoginThrottle, PostgresThrottle, ThrottleError, ThrottlePolicy, conformance,
};

use self::support::{TempSchema, postgres_url};

async fn node(url: &str, schema: &TempSchema, policy: ThrottlePolicy) -> PostgresThrottle {
    let store =
        PostgresStore::connect_with(url, PostgresOptions::default().with_schema(schema.name()))
            .await
            .expect("connect");
    PostgresThrottle::new(&store, policy)
}

fn locked_for(r: Result<(), ThrottleError>) -> Option<u64> {
    match r {
        Ok(()) => None,
        Err(ThrottleError::Locked { retry_after }) => Some(retry_after.as_secs()),
        Err(e) => panic!("{e}"),
    }
}

fn ip(s: &str) -> Option<IpAddr> {
    Some(s.parse().expect("an address"))
}

async fn rows(store: &PostgresStore) -> Vec<(String, i32, i64, i64)> {
    sqlx::query_as("SELECT subject, failures, locked_until, expires_at FROM login_throttle")
        .fetch_all(store.pool())
        .await
        .expect("read the table")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_on_two_nodes() {
    let Some(url) = postgres_url() else { return };
    let schema = TempSchema::new(url);
    let one = node(url, &schema, conformance::policy()).await;
    let two = node(url, &schema, conformance::policy()).await;
    conformance::run(Arc::new(one), Arc::new(two)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_attempts_from_two_pools_never_pass_the_limit() {
    let Some(url) = postgres_url() else { return };
    let schema = TempSchema::new(url);
    let policy = ThrottlePolicy {
        max_failures: 10,
        client_max_failures: 10,
        account_max_failures: 10,
        ..conformance::policy()
    };
    let (one, two) = (
        node(url, &schema, policy).await,
        node(url, &schema, policy).await,
    );
    let mut tasks = Vec::new();
    for i in 0..60 {
        let t = if i % 2 == 0 { one.clone() } else { two.clone() };
        // Different clients at one account, and one client at different accounts: every
        // limit is raced, each through rows other attempts lock too.
        let attempt = if i % 3 == 0 {
            Attempt::new("alice", ip(&format!("10.1.0.{i}")))
        } else {
            Attempt::new("alice", ip("10.2.0.1"))
        };
        tasks.push(tokio::spawn(async move { t.check(&attempt).await }));
    }
    let mut passed = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(()) => passed += 1,
            Err(ThrottleError::Locked { .. }) => {}
            Err(e) => panic!("a racing check failed: {e}"),
        }
    }
    assert_eq!(passed, 10, "exactly the account's limit got through");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lockout_ends_by_the_databases_clock_and_expired_rows_are_purged() {
    let Some(url) = postgres_url() else { return };
    let schema = TempSchema::new(url);
    let store =
        PostgresStore::connect_with(url, PostgresOptions::default().with_schema(schema.name()))
            .await
            .expect("connect");
    let policy = ThrottlePolicy {
        max_failures: 1,
        window: Duration::from_secs(1),
        lockout: Duration::from_secs(1),
        max_lockout: Duration::from_secs(1),
        client_max_failures: 1,
        account_max_failures: 1,
        account_delay: Duration::from_secs(1),
        account_max_delay: Duration::from_secs(1),
    };
    let t = PostgresThrottle::new(&store, policy);
    let a = Attempt::new("alice", ip("192.0.2.1"));
    assert_eq!(locked_for(t.check(&a).await), None);
    assert_eq!(locked_for(t.check(&a).await), Some(1));
    assert_eq!(rows(&store).await.len(), 3, "pair, client and account");
    // The rows expire a window (1 s) after the lockout (1 s) ends; seconds are whole.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(locked_for(t.check(&a).await), None, "the lockout ended");
    t.release(&a).await.expect("release");
    assert_eq!(locked_for(t.check(&Attempt::new("bob", None)).await), None);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let fresh = Attempt::new("carol", None);
    assert_eq!(locked_for(t.check(&fresh).await), None);
    // alice's and bob's rows have expired; carol's two have not.
    assert_eq!(t.purge_expired().await.expect("purge"), 5);
    assert_eq!(rows(&store).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_attempts_leave_no_rows_and_rows_hold_no_username() {
    let Some(url) = postgres_url() else { return };
    let schema = TempSchema::new(url);
    let store =
        PostgresStore::connect_with(url, PostgresOptions::default().with_schema(schema.name()))
            .await
            .expect("connect");
    let t = PostgresThrottle::new(&store, conformance::policy());
    let from = ip("192.0.2.9");
    for _ in 0..3 {
        t.check(&Attempt::new("alice", from))
            .await
            .expect("counted");
    }
    // The pair is locked out; bob, from the same client, is let in twice, which reaches the
    // client's limit; carol is refused for the client.
    assert_eq!(
        locked_for(t.check(&Attempt::new("alice", from)).await),
        Some(60)
    );
    for _ in 0..2 {
        assert_eq!(locked_for(t.check(&Attempt::new("bob", from)).await), None);
    }
    assert_eq!(
        locked_for(t.check(&Attempt::new("carol", from)).await),
        Some(60)
    );
    let all = rows(&store).await;
    let subjects: Vec<&str> = all.iter().map(|r| r.0.as_str()).collect();
    // alice's pair and account, the client, bob's pair and account: none for carol.
    assert_eq!(all.len(), 5, "{subjects:?}");
    assert!(subjects.iter().all(|s| !s.to_lowercase().contains("alice")));
    let pair = all
        .iter()
        .find(|r| r.0.starts_with("p:") && r.1 == 3)
        .expect("alice's pair");
    assert!(pair.2 > 0 && pair.3 > pair.2, "{pair:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_does_not_answer_fails_closed() {
    let Some(url) = postgres_url() else { return };
    let schema = TempSchema::new(url);
    let store =
        PostgresStore::connect_with(url, PostgresOptions::default().with_schema(schema.name()))
            .await
            .expect("connect");
    let t = PostgresThrottle::new(&store, conformance::policy());
    store.close().await;
    let got = t.check(&Attempt::new("alice", ip("192.0.2.1"))).await;
    assert!(
        matches!(got, Err(ThrottleError::Store(StoreError::Unavailable(_)))),
        "{got:?}"
    );
}
