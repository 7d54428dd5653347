//! The trait every session store implements.

use async_trait::async_trait;

use super::{
    RotationNonce, RotationRequest, SessionData, SessionHandle, SessionKey, SessionRecord,
};
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
    /// The key was current: the session now lives under the new key, and the old one is the
    /// family's just-spent key.
    Rotated(SessionRecord),
    /// The key is the family's just-spent key, presented again within the reuse interval,
    /// and its successor is still current (unspent): the session, unchanged, with what the
    /// caller needs to recompute that successor.
    Recent {
        /// The session, under `current`.
        session: SessionRecord,
        /// The key the session lives under: the successor's.
        current: SessionKey,
        /// What the successor was derived with.
        nonce: RotationNonce,
    },
    /// The key is of a known family but neither current nor within the reuse interval: someone
    /// presented an old refresh token, which means it was copied. The session has been deleted;
    /// its user and handle are returned so that the caller can revoke the access tokens issued
    /// from it.
    Reused {
        /// The user the session belonged to.
        user_id: String,
        /// The session's public handle (the tokens' `sid`).
        handle: SessionHandle,
    },
    /// The key was never issued, or its session ended (or was purged).
    Unknown,
}

/// A session store that can move a session to a new key in one atomic step, remembering per
/// session (per refresh family) the key just spent: what hybrid mode's rotating refresh tokens
/// need (see [`RefreshRotation`](super::RefreshRotation)).
///
/// A separate trait, like cleanup in tower-sessions, so that a store for session mode alone
/// need not implement it.
#[async_trait]
pub trait RotatingStore: SessionStore {
    /// If `request.old` is current, moves its session to `request.new` and records, in the one
    /// record of `request.family` (overwriting the last), the current key, `old` as the
    /// just-spent key, `now` and the nonce, until the session's absolute expiry:
    /// [`Rotation::Rotated`]. Fails with [`StoreError::Duplicate`], changing nothing, if
    /// `new` is taken.
    ///
    /// Otherwise, if the family is known: [`Rotation::Recent`] when `old` is its just-spent key,
    /// within the reuse interval, and the session still lives under the current key;
    /// [`Rotation::Unknown`] when the session has ended; else [`Rotation::Reused`], and the
    /// session is deleted. An unknown family is [`Rotation::Unknown`].
    ///
    /// Of several concurrent rotations of one key at most one gets [`Rotation::Rotated`]; the
    /// others see what it did — so at most one branch of a session ever lives. The record
    /// returned may have expired: the caller checks.
    async fn rotate(&self, request: &RotationRequest) -> Result<Rotation, StoreError>;
}
