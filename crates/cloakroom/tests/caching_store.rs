//! The session near-cache: what it serves from memory, for how long, and how the bus makes
//! a logout on one node drop the copy on another at once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use cloakroom::clock::{Clock, SystemClock, Timestamp};
use cloakroom::revocation::LocalBus;
use cloakroom::session::{SessionData, SessionHandle, SessionKey, SessionRecord, SessionStore};
use cloakroom::store::conformance::{key, record};
use cloakroom::store::{CacheConfig, CachingStore, MemoryStore, StoreError};

/// One store that several caches (nodes) stand in front of.
#[derive(Debug, Clone)]
struct Shared(Arc<MemoryStore>);

#[async_trait]
impl SessionStore for Shared {
    async fn create(&self, key: &SessionKey, record: &SessionRecord) -> Result<(), StoreError> {
        self.0.create(key, record).await
    }
    async fn load(&self, key: &SessionKey) -> Result<Option<SessionRecord>, StoreError> {
        self.0.load(key).await
    }
    async fn touch(&self, k: &SessionKey, s: Timestamp, i: Timestamp) -> Result<bool, StoreError> {
        self.0.touch(k, s, i).await
    }
    async fn save_data(&self, k: &SessionKey, v: u64, d: &SessionData) -> Result<u64, StoreError> {
        self.0.save_data(k, v, d).await
    }
    async fn delete(&self, key: &SessionKey) -> Result<bool, StoreError> {
        self.0.delete(key).await
    }
    async fn delete_by_handle(&self, u: &str, h: &SessionHandle) -> Result<bool, StoreError> {
        self.0.delete_by_handle(u, h).await
    }
    async fn delete_user(&self, user_id: &str) -> Result<u64, StoreError> {
        self.0.delete_user(user_id).await
    }
    async fn list_user(&self, u: &str) -> Result<Vec<(SessionKey, SessionRecord)>, StoreError> {
        self.0.list_user(u).await
    }
    async fn count_active(&self, now: Timestamp) -> Result<u64, StoreError> {
        self.0.count_active(now).await
    }
    async fn purge_expired(&self, now: Timestamp) -> Result<u64, StoreError> {
        self.0.purge_expired(now).await
    }
}

fn config(ttl: Duration) -> CacheConfig {
    CacheConfig {
        ttl,
        capacity: 1_000,
    }
}

fn live_record(user: &str) -> SessionRecord {
    record(user, SystemClock.now().unix())
}

/// Polls `f` every millisecond for up to a second.
async fn eventually(mut f: impl AsyncFnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(1);
    while Instant::now() < deadline {
        if f().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    false
}

#[tokio::test]
async fn serves_a_copy_for_the_ttl_and_no_longer() {
    let cache = CachingStore::new(MemoryStore::new(100), config(Duration::from_millis(300)));
    let (k, r) = (key(), live_record("alice"));
    cache.create(&k, &r).await.expect("create");
    // Gone from the store behind the cache's back (no bus): the copy is served, for the TTL.
    assert!(cache.inner().delete(&k).await.expect("delete"));
    assert_eq!(cache.load(&k).await.expect("load"), Some(r));
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(cache.load(&k).await.expect("load"), None);
}

#[tokio::test]
async fn writes_update_the_copy() {
    let cache = CachingStore::new(MemoryStore::new(100), config(Duration::from_secs(60)));
    let (k, r) = (key(), live_record("bob"));
    cache.create(&k, &r).await.expect("create");
    let mut data = SessionData::default();
    data.insert("n", 1).expect("serializable");
    assert_eq!(cache.save_data(&k, 0, &data).await.expect("save"), 1);
    let later = Timestamp::from_unix(r.created_at.unix() + 60);
    let idle = Timestamp::from_unix(r.created_at.unix() + 1_860);
    assert!(cache.touch(&k, later, idle).await.expect("touch"));
    let got = cache.load(&k).await.expect("load").expect("present");
    assert_eq!(
        got,
        cache
            .inner()
            .load(&k)
            .await
            .expect("load")
            .expect("present")
    );
    assert_eq!((got.version, got.last_seen_at), (1, later));

    // A stale writer (another node wrote first) loses, and its copy is dropped.
    cache.inner().save_data(&k, 1, &data).await.expect("save");
    assert!(matches!(
        cache.save_data(&k, 1, &data).await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(
        cache
            .load(&k)
            .await
            .expect("load")
            .expect("present")
            .version,
        2
    );
}

#[tokio::test]
async fn a_session_about_to_end_is_read_from_the_store() {
    let cache = CachingStore::new(MemoryStore::new(100), config(Duration::from_secs(60)));
    let (k, mut r) = (key(), live_record("carol"));
    r.idle_expires_at = Timestamp::from_unix(SystemClock.now().unix() + 30);
    cache.create(&k, &r).await.expect("create");
    assert!(cache.is_empty(), "ends within the TTL: not cached");
    assert!(cache.inner().delete(&k).await.expect("delete"));
    assert_eq!(cache.load(&k).await.expect("load"), None);
}

#[tokio::test]
async fn the_cache_is_bounded() {
    let cache = CachingStore::new(
        MemoryStore::new(10_000),
        CacheConfig {
            ttl: Duration::from_secs(60),
            capacity: 128,
        },
    );
    for i in 0..2_000 {
        cache
            .create(&key(), &live_record(&format!("u{i}")))
            .await
            .expect("create");
    }
    assert!(cache.len() <= 128, "{} cached", cache.len());
    assert_eq!(cache.inner().len(), 2_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_on_one_node_evicts_the_copy_on_the_others() {
    let store = Shared(Arc::new(MemoryStore::new(1_000)));
    let bus = Arc::new(LocalBus::new());
    let ttl = config(Duration::from_secs(60)); // long: only the bus can explain an eviction
    let a = CachingStore::new(store.clone(), ttl).with_bus(bus.clone());
    let b = CachingStore::new(store, ttl).with_bus(bus);

    let (k1, k2, k3) = (key(), key(), key());
    let (r1, r2, r3) = (
        live_record("dave"),
        live_record("dave"),
        live_record("erin"),
    );
    for (k, r) in [(&k1, &r1), (&k2, &r2), (&k3, &r3)] {
        a.create(k, r).await.expect("create");
        assert!(b.load(k).await.expect("load").is_some(), "cached on b");
    }
    assert_eq!(b.len(), 3);

    assert!(a.delete(&k1).await.expect("logout"));
    assert!(eventually(async || b.load(&k1).await.expect("load").is_none()).await);

    assert!(
        a.delete_by_handle("dave", &r2.handle)
            .await
            .expect("revoke")
    );
    assert!(eventually(async || b.load(&k2).await.expect("load").is_none()).await);

    assert_eq!(a.delete_user("erin").await.expect("logout-all"), 1);
    assert!(eventually(async || b.load(&k3).await.expect("load").is_none()).await);
}
