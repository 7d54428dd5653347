//! The token modes' machinery, built from the settings over the opened stores: the keys, the
//! deny-list (and the bus that spreads it), the verifier, the cookies, and the mode's facade
//! ([`JwtAuth`] or [`HybridAuth`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use cloakroom::auth::AuthMethod;
use cloakroom::clock::SharedClock;
use cloakroom::revocation::Revocations;
use cloakroom::token::{KeyManager, TokenIssuer, TokenVerifier};
use cloakroom::token_auth::{HybridAuth, JwtAuth};
use cloakroom_axum::{AuthLayer, CookieConfig, KeyReloader, TokenAuth};
// tokio's clock, so that tests can pause time.
use tokio::time::Instant;

use crate::error::Error;
use crate::rate_limit::RateLimits;
use crate::settings::{Mode, Settings};
use crate::stores::Stores;

/// The access-token cookie's name (`__Host-` is prefixed when `public_url` is https).
pub const ACCESS_COOKIE: &str = "cloakroom_access";
/// The refresh-token cookie's name (`__Secure-` is prefixed when `public_url` is https).
pub const REFRESH_COOKIE: &str = "cloakroom_refresh";
/// The only path the refresh cookie is sent to.
pub const REFRESH_PATH: &str = "/auth/refresh";

/// At most one reload of the keys per this long for tokens with an unknown `kid`: a stream of
/// made-up `kid`s must not turn into a stream of database reads.
const UNKNOWN_KID_COOLDOWN: Duration = Duration::from_secs(1);

/// The facade of the configured token mode.
#[derive(Debug, Clone)]
pub enum TokenMode {
    /// `jwt`: access tokens only.
    Jwt(JwtAuth),
    /// `hybrid`: access tokens and rotating refresh sessions.
    Hybrid(HybridAuth),
}

/// Everything the `jwt` and `hybrid` modes need. Cheap to share behind the app's `Arc`.
#[derive(Debug)]
pub struct TokenService {
    mode: TokenMode,
    keys: Arc<KeyManager>,
    verifier: TokenVerifier,
    revocations: Arc<Revocations>,
    access_cookie: CookieConfig,
    refresh_cookie: CookieConfig,
    /// Reloads the keys for a token with an unknown `kid`.
    kid_reload: Arc<UnknownKidReload>,
    /// The rates of refreshing and revoking.
    limits: RateLimits,
}

impl TokenService {
    /// Loads (or makes, on first start) the keys from the database and the deny-list from its
    /// store, and follows the revocation bus when there is one; refresh sessions go to the
    /// rotating session store.
    pub(crate) async fn open(
        settings: &Settings,
        stores: &Stores,
        clock: SharedClock,
    ) -> Result<Self, Error> {
        let keys = Arc::new(
            KeyManager::open(stores.database.keys(), settings.key_policy(), clock.clone()).await?,
        );
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
        let verifier = TokenVerifier::new(keys.ring().clone(), settings.validation())
            .with_deny_list(revocations.deny_list().clone())
            .with_clock(clock.clone())
            .with_verified_cache(settings.jwt.verified_cache);
        let leeway = settings.jwt.leeway;
        let mode = match settings.mode {
            Mode::Jwt => TokenMode::Jwt(JwtAuth::new(issuer, revocations.clone(), leeway)),
            // Never built in session mode; hybrid is the token mode it would fall back to.
            Mode::Hybrid | Mode::Session => TokenMode::Hybrid(
                HybridAuth::new(
                    stores.rotating.clone(),
                    settings.refresh_policy()?,
                    issuer,
                    revocations.clone(),
                    leeway,
                )
                .with_reuse_interval(settings.jwt.refresh_reuse_interval)
                .with_clock(clock),
            ),
        };
        let secure = settings.public_url_is_https()?;
        Ok(Self {
            mode,
            verifier,
            revocations,
            access_cookie: CookieConfig::new(ACCESS_COOKIE).secure(secure),
            refresh_cookie: CookieConfig::new(REFRESH_COOKIE)
                .with_path(REFRESH_PATH)
                .secure(secure),
            limits: RateLimits::default(),
            kid_reload: Arc::new(UnknownKidReload {
                keys: Arc::clone(&keys),
                last: tokio::sync::Mutex::new(None),
            }),
            keys,
        })
    }

    /// The rates of `/auth/refresh` and `/auth/revoke`.
    pub fn limits(&self) -> &RateLimits {
        &self.limits
    }

    /// The mode's facade.
    pub fn mode(&self) -> &TokenMode {
        &self.mode
    }

    /// The hybrid facade, in `hybrid` mode.
    pub fn hybrid(&self) -> Option<&HybridAuth> {
        match &self.mode {
            TokenMode::Hybrid(h) => Some(h),
            TokenMode::Jwt(_) => None,
        }
    }

    /// How principals are marked: `jwt` or `hybrid`.
    pub fn method(&self) -> AuthMethod {
        match self.mode {
            TokenMode::Jwt(_) => AuthMethod::Jwt,
            TokenMode::Hybrid(_) => AuthMethod::Hybrid,
        }
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

    /// The access-token cookie, for browsers (the API accepts it wherever it takes a bearer).
    pub fn access_cookie(&self) -> &CookieConfig {
        &self.access_cookie
    }

    /// The refresh-token cookie, sent only to `/auth/refresh`.
    pub fn refresh_cookie(&self) -> &CookieConfig {
        &self.refresh_cookie
    }

    /// The layer that authenticates requests by bearer token or access-token cookie.
    pub(crate) fn layer(&self) -> AuthLayer {
        AuthLayer::tokens(
            TokenAuth::new(self.verifier.clone(), self.method())
                .with_cookie(self.access_cookie.clone())
                .with_key_reloader(self.kid_reload.clone()),
        )
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
