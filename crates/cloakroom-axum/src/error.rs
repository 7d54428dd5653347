//! Errors as HTTP responses: a status and a JSON body `{"error": code, "message": text}`.

use std::borrow::Cow;

use axum::Json;
use axum::response::{IntoResponse, Response};
use cloakroom::auth::AuthError;
use cloakroom::authority::{AccountError, SignInError};
use cloakroom::store::StoreError;
use cloakroom::throttle::ThrottleError;
use http::header::{CACHE_CONTROL, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderValue, StatusCode};
use serde::Serialize;

/// An error response: `status` with the JSON body `{"error": code, "message": message}` and
/// `Cache-Control: no-store`. The code is for programs, the message for people; neither ever
/// carries a secret or says which of a username and password was wrong.
///
/// ```
/// use axum::response::IntoResponse;
/// use cloakroom_axum::ApiError;
/// use http::StatusCode;
///
/// let res = ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such session").into_response();
/// assert_eq!(res.status(), StatusCode::NOT_FOUND);
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable, machine-readable code, e.g. `invalid_credentials`.
    pub code: &'static str,
    /// A sentence for people.
    pub message: Cow<'static, str>,
    /// A `WWW-Authenticate` challenge to send with a 401.
    challenge: Option<String>,
    /// Seconds for a `Retry-After` header (429, 503).
    retry_after: Option<u64>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    message: &'a str,
}

impl ApiError {
    /// An error with this status, code and message.
    pub fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            challenge: None,
            retry_after: None,
        }
    }

    /// The seconds of its `Retry-After` header, if it has one.
    pub fn retry_after(&self) -> Option<u64> {
        self.retry_after
    }

    /// The same error, telling the client to wait `wait` (at least a second) before retrying.
    pub fn with_retry_after(mut self, wait: std::time::Duration) -> Self {
        self.retry_after = Some(wait.as_secs().max(1));
        self
    }

    /// 429 `too_many_attempts` with `Retry-After`: too many failed sign-ins for the account or
    /// the client address. Says nothing about whether the account exists.
    pub fn too_many_attempts(wait: std::time::Duration) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_attempts",
            "too many failed sign-ins; try again later",
        )
        .with_retry_after(wait)
    }

    /// The same error with a `WWW-Authenticate` challenge, e.g. `Bearer`.
    pub fn with_challenge(mut self, challenge: impl Into<String>) -> Self {
        self.challenge = Some(challenge.into());
        self
    }

    /// 401 `invalid_token`, with the RFC 6750 challenge
    /// `Bearer error="invalid_token", error_description="…"`.
    pub fn invalid_token(description: &str) -> Self {
        // The description comes from a fixed set of messages, but it may quote a short piece
        // of the token: keep it to printable ASCII without quotes or backslashes.
        let clean: String = description
            .chars()
            .map(|c| match c {
                ' '..='~' if c != '"' && c != '\\' => c,
                _ => '?',
            })
            .collect();
        Self::new(StatusCode::UNAUTHORIZED, "invalid_token", clean.clone()).with_challenge(format!(
            "Bearer error=\"invalid_token\", error_description=\"{clean}\""
        ))
    }

    /// 401 `unauthenticated`: no valid credential.
    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "sign in to continue",
        )
    }

    /// 403 `cross_site_request`: a cookie-authenticated change from another site.
    pub fn cross_site() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "cross_site_request",
            "cross-site requests may not change state",
        )
    }

    /// 503 `store_unavailable`: a store is down, so the request fails closed.
    pub fn store_unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            "a backing store is unavailable; try again shortly",
        )
    }

    /// 413 `payload_too_large`: the body is over the app's limit.
    pub fn payload_too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the request body is too large",
        )
    }

    /// 500 `internal`: a bug or a broken backend; details go to the log, not to the client.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server failed; the error has been logged",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            error: self.code,
            message: &self.message,
        };
        let mut res = (self.status, Json(body)).into_response();
        res.headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(challenge) = self.challenge.and_then(|c| HeaderValue::try_from(c).ok()) {
            res.headers_mut().insert(WWW_AUTHENTICATE, challenge);
        }
        if let Some(secs) = self.retry_after {
            res.headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        res
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) | StoreError::Backend(_) => {
                tracing::error!(error = %e, cause = ?std::error::Error::source(&e), "store failed");
                Self::store_unavailable()
            }
            StoreError::Full { .. } => {
                tracing::warn!(error = %e, "session store is full");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "store_full",
                    "the server cannot take more sessions right now",
                )
            }
            StoreError::NotFound => Self::new(StatusCode::NOT_FOUND, "not_found", "not found"),
            StoreError::Duplicate => Self::new(
                StatusCode::CONFLICT,
                "conflict",
                "the record already exists",
            ),
            StoreError::Conflict { .. } => Self::new(
                StatusCode::CONFLICT,
                "conflict",
                "the record was changed concurrently; retry",
            ),
            other => {
                tracing::error!(error = %other, cause = ?std::error::Error::source(&other), "store failed");
                Self::internal()
            }
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::InvalidCredentials => Self::new(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "invalid username or password",
            ),
            AuthError::UnknownSession | AuthError::SessionExpired => Self::unauthenticated(),
            AuthError::Conflict => Self::new(
                StatusCode::CONFLICT,
                "conflict",
                "the session was changed concurrently; retry",
            ),
            AuthError::DataTooLarge { limit } => Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "session_data_too_large",
                format!("session data may not exceed {limit} bytes"),
            ),
            AuthError::RefreshReused => Self::new(
                StatusCode::UNAUTHORIZED,
                "refresh_token_reused",
                "this refresh token was already used; the session has been revoked",
            ),
            AuthError::Store(e) => e.into(),
            AuthError::NotInMode { what } => Self::new(
                StatusCode::NOT_FOUND,
                "not_available_in_mode",
                format!("{what} is not available in this mode"),
            ),
            other => {
                tracing::error!(error = %other, cause = ?std::error::Error::source(&other), "authentication failed");
                Self::internal()
            }
        }
    }
}

