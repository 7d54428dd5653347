//! Signing in with a password, the one way every sign-in path does it (the JSON API in every
//! mode, and the HTML form): the password's length, before any hashing; the throttle, so that
//! a locked-out flood costs no argon2 (it counts the attempt against the account and the
//! client address in advance); then the credentials; a success clears the account's count.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use cloakroom::auth::AuthError;
use cloakroom::clock::SharedClock;
use cloakroom::throttle::{Attempt, LoginThrottle, MemoryThrottle, RedisThrottle, ThrottleError};
use cloakroom::user::{Password, User};
use cloakroom_axum::ApiError;
use http::StatusCode;

use crate::App;
use crate::error::Error;
use crate::settings::{Settings, redact_url};

/// The sign-in throttle the settings ask for: with `session_store = "redis://…"` the counts
/// live in Redis, shared by every node (one atomic script per attempt); otherwise, with a
/// `postgres://` `database_url`, in PostgreSQL, shared the same way (one transaction under row
/// locks per attempt, on a pool of its own of `postgres.max_connections`); so that nodes
/// cannot race past the limits together. Otherwise (SQLite: one node) a [`MemoryThrottle`] of
/// this node, bounded by `login.max_tracked`.
pub async fn throttle_for(
    settings: &Settings,
    clock: SharedClock,
) -> Result<Arc<dyn LoginThrottle>, Error> {
    let policy = settings.throttle_policy()?;
    if let Some(url) = settings.session_store().redis_url() {
        let throttle = RedisThrottle::connect(url, &settings.redis.namespace, policy)
            .await
            .map_err(|source| Error::OpenStore {
                what: "Redis sign-in throttle",
                location: redact_url(url),
                source,
            })?;
        return Ok(Arc::new(throttle));
    }
    if let crate::settings::Database::Postgres(url) = settings.database()? {
        let p = &settings.postgres;
        let options = cloakroom::store::PostgresOptions {
            schema: p.schema.clone(),
            max_connections: p.max_connections,
            acquire_timeout: p.acquire_timeout,
            ..cloakroom::store::PostgresOptions::default()
        };
        let store = cloakroom::store::PostgresStore::connect_with(&url, options)
            .await
            .map_err(|source| Error::OpenStore {
                what: "PostgreSQL sign-in throttle",
                location: crate::settings::Database::Postgres(url.clone()).describe(),
                source,
            })?;
        return Ok(Arc::new(cloakroom::throttle::PostgresThrottle::new(
            &store, policy,
        )));
    }
    Ok(Arc::new(
        MemoryThrottle::new(policy, settings.login.max_tracked).with_clock(clock),
    ))
}

/// Why a sign-in failed. Unknown user, wrong password and disabled account are one error,
/// [`LoginError::InvalidCredentials`], on purpose.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoginError {
    /// Too many failures for the account or the client address; the password was not checked.
    #[error("too many failed sign-ins; try again in {} s", retry_after.as_secs())]
    TooManyAttempts {
        /// How long the lockout still lasts.
        retry_after: Duration,
    },
    /// Unknown user, wrong password or disabled account.
    #[error("invalid username or password")]
    InvalidCredentials,
    /// The password is longer than `password.max_bytes`; refused before hashing.
    #[error("passwords are at most {max} bytes long")]
    PasswordTooLong {
        /// The bound, in bytes.
        max: usize,
    },
    /// The throttle's store failed: sign-ins fail closed.
    #[error("the sign-in throttle failed")]
    Throttle(#[source] ThrottleError),
    /// Looking up the user or hashing failed.
    #[error(transparent)]
    Auth(AuthError),
}

impl LoginError {
    /// The `outcome` label of the sign-in counter.
    pub fn outcome(&self) -> &'static str {
        match self {
            Self::TooManyAttempts { .. } => "throttled",
            Self::InvalidCredentials => "invalid_credentials",
            Self::PasswordTooLong { .. } => "rejected",
            Self::Throttle(_) | Self::Auth(_) => "error",
        }
    }
}

impl From<LoginError> for ApiError {
    fn from(e: LoginError) -> Self {
        match e {
            LoginError::TooManyAttempts { retry_after } => Self::too_many_attempts(retry_after),
            LoginError::InvalidCredentials => AuthError::InvalidCredentials.into(),
            LoginError::PasswordTooLong { max } => Self::new(
                StatusCode::BAD_REQUEST,
                "password_too_long",
                format!("passwords are at most {max} bytes long"),
            ),
            LoginError::Throttle(ThrottleError::Store(e)) => e.into(),
            LoginError::Throttle(e) => {
                tracing::error!(error = %e, "the sign-in throttle failed");
                Self::internal()
            }
            LoginError::Auth(e) => e.into(),
        }
    }
}

impl App {
    /// Checks `username` and `password` for a client at `client` (its address as
    /// [`TrustedProxies`](cloakroom_axum::TrustedProxies) found it; `None` counts the account
    /// only), throttled. The caller starts the session or issues the tokens.
    pub async fn sign_in(
        &self,
        username: &str,
        password: &Password,
        client: Option<IpAddr>,
    ) -> Result<User, LoginError> {
        // Checked before the throttle: an overlong password tests nothing, so it costs no count.
        let max = self.password_policy().max_bytes;
        if password.expose_secret().len() > max {
            return Err(LoginError::PasswordTooLong { max });
        }
        let throttle = self.throttle();
        let attempt = Attempt::new(username, client);
        // Counts the attempt as a failure in advance, so parallel guesses cannot slip past.
        match throttle.check(&attempt).await {
            Ok(()) => {}
            Err(ThrottleError::Locked { retry_after }) => {
                return Err(LoginError::TooManyAttempts { retry_after });
            }
            Err(e) => return Err(LoginError::Throttle(e)),
        }
        match self
            .authenticator()
            .verify_credentials(username, password)
            .await
        {
            Ok(user) => {
                if let Err(e) = throttle.record_success(&attempt).await {
                    tracing::warn!(error = %e, "could not clear the sign-in throttle");
                }
                Ok(user)
            }
            Err(AuthError::InvalidCredentials) => Err(LoginError::InvalidCredentials),
            Err(e) => {
                if let Err(e) = throttle.release(&attempt).await {
                    tracing::warn!(error = %e, "could not release a sign-in attempt");
                }
                Err(LoginError::Auth(e))
            }
        }
    }
}
