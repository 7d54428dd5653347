//! The Redis sign-in throttle against the real Redis at 127.0.0.1:6379: the conformance suite
//! on two nodes sharing one namespace, lockouts that really expire, racing attempts that never
//! pass the limit, and keys that hold no username.

#[path = "redis_store/support.rs"]
mod support;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use cloakroom::throttle::{
    Attempt, LoginThrottle, RedisThrottle, ThrottleError, ThrottlePolicy, conformance,
};

use self::support::{Namespace, redis_url};

fn policy() -> ThrottlePolicy {
    ThrottlePolicy {
        max_failures: 3,
        window: Duration::from_secs(60),
        lockout: Duration::from_secs(1),
        max_lockout: Duration::from_secs(4),
        ..conformance::policy()
    }
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lockouts_start_at_the_limit_double_and_expire() {
    let Some(url) = redis_url() else { return };
    let ns = Namespace::new();
    let t = RedisThrottle::connect(url, ns.name(), policy())
        .await
        .expect("connect");
    let a = Attempt::new("alice", ip("192.0.2.1"));
    for _ in 0..3 {
        assert_eq!(locked_for(t.check(&a).await), None);
    }
    assert_eq!(locked_for(t.check(&a).await), Some(1));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(locked_for(t.check(&a).await), None, "the lockout expired");
    assert_eq!(locked_for(t.check(&a).await), Some(2), "doubled");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(locked_for(t.check(&a).await), None);
    assert_eq!(locked_for(t.check(&a).await), Some(4), "capped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_on_two_nodes() {
    let Some(url) = redis_url() else { return };
    let ns = Namespace::new();
    let node = || async {
        let t = RedisThrottle::connect(url, ns.name(), conformance::policy())
            .await
            .expect("connect");
        Arc::new(t) as Arc<dyn LoginThrottle>
    };
    conformance::run(node().await, node().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_attempts_never_pass_the_limit() {
    let Some(url) = redis_url() else { return };
    let ns = Namespace::new();
    let policy = ThrottlePolicy {
        max_failures: 10,
        client_max_failures: 10,
        account_max_failures: 10,
        ..policy()
    };
    let one = RedisThrottle::connect(url, ns.name(), policy)
        .await
        .unwrap();
    let two = RedisThrottle::connect(url, ns.name(), policy)
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..60 {
        let t = if i % 2 == 0 { one.clone() } else { two.clone() };
        tasks.push(tokio::spawn(async move {
            t.check(&Attempt::new("alice", None)).await.is_ok()
        }));
    }
    let mut passed = 0;
    for task in tasks {
        passed += usize::from(task.await.unwrap());
    }
    assert_eq!(passed, 10, "exactly the limit got through");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_namespaced_expire_and_hold_no_username() {
    let Some(url) = redis_url() else { return };
    let ns = Namespace::new();
    let t = RedisThrottle::connect(url, ns.name(), policy())
        .await
        .unwrap();
    t.check(&Attempt::new("alice", ip("192.0.2.9")))
        .await
        .unwrap();
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}:*", ns.name()))
        .query_async(&mut conn)
        .await
        .unwrap();
    // A counter each for the pair, the client and the account; no lock marker yet.
    assert_eq!(keys.len(), 3, "{keys:?}");
    for key in &keys {
        assert!(
            key.starts_with(&format!("{}:throttle:", ns.name())),
            "{key}"
        );
        assert!(!key.to_lowercase().contains("alice"), "{key}");
        let ttl: i64 = redis::cmd("PTTL")
            .arg(key)
            .query_async(&mut conn)
            .await
            .unwrap();
        assert!((1..=60_000).contains(&ttl), "{key} has TTL {ttl}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_redis_and_bad_namespaces_are_refused_at_connect() {
    // Nothing listens on port 1.
    let refused = RedisThrottle::connect("redis://127.0.0.1:1", "x", policy()).await;
    assert!(refused.is_err());
    assert!(
        RedisThrottle::connect("redis://127.0.0.1:6379", "bad:ns", policy())
            .await
            .is_err()
    );
}
