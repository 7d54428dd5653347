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
//! - It is bounded by memory (`quick_cache`, sharded, S3-FIFO-like eviction: a flood of
//!   tokens seen once is evicted before the tokens clients keep presenting): each entry
//!   weighs the bytes it holds ([`entry_bytes`]), [`DEFAULT_VERIFIED_CACHE_BYTES`] in all by
//!   default; or, as before, by a count of entries ([`VerifiedCache::new`]). A token that
//!   fails verification never touches it.

use std::fmt;
use std::sync::Arc;

use sha2::{Digest as _, Sha256};

use super::AccessClaims;

/// The entry count of the cache's former default, for caches bounded by entries
/// ([`VerifiedCache::new`]); the default is now a memory bound,
/// [`DEFAULT_VERIFIED_CACHE_BYTES`]. An entry is the token's parsed claims (no more than the
/// token's own size, at most 8 KiB), its `kid`, and the cache's bookkeeping.
pub const DEFAULT_VERIFIED_CACHE: usize = 10_000;

/// The memory a [`TokenVerifier`](super::TokenVerifier)'s cache may hold by default: 128 MiB,
/// about 170 000 of Cloakroom's own tokens (a UUID subject, two roles: ~780 bytes an entry,
/// see [`entry_bytes`]), so a node serving 100 000 active users (~75 MiB of entries) verifies
/// each token once.
pub const DEFAULT_VERIFIED_CACHE_BYTES: u64 = 128 * 1024 * 1024;

/// What the cache charges for one entry, in bytes: the two reference-counted boxes (entry
/// and claims), every string's capacity, the map's slot, and malloc's ~16 bytes per block.
/// An estimate from the types and glibc's chunk overhead, not a measurement.
pub fn entry_bytes(claims: &AccessClaims, kid: &str) -> u64 {
    const ARC: usize = 16;
    const MALLOC: usize = 16;
    // Key, value pointer, the shard's hash and S3-FIFO bookkeeping.
    const SLOT: usize = 64;
    let strings = [
        &claims.iss,
        &claims.sub,
        &claims.jti,
        &claims.sid,
        &claims.name,
    ];
    let mut bytes = SLOT
        + ARC
        + MALLOC
        + size_of::<Verified>()
        + ARC
        + MALLOC
        + size_of::<AccessClaims>()
        + kid.len()
        + MALLOC;
    for s in strings {
        bytes += s.capacity() + MALLOC;
    }
    for list in [claims.aud.as_slice(), claims.roles.as_slice()] {
        bytes += size_of_val(list) + MALLOC;
        bytes += list.iter().map(|s| s.capacity() + MALLOC).sum::<usize>();
    }
    bytes as u64
}

/// How entries are weighed: one each (an entry bound) or [`entry_bytes`] (a memory bound).
#[derive(Debug, Clone, Copy)]
struct Weigh {
    by_bytes: bool,
}

impl quick_cache::Weighter<TokenDigest, Arc<Verified>> for Weigh {
    fn weight(&self, _: &TokenDigest, v: &Arc<Verified>) -> u64 {
        if self.by_bytes {
            entry_bytes(&v.claims, &v.kid)
        } else {
            1
        }
    }
}

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
    map: Arc<quick_cache::sync::Cache<TokenDigest, Arc<Verified>, Weigh>>,
}

impl VerifiedCache {
    /// A cache of at most `capacity` tokens (at least 1), whatever their size.
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            map: Arc::new(quick_cache::sync::Cache::with_weighter(
                capacity,
                capacity as u64,
                Weigh { by_bytes: false },
            )),
        }
    }

    /// A cache holding at most `bytes` of entries, as [`entry_bytes`] counts them (at least
    /// 4 KiB).
    pub fn with_bytes(bytes: u64) -> Self {
        let bytes = bytes.max(4096);
        Self {
            map: Arc::new(quick_cache::sync::Cache::with_weighter(
                usize::try_from(bytes / 600).unwrap_or(usize::MAX).max(1),
                bytes,
                Weigh { by_bytes: true },
            )),
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

    /// Its bound: the most tokens it holds ([`new`](Self::new)), or the most bytes
    /// ([`with_bytes`](Self::with_bytes)).
    pub fn capacity(&self) -> usize {
        usize::try_from(self.map.capacity()).unwrap_or(usize::MAX)
    }

    /// What its entries weigh now: a count, or bytes, as its bound.
    pub fn weight(&self) -> u64 {
        self.map.weight()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Timestamp;
    use crate::token::Audience;

    /// Claims shaped like the server's: a URL, a UUID, 22-character IDs, two roles.
    fn claims(n: usize, roles: usize) -> AccessClaims {
        AccessClaims {
            iss: "https://auth.example.com".to_owned(),
            sub: format!("{n:08}-1c5e-4a7b-9d2f-3b8e6a0c1d4f"),
            aud: Audience::one("cloakroom"),
            exp: Timestamp::from_unix(1_900_000_000),
            nbf: None,
            iat: Timestamp::from_unix(1_800_000_000),
            jti: format!("{n:022}"),
            sid: format!("{n:022}"),
            name: format!("user{n}"),
            roles: (0..roles).map(|r| format!("role-{r}")).collect(),
        }
    }

    fn fill(cache: &VerifiedCache, count: usize, roles: usize) {
        for n in 0..count {
            let verified = Verified {
                claims: Arc::new(claims(n, roles)),
                kid: "k1".into(),
                key: [0; 32],
            };
            cache.insert(
                VerifiedCache::digest(&format!("token {n} {roles}")),
                verified,
            );
        }
    }

    #[test]
    fn a_byte_budget_bounds_the_memory_whatever_the_token_size() {
        let one = entry_bytes(&claims(0, 2), "k1");
        assert!((600..900).contains(&one), "{one} bytes an entry");
        let budget = 1 << 20;
        let cache = VerifiedCache::with_bytes(budget);
        fill(&cache, 20_000, 2);
        assert!(cache.weight() <= budget, "{} > {budget}", cache.weight());
        // Full, roughly: the shards evict on their own, so not to the byte.
        let small = cache.len();
        assert!(
            small as u64 >= budget / one * 3 / 4,
            "{small} entries of {one} bytes"
        );
        // Tokens with many roles weigh more: fewer of them fit in the same budget.
        let cache = VerifiedCache::with_bytes(budget);
        fill(&cache, 20_000, 40);
        assert!(cache.weight() <= budget);
        assert!(
            cache.len() < small / 2,
            "{} large against {small} small",
            cache.len()
        );
    }

    #[test]
    fn an_entry_bound_counts_entries() {
        let cache = VerifiedCache::new(100);
        fill(&cache, 1_000, 40);
        assert!(cache.len() <= 100);
        assert_eq!(cache.weight(), cache.len() as u64);
    }
}
