//! Where revocations are kept, so that a revoked token stays revoked after a restart.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{Revocation, RevocationKind};
use crate::clock::Timestamp;
use crate::store::StoreError;

/// Where deny-list entries are kept.
///
/// In SQL this is one table `revocations (kind TEXT, subject TEXT, not_before INTEGER NULL,
/// expires_at INTEGER, PRIMARY KEY (kind, subject))`, with `kind`, `subject` and
/// `expires_at` from [`Revocation::kind`], [`Revocation::subject`] and
/// [`Revocation::expires_at`]; `add` is an upsert that keeps the later `not_before` and
/// `expires_at` (see [`Revocation::merge`]).
#[async_trait]
pub trait RevocationStore: Send + Sync + std::fmt::Debug + 'static {
    /// Adds an entry, or makes the entry about the same subject stricter.
    async fn add(&self, revocation: &Revocation) -> Result<(), StoreError>;

    /// Every entry that has not expired at `now`.
    async fn load_all(&self, now: Timestamp) -> Result<Vec<Revocation>, StoreError>;

    /// Deletes the entries that expired at or before `now`, returning how many.
    async fn purge_expired(&self, now: Timestamp) -> Result<u64, StoreError>;
}

/// Revocations in this process's memory: for tests, and for setups that accept losing them on
/// restart.
#[derive(Debug, Default)]
pub struct MemoryRevocationStore {
    // A plain mutex: written on logout and read at start-up, never on the verification path
    // (that is the `DenyList`'s job).
    entries: Mutex<HashMap<(RevocationKind, String), Revocation>>,
}

impl MemoryRevocationStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut HashMap<(RevocationKind, String), Revocation>) -> T,
    ) -> T {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut entries)
    }
}

#[async_trait]
impl RevocationStore for MemoryRevocationStore {
    async fn add(&self, revocation: &Revocation) -> Result<(), StoreError> {
        self.with(|entries| {
            let key = (revocation.kind(), revocation.subject().to_owned());
            let merged = match entries.get(&key) {
                Some(old) => old.merge(revocation),
                None => revocation.clone(),
            };
            entries.insert(key, merged);
        });
        Ok(())
    }

    async fn load_all(&self, now: Timestamp) -> Result<Vec<Revocation>, StoreError> {
        Ok(self.with(|entries| {
            entries
                .values()
                .filter(|r| r.expires_at() > now)
                .cloned()
                .collect()
        }))
    }

    async fn purge_expired(&self, now: Timestamp) -> Result<u64, StoreError> {
        Ok(self.with(|entries| {
            let before = entries.len();
            entries.retain(|_, r| r.expires_at() > now);
            (before - entries.len()) as u64
        }))
    }
}
