//! The token modes' machinery, built from the settings over the opened stores: the keys, the
//! deny-list (and the bus that spreads it) and the verifier, from which the authority's
//! [`Flow`] of `jwt` or `hybrid` mode is made.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use cloakroom::authority::Flow;
use cloakroom::clock::SharedClock;
use cloakroom::revocation::Revocations;
use cloakroom::token::{KeyManager, TokenIssuer, TokenVerifier};
use cloakroom::token_auth::{HybridAuth, JwtAuth};
use cloakroom_axum::KeyReloader;
pub use cloakroom_axum::routes::{ACCESS_COOKIE, REFRESH_COOKIE, REFRESH_PATH};
// tokio's clock, so that tests can pause time.
use tokio::time::Instant;

use crate::error::Error;
use crate::settings::{Mode, Settings};
use crate::stores::Stores;

/// At most one reload of the keys per this long for tokens with an unknown `kid`: a stream of
/// made-up `kid`s must not turn into a stream of database reads.
const UNKNOWN_KID_COOLDOWN: Duration = Duration::from_secs(1);

/// Everything the `jwt` and `hybrid` modes need besides the authority. Cheap to share behind
/// the app's `Arc`.
#[derive(Debug)]
pub struct TokenService {
    keys: Arc<KeyManager>,
    issuer: TokenIssuer,
    verifier: TokenVerifier,
    revocations: Arc<Revocations>,
    /// Reloads the keys for a token with an unknown `kid`.
    kid_reload: Arc<UnknownKidReload>,
}

impl TokenService {
    /// Loads (or makes, on first start) the keys from the database and the deny-list from its
    /// store, and follows the revocation bus when there is one.
    pub(crate) async fn open(
        settings: &Settings,
        stores: &Stores,
        clock: SharedClock,
    ) -> Result<Self, Error> {
        let store = crate::custody::key_store(settings, &stores.database).await?;
        let keys = Arc::new(crate::custody::open_manager(settings, store, clock.clone()).await?);
        Self::with_keys(settings, stores, clock, keys).await
    }

    /// What the `user` commands need: the stored deny-list (and the bus), to revoke a user's
    /// tokens on every node. They issue no token, so the stored keys are neither read nor made
    /// (a database the CLI only changes users in keeps having no key until `serve`): the
    /// issuer signs with a throwaway key of this process that never leaves it.
    pub(crate) async fn for_user_changes(
        settings: &Settings,
        stores: &Stores,
        clock: SharedClock,
    ) -> Result<Self, Error> {
        let throwaway = Arc::new(cloakroom::token::MemoryKeyStore::new());
        let keys =
            Arc::new(KeyManager::open(throwaway, settings.key_policy(), clock.clone()).await?);
        Self::with_keys(settings, stores, clock, keys).await
    }

    async fn with_keys(
        settings: &Settings,
        stores: &Stores,
        clock: SharedClock,
        keys: Arc<KeyManager>,
    ) -> Result<Self, Error> {
        let mut revocations = Revocations::open(stores.revocations.clone(), clock.clone()).await?;
        if let Some(bus) = &stores.bus {
            revocations = revocations.with_bus(bus.clone());
        }
        let revocations = Arc::new(revocations);
        // Applies what other nodes revoke within milliseconds, and reloads the stored list
        // whenever the bus (re)connects, so nothing published meanwhile is missed.
        revocations.follow_bus();
        let issuer = TokenIssuer::new(
            keys.ring().clone(),
            settings.public_url.clone(),
            settings.jwt.audience.clone(),
            settings.access_ttl(),
        )
        .with_clock(clock.clone());
        let verifier = settings.jwt.size_verified_cache(
            TokenVerifier::new(keys.ring().clone(), settings.validation())
                .with_deny_list(revocations.deny_list().clone())
                .with_clock(clock),
        );
        Ok(Self {
            verifier,
            issuer,
            revocations,
            kid_reload: Arc::new(UnknownKidReload {
                keys: Arc::clone(&keys),
                last: tokio::sync::Mutex::new(None),
            }),
            keys,
        })
    }

