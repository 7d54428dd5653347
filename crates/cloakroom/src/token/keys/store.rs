//! Where keys are kept, so that every node and every restart signs and verifies with the
//! same keys.

use std::sync::Mutex;

use async_trait::async_trait;

use super::{KeyMaterial, StoredKey};
use crate::clock::Timestamp;
use crate::store::StoreError;

/// Where keys are kept: one [`StoredKey`] per row, keyed by `kid`.
///
/// In SQL this is one table (see [`StoredKey`] for the columns); every method is one statement.
/// Keys are looked up by `kid` only as a bound parameter, and only `kid`s this server made
/// reach the store: a token's `kid` is looked up in memory, never here.
#[async_trait]
pub trait KeyStore: Send + Sync + std::fmt::Debug + 'static {
    /// Every key, retired or not, oldest first.
    async fn load_all(&self) -> Result<Vec<StoredKey>, StoreError>;

    /// Adds a key. Fails with [`StoreError::Duplicate`] if the `kid` is taken.
    async fn insert(&self, key: &StoredKey) -> Result<(), StoreError>;

    /// Sets when the key stops verifying (after a rotation); the result says whether it exists.
    async fn set_retire_after(&self, kid: &str, at: Timestamp) -> Result<bool, StoreError>;

    /// Marks the key retired at `at`; the result says whether it exists.
    async fn mark_retired(&self, kid: &str, at: Timestamp) -> Result<bool, StoreError>;

    /// Deletes the key; the result says whether there was one.
    async fn delete(&self, kid: &str) -> Result<bool, StoreError>;

    /// Replaces the key's material (to encrypt it at rest, see
    /// [`SealedKeyStore`](super::SealedKeyStore)); the result says whether it exists. Stores
    /// that cannot refuse it.
    async fn set_material(&self, kid: &str, material: &KeyMaterial) -> Result<bool, StoreError> {
        let _ = (kid, material);
        Err(StoreError::Backend(
            "this key store cannot replace key material".into(),
        ))
    }
}

/// Keys in this process's memory: for tests and single-process setups where keys may change
/// on restart (every token is then refused after a restart).
#[derive(Debug, Default)]
pub struct MemoryKeyStore {
    // A plain mutex: keys are read once at start-up and written on rotation, never per request.
    keys: Mutex<Vec<StoredKey>>,
}

impl MemoryKeyStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut Vec<StoredKey>) -> T) -> T {
        // A panic while holding the lock cannot leave a half-written key: recover the data.
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut keys)
    }

    fn update(&self, kid: &str, f: impl FnOnce(&mut StoredKey)) -> bool {
        self.with(
            |keys| match keys.iter_mut().find(|k| k.kid.as_str() == kid) {
                Some(k) => {
                    f(k);
                    true
                }
                None => false,
            },
        )
    }
}

#[async_trait]
impl KeyStore for MemoryKeyStore {
    async fn load_all(&self) -> Result<Vec<StoredKey>, StoreError> {
        Ok(self.with(|keys| keys.clone()))
    }

    async fn insert(&self, key: &StoredKey) -> Result<(), StoreError> {
        self.with(|keys| {
            if keys.iter().any(|k| k.kid == key.kid) {
                return Err(StoreError::Duplicate);
            }
            keys.push(key.clone());
            Ok(())
        })
    }

    async fn set_retire_after(&self, kid: &str, at: Timestamp) -> Result<bool, StoreError> {
        Ok(self.update(kid, |k| k.retire_after = Some(at)))
    }

    async fn mark_retired(&self, kid: &str, at: Timestamp) -> Result<bool, StoreError> {
        Ok(self.update(kid, |k| k.retired_at = Some(at)))
    }

    async fn set_material(&self, kid: &str, material: &KeyMaterial) -> Result<bool, StoreError> {
        Ok(self.update(kid, |k| k.material = material.clone()))
    }

    async fn delete(&self, kid: &str) -> Result<bool, StoreError> {
        Ok(self.with(|keys| {
            let before = keys.len();
            keys.retain(|k| k.kid.as_str() != kid);
            keys.len() != before
        }))
    }
}
