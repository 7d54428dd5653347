//! The tower layer: finds the credential, guards against CSRF, authenticates, and hands the
//! outcome to the extractors through the request's extensions.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Waker};

use axum::response::{IntoResponse, Response};
use cloakroom::auth::{ActiveSession, AuthError, SessionManager};
use cloakroom::session::SessionKey;
use http::header::SET_COOKIE;
use http::{HeaderMap, Request};
use metrics::Counter;
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use crate::csrf::{is_cross_site, is_unsafe};
use crate::{ApiError, CookieConfig};

/// The metric counting authentications by outcome.
pub(crate) const AUTH_METRIC: &str = "cloakroom_authentications_total";

/// Counts a successful authentication. The handle is registered once per layer, at its first
/// success: building the metric key and finding it in the recorder cost an allocation on every
/// signed-in request. (So install the metrics recorder before serving, as one does anyway.)
pub(crate) fn count_success(handle: &OnceLock<Counter>) {
    handle
        .get_or_init(|| metrics::counter!(AUTH_METRIC, "outcome" => "success"))
        .increment(1);
}

/// What the layer found out about a request's credential.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum AuthState {
    /// No credential.
    Anonymous,
    /// A session cookie that is malformed, unknown or expired.
    Invalid,
    /// A live session.
    Authenticated(Arc<ActiveSession>),
    /// A valid access token.
    #[cfg(feature = "jwt")]
    Token(Arc<cloakroom::token::AccessClaims>),
    /// An access token that was refused, and why.
    #[cfg(feature = "jwt")]
    InvalidToken(Arc<cloakroom::token::TokenError>),
    /// The store could not be asked; requests that need a principal fail closed (503).
    Unavailable,
}

/// Session-cookie authentication.
#[derive(Debug)]
pub(crate) struct SessionSide {
    pub(crate) manager: SessionManager,
    pub(crate) cookies: CookieConfig,
    successes: OnceLock<Counter>,
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) sessions: Option<SessionSide>,
    #[cfg(feature = "jwt")]
    pub(crate) tokens: Option<crate::TokenAuth>,
}

impl Shared {
    fn session_cookies(&self) -> Option<&CookieConfig> {
        self.sessions.as_ref().map(|s| &s.cookies)
    }
}

/// Put into each request's extensions by [`AuthService`]; read by the extractors.
#[derive(Debug, Clone)]
pub(crate) struct SessionContext {
    pub(crate) shared: Arc<Shared>,
    pub(crate) state: AuthState,
    /// The key of the session the request presented, valid or not, so that login can end it.
    pub(crate) presented: Option<SessionKey>,
}

/// Authenticates requests. See the [crate docs](crate).
///
/// For each request it:
/// 1. finds the credential: `Authorization: Bearer` or the access-token cookie (with
///    [`TokenAuth`](crate::TokenAuth)), else the session cookie; never the query string;
/// 2. refuses with 403 a `POST`, `PUT`, `PATCH` or `DELETE` that carries a credential cookie
///    and comes from another site ([`is_cross_site`]);
/// 3. verifies the token, or looks the session up, checks its expiry and records activity;
///    a malformed credential counts as invalid, never as an error;
/// 4. leaves the outcome for [`Auth`](crate::Auth), [`CurrentSession`](crate::CurrentSession)
///    and [`Sessions`](crate::Sessions), and clears a dead session cookie on the way out.
#[derive(Debug, Clone)]
pub struct AuthLayer {
    shared: Arc<Shared>,
}

impl AuthLayer {
    /// A layer authenticating with `manager`'s sessions, by the cookie `cookies` describes.
    pub fn new(manager: SessionManager, cookies: CookieConfig) -> Self {
        Self {
            shared: Arc::new(Shared {
                sessions: Some(SessionSide {
                    manager,
                    cookies,
                    successes: OnceLock::new(),
                }),
                #[cfg(feature = "jwt")]
                tokens: None,
            }),
        }
    }

    /// A layer authenticating by access tokens only.
    #[cfg(feature = "jwt")]
    pub fn tokens(tokens: crate::TokenAuth) -> Self {
        Self {
            shared: Arc::new(Shared {
                sessions: None,
                tokens: Some(tokens),
            }),
        }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            shared: Arc::clone(&self.shared),
        }
    }
}

