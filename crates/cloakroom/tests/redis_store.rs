//! The Redis store against the real Redis at 127.0.0.1:6379: keys that really expire, sessions
//! shared by two nodes, and a store that outlives a dropped connection and an outage.
//!
//! Every test that needs Redis starts with `support::redis_url()`: without Redis it fails
//! under CI and is skipped, loudly, elsewhere. Each test works in its own namespace.

#[path = "redis_store/proxy.rs"]
mod proxy;
#[path = "redis_store/support.rs"]
mod support;

use std::error::Error as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cloakroom::clock::{Clock, ManualClock, SystemClock, Timestamp};
use cloakroom::session::{SessionData, SessionStore};
use cloakroom::store::conformance::{key, record};
use cloakroom::store::{RedisStore, StoreError};
use redis::aio::MultiplexedConnection;

use self::proxy::Proxy;
use self::support::{Namespace, REDIS_URL, redis_url};

/// A plain connection, to look at what the store wrote.
async fn raw() -> MultiplexedConnection {
    redis::Client::open(REDIS_URL)
        .expect("url")
        .get_multiplexed_async_connection()
        .await
        .expect("connect")
}

async fn query<T: redis::FromRedisValue>(conn: &mut MultiplexedConnection, cmd: &[&str]) -> T {
    redis::cmd(cmd[0])
        .arg(&cmd[1..])
        .query_async(conn)
        .await
        .expect("query")
}

async fn pttl(conn: &mut MultiplexedConnection, key: &str) -> i64 {
    query(conn, &["PTTL", key]).await
}

