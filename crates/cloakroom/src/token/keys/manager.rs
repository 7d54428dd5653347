//! Keys over time: loading them from a [`KeyStore`], generating the first one, rotating, and
//! retiring the ones no token needs any more.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::jwks::Jwks;
use super::{Key, KeyRing, KeySet, KeyStore, Kid, StoredKey};
use crate::clock::{SharedClock, SystemClock, Timestamp};
use crate::token::{Algorithm, KeyError};

/// How keys are made and how long they live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPolicy {
    /// The algorithm of new keys. When it changes, the next start rotates to a key of it.
    pub algorithm: Algorithm,
    /// The longest lifetime of a token signed by these keys.
    pub max_token_ttl: Duration,
    /// The clock skew tolerated when checking `exp`, `nbf` and `iat`.
    pub leeway: Duration,
    /// Rotate the signing key this often, if set (`jwt.rotate_every`).
    pub rotate_every: Option<Duration>,
}

impl Default for KeyPolicy {
    fn default() -> Self {
        Self {
            algorithm: Algorithm::default(),
            max_token_ttl: Duration::from_secs(3600),
            leeway: Duration::from_secs(30),
            rotate_every: None,
        }
    }
}

impl KeyPolicy {
    /// How long a replaced key keeps verifying: every token it signed has expired by then.
    pub fn retention(&self) -> Duration {
        self.max_token_ttl.saturating_add(self.leeway)
    }
}

/// Where a key is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyStatus {
    /// Signs new tokens (and verifies).
    Active,
    /// Only verifies tokens it signed before a rotation, until `retire_after`.
    Verifying,
    /// No longer verifies anything.
    Retired,
}

/// A key as `cloakroom keys list` shows it: no material.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyInfo {
    /// The key's ID.
    pub kid: Kid,
    /// Its algorithm.
    pub algorithm: Algorithm,
    /// Where it is in its life.
    pub status: KeyStatus,
    /// When it was made.
    pub created_at: Timestamp,
    /// When it became the signing key.
    pub activated_at: Timestamp,
    /// When it stops verifying, once replaced.
    pub retire_after: Option<Timestamp>,
    /// When it was retired.
    pub retired_at: Option<Timestamp>,
}

/// What [`KeyManager::maintain`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Maintenance {
    /// Keys retired because every token they signed has expired.
    pub retired: Vec<Kid>,
    /// The new signing key, if a scheduled rotation was due.
    pub rotated: Option<Kid>,
}

/// Owns the keys of one server: loads them, makes the first, rotates, retires. The
/// [`KeyRing`] it keeps current is what the issuer and the verifier read.
#[derive(Debug)]
pub struct KeyManager {
    store: Arc<dyn KeyStore>,
    ring: KeyRing,
    policy: KeyPolicy,
    clock: SharedClock,
    /// Rotations and retirements one at a time (readers never wait on it).
    write: tokio::sync::Mutex<()>,
}

impl KeyManager {
    /// Loads the keys in `store`, generating and storing a first key if there is none,
    /// rotating if the configured algorithm changed, and retiring keys no token needs.
    pub async fn open(
        store: Arc<dyn KeyStore>,
        policy: KeyPolicy,
        clock: SharedClock,
    ) -> Result<Self, KeyError> {
        let now = clock.now();
        let set = match load_set(store.as_ref(), &policy, now).await? {
            Some(set) => set,
            None => {
                let stored = generate(policy.algorithm, now).await?;
                let key = Key::from_stored(&stored)?;
                store.insert(&stored).await?;
                tracing::info!(kid = %stored.kid, algorithm = %stored.algorithm, "generated the first signing key");
                KeySet::new(key)
            }
        };
        let manager = Self {
            store,
            ring: KeyRing::new(set),
            policy,
            clock,
            write: tokio::sync::Mutex::new(()),
        };
        if manager.ring.snapshot().active().algorithm() != manager.policy.algorithm {
            let kid = manager.rotate().await?;
            tracing::info!(%kid, algorithm = %manager.policy.algorithm, "the configured algorithm changed: rotated");
        }
        manager.maintain().await?;
        Ok(manager)
    }

    /// [`open`](Self::open), timed by the system clock.
    pub async fn open_system(
        store: Arc<dyn KeyStore>,
        policy: KeyPolicy,
    ) -> Result<Self, KeyError> {
        Self::open(store, policy, Arc::new(SystemClock)).await
    }

    /// The live key set, for a [`TokenIssuer`](crate::token::TokenIssuer) and a
    /// [`TokenVerifier`](crate::token::TokenVerifier).
    pub fn ring(&self) -> &KeyRing {
        &self.ring
    }

    /// The policy.
    pub fn policy(&self) -> &KeyPolicy {
        &self.policy
    }

    /// The public keys for `GET /.well-known/jwks.json`: the signing key and the keys not yet
    /// retired, never an HMAC secret.
    pub fn jwks(&self) -> Jwks {
        self.ring.snapshot().jwks(self.clock.now())
    }

    /// Makes a new signing key (of the policy's algorithm). The previous one verifies for one
    /// more token lifetime plus the leeway, then retires.
    pub async fn rotate(&self) -> Result<Kid, KeyError> {
        let stored = generate(self.policy.algorithm, self.clock.now()).await?;
        self.rotate_to(stored).await
    }

