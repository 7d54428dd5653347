//! The trait every session store implements.

use async_trait::async_trait;

use super::{SessionData, SessionHandle, SessionKey, SessionRecord};
use crate::clock::Timestamp;
use crate::store::StoreError;

/// Where sessions are kept. Keys are [`SessionKey`]s (digests), never the IDs clients hold.
///
/// Stores keep and return records as they are; expiry is decided by the caller (see
/// [`SessionManager`](crate::auth::SessionManager)), except that
/// [`purge_expired`](Self::purge_expired) removes what has ended. Every implementation passes
/// the conformance suite in `cloakroom::store::conformance` (feature `test-suite`).
#[async_trait]
pub trait SessionStore: Send + Sync + std::fmt::Debug + 'static {
    /// Stores a new session. Fails with [`StoreError::Duplicate`] if the key is taken, and with
    /// [`StoreError::Full`] if a bounded store has no room.
    async fn create(&self, key: &SessionKey, record: &SessionRecord) -> Result<(), StoreError>;

    /// The session under `key`, if there is one (expired or not).
    async fn load(&self, key: &SessionKey) -> Result<Option<SessionRecord>, StoreError>;

    /// Records activity: sets `last_seen_at` and `idle_expires_at`. A missing session is not an
    /// error (it may have been deleted meanwhile); the result says whether it was found.
    async fn touch(
        &self,
        key: &SessionKey,
        last_seen_at: Timestamp,
        idle_expires_at: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Replaces the session's data if its version is still `expected_version`, and returns the
    /// new version. Fails with [`StoreError::Conflict`] if someone else wrote first, and with
    /// [`StoreError::NotFound`] if the session is gone. The check and the write are one atomic
    /// step: two writers never both succeed from the same version.
    async fn save_data(
        &self,
        key: &SessionKey,
        expected_version: u64,
        data: &SessionData,
    ) -> Result<u64, StoreError>;

    /// Deletes the session under `key`; the result says whether there was one.
    async fn delete(&self, key: &SessionKey) -> Result<bool, StoreError>;

    /// Deletes the session of `user_id` named `handle`; sessions of other users are left alone.
    async fn delete_by_handle(
        &self,
        user_id: &str,
        handle: &SessionHandle,
    ) -> Result<bool, StoreError>;

    /// Deletes every session of `user_id`, returning how many there were.
    async fn delete_user(&self, user_id: &str) -> Result<u64, StoreError>;

    /// The sessions of `user_id` (with their keys), expired or not, oldest first.
    async fn list_user(
        &self,
        user_id: &str,
    ) -> Result<Vec<(SessionKey, SessionRecord)>, StoreError>;

    /// How many sessions have not ended at `now`.
    async fn count_active(&self, now: Timestamp) -> Result<u64, StoreError>;

    /// Deletes every session that has ended at `now`, returning how many.
    async fn purge_expired(&self, now: Timestamp) -> Result<u64, StoreError>;
}

/// What became of a key given to [`RotatingStore::rotate`].
#[derive(Debug, Clone, PartialEq)]
pub enum Rotation {
    /// The key was current: the session now lives under the new key, and the old one is spent.
    Rotated(SessionRecord),
    /// The key was spent already: someone presented an old refresh token, which means it was
    /// copied. The session has been deleted; its user and handle are returned so that the
    /// caller can revoke the access tokens issued from it.
    Reused {
        /// The user the session belonged to.
        user_id: String,
        /// The session's public handle (the tokens' `sid`).
        handle: SessionHandle,
    },
    /// The key was never issued, or its session ended and was purged.
    Unknown,
}

/// A session store that can move a session to a new key in one atomic step, remembering the
/// old key as spent: what hybrid mode's rotating refresh tokens need.
///
/// A separate trait, like cleanup in tower-sessions, so that a store for session mode alone
/// need not implement it.
#[async_trait]
pub trait RotatingStore: SessionStore {
    /// Moves the session under `old` to `new` and marks `old` spent, until the session's
    /// absolute expiry. Of several concurrent rotations of one key at most one gets
    /// [`Rotation::Rotated`]; the others see the key spent, get [`Rotation::Reused`], and the
    /// session is deleted — so at most one branch of a session ever lives. The record returned
    /// may have expired: the caller checks.
    async fn rotate(
        &self,
        old: &SessionKey,
        new: &SessionKey,
        now: Timestamp,
    ) -> Result<Rotation, StoreError>;
}
