//! The JSON API of a Cloakroom server, as a router any axum app mounts: sign in, refresh,
//! sign out (here or everywhere), who am I, the caller's sessions, the public keys,
//! introspection and revocation. Every route calls the one [`Authority`]; the mode decides what
//! each answers.
//!
//! ```
//! use axum::Router;
//! use cloakroom_axum::routes::AuthApi;
//! # fn app(authority: cloakroom::authority::Authority) -> Router {
//! let api = AuthApi::new(authority);
//! Router::new()
//!     .merge(cloakroom_axum::routes::router(api.clone()))
//!     // Your own routes, taking `Auth` or `Option<Auth>`, go here.
//!     .layer(api.layer())
//! # }
//! ```

mod json;
pub mod login;
pub mod oauth;
pub mod rate_limit;
pub mod refresh;
#[cfg(feature = "openapi")]
pub mod schemas;
pub mod sessions;
pub mod sign_out;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::routing::{delete, get, post};
use cloakroom::auth::AuthMethod;
use cloakroom::authority::Authority;
use cloakroom::session::ClientInfo;
use http::request::Parts;
use http::{HeaderValue, StatusCode};

pub use self::json::{Json, optional_json};
pub use self::login::credential_response;
pub use self::login::{LoginRequest, credential_cookies};
#[cfg(feature = "jwt")]
pub use self::login::{TokenResponse, pair_response};
#[cfg(feature = "jwt")]
pub use self::refresh::{RefreshToken, refresh_with};
pub use self::sessions::SessionView;
use crate::{ApiError, AuthLayer, CookieConfig, TrustedProxies, client_info_via};

/// The sign-in counter, by outcome.
pub const LOGINS: &str = "cloakroom_logins_total";
/// The refresh counter, by outcome.
pub const REFRESHES: &str = "cloakroom_refreshes_total";

/// The session cookie's default name.
pub const SESSION_COOKIE: &str = "cloakroom_session";
/// The access-token cookie's default name (`__Host-` is prefixed over https).
pub const ACCESS_COOKIE: &str = "cloakroom_access";
/// The refresh-token cookie's default name (`__Secure-` is prefixed over https).
pub const REFRESH_COOKIE: &str = "cloakroom_refresh";
/// The only path the refresh cookie is sent to.
pub const REFRESH_PATH: &str = "/auth/refresh";

/// What the routes need besides the [`Authority`]: the cookies browsers get, and the proxies
/// whose forwarding header names the client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AuthApi {
    inner: Arc<Inner>,
}

#[derive(Debug, Clone)]
struct Inner {
    authority: Authority,
    session_cookie: CookieConfig,
    access_cookie: CookieConfig,
    refresh_cookie: CookieConfig,
    proxies: TrustedProxies,
    limits: Arc<rate_limit::RateLimits>,
    #[cfg(feature = "jwt")]
    reloader: Option<Arc<dyn crate::KeyReloader>>,
}

impl AuthApi {
    /// The API over `authority`, with the default cookie names, not `Secure` (call
    /// [`secure`](Self::secure) when served over https), and no trusted proxies (the client is
    /// the TCP peer).
    pub fn new(authority: Authority) -> Self {
        Self {
            inner: Arc::new(Inner {
                authority,
                session_cookie: CookieConfig::new(SESSION_COOKIE),
                access_cookie: CookieConfig::new(ACCESS_COOKIE),
                refresh_cookie: CookieConfig::new(REFRESH_COOKIE).with_path(REFRESH_PATH),
                proxies: TrustedProxies::default(),
                limits: Arc::new(rate_limit::RateLimits::default()),
                #[cfg(feature = "jwt")]
                reloader: None,
            }),
        }
    }

    fn change(self, f: impl FnOnce(&mut Inner)) -> Self {
        let mut inner = Arc::unwrap_or_clone(self.inner);
        f(&mut inner);
        Self {
            inner: Arc::new(inner),
        }
    }

    /// Marks every cookie `Secure` (and gives it the `__Host-`/`__Secure-` prefix): for a
    /// server reached over https.
    #[must_use]
    pub fn secure(self, secure: bool) -> Self {
        self.change(|i| {
            i.session_cookie = i.session_cookie.clone().secure(secure);
            i.access_cookie = i.access_cookie.clone().secure(secure);
            i.refresh_cookie = i.refresh_cookie.clone().secure(secure);
        })
    }

    /// Names the session cookie `name`.
    #[must_use]
    pub fn session_cookie_name(self, name: impl Into<String>) -> Self {
        let name = name.into();
        self.change(|i| {
            let secure = i.session_cookie.is_secure();
            i.session_cookie = CookieConfig::new(name).secure(secure);
        })
    }

    /// Trusts the forwarding header of `proxies` for the client's address (the throttle and
    /// the list of sessions use it).
    #[must_use]
    pub fn proxies(self, proxies: TrustedProxies) -> Self {
        self.change(|i| i.proxies = proxies)
    }