/// The service [`AuthLayer`] wraps around an inner service.
#[derive(Debug, Clone)]
pub struct AuthService<S> {
    inner: S,
    shared: Arc<Shared>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

pin_project! {
    /// The response future of [`AuthService`].
    ///
    /// A request whose credential is settled without waiting (an access token: a signature
    /// check or a verified-cache hit; a session the store found at once: memory, a near-cache
    /// hit) goes straight to the inner service, without a clone of it; one that waits on a
    /// store (a database or Redis lookup, a key reload), or whose dead cookie must be cleared,
    /// runs boxed.
    pub struct AuthFuture<F, E> {
        #[pin]
        state: AuthFutureState<F, E>,
    }
}

pin_project! {
    #[project = AuthFutureProj]
    enum AuthFutureState<F, E> {
        Direct { #[pin] future: F },
        Boxed { future: BoxFuture<Result<Response, E>> },
    }
}

impl<F, E> Future for AuthFuture<F, E>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            AuthFutureProj::Direct { future } => future.poll(cx),
            AuthFutureProj::Boxed { future } => future.as_mut().poll(cx),
        }
    }
}

impl<F, E> std::fmt::Debug for AuthFuture<F, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthFuture")
    }
}

impl<S> AuthService<S> {
    /// Hands a request whose outcome is settled straight to the inner service: the instance
    /// that was polled ready serves it, so nothing is cloned or boxed.
    fn direct<B>(
        &mut self,
        mut req: Request<B>,
        state: AuthState,
        presented: Option<SessionKey>,
    ) -> AuthFuture<S::Future, S::Error>
    where
        S: Service<Request<B>, Response = Response>,
    {
        req.extensions_mut().insert(SessionContext {
            shared: Arc::clone(&self.shared),
            state,
            presented,
        });
        AuthFuture {
            state: AuthFutureState::Direct {
                future: self.inner.call(req),
            },
        }
    }
}

impl<S, B> Service<Request<B>> for AuthService<S>
where
    S: Service<Request<B>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = AuthFuture<S::Future, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        if let Some(state) = settled_at_once(&self.shared, &req) {
            return self.direct(req, state, None);
        }
        let mut started = Started::No;
        if let Some((mut lookup, key)) = start_lookup(&self.shared, &req) {
            // A store that answers at once (memory, a near-cache hit) settles the request here,
            // like a token. Polled with a no-op waker: if the lookup is pending, it is polled
            // again with the task's own waker below, and a future is woken through the waker
            // of its latest poll.
            match lookup
                .as_mut()
                .poll(&mut Context::from_waker(Waker::noop()))
            {
                Poll::Ready(state) if !matches!(state, AuthState::Invalid) => {
                    return self.direct(req, state, Some(key));
                }
                // A dead cookie: the long way, which clears it.
                Poll::Ready(state) => started = Started::Settled(state, key),
                Poll::Pending => started = Started::Lookup(lookup, key),
            }
        }
        // The clone is not ready; the instance that was polled ready serves this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let shared = Arc::clone(&self.shared);
        let future = Box::pin(async move {
            let (state, presented) = match started {
                Started::Lookup(lookup, key) => (lookup.await, Some(key)),
                Started::Settled(state, key) => (state, Some(key)),
                Started::No => {
                    if carries_cookie_credential(&shared, req.headers())
                        && is_unsafe(req.method())
                        && is_cross_site(req.headers())
                    {
                        metrics::counter!(AUTH_METRIC, "outcome" => "cross_site").increment(1);
                        return Ok(ApiError::cross_site().into_response());
                    }
                    authenticate(&shared, req.headers()).await
                }
            };
            let clear_cookie = matches!(state, AuthState::Invalid);
            req.extensions_mut().insert(SessionContext {
                shared: Arc::clone(&shared),
                state,
                presented,
            });
            let mut res = inner.call(req).await?;
            // Tell the browser to drop a dead cookie, unless the handler already set one.
            if let (true, Some(cookies)) = (clear_cookie, shared.session_cookies()) {
                if !res.headers().contains_key(SET_COOKIE) {
                    res.headers_mut().append(SET_COOKIE, cookies.clear());
                }
            }
            Ok(res)
        });
        AuthFuture {
            state: AuthFutureState::Boxed { future },
        }
    }
}

