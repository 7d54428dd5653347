//! The Redis sign-in throttle against the real Redis at 127.0.0.1:6379: lockouts that really
//! expire, counts shared by two nodes, and racing attempts that never pass the limit.

#[path = "redis_store/support.rs"]
mod support;

use std::net::IpAddr;
use std::time::Duration;

use cloakroom::throttle::{Attempt, LoginThrottle, RedisThrottle, ThrottleError, ThrottlePolicy};

use self::support::{Namespace, redis_url};

fn policy() -> ThrottlePolicy {
    ThrottlePolicy {
        max_failures: 3,
        window: Duration::from_secs(60),
        lockout: Duration::from_secs(1),
        max_lockout: Duration::from_secs(4),
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
async fn two_nodes_share_counts_and_success_gives_back_only_its_attempt() {
    let Some(url) = redis_url() else { return };
    let ns = Namespace::new();
    let one = RedisThrottle::connect(url, ns.name(), policy())
        .await
        .unwrap();
    let two = RedisThrottle::connect(url, ns.name(), policy())
        .await
        .unwrap();
    let from = ip("2001:db8::1");
    one.check(&Attempt::new("alice", from)).await.unwrap();
    two.check(&Attempt::new("bob", from)).await.unwrap();
    // The third attempt from the /64 locks it, on both nodes, until it turns out right.
    let mine = Attempt::new("carol", from);
    one.check(&mine).await.unwrap();
    let elsewhere = Attempt::new("x", ip("2001:db8::ffff"));
    assert_eq!(locked_for(two.check(&elsewhere).await), Some(1));
    two.record_success(&mine).await.unwrap();
    // Back to two: the next attempt passes and locks again.
    assert_eq!(locked_for(one.check(&elsewhere).await), None);
    assert_eq!(locked_for(two.check(&mine).await), Some(1));
    // The accounts alone are not locked.
    assert_eq!(
        locked_for(one.check(&Attempt::new("alice", None)).await),
        None
    );
    // A released attempt is not counted at all.
    let dave = Attempt::new("dave", None);
    for _ in 0..10 {
        one.check(&dave).await.unwrap();
        two.release(&dave).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_attempts_never_pass_the_limit() {
    let Some(url) = redis_url() else { return };
    let ns = Namespace::new();
    let policy = ThrottlePolicy {
        max_failures: 10,
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
    assert_eq!(keys.len(), 2, "{keys:?}");
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
