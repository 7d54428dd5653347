//! Sessions in this process's memory.

use std::collections::HashSet;
use std::sync::{Arc, Weak};
use std::time::Duration;

use async_trait::async_trait;
use dashmap::DashMap;

use super::StoreError;
use crate::clock::{SharedClock, Timestamp};
use crate::session::{
    RotatingStore, Rotation, SessionData, SessionHandle, SessionKey, SessionRecord, SessionStore,
};

/// A key that was rotated away: presenting it again is reuse.
#[derive(Debug)]
struct Spent {
    user_id: String,
    handle: SessionHandle,
    /// The session's absolute expiry: after it, forgetting the key is harmless.
    until: Timestamp,
}

/// Sessions in a concurrent hash map: sharded locks, so readers of different sessions never
/// wait on each other and there is no global lock on the read path. Bounded: when full, it
/// purges what has expired, and refuses new sessions if that frees nothing (rather than
/// silently signing someone else out). Gone when the process ends.
///
/// ```
/// use cloakroom::store::MemoryStore;
///
/// let store = MemoryStore::new(100_000);
/// assert_eq!(store.capacity(), 100_000);
/// ```
#[derive(Debug)]
pub struct MemoryStore {
    sessions: DashMap<SessionKey, SessionRecord>,
    by_user: DashMap<String, HashSet<SessionKey>>,
    spent: DashMap<SessionKey, Spent>,
    /// Rotations one at a time, so that the steps of one (mark, move) are never seen half
    /// done by another. Rotations are rare (one per access-token lifetime per client) and
    /// readers never take it.
    rotations: tokio::sync::Mutex<()>,
    capacity: usize,
}

impl MemoryStore {
    /// An empty store holding at most `capacity` sessions.
    pub fn new(capacity: usize) -> Self {
        Self {
            sessions: DashMap::new(),
            by_user: DashMap::new(),
            spent: DashMap::new(),
            rotations: tokio::sync::Mutex::new(()),
            capacity,
        }
    }