/// A session lookup begun in [`AuthService::call`].
type Lookup = Pin<Box<dyn Future<Output = AuthState> + Send>>;

/// How far `call` got before the request had to take the boxed path.
enum Started {
    /// Nothing done yet: the CSRF check and authentication run in the boxed future.
    No,
    /// The session lookup is under way.
    Lookup(Lookup, SessionKey),
    /// The outcome is known (a dead session cookie, to be cleared).
    Settled(AuthState, SessionKey),
}

/// Begins the session lookup of a safe request (no CSRF check applies) that presents a
/// well-formed session cookie, on a layer without tokens. Anything else: `None`.
fn start_lookup<B>(shared: &Arc<Shared>, req: &Request<B>) -> Option<(Lookup, SessionKey)> {
    #[cfg(feature = "jwt")]
    if shared.tokens.is_some() {
        return None;
    }
    if is_unsafe(req.method()) {
        return None;
    }
    let key = shared
        .sessions
        .as_ref()?
        .cookies
        .find(req.headers())?
        .ok()?
        .key();
    let shared = Arc::clone(shared);
    let lookup = Box::pin(async move {
        match &shared.sessions {
            Some(side) => authenticate_session(side, key).await,
            None => AuthState::Anonymous,
        }
    });
    Some((lookup, key))
}

/// The outcome for a request whose credential needs no waiting: an access token that verifies,
/// or fails for any reason but an unknown `kid` (which may need a key reload). `None` sends
/// the request the long way: cookies on unsafe methods (the CSRF check answers those),
/// sessions, and reloads.
#[cfg(feature = "jwt")]
fn settled_at_once<B>(shared: &Shared, req: &Request<B>) -> Option<AuthState> {
    let tokens = shared.tokens.as_ref()?;
    if is_unsafe(req.method()) && carries_cookie_credential(shared, req.headers()) {
        return None;
    }
    match tokens.authenticate_at_once(req.headers())? {
        AuthState::InvalidToken(e)
            if matches!(*e, cloakroom::token::TokenError::UnknownKid) && tokens.reloads() =>
        {
            None
        }
        state => Some(state),
    }
}

#[cfg(not(feature = "jwt"))]
fn settled_at_once<B>(_: &Shared, _: &Request<B>) -> Option<AuthState> {
    None
}

fn carries_cookie_credential(shared: &Shared, headers: &HeaderMap) -> bool {
    #[cfg(feature = "jwt")]
    if let Some(cookie) = shared.tokens.as_ref().and_then(|t| t.cookie.as_ref()) {
        if cookie.find_raw(headers).is_some() {
            return true;
        }
    }
    shared
        .session_cookies()
        .is_some_and(|c| c.find_raw(headers).is_some())
}

async fn authenticate(shared: &Shared, headers: &HeaderMap) -> (AuthState, Option<SessionKey>) {
    #[cfg(feature = "jwt")]
    if let Some(tokens) = &shared.tokens {
        if let Some(state) = tokens.authenticate(headers).await {
            return (state, None);
        }
    }
    let Some(side) = &shared.sessions else {
        return (AuthState::Anonymous, None);
    };
    match side.cookies.find(headers) {
        None => (AuthState::Anonymous, None),
        Some(Err(_)) => {
            metrics::counter!(AUTH_METRIC, "outcome" => "malformed").increment(1);
            (AuthState::Invalid, None)
        }
        Some(Ok(id)) => {
            let key = id.key();
            (authenticate_session(side, key).await, Some(key))
        }
    }
}

async fn authenticate_session(side: &SessionSide, key: SessionKey) -> AuthState {
    match side.manager.authenticate_key(key).await {
        Ok(active) => {
            count_success(&side.successes);
            AuthState::Authenticated(Arc::new(active))
        }
        Err(AuthError::UnknownSession) => {
            metrics::counter!(AUTH_METRIC, "outcome" => "unknown").increment(1);
            AuthState::Invalid
        }
        Err(AuthError::SessionExpired) => {
            metrics::counter!(AUTH_METRIC, "outcome" => "expired").increment(1);
            AuthState::Invalid
        }
        Err(e) => {
            metrics::counter!(AUTH_METRIC, "outcome" => "error").increment(1);
            tracing::error!(error = %e, cause = ?std::error::Error::source(&e), "could not authenticate a session");
            AuthState::Unavailable
        }
    }
}
