//! Two nodes in one process, sharing the real PostgreSQL at 127.0.0.1:5432 and no Redis: each
//! with its own `PostgresStore`, `PostgresBus` (`LISTEN`/`NOTIFY`), `Revocations` and session
//! near-cache. A revocation or a logout on one reaches the other within milliseconds; a node
//! whose connections the server terminates catches up when it reconnects; a revocation too
//! long for `NOTIFY` still arrives.
//!
//! Each node connects with an `application_name` of its own, so that terminating "every
//! connection" here ends only this test's node, never another test's on the same server.
//!
//! `revocation_propagation_p50_p99` prints the measured propagation times; run it with
//! `cargo test -p cloakroom --features postgres,jwt,memory,test-suite --release --test
//! postgres_bus -- --nocapture propagation`.

#[path = "postgres_store/support.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use cloakroom::clock::{Clock, SystemClock, Timestamp};
use cloakroom::revocation::{BusEvent, Revocation, RevocationBus, RevocationStore, Revocations};
use cloakroom::session::SessionStore;
use cloakroom::store::conformance::{key, record};
use cloakroom::store::{CacheConfig, CachingStore, PostgresBus, PostgresOptions, PostgresStore};

use self::support::{TempSchema, postgres_url};

/// One node: what a `cloakroom serve` process holds.
struct Node {
    store: PostgresStore,
    sessions: CachingStore<PostgresStore>,
    revocations: Arc<Revocations>,
    bus: Arc<PostgresBus>,
    /// The `application_name` of every connection of this node.
    name: String,
}

