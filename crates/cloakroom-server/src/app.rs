//! The HTTP application: its state ([`App`]) and its router.

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use cloakroom::auth::{Authenticator, SessionManager};
use cloakroom::clock::{SharedClock, SystemClock};
use cloakroom::throttle::LoginThrottle;
use cloakroom::user::{HashParams, PasswordPolicy, UserStore};
use cloakroom_axum::{AuthLayer, CookieConfig, TrustedProxies};
use metrics_exporter_prometheus::PrometheusHandle;
use tower::ServiceBuilder;

use crate::error::Error;
use crate::settings::{SessionStoreKind, Settings};
use crate::stores::{DatabaseStore, Stores};
use crate::tokens::TokenService;
use crate::users::UserAdmin;
use crate::{middleware, prometheus, routes, stores};

/// The largest request body accepted, in bytes. Logins are a few hundred bytes; anything near
/// this is an attack or a mistake.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// The server's state: stores, session manager, password hasher, cookie settings, metrics,
/// and in `jwt` and `hybrid` modes the [`TokenService`]. Cheap to clone.
#[derive(Debug, Clone)]
pub struct App {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    settings: Settings,
    auth: Authenticator,
    stores: Stores,
    users: Arc<dyn UserStore>,
    cookies: CookieConfig,
    tokens: Option<TokenService>,
    password_policy: PasswordPolicy,
    metrics: PrometheusHandle,
    throttle: Arc<dyn LoginThrottle>,
    proxies: TrustedProxies,
}

/// Builds an [`App`] from [`Settings`]; tests swap in a manual clock and cheap hashing.
#[derive(Debug)]
#[must_use]
pub struct AppBuilder {
    settings: Settings,
    clock: Option<SharedClock>,
    hash_params: Option<HashParams>,
}

impl AppBuilder {
    /// Reads the time from `clock` (e.g. a `ManualClock` in tests) instead of the system's.
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Hashes passwords with `params` instead of what the settings say.
    pub fn hash_params(mut self, params: HashParams) -> Self {
        self.hash_params = Some(params);
        self
    }

    /// Checks the settings, opens the stores (creating the SQLite file, or connecting to
    /// PostgreSQL and Redis, and running the migrations), loads or makes the signing keys in
    /// `jwt` and `hybrid` modes, and installs the metrics recorder.
    pub async fn build(self) -> Result<App, Error> {
        let settings = self.settings;
        settings.validate()?;
        let policy = settings.session_policy()?;
        let secure = settings.public_url_is_https()?;
        let clock: SharedClock = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let throttle = crate::login::throttle_for(&settings, clock.clone()).await?;
        let stores = Stores::open(&settings, clock.clone()).await?;
        let tokens = if settings.mode.uses_tokens() {
            Some(TokenService::open(&settings, &stores, clock.clone()).await?)
        } else {
            None
        };
        // In hybrid mode the sessions are the refresh sessions, so that listing, counting,
        // purging and ending them goes through one manager.
        let sessions = match tokens.as_ref().and_then(TokenService::hybrid) {
            Some(hybrid) => hybrid.sessions().clone(),
            None => SessionManager::from_shared(stores.sessions.clone(), policy).with_clock(clock),
        };
        let hasher = match self.hash_params {
            Some(params) => stores::hasher_with(params)?,
            None => stores::hasher(&settings)?,
        };
        let users = stores.database.users();
        let auth = Authenticator::new(sessions, users.clone(), hasher);
        let cookies = CookieConfig::new(settings.session.cookie_name.clone()).secure(secure);
        let (password_policy, proxies) = (settings.password_policy()?, settings.trusted_proxies()?);
        Ok(App {
            inner: Arc::new(Inner {
                settings,
                auth,
                stores,
                users,
                cookies,
                tokens,
                password_policy,
                metrics: prometheus::handle()?,
                throttle,
                proxies,
            }),
        })
    }
}

impl App {
    /// A builder for an app with `settings`.
    pub fn builder(settings: Settings) -> AppBuilder {
        AppBuilder {
            settings,
            clock: None,
            hash_params: None,
        }
    }

