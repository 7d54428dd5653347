//! The HTTP application: its state ([`App`]) and its router.

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use cloakroom::auth::SessionManager;
use cloakroom::authority::{Accounts, Authority, Flow};
use cloakroom::clock::{SharedClock, SystemClock};
use cloakroom::throttle::LoginThrottle;
use cloakroom::user::{HashParams, PasswordPolicy, UserStore};
use cloakroom_axum::routes::AuthApi;
use cloakroom_axum::{CookieConfig, TrustedProxies};
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

/// The server's state: the [`Authority`] every door goes through (and its JSON API), the
/// stores, metrics, and in `jwt` and `hybrid` modes the [`TokenService`] (keys and deny-list).
/// Cheap to clone.
#[derive(Debug, Clone)]
pub struct App {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    settings: Settings,
    api: AuthApi,
    /// The mode's sessions (`jwt` mode: a manager over the unused session store, so that purge
    /// and metrics need no case of their own).
    sessions: SessionManager,
    stores: Stores,
    tokens: Option<TokenService>,
    metrics: PrometheusHandle,
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
        let hasher = match self.hash_params {
            Some(params) => stores::hasher_with(params)?,
            None => stores::hasher(&settings)?,
        };
        let accounts = Accounts {
            users: stores.database.users(),
            hasher,
            throttle,
            password_policy: settings.password_policy()?,
        };
        let authority = authority(&settings, &stores, tokens.as_ref(), accounts, clock.clone())?;
        let sessions = match authority.sessions() {
            Some(sessions) => sessions.clone(),
            None => SessionManager::from_shared(stores.sessions.clone(), policy).with_clock(clock),
        };
        let mut api = AuthApi::new(authority)
            .secure(secure)
            .session_cookie_name(settings.session.cookie_name.clone())
            .proxies(settings.trusted_proxies()?);
        if let Some(tokens) = &tokens {
            api = api.key_reloader(tokens.key_reloader());
        }
        Ok(App {
            inner: Arc::new(Inner {
                settings,
                api,
                sessions,
                stores,
                tokens,
                metrics: prometheus::handle()?,
            }),
        })
    }
}

/// The facade of the mode the settings name, over the opened stores (and, in the token
/// modes, the keys and deny-list of `tokens`). The server and the CLI build it alike.
pub(crate) fn authority(
    settings: &Settings,
    stores: &Stores,
    tokens: Option<&TokenService>,
    accounts: Accounts,
    clock: SharedClock,
) -> Result<Authority, Error> {
    let flow = match tokens {
        None => Flow::Session(
            SessionManager::from_shared(stores.sessions.clone(), settings.session_policy()?)
                .with_clock(clock),
        ),
        Some(tokens) => tokens.flow(settings, stores, clock)?,
    };
    let authority = Authority::new(flow, accounts);
    Ok(if stores.sessions_shared {
        authority
    } else {
        authority.with_sessions_elsewhere()
    })
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

    /// The one facade every door goes through: sign in, refresh, sign out, revoke, users.
    pub fn authority(&self) -> &Authority {
        self.inner.api.authority()
    }

    /// The JSON API's configuration (cookies, trusted proxies) around the authority.
    pub fn api(&self) -> &AuthApi {
        &self.inner.api
    }

    /// The mode's sessions: `session` mode's, or `hybrid`'s refresh sessions.
    pub fn sessions(&self) -> &SessionManager {
        &self.inner.sessions
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
        &self.authority().accounts().users
    }

    /// Keys, deny-list, verifier and the mode's facade: `Some` in `jwt` and `hybrid` modes.
    pub fn tokens(&self) -> Option<&TokenService> {
        self.inner.tokens.as_ref()
    }

    /// The session cookie's name and attributes.
    pub fn cookies(&self) -> &CookieConfig {
        self.inner.api.session_cookie()
    }

    /// The rules passwords follow.
    pub fn password_policy(&self) -> &PasswordPolicy {
        &self.authority().accounts().password_policy
    }

    /// Counts failed sign-ins and locks out ([`crate::login::throttle_for`]).
    pub fn throttle(&self) -> &Arc<dyn LoginThrottle> {
        &self.authority().accounts().throttle
    }

    /// The reverse proxies whose forwarding header names the client's address.
    pub fn proxies(&self) -> &TrustedProxies {
        self.inner.api.trusted_proxies()
    }

    /// The Prometheus recorder's handle.
    pub fn metrics(&self) -> &PrometheusHandle {
        &self.inner.metrics
    }

    /// Where sessions are kept.
    pub fn session_store_kind(&self) -> SessionStoreKind {
        self.inner.settings.session_store()
    }

    /// Manages this app's users, through the authority: every change ends what it must end.
    pub fn user_admin(&self) -> UserAdmin {
        UserAdmin::new(self.authority().clone())
    }

    /// The router with every route and layer. `Router::layer` wraps each route separately, so
    /// the outer layers here see the matched route and the errors of the inner ones. They are
    /// one `ServiceBuilder` stack, listed outermost first: each `Router::layer` call boxes
    /// every route again, and a boxed route is cloned, with everything inside it, by each
    /// layer above it on every request (see docs/PERFORMANCE.md, "Load").
    pub fn router(&self) -> Router {
        let mode = self.inner.settings.mode;
        let layers = ServiceBuilder::new()
            .layer(middleware::EdgeLayer::new(self.proxies().clone()))
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .layer(self.inner.api.layer());
        // With `metrics_listen`, /metrics is served only there (see `metrics_router`).
        let metrics = match self.inner.settings.metrics_listen {
            None => routes::metrics::router(),
            Some(_) => Router::new(),
        };
        Router::new()
            .merge(cloakroom_axum::routes::router(self.inner.api.clone()))
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
