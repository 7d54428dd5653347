//! Key sets: the signing key and the older keys that still verify, and how rotation moves
//! them. Everything here is pure: time comes in as arguments, so tests can step through a
//! rotation with a `ManualClock`.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;

use super::jwks::Jwks;
use super::{Key, Kid};
use crate::clock::Timestamp;

/// One active signing key and the older keys that still verify, until the last token they
/// signed has expired. Immutable: rotation makes a new set.
///
/// ```
/// use std::time::Duration;
/// use cloakroom::clock::Timestamp;
/// use cloakroom::token::{Algorithm, Key, KeySet, StoredKey};
///
/// let t0 = Timestamp::from_unix(1_000);
/// let first = Key::from_stored(&StoredKey::generate(Algorithm::EdDSA, t0)?)?;
/// let set = KeySet::new(first.clone());
///
/// // Rotate: a new key signs; the old one verifies for one more token lifetime (+ leeway).
/// let second = Key::from_stored(&StoredKey::generate(Algorithm::EdDSA, t0)?)?;
/// let set = set.rotate(second, t0, Duration::from_secs(3600));
/// assert_ne!(set.active().kid(), first.kid());
/// assert!(set.get(first.kid().as_str()).is_some());
/// assert_eq!(set.jwks(t0).keys.len(), 2);
///
/// // An hour later the old key is retired.
/// let (set, retired) = set.without_retired(t0.saturating_add(Duration::from_secs(3600)));
/// assert_eq!(retired, vec![first.kid().clone()]);
/// assert_eq!(set.len(), 1);
/// # Ok::<(), cloakroom::token::KeyError>(())
/// ```
#[derive(Debug, Clone)]
pub struct KeySet {
    active: Arc<Key>,
    /// Every key that still verifies, the active one included, by `kid`.
    keys: HashMap<String, Arc<Key>>,
}

impl KeySet {
    /// A set of one key, which signs.
    pub fn new(active: Key) -> Self {
        Self::from_keys(active, [])
    }

    /// A set where `active` signs and `previous` keys only verify.
    pub fn from_keys(active: Key, previous: impl IntoIterator<Item = Key>) -> Self {
        let active = Arc::new(active);
        let mut keys: HashMap<String, Arc<Key>> = previous
            .into_iter()
            .map(|k| (k.kid().to_string(), Arc::new(k)))
            .collect();
        keys.insert(active.kid().to_string(), Arc::clone(&active));
        Self { active, keys }
    }

    /// The key that signs new tokens.
    pub fn active(&self) -> &Arc<Key> {
        &self.active
    }

    /// The key named `kid`, if it is in the set. A plain map lookup: `kid` is never interpreted.
    pub fn get(&self, kid: &str) -> Option<&Arc<Key>> {
        self.keys.get(kid)
    }

    /// How many keys the set holds, the active one included.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set is empty (never: there is always an active key).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The keys, the active one first, then the newest first.
    pub fn keys(&self) -> Vec<Arc<Key>> {
        let mut keys: Vec<Arc<Key>> = self.keys.values().cloned().collect();
        keys.sort_by(|a, b| {
            let a_active = Arc::ptr_eq(a, &self.active);
            let b_active = Arc::ptr_eq(b, &self.active);
            b_active
                .cmp(&a_active)
                .then(b.activated_at().cmp(&a.activated_at()))
                .then(a.kid().cmp(b.kid()))
        });
        keys
    }

    /// The set after a rotation at `now`: `next` signs, and the key that signed until now
    /// verifies until `now + retention` (the longest token lifetime plus the leeway).
    pub fn rotate(&self, next: Key, now: Timestamp, retention: Duration) -> Self {
        let previous = self
            .keys
            .values()
            .map(|k| {
                if Arc::ptr_eq(k, &self.active) {
                    k.with_retire_after(Some(now.saturating_add(retention)))
                } else {
                    Key::clone(k)
                }
            })
            .collect::<Vec<_>>();
        Self::from_keys(next, previous)
    }

    /// The set without the keys retired at `now`, and their IDs. The active key never retires.
    pub fn without_retired(&self, now: Timestamp) -> (Self, Vec<Kid>) {
        let mut retired = Vec::new();
        let mut keys = HashMap::with_capacity(self.keys.len());
        for (kid, key) in &self.keys {
            if !Arc::ptr_eq(key, &self.active) && key.is_retired_at(now) {
                retired.push(key.kid().clone());
            } else {
                keys.insert(kid.clone(), Arc::clone(key));
            }
        }
        retired.sort();
        let set = Self {
            active: Arc::clone(&self.active),
            keys,
        };
        (set, retired)
    }

    /// The public keys that still verify at `now`, the signing key first. HMAC keys are shared
    /// secrets and never appear.
    pub fn jwks(&self, now: Timestamp) -> Jwks {
        Jwks {
            keys: self
                .keys()
                .iter()
                .filter(|k| Arc::ptr_eq(k, &self.active) || !k.is_retired_at(now))
                .filter_map(|k| k.to_jwk())
                .collect(),
        }
    }
}

/// The current [`KeySet`], shared by the issuer, the verifier and whoever rotates keys.
/// Cheap to clone (all clones see the same set).
///
/// Readers never lock: a verification loads the current set with one atomic read (`arc-swap`),
/// and a rotation swaps in a whole new set. Key sets change rarely, so copying one per change
/// costs nothing that matters.
#[derive(Clone)]
pub struct KeyRing(Arc<ArcSwap<KeySet>>);

impl KeyRing {
    /// A ring holding `set`.
    pub fn new(set: KeySet) -> Self {
        Self(Arc::new(ArcSwap::from_pointee(set)))
    }

    /// The current set.
    pub fn snapshot(&self) -> Arc<KeySet> {
        self.0.load_full()
    }

    /// Replaces the current set; readers see the new one from their next load.
    pub fn replace(&self, set: KeySet) {
        self.0.store(Arc::new(set));
    }

    /// The current set without touching its reference count (for the verification path).
    pub(crate) fn load(&self) -> arc_swap::Guard<Arc<KeySet>> {
        self.0.load()
    }
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = self.0.load();
        f.debug_struct("KeyRing")
            .field("active", set.active().kid())
            .field("keys", &set.len())
            .finish()
    }
}
