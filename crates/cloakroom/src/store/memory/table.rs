//! A hash table in shards, each behind its own lock: what `dashmap` does, but over
//! `hashbrown::HashTable`, which stores just the element (here a pointer or a small struct) and
//! lets the element carry its own key. At a million sessions a table is about half full (it
//! doubles at 7/8), so every byte of an element costs two.

use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use hashbrown::HashTable;

/// `T`s in shards chosen by hash. Callers hash with [`hash`](Self::hash) and find elements with
/// their own equality, as `HashTable` asks. SipHash (`RandomState`) unless the keys cannot be
/// chosen by anyone.
#[derive(Debug)]
pub(super) struct Sharded<T, S = RandomState> {
    shards: Box<[RwLock<HashTable<T>>]>,
    /// How far to shift a hash to get its shard (see [`shard`](Self::shard)).
    shift: u32,
    hasher: S,
}

impl<T, S: BuildHasher + Default> Sharded<T, S> {
    /// Four shards per core, rounded up to a power of two, as `dashmap` chooses: enough that
    /// threads rarely meet on one lock.
    pub(super) fn new() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        // At least four, so the shift below is less than 64.
        let count = (cores * 4).next_power_of_two();
        Self {
            shards: (0..count).map(|_| RwLock::new(HashTable::new())).collect(),
            shift: 64 - count.trailing_zeros(),
            hasher: S::default(),
        }
    }

    /// The hash of `value`, keyed per table (so no one can choose colliding keys).
    pub(super) fn hash<K: Hash + ?Sized>(&self, value: &K) -> u64 {
        self.hasher.hash_one(value)
    }

    fn shard(&self, hash: u64) -> &RwLock<HashTable<T>> {
        // The bits under the top seven: `hashbrown` picks a bucket with the low bits and tags it
        // with the top seven, so these are the ones it does not use within a shard.
        &self.shards[((hash << 7) >> self.shift) as usize]
    }

    /// The shard that `hash` falls in, to read.
    pub(super) fn read(&self, hash: u64) -> RwLockReadGuard<'_, HashTable<T>> {
        // A panic while holding the lock cannot leave a table half changed: every change below
        // is a single `HashTable` call.
        self.shard(hash).read().unwrap_or_else(|e| e.into_inner())
    }

    /// The shard that `hash` falls in, to change.
    pub(super) fn write(&self, hash: u64) -> RwLockWriteGuard<'_, HashTable<T>> {
        self.shard(hash).write().unwrap_or_else(|e| e.into_inner())
    }

    /// Every shard in turn, to change: for sweeps over the whole table.
    pub(super) fn each_write(&self) -> impl Iterator<Item = RwLockWriteGuard<'_, HashTable<T>>> {
        self.shards
            .iter()
            .map(|s| s.write().unwrap_or_else(|e| e.into_inner()))
    }

    /// Every shard in turn, to read.
    pub(super) fn each_read(&self) -> impl Iterator<Item = RwLockReadGuard<'_, HashTable<T>>> {
        self.shards
            .iter()
            .map(|s| s.read().unwrap_or_else(|e| e.into_inner()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_spread_over_the_shards() {
        let table: Sharded<u64> = Sharded::new();
        for i in 0..10_000u64 {
            let hash = table.hash(&i);
            table.write(hash).insert_unique(hash, i, |v| table.hash(v));
        }
        let sizes: Vec<usize> = table.each_read().map(|s| s.len()).collect();
        assert_eq!(sizes.iter().sum::<usize>(), 10_000);
        let fair = 10_000 / sizes.len();
        assert!(
            sizes.iter().all(|&n| n > fair / 2 && n < fair * 2),
            "{sizes:?}"
        );
    }
}
