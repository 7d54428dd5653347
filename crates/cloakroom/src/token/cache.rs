//! The verified-token cache: a client that presents the same access token again does not pay
//! for its signature again (25–95 µs for EdDSA and ES256, more than a whole request).
//!
//! What it keeps, and why each rule holds:
//! - The key is the SHA-256 of the exact token string, so a token that differs in one byte is
//!   a miss and goes through full verification; equality of digests reveals nothing about the
//!   tokens cached, and no token is kept in the clear.
//! - An entry is inserted only after the token passed every check, the deny-list included.
//! - What a hit skips is only what cannot change for these exact bytes: the shape, the header,
//!   the signature and the claims' parsing. The key must still be in the ring, unretired, with
//!   the same material (its [fingerprint](crate::token::Key)); and `iss`, `aud`, `exp`, `nbf`,
//!   `iat` against the clock and the deny-list are checked on every hit, exactly as on a miss.
//! - It is bounded by entries (`quick_cache`, sharded, S3-FIFO-like eviction: a flood of
//!   tokens seen once is evicted before the tokens clients keep presenting), and a token that
//!   fails verification never touches it.

use std::fmt;
use std::sync::Arc;

use sha2::{Digest as _, Sha256};

use super::AccessClaims;

/// Verified tokens a [`TokenVerifier`](super::TokenVerifier) remembers by default. An entry is
/// the token's parsed claims (no more than the token's own size, at most 8 KiB), its `kid`,
/// and the cache's bookkeeping.
pub const DEFAULT_VERIFIED_CACHE: usize = 10_000;

/// The SHA-256 of a token string: what the cache is keyed by.
pub(crate) type TokenDigest = [u8; 32];

/// What the cache holds for one verified token.
#[derive(Debug)]
pub(crate) struct Verified {
    /// The claims as parsed when the token was verified.
    pub(crate) claims: Arc<AccessClaims>,
    /// The `kid` of the key that verified the signature.
    pub(crate) kid: Box<str>,
    /// That key's fingerprint: a key reusing the `kid` with other material is not it.
    pub(crate) key: [u8; 32],
}

/// A bounded, concurrent map from token digests to verified claims. Cheap to clone (all clones
/// share the entries).
#[derive(Clone)]
pub struct VerifiedCache {
    map: Arc<quick_cache::sync::Cache<TokenDigest, Arc<Verified>>>,
}

impl VerifiedCache {
    /// A cache of at most `capacity` tokens (at least 1).
    pub fn new(capacity: usize) -> Self {
        Self {
            map: Arc::new(quick_cache::sync::Cache::new(capacity.max(1))),
        }
    }

    /// The digest of `token`.
    pub(crate) fn digest(token: &str) -> TokenDigest {
        Sha256::digest(token.as_bytes()).into()
    }

    pub(crate) fn get(&self, digest: &TokenDigest) -> Option<Arc<Verified>> {
        self.map.get(digest)
    }

    pub(crate) fn insert(&self, digest: TokenDigest, verified: Verified) {
        self.map.insert(digest, Arc::new(verified));
    }

    pub(crate) fn remove(&self, digest: &TokenDigest) {
        self.map.remove(digest);
    }

    /// How many tokens it holds now.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The most tokens it holds.
    pub fn capacity(&self) -> usize {
        usize::try_from(self.map.capacity()).unwrap_or(usize::MAX)
    }

    /// Whether `token` (these exact bytes) is cached. A cached token is still checked against
    /// the clock, the keys and the deny-list when presented.
    pub fn contains(&self, token: &str) -> bool {
        self.map.contains_key(&Self::digest(token))
    }

    /// Forgets every token.
    pub fn clear(&self) {
        self.map.clear();
    }
}

impl fmt::Debug for VerifiedCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedCache")
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .finish()
    }
}