impl Node {
    async fn start(url: &str, schema: &TempSchema) -> Self {
        let name = format!("bus_{}", uuid::Uuid::new_v4().simple());
        let sep = if url.contains('?') { '&' } else { '?' };
        let url = format!("{url}{sep}application_name={name}");
        let options = PostgresOptions::default().with_schema(schema.name());
        let store = PostgresStore::connect_with(&url, options)
            .await
            .expect("connect");
        let bus = Arc::new(PostgresBus::connect(&store).await.expect("bus"));
        let revocations = Arc::new(
            Revocations::open(Arc::new(store.clone()), Arc::new(SystemClock))
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
        let sessions = CachingStore::new(store.clone(), config).with_bus(bus.clone());
        Self {
            store,
            sessions,
            revocations,
            bus,
            name,
        }
    }

    fn sees(&self, sid: &str) -> bool {
        self.revocations.deny_list().is_session_revoked(sid)
    }

    /// Terminates every connection this node has to the database, from another connection,
    /// as `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname =
    /// current_database()` would, limited to this node; how many there were.
    async fn terminate_connections(&self, url: &str) -> i64 {
        use sqlx::Connection as _;
        let mut admin = sqlx::PgConnection::connect(url).await.expect("admin");
        sqlx::query_scalar(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid() \
             AND application_name = $1",
        )
        .bind(&self.name)
        .fetch_one(&mut admin)
        .await
        .expect("terminate")
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
    let Some(url) = postgres_url() else { return };
    let schema = TempSchema::new(url);
    let (a, b) = (
        Node::start(url, &schema).await,
        Node::start(url, &schema).await,
    );
    assert!(a.bus.is_connected() && b.bus.is_connected());
    assert_eq!(a.bus.channel(), format!("{}_bus", schema.name()));
    let status = b.bus.status();
    assert_eq!(status.connections, 1, "{status:?}");
    assert!(status.last_resync.is_some(), "{status:?}");

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
async fn a_node_started_after_a_revocation_knows_it() {
    let Some(url) = postgres_url() else { return };
    let schema = TempSchema::new(url);
    let a = Node::start(url, &schema).await;
    a.revocations
        .revoke(Revocation::session("sid-before", in_an_hour()))
        .await
        .expect("revoke");
    let b = Node::start(url, &schema).await;
    assert!(b.sees("sid-before"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_too_long_for_notify_arrives_as_a_reload() {
    let Some(url) = postgres_url() else { return };
    let schema = TempSchema::new(url);
    let (a, b) = (
        Node::start(url, &schema).await,
        Node::start(url, &schema).await,
    );
    let mut events = b.bus.subscribe();
    // A user ID longer than NOTIFY's 8000-byte payload: sent verbatim, PostgreSQL would refuse
    // it and the logout would fail.
    let long_user = "u".repeat(9_000);
    let now = SystemClock.now();
    a.revocations
        .revoke(Revocation::user(long_user.clone(), now, in_an_hour()))
        .await
        .expect("a revocation too long for NOTIFY is still published");
    let resync = tokio::time::timeout(Duration::from_secs(5), async {
        while !matches!(events.recv().await, Ok(BusEvent::Resync)) {}
    })
    .await;
    assert!(resync.is_ok(), "B was not told to reload");
    let seen = async || b.revocations.deny_list().user_not_before(&long_user) == Some(now);
    assert!(within(Duration::from_secs(5), seen).await.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_near_cache_drops_a_session_the_other_node_ended() {
    let Some(url) = postgres_url() else { return };
    let schema = TempSchema::new(url);
    let (a, b) = (
        Node::start(url, &schema).await,
        Node::start(url, &schema).await,
    );
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
async fn a_node_whose_connections_are_terminated_catches_up() {
    let Some(url) = postgres_url() else { return };
    let schema = TempSchema::new(url);
    let (a, b) = (
        Node::start(url, &schema).await,
        Node::start(url, &schema).await,
    );
    let now = SystemClock.now().unix();
    let k = key();
    a.sessions
        .create(&k, &record("bob", now))
        .await
        .expect("create");
    assert!(b.sessions.load(&k).await.expect("load").is_some());

    // An entry that is stored but never published (as one whose notification B missed): only
    // a reload can bring it to B.
    a.store
        .add(&Revocation::session("sid-unheard", in_an_hour()))
        .await
        .expect("store");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!b.sees("sid-unheard"), "nothing was published");

    let mut events = b.bus.subscribe();
    assert!(b.terminate_connections(url).await >= 1, "B's listener");
    // Meanwhile: a revocation and a logout on A, which B may not be listening for.
    a.revocations
        .revoke(Revocation::session("sid-away", in_an_hour()))
        .await
        .expect("revoke");
    assert!(a.sessions.delete(&k).await.expect("logout"));

    let resynced = tokio::time::timeout(Duration::from_secs(5), async {
        while !matches!(events.recv().await, Ok(BusEvent::Resync)) {}
    })
    .await;
    assert!(resynced.is_ok(), "B did not listen again");
    let up = async || b.sees("sid-away") && b.sees("sid-unheard");
    let took = within(Duration::from_secs(5), up).await;
    assert!(took.is_some(), "B did not catch up after reconnecting");
    eprintln!("B listened again and reloaded in {took:?}");
    assert_eq!(b.bus.status().connections, 2, "{:?}", b.bus.status());
    assert!(b.bus.is_connected());
    // The resync dropped B's cache too: the session that ended meanwhile is gone.
    let gone = async || b.sessions.load(&k).await.is_ok_and(|r| r.is_none());
    assert!(within(Duration::from_secs(5), gone).await.is_some());

    // And news flows again, both ways.
    a.revocations
        .revoke(Revocation::session("sid-back", in_an_hour()))
        .await
        .expect("revoke");
    assert!(
        within(Duration::from_secs(1), async || b.sees("sid-back"))
            .await
            .is_some()
    );
    b.revocations
        .revoke(Revocation::session("sid-from-b", in_an_hour()))
        .await
        .expect("B's pool reconnected too");
    assert!(
        within(Duration::from_secs(1), async || a.sees("sid-from-b"))
            .await
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_propagation_p50_p99() {
    let Some(url) = postgres_url() else { return };
    let schema = TempSchema::new(url);
    let (a, b) = (
        Node::start(url, &schema).await,
        Node::start(url, &schema).await,
    );
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
            assert!(started.elapsed() < Duration::from_secs(5), "{sid} lost");
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
        "revocation propagation over {N} revocations, node A -> node B through PostgreSQL \
         NOTIFY: from revoke() called: p50 {:?}, p99 {:?}, max {:?}; from revoke() returned: \
         p50 {:?}, p99 {:?}",
        pct(&mut total, 50),
        pct(&mut total, 99),
        pct(&mut total, 100),
        pct(&mut after_return, 50),
        pct(&mut after_return, 99),
    );
}