    /// The settings the app was built with.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// Signs users in.
    pub fn authenticator(&self) -> &Authenticator {
        &self.inner.auth
    }

    /// Starts, checks and ends sessions.
    pub fn sessions(&self) -> &SessionManager {
        self.inner.auth.sessions()
    }

    /// The users and keys database (SQLite or PostgreSQL).
    pub fn database(&self) -> &DatabaseStore {
        &self.inner.stores.database
    }

    /// Every store this app opened, and the revocation bus.
    pub fn stores(&self) -> &Stores {
        &self.inner.stores
    }

    /// The users.
    pub fn users(&self) -> &Arc<dyn UserStore> {
        &self.inner.users
    }

    /// Keys, deny-list, verifier and the mode's facade: `Some` in `jwt` and `hybrid` modes.
    pub fn tokens(&self) -> Option<&TokenService> {
        self.inner.tokens.as_ref()
    }

    /// The session cookie's name and attributes.
    pub fn cookies(&self) -> &CookieConfig {
        &self.inner.cookies
    }

    /// The rules passwords follow.
    pub fn password_policy(&self) -> &PasswordPolicy {
        &self.inner.password_policy
    }

    /// Counts failed sign-ins and locks out ([`crate::login::throttle_for`]).
    pub fn throttle(&self) -> &Arc<dyn LoginThrottle> {
        &self.inner.throttle
    }

    /// The reverse proxies whose forwarding header names the client's address.
    pub fn proxies(&self) -> &TrustedProxies {
        &self.inner.proxies
    }

    /// The Prometheus recorder's handle.
    pub fn metrics(&self) -> &PrometheusHandle {
        &self.inner.metrics
    }

    /// Where sessions are kept.
    pub fn session_store_kind(&self) -> SessionStoreKind {
        self.inner.settings.session_store()
    }

    /// Manages this app's users; ends sessions in whatever store the app uses, and revokes
    /// access tokens in this app's deny-list at once.
    pub fn user_admin(&self) -> UserAdmin {
        let admin = UserAdmin::new(
            self.inner.users.clone(),
            Some(self.sessions().clone()),
            self.inner.auth.hasher().clone(),
            self.inner.password_policy,
        );
        match self.tokens() {
            Some(tokens) => admin.revoking_in(tokens.revocations().clone(), &self.inner.settings),
            None => admin,
        }
    }

    /// The router with every route and layer. `Router::layer` wraps each route separately, so
    /// the outer layers here see the matched route and the errors of the inner ones. They are
    /// one `ServiceBuilder` stack, listed outermost first: each `Router::layer` call boxes
    /// every route again, and a boxed route is cloned, with everything inside it, by each
    /// layer above it on every request (see docs/PERFORMANCE.md, "Load").
    pub fn router(&self) -> Router {
        let mode = self.inner.settings.mode;
        let auth = match self.tokens() {
            Some(tokens) => tokens.layer(),
            None => AuthLayer::new(self.sessions().clone(), self.inner.cookies.clone()),
        };
        let layers = ServiceBuilder::new()
            .layer(middleware::EdgeLayer::default())
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .layer(auth);
        // With `metrics_listen`, /metrics is served only there (see `metrics_router`).
        let metrics = match self.inner.settings.metrics_listen {
            None => routes::metrics::router(),
            Some(_) => Router::new(),
        };
        Router::new()
            .merge(routes::auth::router(mode))
            .merge(routes::sessions::router(mode))
            .merge(routes::jwks::router())
            .merge(routes::oauth::router())
            .merge(routes::health::router())
            .merge(metrics)
            .merge(routes::pages::router(mode))
            .merge(routes::verify::router())
            .merge(crate::openapi::router(self))
            .fallback(routes::not_found)
            .layer(layers)
            .with_state(self.clone())
    }

    /// `/metrics` alone, for the listener `metrics_listen` names.
    pub fn metrics_router(&self) -> Router {
        routes::metrics::router()
            .fallback(routes::not_found)
            .with_state(self.clone())
    }
}
