//! A store with a guard that lives as long as it.

use crate::clock::Timestamp;
use crate::session::{
    Rotation, SessionData, SessionHandle, SessionKey, SessionRecord, SessionStore,
};
use crate::store::StoreError;

/// A store under test together with what must live as long as it (a temporary directory, a
/// namespace or schema that is dropped at the end), so that every backend's test can hand the
/// suites a plain store.
#[derive(Debug)]
pub struct Guarded<S, G> {
    store: S,
    _guard: G,
}

impl<S, G> Guarded<S, G> {
    /// `store`, keeping `guard` alive until the store is dropped.
    pub fn new(store: S, guard: G) -> Self {
        Self {
            store,
            _guard: guard,
        }
    }
}

#[async_trait::async_trait]
impl<S: SessionStore, G: std::fmt::Debug + Send + Sync + 'static> SessionStore for Guarded<S, G> {
    async fn create(&self, key: &SessionKey, record: &SessionRecord) -> Result<(), StoreError> {
        self.store.create(key, record).await
    }
    async fn load(&self, key: &SessionKey) -> Result<Option<SessionRecord>, StoreError> {
        self.store.load(key).await
    }
    async fn touch(
        &self,
        key: &SessionKey,
        last_seen_at: Timestamp,
        idle_expires_at: Timestamp,
    ) -> Result<bool, StoreError> {
        self.store.touch(key, last_seen_at, idle_expires_at).await
    }
    async fn save_data(
        &self,
        key: &SessionKey,
        expected_version: u64,
        data: &SessionData,
    ) -> Result<u64, StoreError> {
        self.store.save_data(key, expected_version, data).await
    }
    async fn delete(&self, key: &SessionKey) -> Result<bool, StoreError> {
        self.store.delete(key).await
    }
    async fn delete_by_handle(
        &self,
        user_id: &str,
        handle: &SessionHandle,
    ) -> Result<bool, StoreError> {
        self.store.delete_by_handle(user_id, handle).await
    }
    async fn delete_user(&self, user_id: &str) -> Result<u64, StoreError> {
        self.store.delete_user(user_id).await
    }
    async fn list_user(
        &self,
        user_id: &str,
    ) -> Result<Vec<(SessionKey, SessionRecord)>, StoreError> {
        self.store.list_user(user_id).await
    }
    async fn count_active(&self, now: Timestamp) -> Result<u64, StoreError> {
        self.store.count_active(now).await
    }
    async fn purge_expired(&self, now: Timestamp) -> Result<u64, StoreError> {
        self.store.purge_expired(now).await
    }
}

#[async_trait::async_trait]
impl<S: crate::session::RotatingStore, G: std::fmt::Debug + Send + Sync + 'static>
    crate::session::RotatingStore for Guarded<S, G>
{
    async fn rotate(
        &self,
        request: &crate::session::RotationRequest,
    ) -> Result<Rotation, StoreError> {
        self.store.rotate(request).await
    }
}
