//! A per-node near-cache in front of a shared session store.

mod shards;

use std::fmt;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use self::shards::{SHARDS, Shard, Shared, hex_key};
use super::StoreError;
use crate::clock::{SharedClock, SystemClock, Timestamp};
use crate::session::{
    RotatingStore, Rotation, RotationRequest, SessionData, SessionHandle, SessionKey,
    SessionRecord, SessionStore,
};

/// Sessions that changed or ended: what a [`CachingStore`] tells the other nodes' caches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Invalidation {
    /// The session under this key changed or ended. On the wire, the key's hex (a digest: it
    /// does not let anyone present the session).
    Key(#[serde(with = "hex_key")] SessionKey),
    /// The session of `user_id` named `handle` ended.
    Handle {
        /// Whose session.
        user_id: String,
        /// Which one.
        handle: SessionHandle,
    },
    /// Every session of `user_id` ended.
    User {
        /// Whose sessions.
        user_id: String,
    },
}

/// Where a [`CachingStore`] publishes its invalidations (the revocation bus, with feature
/// `jwt`: see `CachingStore::with_bus`).
#[async_trait]
pub trait InvalidationSink: Send + Sync + fmt::Debug + 'static {
    /// Tells the other nodes; an error is logged by the cache, whose write has happened.
    async fn publish(&self, what: &Invalidation) -> Result<(), StoreError>;
}

/// How long and how much a [`CachingStore`] keeps.
#[derive(Debug, Clone, Copy)]
pub struct CacheConfig {
    /// How long a record read from the inner store is served from memory: the longest a
    /// node may answer from a stale copy when an invalidation does not reach it.
    pub ttl: Duration,
    /// The most records kept; past it, copies past their TTL are dropped first, then any.
    pub capacity: usize,
}

impl Default for CacheConfig {
    /// Two seconds, 100 000 records.
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(2),
            capacity: 100_000,
        }
    }
}

/// A [`SessionStore`] that keeps the records it loads from another store in this process for
/// a short TTL: session mode on a shared store (Redis) without a round trip on every request.
///
/// - Reads take one shard's read lock (of 64), never a global one. Only sessions that exist
///   are cached, and never one that ends within the TTL (so an idle expiry that another node
///   moved is never misjudged from a stale copy).
/// - Writes go to the inner store, then update or drop the cached copy, then (with an
///   [`InvalidationSink`]) tell the other nodes, whose caches drop it at once. A failed
///   publish is logged, not returned: the write is done, and the other nodes' copies expire
///   within the TTL anyway.
/// - So when invalidations do not arrive (the bus is down), no copy is served longer than
///   the TTL after it was read: a logout is never answered with a stale yes beyond that.
/// - Listing, counting and purging go to the inner store.
///
/// ```
/// # #[cfg(feature = "memory")] {
/// use cloakroom::store::{CacheConfig, CachingStore, MemoryStore};
///
/// let store = CachingStore::new(MemoryStore::new(1_000), CacheConfig::default());
/// assert!(store.is_empty());
/// # }
/// ```
pub struct CachingStore<S> {
    inner: S,
    shared: Arc<Shared>,
    sink: Option<Arc<dyn InvalidationSink>>,
    clock: SharedClock,
}

impl<S: fmt::Debug> fmt::Debug for CachingStore<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachingStore")
            .field("inner", &self.inner)
            .field("ttl", &self.shared.ttl)
            .field("capacity", &(self.shared.per_shard * SHARDS))
            .field("sink", &self.sink)
            .finish_non_exhaustive()
    }
}

/// A weak handle on a [`CachingStore`]'s memory, for whatever delivers invalidations: each
/// method returns `false` once the cache is gone.
#[derive(Debug, Clone)]
pub struct CacheHandle(Weak<Shared>);

impl CacheHandle {
    /// Drops what `what` names.
    pub fn invalidate(&self, what: &Invalidation) -> bool {
        self.0.upgrade().map(|s| s.invalidate(what)).is_some()
    }

    /// Drops everything (news may have been missed).
    pub fn clear(&self) -> bool {
        self.0.upgrade().map(|s| s.evict_where(|_| true)).is_some()
    }

    /// Whether the cache still exists.
    pub fn is_alive(&self) -> bool {
        self.0.strong_count() > 0
    }
}

impl<S: SessionStore> CachingStore<S> {
    /// A cache in front of `inner`.
    pub fn new(inner: S, config: CacheConfig) -> Self {
        Self {
            inner,
            shared: Arc::new(Shared {
                shards: (0..SHARDS).map(|_| Shard::default()).collect(),
                per_shard: config.capacity.div_ceil(SHARDS).max(1),
                ttl: config.ttl,
            }),
            sink: None,
            clock: Arc::new(SystemClock),
        }
    }

    /// The same cache, judging which sessions end soon by `clock` (the one the
    /// [`SessionManager`](crate::auth::SessionManager) uses).
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// The same cache, publishing what its writes change to `sink`.
    pub fn with_sink(mut self, sink: Arc<dyn InvalidationSink>) -> Self {
        self.sink = Some(sink);
        self
    }

    /// A handle to drop cached records by, for what receives invalidations.
    pub fn handle(&self) -> CacheHandle {
        CacheHandle(Arc::downgrade(&self.shared))
    }

