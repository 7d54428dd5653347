//! Extractors: the signed-in principal, the current session's data, and signing in and out.

use std::sync::Arc;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use cloakroom::auth::{ActiveSession, AuthError, Principal, SessionManager};
use cloakroom::session::{ClientInfo, SessionData, SessionRecord, SessionUser};
use http::request::Parts;
use serde::de::DeserializeOwned;

use crate::layer::{AuthState, SessionContext, SessionSide};
use crate::{ApiError, CookieConfig, SessionCookie};

fn context(parts: &Parts) -> Result<&SessionContext, ApiError> {
    parts.extensions.get::<SessionContext>().ok_or_else(|| {
        tracing::error!("a cloakroom extractor was used on a route without AuthLayer");
        ApiError::internal()
    })
}

fn active(parts: &Parts) -> Result<Option<&Arc<ActiveSession>>, ApiError> {
    match &context(parts)?.state {
        AuthState::Authenticated(a) => Ok(Some(a)),
        AuthState::Unavailable => Err(ApiError::store_unavailable()),
        _ => Ok(None),
    }
}

/// The principal of a request: `Ok(None)` when it presented no credential (or a dead session
/// cookie); an error when it presented a refused token or the store is down.
fn principal(parts: &Parts) -> Result<Option<Principal>, ApiError> {
    let context = context(parts)?;
    match &context.state {
        AuthState::Authenticated(a) => Ok(Some(a.principal())),
        AuthState::Unavailable => Err(ApiError::store_unavailable()),
        #[cfg(feature = "jwt")]
        AuthState::Token(claims) => {
            let method = context
                .shared
                .tokens
                .as_ref()
                .map_or(cloakroom::auth::AuthMethod::Jwt, |t| t.method);
            Ok(Some(Principal::from_claims(claims, method)))
        }
        #[cfg(feature = "jwt")]
        AuthState::InvalidToken(e) if e.is_server_fault() => Err(ApiError::internal()),
        #[cfg(feature = "jwt")]
        AuthState::InvalidToken(e) => Err(ApiError::invalid_token(&e.to_string())),
        AuthState::Anonymous | AuthState::Invalid => Ok(None),
    }
}

/// The rejection for a request without a credential: with a `WWW-Authenticate: Bearer`
/// challenge where tokens are accepted (RFC 6750 §3).
fn unauthenticated(parts: &Parts) -> ApiError {
    #[cfg(feature = "jwt")]
    if context(parts).is_ok_and(|c| c.shared.tokens.is_some()) {
        return ApiError::unauthenticated().with_challenge("Bearer");
    }
    let _ = parts;
    ApiError::unauthenticated()
}

/// The signed-in principal, by whatever credential the layer accepts (session cookie, bearer
/// token, access-token cookie). Rejects with 401 `unauthenticated` (JSON) when there is none,
/// with 401 `invalid_token` and a `WWW-Authenticate` challenge (RFC 6750) for a refused token,
/// and with 503 when the store could not be asked.
///
/// `Option<Auth>` is for routes that serve guests too: `Some` for a valid credential of any
/// kind, `None` for none and for one that was refused (expired, revoked, forged), and an error
/// only when the server could not decide (a store down: 503), so that an outage never turns a
/// signed-in user into a guest silently.
#[derive(Debug, Clone)]
pub struct Auth(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        principal(parts)?
            .map(Auth)
            .ok_or_else(|| unauthenticated(parts))
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        match principal(parts) {
            Ok(found) => Ok(found.map(Auth)),
            Err(e) if e.status == http::StatusCode::UNAUTHORIZED => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// The signed-in session, with its free-form data (the `req.session` of express-session).
/// Rejects like [`Auth`] when there is none.
#[derive(Debug, Clone)]
pub struct CurrentSession {
    manager: SessionManager,
    active: Arc<ActiveSession>,
}

impl CurrentSession {
    /// The session record as of this request.
    pub fn record(&self) -> &SessionRecord {
        &self.active.record
    }

    /// The principal this session stands for.
    pub fn principal(&self) -> Principal {
        self.active.principal()
    }

    /// The value under `key` as of this request.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, ApiError> {
        self.active
            .record
            .data
            .get(key)
            .map_err(|e| ApiError::from(AuthError::from(e)))
    }

    /// Changes the session's data with `f` and writes it back. Concurrent updates of one
    /// session are serialized by the store's version check: `f` is re-run on the newest data
    /// when another request wrote first, so no update is lost.
    pub async fn update<R>(
        &self,
        f: impl FnMut(&mut SessionData) -> Result<R, AuthError>,
    ) -> Result<R, ApiError> {
        Ok(self.manager.update_data(&self.active.key, f).await?)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CurrentSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let manager = session_side(context(parts)?)?.manager.clone();
        let active = active(parts)?.ok_or_else(|| unauthenticated(parts))?;
        Ok(Self {
            manager,
            active: Arc::clone(active),
        })
    }
}

fn session_side(context: &SessionContext) -> Result<&SessionSide, ApiError> {
    context.shared.sessions.as_ref().ok_or_else(|| {
        tracing::error!("a session extractor was used behind a token-only AuthLayer");
        ApiError::internal()
    })
}

/// Signs in and out. Never rejects on a route behind an [`AuthLayer`](crate::AuthLayer) made
/// with sessions.
#[derive(Debug, Clone)]
pub struct Sessions {
    context: SessionContext,
}

impl Sessions {
    /// Starts a session for `user` and returns the cookie to send. Any session the request
    /// presented is ended first, and the new session always gets a new ID, so a cookie planted
    /// before login (session fixation) is never adopted.
    pub async fn login(
        &self,
        user: SessionUser,
        client: ClientInfo,
    ) -> Result<SessionCookie, ApiError> {
        if let Some(old) = &self.context.presented {
            self.manager().end_key(old).await?;
        }
        let (id, _) = self.manager().start(user, client).await?;
        Ok(SessionCookie::set(self.cookies(), &id))
    }

    /// Ends the session the request presented (if any) and returns the cookie that clears it.
    pub async fn logout(&self) -> Result<SessionCookie, ApiError> {
        if let Some(key) = &self.context.presented {
            self.manager().end_key(key).await?;
        }
        Ok(SessionCookie::clear(self.cookies()))
    }

    /// The signed-in session, if any.
    pub fn current(&self) -> Option<&ActiveSession> {
        match &self.context.state {
            AuthState::Authenticated(a) => Some(a),
            _ => None,
        }
    }

    /// What the layer found out about the request's credential.
    pub fn state(&self) -> &AuthState {
        &self.context.state
    }

    fn side(&self) -> &SessionSide {
        // Checked when the extractor ran.
        match &self.context.shared.sessions {
            Some(side) => side,
            None => unreachable!("Sessions is only extracted behind a session layer"),
        }
    }

    /// The session manager, for listing and revoking sessions.
    pub fn manager(&self) -> &SessionManager {
        &self.side().manager
    }

    /// The cookie settings.
    pub fn cookies(&self) -> &CookieConfig {
        &self.side().cookies
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Sessions {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let context = context(parts)?;
        session_side(context)?;
        Ok(Self {
            context: context.clone(),
        })
    }
}