    /// The authority's parts for the configured token mode; refresh sessions go to the
    /// rotating session store.
    pub(crate) fn flow(
        &self,
        settings: &Settings,
        stores: &Stores,
        clock: SharedClock,
    ) -> Result<Flow, Error> {
        let leeway = settings.jwt.leeway;
        let verifier = self.verifier.clone();
        Ok(match settings.mode {
            Mode::Jwt => Flow::Jwt {
                auth: JwtAuth::new(self.issuer.clone(), self.revocations.clone(), leeway),
                verifier,
            },
            // Never built in session mode; hybrid is the token mode it would fall back to.
            Mode::Hybrid | Mode::Session => Flow::Hybrid {
                auth: HybridAuth::new(
                    stores.rotating.clone(),
                    settings.refresh_policy()?,
                    self.issuer.clone(),
                    self.revocations.clone(),
                    leeway,
                )
                .with_reuse_interval(settings.jwt.refresh_reuse_interval)
                .with_clock(clock),
                verifier,
            },
        })
    }

    /// The signing keys.
    pub fn keys(&self) -> &KeyManager {
        &self.keys
    }

    /// Verifies access tokens against the keys and the deny-list.
    pub fn verifier(&self) -> &TokenVerifier {
        &self.verifier
    }

    /// The deny-list and its store.
    pub fn revocations(&self) -> &Arc<Revocations> {
        &self.revocations
    }

    /// What reloads the keys for a token with an unknown `kid`, for the auth layer.
    pub(crate) fn key_reloader(&self) -> Arc<dyn KeyReloader> {
        self.kid_reload.clone()
    }

    /// Keeps the keys and the deny-list in step with the stores, which other processes write
    /// too: reloads the keys (`cloakroom keys rotate`, another node's rotation), retires the
    /// ones no token needs, rotates when `jwt.rotate_every` is due, and, without a bus,
    /// reloads the stored deny-list (what other nodes and `cloakroom user remove` revoked).
    /// With a bus the news arrives at once, and the list is reloaded on every reconnect.
    pub(crate) async fn maintain(&self) -> Result<(), Error> {
        let done = self.keys.maintain().await?;
        if let Some(kid) = &done.rotated {
            tracing::info!(%kid, "rotated the signing key on schedule");
        }
        if self.revocations.bus().is_none() {
            self.revocations.reload().await?;
        }
        Ok(())
    }
}

/// Reloads the keys when a request presents a token whose `kid` this process does not know
/// (another node or `cloakroom keys rotate` made a key), at most once per cooldown. Asked by
/// the auth layer only after verification failed for that reason, so it costs nothing on the
/// hot path.
#[derive(Debug)]
struct UnknownKidReload {
    keys: Arc<KeyManager>,
    /// When the keys were last reloaded for an unknown `kid`.
    last: tokio::sync::Mutex<Option<Instant>>,
}

impl KeyReloader for UnknownKidReload {
    fn reload(&self) -> Pin<Box<dyn Future<Output = bool> + Send + '_>> {
        Box::pin(async move {
            // Requests that arrive while a reload runs go on without waiting for it.
            let Ok(mut last) = self.last.try_lock() else {
                return false;
            };
            if last.is_some_and(|t| t.elapsed() < UNKNOWN_KID_COOLDOWN) {
                return false;
            }
            *last = Some(Instant::now());
            match self.keys.reload().await {
                Ok(()) => {
                    tracing::debug!("reloaded the signing keys for an unknown kid");
                    true
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not reload the signing keys");
                    false
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use cloakroom::clock::{ManualClock, Timestamp};
    use cloakroom::token::{KeyPolicy, MemoryKeyStore};

    use super::*;

    /// A stream of made-up `kid`s turns into at most one key reload per cooldown.
    #[tokio::test(start_paused = true)]
    async fn unknown_kids_reload_the_keys_at_most_once_per_cooldown() {
        let clock = Arc::new(ManualClock::new(Timestamp::from_unix(1_800_000_000)));
        let keys = KeyManager::open(Arc::new(MemoryKeyStore::new()), KeyPolicy::default(), clock)
            .await
            .unwrap();
        let reload = UnknownKidReload {
            keys: Arc::new(keys),
            last: tokio::sync::Mutex::new(None),
        };
        assert!(reload.reload().await, "the first unknown kid reloads");
        for _ in 0..100 {
            assert!(!reload.reload().await, "within the cooldown: no reload");
        }
        tokio::time::advance(UNKNOWN_KID_COOLDOWN).await;
        assert!(reload.reload().await, "after the cooldown: one more");
    }
}