    /// Reloads the signing keys through `reloader` when a token names an unknown `kid`.
    #[cfg(feature = "jwt")]
    #[must_use]
    pub fn key_reloader(self, reloader: Arc<dyn crate::KeyReloader>) -> Self {
        self.change(|i| i.reloader = Some(reloader))
    }

    /// The facade.
    pub fn authority(&self) -> &Authority {
        &self.inner.authority
    }

    /// The session cookie (`session` mode).
    pub fn session_cookie(&self) -> &CookieConfig {
        &self.inner.session_cookie
    }

    /// The access-token cookie (`jwt`, `hybrid`), accepted wherever a bearer token is.
    pub fn access_cookie(&self) -> &CookieConfig {
        &self.inner.access_cookie
    }

    /// The refresh cookie (`hybrid`), sent only to [`REFRESH_PATH`].
    pub fn refresh_cookie(&self) -> &CookieConfig {
        &self.inner.refresh_cookie
    }

    /// The rates of refreshing and revoking (per session, client and user).
    pub fn limits(&self) -> &rate_limit::RateLimits {
        &self.inner.limits
    }

    /// The trusted proxies.
    pub fn trusted_proxies(&self) -> &TrustedProxies {
        &self.inner.proxies
    }

    /// The layer that authenticates every request by the mode's credential; put it around
    /// the router and the app's own routes.
    pub fn layer(&self) -> AuthLayer {
        #[cfg(feature = "jwt")]
        if let Some(verifier) = self.authority().verifier() {
            let mut tokens = crate::TokenAuth::new(verifier.clone(), self.authority().method())
                .with_cookie(self.inner.access_cookie.clone());
            if let Some(reloader) = &self.inner.reloader {
                tokens = tokens.with_key_reloader(reloader.clone());
            }
            return AuthLayer::tokens(tokens);
        }
        match self.authority().sessions() {
            Some(sessions) => AuthLayer::new(sessions.clone(), self.inner.session_cookie.clone()),
            None => {
                // Every flow has sessions or a verifier; without the `jwt` feature, sessions.
                unreachable!("a flow without sessions has a verifier")
            }
        }
    }

    /// The cookies that remove every credential of this mode from a browser.
    pub fn clear_cookies(&self) -> Vec<HeaderValue> {
        match self.authority().method() {
            AuthMethod::Session => vec![self.inner.session_cookie.clear()],
            AuthMethod::Jwt | AuthMethod::Hybrid => vec![
                self.inner.access_cookie.clear(),
                self.inner.refresh_cookie.clear(),
            ],
        }
    }

    /// 404 `not_available_in_mode`: the route exists, but not in this mode.
    pub fn not_in_mode(&self, what: &str) -> ApiError {
        not_in_mode(self.authority().method(), what)
    }
}

/// 404 `not_available_in_mode` for `what` in `mode`.
pub fn not_in_mode(mode: AuthMethod, what: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_available_in_mode",
        format!("{what} is not available in {} mode", mode.as_str()),
    )
}

/// The JSON API's routes, at their usual paths (`/auth/login`, `/auth/refresh`,
/// `/auth/logout`, `/auth/logout-all`, `/auth/me`, `/auth/sessions`, `/auth/sessions/{id}`,
/// `/auth/introspect`, `/auth/revoke`, `/.well-known/jwks.json`). Mount it with
/// `Router::merge`, and wrap it (with the app's own routes) in [`AuthApi::layer`].
pub fn router<S>(api: AuthApi) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route("/auth/login", post(login::login))
        .route("/auth/refresh", post(refresh::refresh))
        .route("/auth/logout", post(sign_out::logout))
        .route("/auth/logout-all", post(sign_out::logout_all))
        .route("/auth/me", get(sign_out::me))
        .route("/auth/sessions", get(sessions::list))
        .route("/auth/sessions/{id}", delete(sessions::revoke))
        .route("/auth/introspect", post(oauth::introspect))
        .route("/auth/revoke", post(oauth::revoke))
        .route("/.well-known/jwks.json", get(oauth::jwks))
        .with_state(api)
}

/// The client a request came from (user agent, address): the TCP peer's address, or what a
/// trusted proxy reports.
#[derive(Debug, Clone)]
pub struct Client(pub ClientInfo);

impl FromRequestParts<AuthApi> for Client {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, api: &AuthApi) -> Result<Self, Self::Rejection> {
        Ok(Self(client_of(parts, api.trusted_proxies())))
    }
}

/// The client of a request, by `proxies`.
pub fn client_of(parts: &Parts, proxies: &TrustedProxies) -> ClientInfo {
    // Absent when the router is served without connect info (e.g. in unit tests).
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    client_info_via(&parts.headers, peer, proxies)
}

pub(crate) fn count_login(outcome: &'static str) {
    metrics::counter!(LOGINS, "outcome" => outcome).increment(1);
}