#[cfg(feature = "jwt")]
impl From<cloakroom::token::IssueError> for ApiError {
    fn from(e: cloakroom::token::IssueError) -> Self {
        tracing::error!(error = %e, cause = ?std::error::Error::source(&e), "could not issue a token");
        Self::internal()
    }
}

impl From<cloakroom::random::RandomError> for ApiError {
    fn from(e: cloakroom::random::RandomError) -> Self {
        tracing::error!(error = %e, "the OS random number generator failed");
        Self::internal()
    }
}

impl From<SignInError> for ApiError {
    fn from(e: SignInError) -> Self {
        match e {
            SignInError::TooManyAttempts { retry_after } => Self::too_many_attempts(retry_after),
            SignInError::InvalidCredentials => AuthError::InvalidCredentials.into(),
            SignInError::PasswordTooLong { max } => Self::new(
                StatusCode::BAD_REQUEST,
                "password_too_long",
                format!("passwords are at most {max} bytes long"),
            ),
            SignInError::Throttle(ThrottleError::Store(e)) => e.into(),
            SignInError::Auth(e) => e.into(),
            other => {
                tracing::error!(error = %other, cause = ?std::error::Error::source(&other), "the sign-in throttle failed");
                Self::internal()
            }
        }
    }
}

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::NoSuchUser(_) => {
                Self::new(StatusCode::NOT_FOUND, "no_such_user", e.to_string())
            }
            AccountError::UserExists(_) => {
                Self::new(StatusCode::CONFLICT, "user_exists", e.to_string())
            }
            AccountError::InvalidUsername(_) | AccountError::InvalidRole(_) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_request",
                e.to_string(),
            ),
            AccountError::PasswordRejected(r) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "password_rejected",
                r.to_string(),
            ),
            AccountError::CurrentPassword(e) => e.into(),
            AccountError::Store(e) => e.into(),
            AccountError::Auth(e) => e.into(),
            other => {
                tracing::error!(error = %other, cause = ?std::error::Error::source(&other), "a change to a user failed");
                Self::internal()
            }
        }
    }
}