    /// Makes `stored` the signing key (e.g. one made from a configured secret), as
    /// [`rotate`](Self::rotate) does.
    pub async fn rotate_to(&self, mut stored: StoredKey) -> Result<Kid, KeyError> {
        let _write = self.write.lock().await;
        let now = self.clock.now();
        stored.activated_at = now;
        stored.retire_after = None;
        stored.retired_at = None;
        let key = Key::from_stored(&stored)?;
        let current = self.ring.snapshot();
        let retire_after = now.saturating_add(self.policy.retention());
        // Insert first: if the second write is lost, loading repairs it (the newest key is the
        // active one; older keys without `retire_after` get one).
        self.store.insert(&stored).await?;
        self.store
            .set_retire_after(current.active().kid().as_str(), retire_after)
            .await?;
        self.ring
            .replace(current.rotate(key, now, self.policy.retention()));
        Ok(stored.kid.clone())
    }

    /// Reloads the keys from the store (another node, or `cloakroom keys rotate`, may have
    /// rotated), retires the keys every token of which has expired, and rotates if
    /// `rotate_every` is due. Run it periodically (a minute is plenty): it is how every node
    /// comes to sign and verify with the same keys.
    pub async fn maintain(&self) -> Result<Maintenance, KeyError> {
        let mut done = Maintenance::default();
        {
            let _write = self.write.lock().await;
            let now = self.clock.now();
            let before = self.ring.snapshot();
            let set = load_set(self.store.as_ref(), &self.policy, now)
                .await?
                .ok_or(KeyError::NoActiveKey)?;
            done.retired = before
                .keys()
                .iter()
                .map(|k| k.kid().clone())
                .filter(|kid| set.get(kid.as_str()).is_none())
                .collect();
            done.retired.sort();
            for kid in &done.retired {
                tracing::info!(%kid, "retired a signing key");
            }
            if set.active().kid() != before.active().kid() {
                tracing::info!(kid = %set.active().kid(), "another process rotated the signing key");
            }
            self.ring.replace(set);
        }
        if let Some(every) = self.policy.rotate_every {
            let active = self.ring.snapshot().active().activated_at();
            if active.saturating_add(every) <= self.clock.now() {
                done.rotated = Some(self.rotate().await?);
            }
        }
        Ok(done)
    }

    /// Reloads the keys from the store: another node may have rotated.
    pub async fn reload(&self) -> Result<(), KeyError> {
        let _write = self.write.lock().await;
        let set = load_set(self.store.as_ref(), &self.policy, self.clock.now())
            .await?
            .ok_or(KeyError::NoActiveKey)?;
        self.ring.replace(set);
        Ok(())
    }

    /// Every key in the store, retired ones included, the newest first.
    pub async fn list(&self) -> Result<Vec<KeyInfo>, KeyError> {
        let now = self.clock.now();
        let active = self.ring.snapshot().active().kid().clone();
        let mut keys: Vec<KeyInfo> = self
            .store
            .load_all()
            .await?
            .into_iter()
            .map(|k| KeyInfo {
                status: if k.retired_at.is_some() || k.retire_after.is_some_and(|t| t <= now) {
                    KeyStatus::Retired
                } else if k.kid == active {
                    KeyStatus::Active
                } else {
                    KeyStatus::Verifying
                },
                kid: k.kid.clone(),
                algorithm: k.algorithm,
                created_at: k.created_at,
                activated_at: k.activated_at,
                retire_after: k.retire_after,
                retired_at: k.retired_at,
            })
            .collect();
        keys.sort_by(|a, b| b.activated_at.cmp(&a.activated_at).then(a.kid.cmp(&b.kid)));
        Ok(keys)
    }
}

/// Generates a key off the async threads (RSA takes a while).
async fn generate(algorithm: Algorithm, now: Timestamp) -> Result<StoredKey, KeyError> {
    tokio::task::spawn_blocking(move || StoredKey::generate(algorithm, now))
        .await
        .map_err(|e| KeyError::Join(Box::new(e)))?
}

/// The key set the store's keys make at `now`, or `None` if it holds no live key.
///
/// The newest key that no rotation replaced signs. Any other key without `retire_after` (a
/// rotation cut short, or two nodes that made a first key at once) verifies for one retention
/// period from the active key's activation; the repair is written back. A key that cannot be loaded fails
/// the whole load: better to refuse to start than to drop a key silently.
async fn load_set(
    store: &dyn KeyStore,
    policy: &KeyPolicy,
    now: Timestamp,
) -> Result<Option<KeySet>, KeyError> {
    let live: Vec<StoredKey> = store
        .load_all()
        .await?
        .into_iter()
        .filter(|k| k.retired_at.is_none())
        .collect();
    // The active key: one no rotation has replaced (no `retire_after`), the newest, and the
    // greatest `kid` to break a tie the same way on every node.
    let Some(newest) = live.iter().max_by(|a, b| {
        (a.retire_after.is_none(), a.activated_at, &a.kid).cmp(&(
            b.retire_after.is_none(),
            b.activated_at,
            &b.kid,
        ))
    }) else {
        return Ok(None);
    };
    let active = Key::from_stored(newest)?.with_retire_after(None);
    let repair_at = active.activated_at().saturating_add(policy.retention());
    let mut previous = Vec::with_capacity(live.len());
    for stored in live.iter().filter(|k| k.kid != newest.kid) {
        let mut key = Key::from_stored(stored)?;
        if key.retire_after().is_none() {
            store
                .set_retire_after(stored.kid.as_str(), repair_at)
                .await?;
            key = key.with_retire_after(Some(repair_at));
        }
        previous.push(key);
    }
    let (set, retired) = KeySet::from_keys(active, previous).without_retired(now);
    for kid in retired {
        store.mark_retired(kid.as_str(), now).await?;
    }
    Ok(Some(set))
}