    /// The store behind the cache.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// How many records are cached (some may be past their TTL).
    pub fn len(&self) -> usize {
        self.shared.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether a record may be cached now: not one that ends within the TTL.
    fn cacheable(&self, record: &SessionRecord) -> bool {
        let horizon = self
            .clock
            .now()
            .saturating_add(self.shared.ttl + Duration::from_secs(1));
        record.expires_at() > horizon
    }

    async fn publish(&self, what: Invalidation) {
        if let Some(sink) = &self.sink {
            if let Err(e) = sink.publish(&what).await {
                tracing::warn!(error = %e, "could not tell the other nodes' session caches");
            }
        }
    }
}

#[async_trait]
impl<S: SessionStore> SessionStore for CachingStore<S> {
    async fn create(&self, key: &SessionKey, record: &SessionRecord) -> Result<(), StoreError> {
        let (epoch, fetched) = (self.shared.epoch(key), Instant::now());
        self.inner.create(key, record).await?;
        if self.cacheable(record) {
            self.shared.insert(key, record.clone(), epoch, fetched);
        }
        Ok(())
    }

    async fn load(&self, key: &SessionKey) -> Result<Option<SessionRecord>, StoreError> {
        if let Some(record) = self.shared.get(key) {
            if self.cacheable(&record) {
                return Ok(Some(record));
            }
        }
        let (epoch, fetched) = (self.shared.epoch(key), Instant::now());
        let loaded = self.inner.load(key).await?;
        match &loaded {
            Some(record) if self.cacheable(record) => {
                self.shared.insert(key, record.clone(), epoch, fetched);
            }
            _ => self.shared.forget(key),
        }
        Ok(loaded)
    }

    async fn touch(
        &self,
        key: &SessionKey,
        last_seen_at: Timestamp,
        idle_expires_at: Timestamp,
    ) -> Result<bool, StoreError> {
        let epoch = self.shared.epoch(key);
        let found = self.inner.touch(key, last_seen_at, idle_expires_at).await;
        match found {
            Ok(true) => self.shared.update(key, epoch, |r| {
                r.last_seen_at = last_seen_at;
                r.idle_expires_at = idle_expires_at;
            }),
            _ => self.shared.evict(key),
        }
        found
    }

    async fn save_data(
        &self,
        key: &SessionKey,
        expected_version: u64,
        data: &SessionData,
    ) -> Result<u64, StoreError> {
        let epoch = self.shared.epoch(key);
        let saved = self.inner.save_data(key, expected_version, data).await;
        match saved {
            Ok(version) => {
                self.shared.update(key, epoch, |r| {
                    r.version = version;
                    r.data = data.clone();
                });
                self.publish(Invalidation::Key(*key)).await;
            }
            // A conflict means our copy is stale: the caller reloads, from the inner store.
            Err(_) => self.shared.evict(key),
        }
        saved
    }

    async fn delete(&self, key: &SessionKey) -> Result<bool, StoreError> {
        let deleted = self.inner.delete(key).await;
        self.shared.evict(key);
        if deleted.is_ok() {
            self.publish(Invalidation::Key(*key)).await;
        }
        deleted
    }

    async fn delete_by_handle(
        &self,
        user_id: &str,
        handle: &SessionHandle,
    ) -> Result<bool, StoreError> {
        let deleted = self.inner.delete_by_handle(user_id, handle).await;
        let what = Invalidation::Handle {
            user_id: user_id.to_owned(),
            handle: *handle,
        };
        self.shared.invalidate(&what);
        if deleted.is_ok() {
            self.publish(what).await;
        }
        deleted
    }

    async fn delete_user(&self, user_id: &str) -> Result<u64, StoreError> {
        let deleted = self.inner.delete_user(user_id).await;
        let what = Invalidation::User {
            user_id: user_id.to_owned(),
        };
        self.shared.invalidate(&what);
        if deleted.is_ok() {
            self.publish(what).await;
        }
        deleted
    }

    async fn list_user(
        &self,
        user_id: &str,
    ) -> Result<Vec<(SessionKey, SessionRecord)>, StoreError> {
        self.inner.list_user(user_id).await
    }

    async fn count_active(&self, now: Timestamp) -> Result<u64, StoreError> {
        self.inner.count_active(now).await
    }

    async fn purge_expired(&self, now: Timestamp) -> Result<u64, StoreError> {
        let purged = self.inner.purge_expired(now).await;
        self.shared.evict_where(|r| r.is_expired(now));
        purged
    }
}

#[async_trait]
impl<S: RotatingStore> RotatingStore for CachingStore<S> {
    async fn rotate(&self, request: &RotationRequest) -> Result<Rotation, StoreError> {
        let old = &request.old;
        let rotation = self.inner.rotate(request).await;
        self.shared.evict(old);
        match &rotation {
            Ok(Rotation::Rotated(_)) => self.publish(Invalidation::Key(*old)).await,
            Ok(Rotation::Reused { user_id, handle }) => {
                let what = Invalidation::Handle {
                    user_id: user_id.clone(),
                    handle: *handle,
                };
                self.shared.invalidate(&what);
                self.publish(what).await;
            }
            // Nothing changed: the session stays under the key it had.
            Ok(Rotation::Recent { .. } | Rotation::Unknown) | Err(_) => {}
        }
        rotation
    }
}
