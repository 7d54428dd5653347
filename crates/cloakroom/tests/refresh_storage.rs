//! Storage of one refresh session after 10 000 refreshes, on each store (issue 12, item 5):
//! one family record per session, not one spent-key record per rotation. Each test prints its
//! numbers, next to those of the layout it replaced (10 000 records of the old table's shape,
//! written into the same store); docs/SECURITY.md quotes them. Re-measure with
//!
//! ```text
//! CI=true cargo test -p cloakroom --all-features --test refresh_storage -- --nocapture --test-threads 1
//! ```

#[path = "postgres_store/support.rs"]
mod postgres_support;
#[path = "redis_store/support.rs"]
mod redis_support;

use std::sync::Arc;

use cloakroom::clock::{ManualClock, Timestamp};
use cloakroom::session::{RefreshRotation, Refreshed, RotatingStore, RotationNonce, SessionId};
use cloakroom::store::conformance::record;
use cloakroom::store::{MemoryStore, PostgresOptions, PostgresStore, RedisStore, SqliteStore};

/// How many refreshes each test makes of its one session.
const REFRESHES: usize = 10_000;
const T0: i64 = 1_700_000_000;

/// Signs in once and refreshes `REFRESHES` times, a second apart (so that each one's
/// predecessor is spent outside nothing but its own interval); returns the last token.
async fn refresh_many(store: &dyn RotatingStore) -> SessionId {
    let rotation = RefreshRotation::default();
    let mut token = SessionId::generate().unwrap();
    store
        .create(&token.key(), &record("alice", T0))
        .await
        .unwrap();
    for i in 0..REFRESHES {
        let now = Timestamp::from_unix(T0 + 1 + i as i64);
        let nonce = RotationNonce::generate().unwrap();
        match rotation.rotate(store, &token, nonce, now).await.unwrap() {
            Refreshed::Rotated {
                next,
                repeated: false,
                ..
            } => token = next,
            other => panic!("refresh {i}: {other:?}"),
        }
    }
    // Still one live session, and its oldest token is still caught.
    assert_eq!(store.list_user("alice").await.unwrap().len(), 1);
    token
}

/// Checks that the first token of a fresh chain is reuse after many refreshes: detection does
/// not need a record per spent token.
async fn oldest_token_is_still_reuse(store: &dyn RotatingStore) {
    let rotation = RefreshRotation::default();
    let first = SessionId::generate().unwrap();
    store
        .create(&first.key(), &record("bob", T0))
        .await
        .unwrap();
    let mut token = first.clone();
    for i in 0..100 {
        let now = Timestamp::from_unix(T0 + 1 + i);
        let nonce = RotationNonce::generate().unwrap();
        let Refreshed::Rotated { next, .. } =
            rotation.rotate(store, &token, nonce, now).await.unwrap()
        else {
            panic!("refresh {i}");
        };
        token = next;
    }
    let nonce = RotationNonce::generate().unwrap();
    let later = Timestamp::from_unix(T0 + 101);
    assert!(matches!(
        rotation.rotate(store, &first, nonce, later).await.unwrap(),
        Refreshed::Reused { .. }
    ));
    assert!(store.list_user("bob").await.unwrap().is_empty());
}

#[tokio::test]
async fn memory_keeps_one_family_per_session_after_10000_refreshes() {
    let store = MemoryStore::new(1_000);
    refresh_many(&store).await;
    println!(
        "memory: after {REFRESHES} refreshes: {} session, {} family record \
         (the old layout: {REFRESHES} spent-key entries)",
        store.len(),
        store.refresh_families()
    );
    assert_eq!((store.len(), store.refresh_families()), (1, 1));
    oldest_token_is_still_reuse(&store).await;
}

#[tokio::test]
async fn sqlite_keeps_one_family_row_per_session_after_10000_refreshes() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("s.db")).await.unwrap();
    let bytes = async |store: &SqliteStore| -> i64 {
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(store.pool())
            .await
            .unwrap();
        let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
            .fetch_one(store.pool())
            .await
            .unwrap();
        let size: i64 = sqlx::query_scalar("PRAGMA page_size")
            .fetch_one(store.pool())
            .await
            .unwrap();
        pages * size
    };
    let count = async |store: &SqliteStore, table: &str| -> i64 {
        sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(store.pool())
            .await
            .unwrap()
    };
    let empty = bytes(&store).await;
    refresh_many(&store).await;
    let after = bytes(&store).await;
    let (sessions, families) = (
        count(&store, "sessions").await,
        count(&store, "refresh_families").await,
    );

    // The replaced layout: one row per spent key, the old table's shape and index.
    sqlx::query(
        "CREATE TABLE old_spent_session_keys (key BLOB NOT NULL PRIMARY KEY CHECK (length(key) = 32), \
         user_id TEXT NOT NULL, handle TEXT NOT NULL, until INTEGER NOT NULL)",
    )
    .execute(store.pool())
    .await
    .unwrap();
    sqlx::query("CREATE INDEX old_spent_by_until ON old_spent_session_keys (until)")
        .execute(store.pool())
        .await
        .unwrap();
    let mut tx = store.pool().begin().await.unwrap();
    let handle = record("alice", T0).handle;
    for _ in 0..REFRESHES {
        sqlx::query("INSERT INTO old_spent_session_keys VALUES (?1, ?2, ?3, ?4)")
            .bind(SessionId::generate().unwrap().key().as_bytes().as_slice())
            .bind("alice")
            .bind(handle.as_str())
            .bind(T0 + 43_200)
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let old = bytes(&store).await;
    println!(
        "sqlite: after {REFRESHES} refreshes: {sessions} session row, {families} family row, \
         file {after} bytes ({} more than empty); the old layout's {REFRESHES} spent rows: \
         {} bytes more",
        after - empty,
        old - after
    );
    assert_eq!((sessions, families), (1, 1));
    sqlx::query("DROP TABLE old_spent_session_keys")
        .execute(store.pool())
        .await
        .unwrap();
    oldest_token_is_still_reuse(&store).await;
}