    /// The most sessions the store holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many sessions the store holds, expired or not.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Whether the store holds no session.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Purges expired sessions every `every`, on the current tokio runtime, for as long as the
    /// store is alive (the task holds only a weak reference).
    pub fn purge_in_background(self: &Arc<Self>, every: Duration, clock: SharedClock) {
        let weak: Weak<Self> = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(store) = weak.upgrade() else { break };
                let purged = store.purge(clock.now());
                if purged > 0 {
                    tracing::debug!(purged, "purged expired sessions from memory");
                }
            }
        });
    }

    fn purge(&self, now: Timestamp) -> u64 {
        let mut purged = 0;
        self.sessions.retain(|key, record| {
            if record.is_expired(now) {
                Self::unindex(&self.by_user, &record.user.id, key);
                purged += 1;
                false
            } else {
                true
            }
        });
        self.spent.retain(|_, s| s.until > now);
        purged
    }

    fn unindex(by_user: &DashMap<String, HashSet<SessionKey>>, user_id: &str, key: &SessionKey) {
        if let Some(mut keys) = by_user.get_mut(user_id) {
            keys.remove(key);
            if keys.is_empty() {
                drop(keys);
                by_user.remove_if(user_id, |_, keys| keys.is_empty());
            }
        }
    }

    fn remove(&self, key: &SessionKey) -> bool {
        match self.sessions.remove(key) {
            Some((key, record)) => {
                Self::unindex(&self.by_user, &record.user.id, &key);
                true
            }
            None => false,
        }
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn create(&self, key: &SessionKey, record: &SessionRecord) -> Result<(), StoreError> {
        if self.sessions.len() >= self.capacity && self.purge(record.created_at) == 0 {
            return Err(StoreError::Full {
                capacity: self.capacity,
            });
        }
        match self.sessions.entry(*key) {
            dashmap::Entry::Occupied(_) => return Err(StoreError::Duplicate),
            dashmap::Entry::Vacant(slot) => {
                slot.insert(record.clone());
            }
        }
        self.by_user
            .entry(record.user.id.clone())
            .or_default()
            .insert(*key);
        Ok(())
    }

    async fn load(&self, key: &SessionKey) -> Result<Option<SessionRecord>, StoreError> {
        Ok(self.sessions.get(key).map(|r| r.value().clone()))
    }

    async fn touch(
        &self,
        key: &SessionKey,
        last_seen_at: Timestamp,
        idle_expires_at: Timestamp,
    ) -> Result<bool, StoreError> {
        Ok(match self.sessions.get_mut(key) {
            Some(mut r) => {
                r.last_seen_at = last_seen_at;
                r.idle_expires_at = idle_expires_at;
                true
            }
            None => false,
        })
    }

    async fn save_data(
        &self,
        key: &SessionKey,
        expected_version: u64,
        data: &SessionData,
    ) -> Result<u64, StoreError> {
        // The shard's write lock makes the version check and the write one step.
        let mut record = self.sessions.get_mut(key).ok_or(StoreError::NotFound)?;
        if record.version != expected_version {
            return Err(StoreError::Conflict {
                expected: expected_version,
            });
        }
        record.version += 1;
        record.data = data.clone();
        Ok(record.version)
    }

    async fn delete(&self, key: &SessionKey) -> Result<bool, StoreError> {
        Ok(self.remove(key))
    }

    async fn delete_by_handle(
        &self,
        user_id: &str,
        handle: &SessionHandle,
    ) -> Result<bool, StoreError> {
        let keys: Vec<SessionKey> = match self.by_user.get(user_id) {
            Some(keys) => keys.iter().copied().collect(),
            None => return Ok(false),
        };
        for key in keys {
            let matches = self
                .sessions
                .get(&key)
                .is_some_and(|r| r.handle == *handle && r.user.id == user_id);
            if matches {
                return Ok(self.remove(&key));
            }
        }
        Ok(false)
    }

    async fn delete_user(&self, user_id: &str) -> Result<u64, StoreError> {
        let Some((_, keys)) = self.by_user.remove(user_id) else {
            return Ok(0);
        };
        let mut n = 0;
        for key in keys {
            if self.sessions.remove(&key).is_some() {
                n += 1;
            }
        }
        Ok(n)
    }

    async fn list_user(
        &self,
        user_id: &str,
    ) -> Result<Vec<(SessionKey, SessionRecord)>, StoreError> {
        let keys: Vec<SessionKey> = match self.by_user.get(user_id) {
            Some(keys) => keys.iter().copied().collect(),
            None => return Ok(Vec::new()),
        };
        let mut out: Vec<_> = keys
            .into_iter()
            .filter_map(|k| self.sessions.get(&k).map(|r| (k, r.value().clone())))
            .collect();
        out.sort_by(|a, b| (a.1.created_at, &a.1.handle).cmp(&(b.1.created_at, &b.1.handle)));
        Ok(out)
    }

    async fn count_active(&self, now: Timestamp) -> Result<u64, StoreError> {
        Ok(self.sessions.iter().filter(|r| !r.is_expired(now)).count() as u64)
    }

    async fn purge_expired(&self, now: Timestamp) -> Result<u64, StoreError> {
        Ok(self.purge(now))
    }
}

#[async_trait]
impl RotatingStore for MemoryStore {
    async fn rotate(
        &self,
        old: &SessionKey,
        new: &SessionKey,
        _now: Timestamp,
    ) -> Result<Rotation, StoreError> {
        let _one_at_a_time = self.rotations.lock().await;
        let mark = self.sessions.get(old).map(|r| Spent {
            user_id: r.user.id.clone(),
            handle: r.handle.clone(),
            until: r.absolute_expires_at,
        });
        if let Some(mark) = mark {
            self.spent.insert(*old, mark);
        }
        if let Some((_, record)) = self.sessions.remove(old) {
            Self::unindex(&self.by_user, &record.user.id, old);
            self.create(new, &record).await?;
            return Ok(Rotation::Rotated(record));
        }
        let reused = self
            .spent
            .get(old)
            .map(|s| (s.user_id.clone(), s.handle.clone()));
        match reused {
            Some((user_id, handle)) => {
                self.delete_by_handle(&user_id, &handle).await?;
                Ok(Rotation::Reused { user_id, handle })
            }
            None => Ok(Rotation::Unknown),
        }
    }
}
