//! What it costs to authenticate a request by its session ID: `SessionManager::authenticate`,
//! which hashes the ID (SHA-256), loads the record from the store (a copy of it, decoded) and
//! checks its expiry, on a store holding 10 000 sessions. No touch (a write) happens during the
//! measurement. Baselines: the SHA-256 alone, and an empty query's round trip through sqlx.
//!
//! Run: `cargo bench -p cloakroom --bench session_lookup --features sqlite`; results in
//! docs/PERFORMANCE.md. Goals: memory ≤ 1 µs median, SQLite ≤ 50 µs median.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use cloakroom::auth::SessionManager;
use cloakroom::session::{ClientInfo, SessionId, SessionPolicy, SessionUser};
use cloakroom::store::{MemoryStore, SqliteStore};
use criterion::{Criterion, criterion_group, criterion_main};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection as _, SqliteConnection};
use tokio::runtime::Runtime;

/// Sessions in each store before measuring.
const SESSIONS: usize = 10_000;
/// Sessions per user, so that the per-user index is not degenerate.
const SESSIONS_PER_USER: usize = 4;

/// The default idle timeout, with a touch interval the measurement never reaches: a touch is
/// a write, and this benchmark is about reads (the default policy touches every 3 minutes).
fn policy() -> SessionPolicy {
    SessionPolicy::default()
        .with_touch_interval(Duration::from_secs(29 * 60))
        .expect("shorter than the idle timeout")
}

fn runtime() -> Runtime {
    // As a server runs: multi-threaded (the block_on thread waits for sqlx's worker threads
    // just as a runtime worker would).
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Starts `SESSIONS` sessions and returns their IDs.
async fn fill(sessions: &SessionManager) -> Vec<SessionId> {
    let mut ids = Vec::with_capacity(SESSIONS);
    for i in 0..SESSIONS {
        let user = i / SESSIONS_PER_USER;
        let who = SessionUser::new(user.to_string(), format!("user {user}"))
            .with_roles(["reader", "writer"]);
        let client = ClientInfo::new(
            Some("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"),
            Some([192, 0, 2, 7].into()),
        );
        let (id, _) = sessions.start(who, client).await.expect("start");
        ids.push(id);
    }
    ids
}

/// A prime that does not divide `SESSIONS`: stepping by it visits every session once per
/// round, in an order unrelated to the order they were written (and so to their place on disk).
const STRIDE: usize = 7_919;

/// Authenticates sessions of a store holding `SESSIONS`: all of them in a scattered order, as
/// requests from many clients would (`scattered`), and one session over and over, everything
/// it needs in the caches (`same_session`).
fn bench_authenticate(c: &mut Criterion, rt: &Runtime, store: &str, sessions: &SessionManager) {
    let ids = rt.block_on(fill(sessions));
    let mut group = c.benchmark_group(format!("authenticate/{store}_10k"));
    let mut next = 0;
    group.bench_function("scattered", |b| {
        b.to_async(rt).iter(|| {
            let id = &ids[next];
            next = (next + STRIDE) % ids.len();
            async move { sessions.authenticate(id).await.expect("a live session") }
        });
    });
    let id = &ids[ids.len() / 2];
    group.bench_function("same_session", |b| {
        b.to_async(rt)
            .iter(|| async { sessions.authenticate(id).await.expect("a live session") });
    });
    group.finish();
    // Prove the measurement was of reads only: no session was touched.
    rt.block_on(async {
        for id in ids.iter().take(100) {
            let record = sessions.authenticate(id).await.expect("live").record;
            assert_eq!(
                record.last_seen_at, record.created_at,
                "a touch was measured"
            );
        }
    });
}

fn session_lookup(c: &mut Criterion) {
    let rt = runtime();

    let id = SessionId::generate().expect("OS RNG");
    c.bench_function("baseline/sha256_of_id", |b| b.iter(|| black_box(&id).key()));

    let memory = SessionManager::new(MemoryStore::new(SESSIONS * 2), policy());
    bench_authenticate(c, &rt, "memory", &memory);

    let dir = tempfile::tempdir().expect("temp dir");
    let store = rt
        .block_on(SqliteStore::open(dir.path().join("bench.db")))
        .expect("open");
    let sqlite = SessionManager::new(store.clone(), policy());
    bench_authenticate(c, &rt, "sqlite", &sqlite);
    sqlx_round_trips(c, &rt, &store, &dir.path().join("bench.db"));
    rt.block_on(store.close());
}

/// The floor under any SQLite query through sqlx: its connections run on worker threads, so a
/// query is a round trip to another thread. Through an `sqlx::Pool` (the store's write pool),
/// and through a connection of one's own (as the store's reads go).
fn sqlx_round_trips(c: &mut Criterion, rt: &Runtime, store: &SqliteStore, path: &Path) {
    let pool = store.pool();
    c.bench_function("baseline/sqlx_pool_select_1", |b| {
        b.to_async(rt)
            .iter(|| async { sqlx::query("SELECT 1").execute(pool).await.expect("query") });
    });
    let options = SqliteConnectOptions::new().filename(path);
    let conn = rt
        .block_on(SqliteConnection::connect_with(&options))
        .expect("connect");
    let conn = tokio::sync::Mutex::new(conn);
    c.bench_function("baseline/sqlx_connection_select_1", |b| {
        b.to_async(rt).iter(|| async {
            let mut conn = conn.lock().await;
            sqlx::query("SELECT 1")
                .execute(&mut *conn)
                .await
                .expect("query")
        });
    });
}

criterion_group!(benches, session_lookup);
criterion_main!(benches);
