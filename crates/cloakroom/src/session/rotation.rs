//! Rotating refresh tokens that survive honest races: what `hybrid` mode's refresh sessions
//! are made of. See docs/MODES.md, "Refresh rotation", for the design and why.
//!
//! A refresh token is a [`SessionId`] (32 random bytes) read as two halves:
//!
//! - the first 16 bytes name the session's **family**: chosen at sign-in and kept by every
//!   successor, so any token of the session, however old, leads back to it. Stores keep only
//!   its SHA-256 ([`FamilyKey`]), under a domain tag so that it never equals a [`SessionKey`].
//! - the last 16 bytes are the **secret** of this generation.
//!
//! A rotation derives the successor as `family ‖ HMAC-SHA-256(presented token, nonce)[..16]`
//! with a fresh random [`RotationNonce`], and the store keeps, per family and so per session
//! (one record, overwritten at each rotation, never one per rotation):
//! the current key, the key just spent, when it was spent, and that nonce. Within the reuse
//! interval the just-spent token is answered with the *same* successor, recomputed from the
//! token presented and the nonce — so the store never holds a usable token, only digests and a
//! nonce that is useless without the spent token. Any other token of the family (older, or the
//! spent one after the interval, or once its successor has been spent in turn) is reuse.

use std::fmt;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::{RotatingStore, Rotation, SessionHandle, SessionId, SessionKey, SessionRecord};
use crate::clock::Timestamp;
use crate::random::{self, RandomError};
use crate::store::StoreError;

/// Bytes of a refresh token that name its family (the rest is the generation's secret).
const FAMILY_BYTES: usize = 16;
/// Bytes of a [`RotationNonce`].
const NONCE_BYTES: usize = 16;
/// Domain tags: a family digest never equals a session key, and the successor derivation is
/// used for nothing else.
const FAMILY_TAG: &[u8] = b"cloakroom refresh family v1\0";
const SUCCESSOR_TAG: &[u8] = b"cloakroom refresh successor v1\0";

/// How long the just-spent refresh token is answered with the same successor, by default.
/// Long enough for two tabs, a server-side render and its browser, or two navigations started
/// together (they land within milliseconds; seconds allow for a slow store); short enough that
/// a token copied later is caught as reuse. Whole seconds, like every [`Timestamp`].
pub const DEFAULT_REUSE_INTERVAL: Duration = Duration::from_secs(5);

/// The SHA-256 of a refresh token's family half: what stores look a family up by. Like a
/// [`SessionKey`], knowing it does not let anyone present anything.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct FamilyKey([u8; 32]);

impl FamilyKey {
    /// The family of the refresh token `id`.
    pub fn of(id: &SessionId) -> Self {
        let mut h = Sha256::new();
        h.update(FAMILY_TAG);
        h.update(&id.as_bytes()[..FAMILY_BYTES]);
        Self(h.finalize().into())
    }

    /// Wraps a digest read back from a store.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw digest, for storing.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The digest in lowercase hex, for stores that key by text.
    pub fn to_hex(&self) -> String {
        SessionKey::from_bytes(self.0).to_hex()
    }
}

impl fmt::Debug for FamilyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FamilyKey({}…)", &self.to_hex()[..8])
    }
}

/// The random input of one rotation's successor derivation. Stored with the spent key so that
/// the spent token, presented again within the reuse interval, yields the same successor;
/// without that token it yields nothing.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RotationNonce([u8; NONCE_BYTES]);

impl RotationNonce {
    /// A fresh nonce from the operating system.
    pub fn generate() -> Result<Self, RandomError> {
        Ok(Self(random::bytes()?))
    }

    /// Wraps a nonce read back from a store.
    pub const fn from_bytes(bytes: [u8; NONCE_BYTES]) -> Self {
        Self(bytes)
    }

    /// Reads a nonce back from a store's bytes; `None` if they are not 16.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }

    /// The raw bytes, for storing.
    pub const fn as_bytes(&self) -> &[u8; NONCE_BYTES] {
        &self.0
    }
}

impl fmt::Debug for RotationNonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RotationNonce(..)")
    }
}

/// The successor of `presented` made with `nonce`: the same family, a new secret.
pub fn successor(presented: &SessionId, nonce: &RotationNonce) -> SessionId {
    // HMAC keyed by the whole presented token: only its holder (and the server, while it is
    // being presented) can compute the successor, and the nonce makes each rotation's unique.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(presented.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(SUCCESSOR_TAG);
    mac.update(nonce.as_bytes());
    let secret = mac.finalize().into_bytes();
    let mut next = [0u8; 32];
    next[..FAMILY_BYTES].copy_from_slice(&presented.as_bytes()[..FAMILY_BYTES]);
    next[FAMILY_BYTES..].copy_from_slice(&secret[..32 - FAMILY_BYTES]);
    SessionId::from_bytes(next)
}

