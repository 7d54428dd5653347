//! Two nodes in one process, sharing the real Redis at 127.0.0.1:6379: each with its own
//! `RedisStore`, `RedisRevocationStore`, `RedisBus`, `Revocations` and session near-cache.
//! A revocation or a logout on one reaches the other within milliseconds; a node cut off from
//! Redis (through the TCP proxy) catches up when it reconnects.
//!
//! `revocation_propagation_p50_p99` prints the measured propagation times; run it with
//! `cargo test -p cloakroom --features redis,jwt,memory,test-suite --release --test redis_bus
//! -- --nocapture propagation`.

#[path = "redis_store/proxy.rs"]
mod proxy;
#[path = "redis_store/support.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use cloakroom::clock::{Clock, SystemClock, Timestamp};
use cloakroom::revocation::{BusEvent, Revocation, RevocationBus, Revocations};
use cloakroom::session::SessionStore;
use cloakroom::store::conformance::{key, record};
use cloakroom::store::{
    CacheConfig, CachingStore, RedisBus, RedisRevocationStore, RedisStore, StoreError,
};

use self::proxy::Proxy;
use self::support::{Namespace, redis_url};

/// One node: what a `cloakroom serve` process holds.
struct Node {
    sessions: CachingStore<RedisStore>,
    revocations: Arc<Revocations>,
    bus: Arc<RedisBus>,
}

impl Node {
    async fn start(url: &str, ns: &Namespace) -> Self {
        let store = RedisStore::connect(url, ns.name()).await.expect("connect");
        let bus = Arc::new(RedisBus::connect(url, ns.name()).await.expect("bus"));
        let revocations = Arc::new(
            Revocations::open(
                Arc::new(RedisRevocationStore::new(&store)),
                Arc::new(SystemClock),
            )
            .await
            .expect("open")
            .with_bus(bus.clone()),
        );
        revocations.follow_bus();
        // A long TTL: only the bus (or a resync) can explain an eviction in these tests.
        let config = CacheConfig {
            ttl: Duration::from_secs(60),
            capacity: 10_000,
        };
        let sessions = CachingStore::new(store, config).with_bus(bus.clone());
        Self {
            sessions,
            revocations,
            bus,
        }
    }

    fn sees(&self, sid: &str) -> bool {
        self.revocations.deny_list().is_session_revoked(sid)
    }
}

fn in_an_hour() -> Timestamp {
    Timestamp::from_unix(SystemClock.now().unix() + 3_600)
}