#[tokio::test]
async fn postgres_keeps_one_family_row_per_session_after_10000_refreshes() {
    let Some(url) = postgres_support::postgres_url() else {
        return;
    };
    let schema = postgres_support::TempSchema::new(url);
    let store =
        PostgresStore::connect_with(url, PostgresOptions::default().with_schema(schema.name()))
            .await
            .unwrap();
    let name = schema.name().to_owned();
    let size = async |store: &PostgresStore, table: &str| -> i64 {
        sqlx::query(&format!("VACUUM {name}.{table}"))
            .execute(store.pool())
            .await
            .unwrap();
        sqlx::query_scalar(&format!("SELECT pg_total_relation_size('{name}.{table}')"))
            .fetch_one(store.pool())
            .await
            .unwrap()
    };
    let count = async |store: &PostgresStore, table: &str| -> i64 {
        sqlx::query_scalar(&format!("SELECT count(*) FROM {name}.{table}"))
            .fetch_one(store.pool())
            .await
            .unwrap()
    };
    refresh_many(&store).await;
    let (sessions, families) = (
        count(&store, "sessions").await,
        count(&store, "refresh_families").await,
    );
    let bytes = size(&store, "refresh_families").await;

    sqlx::query(&format!(
        "CREATE TABLE {name}.old_spent_session_keys (key BYTEA NOT NULL PRIMARY KEY \
         CHECK (octet_length(key) = 32), user_id TEXT NOT NULL, handle TEXT COLLATE \"C\" NOT NULL, \
         until BIGINT NOT NULL)"
    ))
    .execute(store.pool())
    .await
    .unwrap();
    sqlx::query(&format!(
        "CREATE INDEX old_spent_by_until ON {name}.old_spent_session_keys (until)"
    ))
    .execute(store.pool())
    .await
    .unwrap();
    sqlx::query(&format!(
        "INSERT INTO {name}.old_spent_session_keys \
         SELECT sha256(i::text::bytea), 'alice', 'AAAAAAAAAAAAAAAAAAAAAA', $1 \
         FROM generate_series(1, $2) AS i"
    ))
    .bind(T0 + 43_200)
    .bind(REFRESHES as i64)
    .execute(store.pool())
    .await
    .unwrap();
    let old = size(&store, "old_spent_session_keys").await;
    println!(
        "postgres: after {REFRESHES} refreshes: {sessions} session row, {families} family row, \
         refresh_families {bytes} bytes (after VACUUM, table and indexes); the old layout's \
         {REFRESHES} spent rows: {old} bytes"
    );
    assert_eq!((sessions, families), (1, 1));
    oldest_token_is_still_reuse(&store).await;
    drop(store);
}

#[tokio::test]
async fn redis_keeps_one_family_hash_per_session_after_10000_refreshes() {
    let Some(url) = redis_support::redis_url() else {
        return;
    };
    let ns = redis_support::Namespace::new();
    let clock = ManualClock::new(Timestamp::from_unix(T0));
    let store = RedisStore::connect(url, ns.name())
        .await
        .unwrap()
        .with_clock(Arc::new(clock));
    refresh_many(&store).await;
    let mut conn = redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let usage = async |conn: &mut redis::aio::MultiplexedConnection, pattern: String| {
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(pattern)
            .query_async(conn)
            .await
            .unwrap();
        let mut pipe = redis::pipe();
        for k in &keys {
            pipe.cmd("MEMORY").arg("USAGE").arg(k);
        }
        let bytes: Vec<i64> = pipe.query_async(conn).await.unwrap();
        (keys, bytes.iter().sum::<i64>())
    };
    let (keys, bytes) = usage(&mut conn, format!("{}:*", ns.name())).await;
    let families = keys.iter().filter(|k| k.contains(":f:")).count();

    // The replaced layout: a hash per spent key, with its session's user, handle and expiry.
    let old_ns = redis_support::Namespace::new();
    let mut pipe = redis::pipe();
    let handle = record("alice", T0).handle;
    for _ in 0..REFRESHES {
        let key = format!(
            "{}:spent:{}",
            old_ns.name(),
            SessionId::generate().unwrap().key().to_hex()
        );
        pipe.cmd("HSET")
            .arg(&key)
            .arg("u")
            .arg("alice")
            .arg("h")
            .arg(handle.as_str())
            .arg("ae")
            .arg(T0 + 43_200)
            .ignore();
        pipe.cmd("PEXPIRE").arg(&key).arg(43_200_000).ignore();
    }
    let () = pipe.query_async(&mut conn).await.unwrap();
    let (old_keys, old_bytes) = usage(&mut conn, format!("{}:*", old_ns.name())).await;
    println!(
        "redis: after {REFRESHES} refreshes: {} keys ({families} family hash), {bytes} bytes \
         (MEMORY USAGE); the old layout's {} spent hashes: {old_bytes} bytes",
        keys.len(),
        old_keys.len()
    );
    assert_eq!(families, 1);
    assert!(keys.len() <= 4, "{keys:?}");
    oldest_token_is_still_reuse(&store).await;
}