/// What [`RotatingStore::rotate`] is asked to do: move the session of family `family` from
/// `old` to `new` (remembering `old` as the one just spent, with `nonce` and `now`), or, if
/// `old` is that just-spent key and `now` is within `reuse_interval` of its spending, answer
/// with the session as it is.
#[derive(Debug, Clone, Copy)]
pub struct RotationRequest {
    /// The key of the token presented.
    pub old: SessionKey,
    /// The family of the token presented.
    pub family: FamilyKey,
    /// The key of its successor.
    pub new: SessionKey,
    /// What the successor was derived with.
    pub nonce: RotationNonce,
    /// The time of the request.
    pub now: Timestamp,
    /// How long a just-spent key is answered with its successor; zero for never.
    pub reuse_interval: Duration,
}

impl RotationRequest {
    /// Whether a key spent at `spent_at` is still within the reuse interval at `now`.
    pub fn within_interval(&self, spent_at: Timestamp) -> bool {
        self.now < spent_at.saturating_add(self.reuse_interval)
    }
}

/// What became of a refresh token: see [`RefreshRotation::rotate`].
#[derive(Debug)]
pub enum Refreshed {
    /// The token was current (`repeated: false`), or just spent and within the reuse interval
    /// (`repeated: true`): `next` is its successor and `session` the session under it.
    Rotated {
        /// The successor: the same one for every presentation within the interval.
        next: SessionId,
        /// The session, as the store has it (the caller checks expiry).
        session: SessionRecord,
        /// Whether another request spent the token first.
        repeated: bool,
    },
    /// A spent token of the family, outside what the interval allows: the session was ended.
    Reused {
        /// Whose session.
        user_id: String,
        /// The session's handle (the tokens' `sid`), to revoke its access tokens by.
        handle: SessionHandle,
    },
    /// Never issued, or its session ended.
    Unknown,
}

/// Rotates refresh tokens in a [`RotatingStore`] with a reuse interval.
#[derive(Debug, Clone, Copy)]
pub struct RefreshRotation {
    reuse_interval: Duration,
}

impl Default for RefreshRotation {
    fn default() -> Self {
        Self::new(DEFAULT_REUSE_INTERVAL)
    }
}

impl RefreshRotation {
    /// Answers the just-spent token with its successor for `reuse_interval` (whole seconds;
    /// zero turns it off: every second presentation is reuse).
    pub const fn new(reuse_interval: Duration) -> Self {
        Self { reuse_interval }
    }

    /// The reuse interval.
    pub const fn reuse_interval(&self) -> Duration {
        self.reuse_interval
    }

    /// Spends `presented` at `now`, deriving its successor with `nonce`.
    pub async fn rotate(
        &self,
        store: &dyn RotatingStore,
        presented: &SessionId,
        nonce: RotationNonce,
        now: Timestamp,
    ) -> Result<Refreshed, StoreError> {
        let next = successor(presented, &nonce);
        let request = RotationRequest {
            old: presented.key(),
            family: FamilyKey::of(presented),
            new: next.key(),
            nonce,
            now,
            reuse_interval: self.reuse_interval,
        };
        Ok(match store.rotate(&request).await? {
            Rotation::Rotated(session) => Refreshed::Rotated {
                next,
                session,
                repeated: false,
            },
            Rotation::Recent {
                session,
                current,
                nonce,
            } => {
                let next = successor(presented, &nonce);
                if next.key() != current {
                    // Only a store that mixed up its records gets here: refuse, never guess.
                    tracing::error!("a refresh family's current key is not its derived successor");
                    return Ok(Refreshed::Unknown);
                }
                Refreshed::Rotated {
                    next,
                    session,
                    repeated: true,
                }
            }
            Rotation::Reused { user_id, handle } => Refreshed::Reused { user_id, handle },
            Rotation::Unknown => Refreshed::Unknown,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn successors_keep_the_family_and_differ_by_nonce() {
        let id = SessionId::generate().unwrap();
        let (n1, n2) = (
            RotationNonce::generate().unwrap(),
            RotationNonce::generate().unwrap(),
        );
        let (a, b) = (successor(&id, &n1), successor(&id, &n2));
        assert_eq!(successor(&id, &n1), a, "deterministic");
        assert_ne!(a, b);
        assert_ne!(a, id);
        assert_eq!(FamilyKey::of(&a), FamilyKey::of(&id));
        assert_eq!(FamilyKey::of(&successor(&a, &n2)), FamilyKey::of(&id));
        assert_ne!(
            FamilyKey::of(&id),
            FamilyKey::of(&SessionId::generate().unwrap())
        );
        // A family digest is never the key of a token.
        assert_ne!(FamilyKey::of(&id).as_bytes(), id.key().as_bytes());
        assert_eq!(format!("{n1:?}"), "RotationNonce(..)");
    }

    #[test]
    fn the_interval_is_half_open_and_zero_is_never() {
        let t = Timestamp::from_unix(1_000);
        let mut r = RotationRequest {
            old: SessionKey::from_bytes([1; 32]),
            family: FamilyKey::from_bytes([2; 32]),
            new: SessionKey::from_bytes([3; 32]),
            nonce: RotationNonce::from_bytes([4; 16]),
            now: t,
            reuse_interval: Duration::from_secs(5),
        };
        assert!(r.within_interval(t));
        r.now = Timestamp::from_unix(1_004);
        assert!(r.within_interval(t));
        r.now = Timestamp::from_unix(1_005);
        assert!(!r.within_interval(t));
        r.now = t;
        r.reuse_interval = Duration::ZERO;
        assert!(!r.within_interval(t));
    }
}
