//! Rows damaged behind the store's back are reported as corrupt, never a panic.

use cloakroom::clock::Timestamp;
use cloakroom::revocation::{Revocation, RevocationStore};
use cloakroom::session::SessionStore;
use cloakroom::store::StoreError;
use cloakroom::store::conformance::{key, record};
use cloakroom::token::{Algorithm, KeyStore, StoredKey};

use super::store;
use super::support::{TempSchema, postgres_url};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undecodable_rows_are_corrupt_not_panics() {
    let Some(url) = postgres_url() else { return };
    let schema = TempSchema::new(url);
    let s = store(url, &schema).await;
    let k = key();
    SessionStore::create(&s, &k, &record("gina", 1_700_000_000))
        .await
        .expect("create");
    for damage in [
        "UPDATE sessions SET handle = '../etc'",
        "UPDATE sessions SET data = '[1, 2]'",
        "UPDATE sessions SET version = -1",
    ] {
        let mut tx = s.pool().begin().await.expect("begin");
        // `version = -1` breaks a CHECK: take it off in this transaction only.
        sqlx::query("ALTER TABLE sessions DROP CONSTRAINT IF EXISTS sessions_version_check")
            .execute(&mut *tx)
            .await
            .expect("alter");
        sqlx::query(damage).execute(&mut *tx).await.expect(damage);
        tx.commit().await.expect("commit");
        let loaded = s.load(&k).await;
        assert!(
            matches!(loaded, Err(StoreError::Corrupt(_))),
            "{damage}: {loaded:?}"
        );
        sqlx::query("DELETE FROM sessions")
            .execute(s.pool())
            .await
            .expect("reset");
        SessionStore::create(&s, &k, &record("gina", 1_700_000_000))
            .await
            .expect("create");
    }

    s.insert(&StoredKey::generate(Algorithm::Hs256, Timestamp::from_unix(0)).expect("key"))
        .await
        .expect("insert");
    sqlx::query("UPDATE signing_keys SET algorithm = 'none'")
        .execute(s.pool())
        .await
        .expect("damage");
    assert!(matches!(
        KeyStore::load_all(&s).await,
        Err(StoreError::Corrupt(_))
    ));

    s.add(&Revocation::user(
        "u",
        Timestamp::from_unix(1),
        Timestamp::from_unix(i64::MAX),
    ))
    .await
    .expect("add");
    sqlx::query("UPDATE revocations SET not_before = NULL")
        .execute(s.pool())
        .await
        .expect("damage");
    let loaded = RevocationStore::load_all(&s, Timestamp::from_unix(0)).await;
    assert!(matches!(loaded, Err(StoreError::Corrupt(_))), "{loaded:?}");
}
