//! Signing keys sealed with a key-encryption key on the real stores: the clear keys a store holds
//! are sealed in place (`KeyStore::set_material`), the sealed rows hold no clear material, load
//! back clear, and open with no other key-encryption key. SQLite in a temporary file, and
//! PostgreSQL at 127.0.0.1:5432 (fails under CI without it, skipped loudly elsewhere).

#[path = "postgres_store/support.rs"]
mod support;

use std::sync::Arc;

use cloakroom::clock::Timestamp;
use cloakroom::store::{PostgresOptions, PostgresStore, SqliteStore};
use cloakroom::token::{
    Algorithm, CheckError, KeyEncryptionKey, KeyStore, SealError, SealedKeyStore, StoredKey,
    is_sealed,
};

use self::support::{TempSchema, postgres_url};

fn kek(byte: u8) -> KeyEncryptionKey {
    KeyEncryptionKey::from_bytes(&[byte; 32]).expect("kek")
}

async fn seals_in_place(inner: Arc<dyn KeyStore>) {
    let t = Timestamp::from_unix(1_700_000_000);
    let ed = StoredKey::generate(Algorithm::EdDSA, t).expect("key");
    let hs = StoredKey::generate(Algorithm::Hs256, t).expect("key");
    inner.insert(&ed).await.expect("insert");
    inner.insert(&hs).await.expect("insert");
    assert!(
        !inner
            .set_material("no-such-kid", &ed.material)
            .await
            .expect("set_material"),
        "an unknown kid is reported, not created"
    );

    let sealed = SealedKeyStore::new(inner.clone(), Some(kek(1)));
    let report = sealed.check().await.expect("check");
    assert_eq!((report.newly_sealed, report.sealed), (2, 0));
    for (raw, clear) in inner.load_all().await.expect("raw").iter().zip([&ed, &hs]) {
        let bytes = raw.material.expose_secret();
        assert!(is_sealed(bytes), "{}", raw.kid);
        let secret = clear.material.expose_secret();
        assert!(!bytes.windows(secret.len()).any(|w| w == secret));
    }
    assert_eq!(sealed.load_all().await.expect("load"), vec![ed.clone(), hs]);
    assert_eq!(sealed.check().await.expect("again").sealed, 2);

    let wrong = SealedKeyStore::new(inner.clone(), Some(kek(2)));
    assert!(matches!(
        wrong.check().await,
        Err(CheckError::Seal(SealError::WrongKek { kid })) if kid == ed.kid.as_str()
    ));
    let none = SealedKeyStore::new(inner, None);
    assert!(matches!(
        none.check().await,
        Err(CheckError::Seal(SealError::NoKek { .. }))
    ));
}

#[tokio::test]
async fn sqlite_keys_are_sealed_in_place() {
    let dir = tempfile::tempdir().expect("dir");
    let store = SqliteStore::open(dir.path().join("keys.db"))
        .await
        .expect("open");
    seals_in_place(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_keys_are_sealed_in_place() {
    let Some(url) = postgres_url() else { return };
    let schema = TempSchema::new(url);
    let store =
        PostgresStore::connect_with(url, PostgresOptions::default().with_schema(schema.name()))
            .await
            .expect("connect");
    seals_in_place(Arc::new(store)).await;
}
