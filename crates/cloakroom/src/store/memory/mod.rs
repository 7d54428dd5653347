//! Sessions in this process's memory.

mod intern;
mod stored;
mod table;
#[cfg(test)]
mod tests;
mod users;

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use async_trait::async_trait;
use hashbrown::hash_table::Entry;

use self::intern::Interner;
use self::stored::Stored;
use self::table::Sharded;
use self::users::Users;
use super::StoreError;
use crate::clock::{SharedClock, Timestamp};
use crate::session::{
    FamilyKey, RotatingStore, Rotation, RotationNonce, RotationRequest, SessionData, SessionHandle,
    SessionKey, SessionRecord, SessionStore, SessionUser,
};

/// What is kept of a refresh family (one per rotated session, overwritten at each rotation):
/// enough to answer the just-spent key within the reuse interval and to catch every other key
/// of the family as reuse.
#[derive(Debug)]
struct Family {
    current: SessionKey,
    spent: SessionKey,
    spent_at: Timestamp,
    nonce: RotationNonce,
    user: Arc<SessionUser>,
    handle: SessionHandle,
    /// The session's absolute expiry: after it, forgetting the family is harmless.
    until: Timestamp,
}

/// Sessions in a concurrent hash table: sharded locks, so readers of different sessions never
/// wait on each other and there is no global lock on the read path. Bounded: when full, it
/// purges what has expired, and refuses new sessions if that frees nothing (rather than
/// silently signing someone else out). Gone when the process ends.
///
/// Compact: a session is a pointer in the table and a boxed record of 136 bytes; the sessions of
/// one user share one copy of the user, and the sessions of one browser one copy of its user
/// agent. Loading a session copies two pointers, not its strings.
///
/// ```
/// use cloakroom::store::MemoryStore;
///
/// let store = MemoryStore::new(100_000);
/// assert_eq!(store.capacity(), 100_000);
/// ```
pub struct MemoryStore {
    /// foldhash rather than SipHash, as in the deny-list: keys are SHA-256 digests, which no
    /// one can choose to collide, and each table has its own seed.
    sessions: Sharded<Box<Stored>, foldhash::fast::RandomState>,
    users: Users,
    user_agents: Interner,
    /// Sessions held, counting the ones being created: kept below `capacity` by reserving a
    /// place before inserting.
    len: AtomicUsize,
    /// Only rotations use it, and they are one at a time. One entry per rotated session.
    families: Mutex<HashMap<FamilyKey, Family>>,
    /// Rotations one at a time, so that the steps of one (mark, move) are never seen half
    /// done by another. Rotations are rare (one per access-token lifetime per client) and
    /// readers never take it.
    rotations: tokio::sync::Mutex<()>,
    capacity: usize,
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("len", &self.len())
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl MemoryStore {
    /// An empty store holding at most `capacity` sessions.
    pub fn new(capacity: usize) -> Self {
        Self {
            sessions: Sharded::new(),
            users: Users::new(),
            user_agents: Interner::new(),
            len: AtomicUsize::new(0),
            families: Mutex::new(HashMap::new()),
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
        self.len.load(Ordering::Relaxed)
    }

    /// How many refresh families the store remembers: one per rotated session (however often
    /// it rotated) until the session's absolute expiry.
    pub fn refresh_families(&self) -> usize {
        self.families().len()
    }

    /// Whether the store holds no session.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
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

    fn families(&self) -> std::sync::MutexGuard<'_, HashMap<FamilyKey, Family>> {
        // Every change to the map is one call: a panic elsewhere leaves it whole.
        self.families.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes a place for one more session, purging what has expired at `now` if the store is
    /// full.
    fn reserve(&self, now: Timestamp) -> Result<(), StoreError> {
        let take = |n: usize| (n < self.capacity).then_some(n + 1);
        if self
            .len
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, take)
            .is_ok()
            || (self.purge(now) > 0
                && self
                    .len
                    .fetch_update(Ordering::AcqRel, Ordering::Acquire, take)
                    .is_ok())
        {
            Ok(())
        } else {
            Err(StoreError::Full {
                capacity: self.capacity,
            })
        }
    }

    /// Drops what the index and the interner hold for a session just taken out of the table.
    /// Called under the lock of the session's shard (see [`Users`]).
    fn forget(&self, stored: &Stored) {
        self.users.remove(&stored.user.id, &stored.key);
        if let Some(ua) = &stored.user_agent {
            self.user_agents.release(ua);
        }
        self.len.fetch_sub(1, Ordering::AcqRel);
    }

    fn purge(&self, now: Timestamp) -> u64 {
        let mut purged = 0;
        for mut shard in self.sessions.each_write() {
            for stored in shard.extract_if(|s| s.is_expired(now)) {
                self.forget(&stored);
                purged += 1;
            }
        }
        self.families().retain(|_, f| f.until > now);
        purged
    }

    /// Takes the session under `key` out, if there is one and `which` accepts it.
    fn take(&self, key: &SessionKey, which: impl FnOnce(&Stored) -> bool) -> Option<Box<Stored>> {
        let hash = self.sessions.hash(key);
        let mut shard = self.sessions.write(hash);
        let entry = shard.find_entry(hash, |s| s.key == *key).ok()?;
        if !which(entry.get()) {
            return None;
        }
        let (stored, _) = entry.remove();
        self.forget(&stored);
        Some(stored)
    }

    /// Reads the session under `key`.
    fn with<R>(&self, key: &SessionKey, read: impl FnOnce(&Stored) -> R) -> Option<R> {
        let hash = self.sessions.hash(key);
        self.sessions
            .read(hash)
            .find(hash, |s| s.key == *key)
            .map(|s| read(s))
    }

    /// Changes the session under `key`, under its shard's write lock.
    fn with_mut<R>(&self, key: &SessionKey, change: impl FnOnce(&mut Stored) -> R) -> Option<R> {
        let hash = self.sessions.hash(key);
        self.sessions
            .write(hash)
            .find_mut(hash, |s| s.key == *key)
            .map(|s| change(s))
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn create(&self, key: &SessionKey, record: &SessionRecord) -> Result<(), StoreError> {
        self.reserve(record.created_at)?;
        let hash = self.sessions.hash(key);
        let mut shard = self.sessions.write(hash);
        match shard.entry(hash, |s| s.key == *key, |s| self.sessions.hash(&s.key)) {
            Entry::Occupied(_) => {
                self.len.fetch_sub(1, Ordering::AcqRel);
                Err(StoreError::Duplicate)
            }
            Entry::Vacant(slot) => {
                // Indexed under the shard's lock: no one finds the session before its user
                // does, and a `delete_user` that finds the key waits for the lock.
                let user = self.users.add(&record.user, *key);
                let ua = record.client.user_agent.as_ref();
                let ua = ua.map(|ua| self.user_agents.acquire(ua));
                slot.insert(Box::new(Stored::new(*key, record, user, ua)));
                Ok(())
            }
        }
    }

    async fn load(&self, key: &SessionKey) -> Result<Option<SessionRecord>, StoreError> {
        Ok(self.with(key, Stored::to_record))
    }

    async fn touch(
        &self,
        key: &SessionKey,
        last_seen_at: Timestamp,
        idle_expires_at: Timestamp,
    ) -> Result<bool, StoreError> {
        let touched = self.with_mut(key, |s| {
            s.last_seen_at = last_seen_at;
            s.idle_expires_at = idle_expires_at;
        });
        Ok(touched.is_some())
    }

    async fn save_data(
        &self,
        key: &SessionKey,
        expected_version: u64,
        data: &SessionData,
    ) -> Result<u64, StoreError> {
        // The shard's write lock makes the version check and the write one step.
        self.with_mut(key, |s| s.save_data(expected_version, data))
            .ok_or(StoreError::NotFound)?
            .map_err(|_| StoreError::Conflict {
                expected: expected_version,
            })
    }

    async fn delete(&self, key: &SessionKey) -> Result<bool, StoreError> {
        Ok(self.take(key, |_| true).is_some())
    }

    async fn delete_by_handle(
        &self,
        user_id: &str,
        handle: &SessionHandle,
    ) -> Result<bool, StoreError> {
        for key in self.users.keys(user_id) {
            if self
                .take(&key, |s| s.handle == *handle && s.user.id == user_id)
                .is_some()
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    async fn delete_user(&self, user_id: &str) -> Result<u64, StoreError> {
        let mut n = 0;
        for key in self.users.keys(user_id) {
            if self.take(&key, |s| s.user.id == user_id).is_some() {
                n += 1;
            }
        }
        Ok(n)
    }

    async fn list_user(
        &self,
        user_id: &str,
    ) -> Result<Vec<(SessionKey, SessionRecord)>, StoreError> {
        let mut out: Vec<_> = self
            .users
            .keys(user_id)
            .into_iter()
            .filter_map(|k| self.with(&k, |s| (k, s.to_record())))
            .collect();
        out.sort_by(|a, b| (a.1.created_at, &a.1.handle).cmp(&(b.1.created_at, &b.1.handle)));
        Ok(out)
    }

    async fn count_active(&self, now: Timestamp) -> Result<u64, StoreError> {
        let count: usize = self
            .sessions
            .each_read()
            .map(|shard| shard.iter().filter(|s| !s.is_expired(now)).count())
            .sum();
        Ok(count as u64)
    }

    async fn purge_expired(&self, now: Timestamp) -> Result<u64, StoreError> {
        Ok(self.purge(now))
    }
}

#[async_trait]
impl RotatingStore for MemoryStore {
    async fn rotate(&self, request: &RotationRequest) -> Result<Rotation, StoreError> {
        let RotationRequest {
            old, new, family, ..
        } = request;
        let _one_at_a_time = self.rotations.lock().await;
        if self.with(new, |_| ()).is_some() {
            return Err(StoreError::Duplicate);
        }
        if let Some(stored) = self.take(old, |_| true) {
            self.families().insert(
                *family,
                Family {
                    current: *new,
                    spent: *old,
                    spent_at: request.now,
                    nonce: request.nonce,
                    user: Arc::clone(&stored.user),
                    handle: stored.handle,
                    until: stored.absolute_expires_at,
                },
            );
            let record = stored.to_record();
            self.create(new, &record).await?;
            return Ok(Rotation::Rotated(record));
        }
        let known = self.families().get(family).map(|f| {
            let recent = f.spent == *old && request.within_interval(f.spent_at);
            (f.current, f.nonce, recent, f.user.id.clone(), f.handle)
        });
        let Some((current, nonce, recent, user_id, handle)) = known else {
            return Ok(Rotation::Unknown);
        };
        match self.with(&current, Stored::to_record) {
            Some(session) if recent => Ok(Rotation::Recent {
                session,
                current,
                nonce,
            }),
            // The family's session ended (signed out, expired): nothing left to protect.
            None if recent || current == *old => Ok(Rotation::Unknown),
            _ => {
                self.delete_by_handle(&user_id, &handle).await?;
                Ok(Rotation::Reused { user_id, handle })
            }
        }
    }
}
