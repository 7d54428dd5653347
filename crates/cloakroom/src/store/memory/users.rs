//! The sessions of each user, and the one copy of the user that they share.

use std::collections::HashSet;
use std::sync::Arc;

use hashbrown::hash_table::Entry;

use super::table::Sharded;
use crate::session::{SessionKey, SessionUser};

/// Past this many sessions, a user's keys go in a hash set instead of a list.
const FEW: usize = 16;

/// A user's session keys: a short list, scanned, for the handful of sessions most users have
/// (a list of four is 128 bytes; a hash set of four, 280); a set for the odd user with many,
/// so that no operation is linear in them.
#[derive(Debug)]
enum Keys {
    Few(Vec<SessionKey>),
    // Boxed, so that the rare case does not make every user's entry twice as big.
    #[allow(clippy::box_collection)]
    Many(Box<HashSet<SessionKey>>),
}

impl Keys {
    fn insert(&mut self, key: SessionKey) {
        match self {
            Self::Few(keys) if keys.len() < FEW => keys.push(key),
            Self::Few(keys) => {
                let mut set: HashSet<SessionKey> = keys.drain(..).collect();
                set.insert(key);
                *self = Self::Many(Box::new(set));
            }
            Self::Many(set) => {
                set.insert(key);
            }
        }
    }

    fn remove(&mut self, key: &SessionKey) {
        match self {
            Self::Few(keys) => {
                if let Some(i) = keys.iter().position(|k| k == key) {
                    keys.swap_remove(i);
                }
            }
            Self::Many(set) => {
                set.remove(key);
                // Back to a list well below the limit, so that one login more or less does not
                // convert back and forth.
                if set.len() <= FEW / 2 {
                    *self = Self::Few(set.drain().collect());
                }
            }
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Self::Few(keys) => keys.is_empty(),
            Self::Many(set) => set.is_empty(),
        }
    }

    fn to_vec(&self) -> Vec<SessionKey> {
        match self {
            Self::Few(keys) => keys.clone(),
            Self::Many(set) => set.iter().copied().collect(),
        }
    }
}

/// `user`, or a copy of it without spare capacity if it has some: the copy is kept for as long
/// as the user has sessions, and strings built by formatting (`format!`, `to_string`) are
/// often twice their length (a UUID's 36 bytes in 64).
fn tight(user: &Arc<SessionUser>) -> Arc<SessionUser> {
    let exact = |s: &String| s.capacity() == s.len();
    let roles = &user.roles;
    if exact(&user.id)
        && exact(&user.name)
        && roles.capacity() == roles.len()
        && roles.iter().all(exact)
    {
        return Arc::clone(user);
    }
    Arc::new(SessionUser {
        id: user.id.as_str().into(),
        name: user.name.as_str().into(),
        roles: roles.iter().map(|r| r.as_str().into()).collect(),
    })
}

#[derive(Debug)]
pub(super) struct UserSessions {
    /// The snapshot that new sessions of the user share when theirs is equal: the latest one
    /// that differed. Sessions started with an older snapshot keep their own copy of it.
    user: Arc<SessionUser>,
    keys: Keys,
}

/// The index from a user's ID to their sessions, which also keeps the one copy of the user
/// (ID, name, roles) that their sessions share. An entry lives exactly as long as the user has
/// a session, so neither the index nor the copies outlive the sessions.
///
/// Callers change it only while holding the lock of the session's shard, so that for any one
/// key the index and the table change in the same order.
#[derive(Debug)]
pub(super) struct Users {
    table: Sharded<UserSessions>,
}

impl Users {
    pub(super) fn new() -> Self {
        Self {
            table: Sharded::new(),
        }
    }

    /// Indexes `key` under its user, and returns the copy of `user` for the session to keep:
    /// the one the user's other sessions hold when it is equal.
    pub(super) fn add(&self, user: &Arc<SessionUser>, key: SessionKey) -> Arc<SessionUser> {
        let hash = self.table.hash(user.id.as_str());
        let mut shard = self.table.write(hash);
        let entry = shard.entry(
            hash,
            |u| u.user.id == user.id,
            |u| self.table.hash(u.user.id.as_str()),
        );
        match entry {
            Entry::Occupied(mut entry) => {
                let entry = entry.get_mut();
                if !Arc::ptr_eq(&entry.user, user) && *entry.user != **user {
                    entry.user = tight(user);
                }
                entry.keys.insert(key);
                Arc::clone(&entry.user)
            }
            Entry::Vacant(slot) => {
                let user = tight(user);
                slot.insert(UserSessions {
                    user: Arc::clone(&user),
                    keys: Keys::Few(vec![key]),
                });
                user
            }
        }
    }

    /// Takes `key` out of `user_id`'s sessions; the user's last session takes the user out.
    pub(super) fn remove(&self, user_id: &str, key: &SessionKey) {
        let hash = self.table.hash(user_id);
        let mut shard = self.table.write(hash);
        if let Ok(mut entry) = shard.find_entry(hash, |u| u.user.id == user_id) {
            entry.get_mut().keys.remove(key);
            if entry.get().keys.is_empty() {
                entry.remove();
            }
        }
    }

    /// The keys of `user_id`'s sessions, in no order.
    pub(super) fn keys(&self, user_id: &str) -> Vec<SessionKey> {
        let hash = self.table.hash(user_id);
        self.table
            .read(hash)
            .find(hash, |u| u.user.id == user_id)
            .map_or_else(Vec::new, |u| u.keys.to_vec())
    }

    /// How many users have sessions.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.table.each_read().map(|s| s.len()).sum()
    }
}
