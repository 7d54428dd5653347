//! A session store that counts the calls made to the store it wraps: how the comparison
//! measures the store round trips of one authenticated request.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use cloakroom::clock::Timestamp;
use cloakroom::session::{SessionData, SessionHandle, SessionKey, SessionRecord, SessionStore};
use cloakroom::store::StoreError;

/// Passes every call on to `inner`, counting it.
#[derive(Debug)]
pub(super) struct Counting {
    inner: Arc<dyn SessionStore>,
    calls: AtomicU64,
}

impl Counting {
    pub(super) fn new(inner: Arc<dyn SessionStore>) -> Self {
        Self {
            inner,
            calls: AtomicU64::new(0),
        }
    }

    /// The calls so far.
    pub(super) fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    fn count(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
    }
}

#[async_trait]
impl SessionStore for Counting {
    async fn create(&self, key: &SessionKey, record: &SessionRecord) -> Result<(), StoreError> {
        self.count();
        self.inner.create(key, record).await
    }
    async fn load(&self, key: &SessionKey) -> Result<Option<SessionRecord>, StoreError> {
        self.count();
        self.inner.load(key).await
    }
    async fn touch(
        &self,
        key: &SessionKey,
        last_seen_at: Timestamp,
        idle_expires_at: Timestamp,
    ) -> Result<bool, StoreError> {
        self.count();
        self.inner.touch(key, last_seen_at, idle_expires_at).await
    }
    async fn save_data(
        &self,
        key: &SessionKey,
        expected_version: u64,
        data: &SessionData,
    ) -> Result<u64, StoreError> {
        self.count();
        self.inner.save_data(key, expected_version, data).await
    }
    async fn delete(&self, key: &SessionKey) -> Result<bool, StoreError> {
        self.count();
        self.inner.delete(key).await
    }
    async fn delete_by_handle(
        &self,
        user_id: &str,
        handle: &SessionHandle,
    ) -> Result<bool, StoreError> {
        self.count();
        self.inner.delete_by_handle(user_id, handle).await
    }
    async fn delete_user(&self, user_id: &str) -> Result<u64, StoreError> {
        self.count();
        self.inner.delete_user(user_id).await
    }
    async fn list_user(
        &self,
        user_id: &str,
    ) -> Result<Vec<(SessionKey, SessionRecord)>, StoreError> {
        self.count();
        self.inner.list_user(user_id).await
    }
    async fn count_active(&self, now: Timestamp) -> Result<u64, StoreError> {
        self.count();
        self.inner.count_active(now).await
    }
    async fn purge_expired(&self, now: Timestamp) -> Result<u64, StoreError> {
        self.count();
        self.inner.purge_expired(now).await
    }
}