/// Polls `f` every millisecond until it holds or `limit` passes; how long it took.
async fn within(limit: Duration, mut f: impl AsyncFnMut() -> bool) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if f().await {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_on_one_node_reaches_the_other() {
    let Some(url) = redis_url() else { return };
    let ns = Namespace::new();
    let (a, b) = (Node::start(url, &ns).await, Node::start(url, &ns).await);
    assert!(a.bus.is_connected() && b.bus.is_connected());

    a.revocations
        .revoke(Revocation::session("sid-1", in_an_hour()))
        .await
        .expect("revoke");
    let took = within(Duration::from_secs(1), async || b.sees("sid-1")).await;
    assert!(took.is_some(), "node B never saw the revocation");

    // Logout-all too, and back the other way.
    let now = SystemClock.now();
    b.revocations
        .revoke(Revocation::user("u1", now, in_an_hour()))
        .await
        .expect("revoke");
    let seen = async || a.revocations.deny_list().user_not_before("u1") == Some(now);
    assert!(within(Duration::from_secs(1), seen).await.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_near_cache_drops_a_session_the_other_node_ended() {
    let Some(url) = redis_url() else { return };
    let ns = Namespace::new();
    let (a, b) = (Node::start(url, &ns).await, Node::start(url, &ns).await);
    let now = SystemClock.now().unix();
    let (k1, k2) = (key(), key());
    a.sessions
        .create(&k1, &record("alice", now))
        .await
        .expect("create");
    a.sessions
        .create(&k2, &record("alice", now))
        .await
        .expect("create");
    for k in [&k1, &k2] {
        assert!(b.sessions.load(k).await.expect("load").is_some());
    }
    assert_eq!(b.sessions.len(), 2, "cached on B");

    assert!(a.sessions.delete(&k1).await.expect("logout on A"));
    let gone = async || b.sessions.load(&k1).await.expect("load").is_none();
    assert!(within(Duration::from_secs(1), gone).await.is_some());

    assert_eq!(
        a.sessions.delete_user("alice").await.expect("logout-all"),
        1
    );
    let gone = async || b.sessions.load(&k2).await.expect("load").is_none();
    assert!(within(Duration::from_secs(1), gone).await.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_cut_off_catches_up_when_it_reconnects() {
    let Some(url) = redis_url() else { return };
    let ns = Namespace::new();
    let proxy = Proxy::start().await;
    let a = Node::start(url, &ns).await;
    let b = Node::start(&proxy.url(), &ns).await;
    let now = SystemClock.now().unix();
    let k = key();
    a.sessions
        .create(&k, &record("bob", now))
        .await
        .expect("create");
    assert!(b.sessions.load(&k).await.expect("load").is_some());

    proxy.stop().await;
    let down = async || !b.bus.is_connected();
    assert!(within(Duration::from_secs(5), down).await.is_some());

    // While B is away: a revocation and a logout it cannot hear.
    a.revocations
        .revoke(Revocation::session("sid-away", in_an_hour()))
        .await
        .expect("revoke");
    assert!(a.sessions.delete(&k).await.expect("logout"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!b.sees("sid-away"), "published while B was cut off");

    proxy.resume();
    let up = async || b.bus.is_connected() && b.sees("sid-away");
    let took = within(Duration::from_secs(10), up).await;
    assert!(took.is_some(), "B did not catch up after reconnecting");
    eprintln!("B reconnected and reloaded in {took:?}");
    // The resync dropped B's cache too: the session that ended while it was away is gone.
    let gone = async || b.sessions.load(&k).await.is_ok_and(|r| r.is_none());
    assert!(within(Duration::from_secs(5), gone).await.is_some());

    // And news flows again.
    a.revocations
        .revoke(Revocation::session("sid-back", in_an_hour()))
        .await
        .expect("revoke");
    assert!(
        within(Duration::from_secs(1), async || b.sees("sid-back"))
            .await
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_that_redis_kills_comes_back() {
    let Some(url) = redis_url() else { return };
    let ns = Namespace::new();
    let proxy = Proxy::start().await;
    let a = Node::start(url, &ns).await;
    let b = Node::start(&proxy.url(), &ns).await;
    let mut events = b.bus.subscribe();

    // Redis drops every connection of B (as on a server-side timeout or an output buffer
    // overflow); the proxy stays up, so B resubscribes at once, and resyncs.
    let mut conn = redis::Client::open(url)
        .expect("url")
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    for addr in proxy.upstream_addrs() {
        let _: i64 = redis::cmd("CLIENT")
            .arg("KILL")
            .arg("ADDR")
            .arg(addr.to_string())
            .query_async(&mut conn)
            .await
            .expect("kill");
    }
    let resynced = tokio::time::timeout(Duration::from_secs(5), async {
        while !matches!(events.recv().await, Ok(BusEvent::Resync)) {}
    })
    .await;
    assert!(resynced.is_ok(), "B did not resubscribe");

    a.revocations
        .revoke(Revocation::session("sid-after-kill", in_an_hour()))
        .await
        .expect("revoke");
    assert!(
        within(Duration::from_secs(1), async || b.sees("sid-after-kill"))
            .await
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_propagation_p50_p99() {
    let Some(url) = redis_url() else { return };
    let ns = Namespace::new();
    let (a, b) = (Node::start(url, &ns).await, Node::start(url, &ns).await);
    const N: usize = 200;
    let (mut total, mut after_return) = (Vec::with_capacity(N), Vec::with_capacity(N));
    for i in 0..N {
        let sid = format!("sid-{i}");
        let started = Instant::now();
        a.revocations
            .revoke(Revocation::session(sid.clone(), in_an_hour()))
            .await
            .expect("revoke");
        let returned = Instant::now();
        // Spins (yielding) rather than sleeping: the timer's 1 ms would hide the figure.
        while !b.sees(&sid) {
            assert!(started.elapsed() < Duration::from_secs(1), "{sid} lost");
            tokio::task::yield_now().await;
        }
        total.push(started.elapsed());
        after_return.push(returned.elapsed());
    }
    let pct = |v: &mut Vec<Duration>, p: usize| {
        v.sort();
        v[(v.len() * p / 100).min(v.len() - 1)]
    };
    eprintln!(
        "revocation propagation over {N} revocations, node A -> node B through Redis pub/sub: \
         from revoke() called: p50 {:?}, p99 {:?}, max {:?}; from revoke() returned: p50 {:?}, \
         p99 {:?}",
        pct(&mut total, 50),
        pct(&mut total, 99),
        pct(&mut total, 100),
        pct(&mut after_return, 50),
        pct(&mut after_return, 99),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_subscriber_stops_with_its_bus() {
    let Some(url) = redis_url() else { return };
    let ns = Namespace::new();
    let bus = RedisBus::connect(url, ns.name()).await.expect("bus");
    let mut rx = bus.subscribe();
    drop(bus);
    let closed = tokio::time::timeout(Duration::from_secs(1), async {
        loop {
            match rx.recv().await {
                Ok(BusEvent::Resync | BusEvent::Message(_)) => {}
                Err(_) => return,
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the subscriber task outlived its bus");
}

#[tokio::test]
async fn a_bus_to_nothing_is_unavailable() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let err = RedisBus::connect(&format!("redis://127.0.0.1:{port}"), "t")
        .await
        .expect_err("nothing listens");
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
}
