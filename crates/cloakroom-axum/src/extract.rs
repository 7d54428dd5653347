//! Extractors: the signed-in principal, the current session's data, and signing in and out.

use std::sync::Arc;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use cloakroom::auth::{ActiveSession, AuthError, Principal, SessionManager};
use cloakroom::session::{ClientInfo, SessionData, SessionRecord, SessionUser};
use http::request::Parts;
use serde::de::DeserializeOwned;

use crate::layer::{AuthState, SessionContext};
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
        AuthState::Anonymous | AuthState::Invalid => Ok(None),
    }
}

/// The signed-in principal. Rejects with 401 `unauthenticated` (JSON) when there is none, and
/// with 503 when the store could not be asked. Use `Option<Auth>` for routes that also serve
/// anonymous visitors.
#[derive(Debug, Clone)]
pub struct Auth(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        active(parts)?
            .map(|a| Auth(a.principal()))
            .ok_or_else(ApiError::unauthenticated)
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        Ok(active(parts)?.map(|a| Auth(a.principal())))
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
        let manager = context(parts)?.shared.manager.clone();
        let active = active(parts)?.ok_or_else(ApiError::unauthenticated)?;
        Ok(Self {
            manager,
            active: Arc::clone(active),
        })
    }
}

/// Signs in and out. Never rejects (on a route behind [`AuthLayer`](crate::AuthLayer)).
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

    /// The session manager, for listing and revoking sessions.
    pub fn manager(&self) -> &SessionManager {
        &self.context.shared.manager
    }

    /// The cookie settings.
    pub fn cookies(&self) -> &CookieConfig {
        &self.context.shared.cookies
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Sessions {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self {
            context: context(parts)?.clone(),
        })
    }
}