/// A TTL a moment after it was set to `expected_ms`.
fn assert_ttl(ttl: i64, expected_ms: i64) {
    assert!(
        (expected_ms - 5_000..=expected_ms).contains(&ttl),
        "TTL {ttl} ms, expected about {expected_ms} ms"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_expire_with_the_session_and_touch_moves_them() {
    let Some(url) = redis_url() else { return };
    let ns = Namespace::new();
    let t = SystemClock.now();
    let clock = ManualClock::new(t);
    let store = RedisStore::connect(url, ns.name())
        .await
        .expect("connect")
        .with_clock(Arc::new(clock.clone()));
    let (k, r) = (key(), record("alice", t.unix())); // ends 30 min idle, 12 h absolute
    store.create(&k, &r).await.expect("create");

    let mut conn = raw().await;
    let rk = format!("{}:s:{}", ns.name(), k.to_hex());
    let uk = format!("{}:u:alice", ns.name());
    let xk = format!("{}:x", ns.name());
    assert_ttl(pttl(&mut conn, &rk).await, 1_800_000);
    assert_ttl(pttl(&mut conn, &uk).await, 1_800_000);
    assert_ttl(pttl(&mut conn, &xk).await, 1_800_000);

    clock.advance(Duration::from_secs(100));
    let at = |s: i64| Timestamp::from_unix(t.unix() + s);
    assert!(store.touch(&k, at(100), at(3_700)).await.expect("touch"));
    assert_ttl(pttl(&mut conn, &rk).await, 3_600_000);
    assert_ttl(pttl(&mut conn, &uk).await, 3_600_000);

    // Idle expiry past the absolute one: the key ends with the session, at the absolute one.
    assert!(store.touch(&k, at(100), at(100_000)).await.expect("touch"));
    assert_ttl(pttl(&mut conn, &rk).await, 43_100_000);
    assert_ttl(pttl(&mut conn, &xk).await, 43_100_000);

    // A shorter expiry shortens the session's key; indexes keep the longest.
    assert!(store.touch(&k, at(100), at(160)).await.expect("touch"));
    assert_ttl(pttl(&mut conn, &rk).await, 60_000);
    assert_ttl(pttl(&mut conn, &uk).await, 43_100_000);
    let score: i64 = query(&mut conn, &["ZSCORE", &xk, &k.to_hex()]).await;
    assert_eq!(score, t.unix() + 160);
    let got = store.load(&k).await.expect("load").expect("present");
    assert_eq!((got.last_seen_at, got.idle_expires_at), (at(100), at(160)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ended_session_is_gone_from_redis() {
    let Some(url) = redis_url() else { return };
    let ns = Namespace::new();
    let store = RedisStore::connect(url, ns.name()).await.expect("connect");
    let now = SystemClock.now();
    let k = key();
    let mut r = record("bob", now.unix());
    r.idle_expires_at = Timestamp::from_unix(now.unix() + 1);
    store.create(&k, &r).await.expect("create");
    assert_eq!(store.load(&k).await.expect("load"), Some(r));

    tokio::time::sleep(Duration::from_millis(2_100)).await;
    assert_eq!(store.load(&k).await.expect("load"), None);
    let now = SystemClock.now();
    assert_eq!(store.count_active(now).await.expect("count"), 0);
    assert!(store.list_user("bob").await.expect("list").is_empty());
    assert_eq!(store.purge_expired(now).await.expect("purge"), 0);
    let mut conn = raw().await;
    let left: i64 = query(&mut conn, &["EXISTS", &format!("{}:x", ns.name())]).await;
    assert_eq!(
        left, 0,
        "the expiry index is emptied once its sessions are gone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_sessions() {
    let Some(url) = redis_url() else { return };
    let ns = Namespace::new();
    let a = RedisStore::connect(url, ns.name())
        .await
        .expect("connect a");
    let b = RedisStore::connect(url, ns.name())
        .await
        .expect("connect b");
    let now = SystemClock.now();

    let k = key();
    let r = record("carol", now.unix());
    a.create(&k, &r).await.expect("create on a");
    assert_eq!(b.load(&k).await.expect("load on b"), Some(r.clone()));
    assert!(matches!(b.create(&k, &r).await, Err(StoreError::Duplicate)));

    let seen = Timestamp::from_unix(now.unix() + 5);
    assert!(
        b.touch(&k, seen, seen.saturating_add(Duration::from_secs(1_800)))
            .await
            .expect("touch")
    );
    assert_eq!(
        a.load(&k)
            .await
            .expect("load")
            .expect("present")
            .last_seen_at,
        seen
    );

    // Both read version 0; the node that writes second loses.
    let mut data = SessionData::default();
    data.insert("by", "a").expect("serializable");
    assert_eq!(a.save_data(&k, 0, &data).await.expect("save on a"), 1);
    let stale = b.save_data(&k, 0, &SessionData::default()).await;
    assert!(
        matches!(stale, Err(StoreError::Conflict { expected: 0 })),
        "{stale:?}"
    );
    assert_eq!(b.load(&k).await.expect("load").expect("present").data, data);

    // Racing creates of one key from both nodes: exactly one wins.
    let k2 = key();
    let r2 = record("carol", now.unix() + 1);
    let (ra, rb) = tokio::join!(a.create(&k2, &r2), b.create(&k2, &r2));
    assert_eq!(
        [&ra, &rb].iter().filter(|r| r.is_ok()).count(),
        1,
        "{ra:?} {rb:?}"
    );
    assert!(matches!(ra.err().or(rb.err()), Some(StoreError::Duplicate)));

    assert_eq!(b.list_user("carol").await.expect("list").len(), 2);
    assert_eq!(a.count_active(now).await.expect("count"), 2);
    assert_eq!(b.delete_user("carol").await.expect("logout-all on b"), 2);
    assert_eq!(a.load(&k).await.expect("load"), None);
    assert!(a.list_user("carol").await.expect("list").is_empty());

    // Logout-all leaves no index behind.
    let mut conn = raw().await;
    let pattern = format!("{}:*", ns.name());
    let keys: Vec<String> = query(&mut conn, &["KEYS", &pattern]).await;
    assert!(keys.is_empty(), "{keys:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaces_keep_stores_apart() {
    let Some(url) = redis_url() else { return };
    let (ns1, ns2) = (Namespace::new(), Namespace::new());
    let one = RedisStore::connect(url, ns1.name()).await.expect("connect");
    let two = RedisStore::connect(url, ns2.name()).await.expect("connect");
    let now = SystemClock.now().unix();
    let k = key();
    one.create(&k, &record("dave", now)).await.expect("create");
    two.create(&k, &record("erin", now))
        .await
        .expect("same key, other namespace");
    assert!(one.delete(&k).await.expect("delete"));
    assert_eq!(
        two.load(&k).await.expect("load").expect("kept").user.id,
        "erin"
    );

    let mut conn = raw().await;
    let mut keys: Vec<String> = query(&mut conn, &["KEYS", &format!("{}:*", ns2.name())]).await;
    keys.sort();
    let expected = [
        format!("{}:s:{}", ns2.name(), k.to_hex()),
        format!("{}:u:erin", ns2.name()),
        format!("{}:x", ns2.name()),
    ];
    assert_eq!(keys, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undecodable_records_are_corrupt() {
    let Some(url) = redis_url() else { return };
    let ns = Namespace::new();
    let store = RedisStore::connect(url, ns.name()).await.expect("connect");
    let mut conn = raw().await;
    let now = SystemClock.now();

    let partial = key();
    let rk = format!("{}:s:{}", ns.name(), partial.to_hex());
    let _: i64 = query(&mut conn, &["HSET", &rk, "u", "frank", "h", "x"]).await;
    let err = store.load(&partial).await.expect_err("partial hash");
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
    let uk = format!("{}:u:frank", ns.name());
    let _: i64 = query(&mut conn, &["SADD", &uk, &partial.to_hex()]).await;
    let err = store.list_user("frank").await.expect_err("partial hash");
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");

    let wrong_type = key();
    let rk = format!("{}:s:{}", ns.name(), wrong_type.to_hex());
    let () = query(&mut conn, &["SET", &rk, "not a hash"]).await;
    let err = store.load(&wrong_type).await.expect_err("a string");
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
    let err = store
        .touch(&wrong_type, now, now)
        .await
        .expect_err("a string");
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_connection_is_replaced() {
    let Some(_) = redis_url() else { return };
    let ns = Namespace::new();
    let proxy = Proxy::start().await;
    let store = RedisStore::connect(&proxy.url(), ns.name())
        .await
        .expect("connect");
    let now = SystemClock.now().unix();
    let (k, r) = (key(), record("grace", now));
    store.create(&k, &r).await.expect("create");

    // Redis itself drops the store's connection, as on a server-side timeout or failover.
    let mut conn = raw().await;
    let mut killed = 0;
    for addr in proxy.upstream_addrs() {
        killed += query::<i64>(&mut conn, &["CLIENT", "KILL", "ADDR", &addr.to_string()]).await;
    }
    assert_eq!(killed, 1, "the store uses one multiplexed connection");

    // Reads retry once on the new connection, so the hot path does not see the drop.
    assert_eq!(store.load(&k).await.expect("load after the kill"), Some(r));
    store
        .create(&key(), &record("grace", now))
        .await
        .expect("create");
    assert_eq!(proxy.upstream_addrs().len(), 2, "reconnected once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unavailable_while_unreachable_then_recovers() {
    let Some(_) = redis_url() else { return };
    let ns = Namespace::new();
    let proxy = Proxy::start().await;
    let store = RedisStore::connect(&proxy.url(), ns.name())
        .await
        .expect("connect");
    let now = SystemClock.now().unix();
    let (k, r) = (key(), record("heidi", now));
    store.create(&k, &r).await.expect("create");

    proxy.stop().await;
    let started = Instant::now();
    let err = store.load(&k).await.expect_err("Redis is unreachable");
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(err.source().is_some(), "the cause is kept");
    assert!(matches!(
        store.ping().await,
        Err(StoreError::Unavailable(_))
    ));
    let create = store.create(&key(), &record("heidi", now)).await;
    assert!(
        matches!(create, Err(StoreError::Unavailable(_))),
        "{create:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "fails fast: {:?}",
        started.elapsed()
    );

    proxy.resume();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match store.load(&k).await {
            Ok(got) => {
                assert_eq!(got, Some(r));
                break;
            }
            Err(StoreError::Unavailable(_)) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("did not recover: {e:?}"),
        }
    }
    store.ping().await.expect("ready again");
}

#[tokio::test]
async fn connecting_to_nothing_is_unavailable() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let err = RedisStore::connect(&format!("redis://127.0.0.1:{port}"), "t")
        .await
        .expect_err("nothing listens");
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(err.source().is_some(), "the cause is kept");
}

#[tokio::test]
async fn bad_urls_and_namespaces_are_refused() {
    for ns in ["", "a:b", "x*", "spaced out"] {
        let err = RedisStore::connect(REDIS_URL, ns).await.expect_err(ns);
        assert!(matches!(err, StoreError::Backend(_)), "{ns:?}: {err:?}");
    }
    let err = RedisStore::connect("http://127.0.0.1:6379", "t")
        .await
        .expect_err("not redis");
    assert!(matches!(err, StoreError::Backend(_)), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_keeps_one_family_hash_until_the_absolute_expiry() {
    use cloakroom::session::{RotatingStore, Rotation};
    use cloakroom::store::conformance::{family, spend};

    let Some(url) = redis_url() else { return };
    let ns = Namespace::new();
    let a = RedisStore::connect(url, ns.name())
        .await
        .expect("connect a");
    let b = RedisStore::connect(url, ns.name())
        .await
        .expect("connect b");
    let now = SystemClock.now();
    let (f, old, r) = (family(), key(), record("ivan", now.unix())); // 30 min idle, 12 h absolute
    a.create(&old, &r).await.expect("create");

    // Sixteen rotations of one key without a reuse interval, from two nodes at once: exactly
    // one moves the session.
    let mut tasks = Vec::new();
    for i in 0..16 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        let new = key();
        tasks.push(tokio::spawn(async move {
            (
                new,
                store
                    .rotate(&spend(f, old, new, now))
                    .await
                    .expect("rotate"),
            )
        }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        if let (new, Rotation::Rotated(got)) = t.await.expect("task") {
            assert_eq!(got, r);
            winners.push(new);
        }
    }
    assert_eq!(winners.len(), 1, "one winner");
    // The fifteen others presented a spent key: reuse, and the session is gone.
    assert!(a.list_user("ivan").await.expect("list").is_empty());

    let mut conn = raw().await;
    let family = format!("{}:f:{}", ns.name(), f.to_hex());
    assert_ttl(pttl(&mut conn, &family).await, 43_200_000);
    let (u, h, c, p): (String, String, String, String) = redis::cmd("HMGET")
        .arg(&family)
        .arg("u")
        .arg("h")
        .arg("c")
        .arg("p")
        .query_async(&mut conn)
        .await
        .expect("hmget");
    assert_eq!((u.as_str(), h.as_str()), ("ivan", r.handle.as_str()));
    assert_eq!((c, p), (winners[0].to_hex(), old.to_hex()));
    // One family hash: no key per spent refresh token.
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}:*", ns.name()))
        .query_async(&mut conn)
        .await
        .expect("keys");
    assert_eq!(
        keys.iter().filter(|k| k.contains(":f:")).count(),
        1,
        "{keys:?}"
    );
}
