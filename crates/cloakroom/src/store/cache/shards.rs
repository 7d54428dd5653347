//! The cache's memory: records in 64 shards, each behind its own lock.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{RwLock, RwLockWriteGuard};
use std::time::{Duration, Instant};

use super::Invalidation;
use crate::session::{SessionKey, SessionRecord};

/// Shards, so that readers of different sessions take different locks.
pub(super) const SHARDS: usize = 64;

#[derive(Debug)]
struct Entry {
    record: SessionRecord,
    fetched: Instant,
}

#[derive(Debug, Default)]
pub(super) struct Shard {
    map: RwLock<HashMap<SessionKey, Entry>>,
    /// Bumped (under the write lock) by every invalidation: a read from the inner store that
    /// started before one is not cached, so a copy read before a logout never outlives it.
    epoch: AtomicU64,
}

#[derive(Debug)]
pub(super) struct Shared {
    pub(super) shards: Vec<Shard>,
    pub(super) per_shard: usize,
    pub(super) ttl: Duration,
}

impl Shared {
    fn shard(&self, key: &SessionKey) -> &Shard {
        // Keys are SHA-256 digests: any byte is uniform.
        &self.shards[usize::from(key.as_bytes()[0]) % SHARDS]
    }

    fn write(shard: &Shard) -> RwLockWriteGuard<'_, HashMap<SessionKey, Entry>> {
        // A panic while holding the lock leaves a map that is still consistent.
        shard.map.write().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn get(&self, key: &SessionKey) -> Option<SessionRecord> {
        let map = self
            .shard(key)
            .map
            .read()
            .unwrap_or_else(|e| e.into_inner());
        map.get(key)
            .filter(|e| e.fetched.elapsed() < self.ttl)
            .map(|e| e.record.clone())
    }

    pub(super) fn epoch(&self, key: &SessionKey) -> u64 {
        self.shard(key).epoch.load(Ordering::Acquire)
    }

    /// Caches `record`, read from the inner store at `fetched`, unless the shard was
    /// invalidated since `epoch`. The TTL runs from `fetched`, not from now: a slow read does
    /// not stretch it.
    pub(super) fn insert(
        &self,
        key: &SessionKey,
        record: SessionRecord,
        epoch: u64,
        fetched: Instant,
    ) {
        let shard = self.shard(key);
        let mut map = Self::write(shard);
        if shard.epoch.load(Ordering::Acquire) != epoch {
            return;
        }
        if map.len() >= self.per_shard && !map.contains_key(key) {
            map.retain(|_, e| e.fetched.elapsed() < self.ttl);
            if map.len() >= self.per_shard {
                if let Some(any) = map.keys().next().copied() {
                    map.remove(&any);
                }
            }
        }
        map.insert(*key, Entry { record, fetched });
    }

    /// Changes the cached copy in place, unless the shard was invalidated since `epoch`.
    pub(super) fn update(&self, key: &SessionKey, epoch: u64, f: impl FnOnce(&mut SessionRecord)) {
        let shard = self.shard(key);
        let mut map = Self::write(shard);
        if shard.epoch.load(Ordering::Acquire) != epoch {
            map.remove(key);
        } else if let Some(e) = map.get_mut(key) {
            f(&mut e.record);
        }
    }

    /// Drops a copy that is known stale, without bumping the epoch: nothing was invalidated.
    pub(super) fn forget(&self, key: &SessionKey) {
        let shard = self.shard(key);
        if shard
            .map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(key)
        {
            Self::write(shard).remove(key);
        }
    }

    pub(super) fn evict(&self, key: &SessionKey) {
        let shard = self.shard(key);
        let mut map = Self::write(shard);
        shard.epoch.fetch_add(1, Ordering::AcqRel);
        map.remove(key);
    }

    /// Evicts every record `drop` picks, shard by shard (rare: logouts by handle or user).
    pub(super) fn evict_where(&self, mut drop: impl FnMut(&SessionRecord) -> bool) {
        for shard in &self.shards {
            let mut map = Self::write(shard);
            shard.epoch.fetch_add(1, Ordering::AcqRel);
            map.retain(|_, e| !drop(&e.record));
        }
    }

    pub(super) fn invalidate(&self, what: &Invalidation) {
        match what {
            Invalidation::Key(key) => self.evict(key),
            Invalidation::Handle { user_id, handle } => {
                self.evict_where(|r| r.user.id == *user_id && r.handle == *handle);
            }
            Invalidation::User { user_id } => self.evict_where(|r| r.user.id == *user_id),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.map.read().unwrap_or_else(|e| e.into_inner()).len())
            .sum()
    }
}

/// A [`SessionKey`] as 64 lowercase hex digits.
pub(super) mod hex_key {
    use serde::{Deserialize, Deserializer, Serializer, de};

    use crate::session::SessionKey;

    pub(in crate::store::cache) fn serialize<S: Serializer>(
        key: &SessionKey,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_str(&key.to_hex())
    }

    pub(in crate::store::cache) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<SessionKey, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let digit = |c: u8| {
            char::from(c)
                .to_digit(16)
                .and_then(|v| u8::try_from(v).ok())
        };
        let bytes = text.as_bytes();
        if bytes.len() != 64 {
            return Err(de::Error::invalid_length(bytes.len(), &"64 hex digits"));
        }
        let mut out = [0u8; 32];
        for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
            match (digit(pair[0]), digit(pair[1])) {
                (Some(hi), Some(lo)) => *o = (hi << 4) | lo,
                _ => return Err(de::Error::custom("not a hex session key")),
            }
        }
        Ok(SessionKey::from_bytes(out))
    }
}
