//! What can go wrong at the facade's doors: signing in ([`SignInError`]) and changing users
//! ([`AccountError`]). Authenticating, refreshing and revoking fail with
//! [`AuthError`](crate::auth::AuthError).

use std::time::Duration;

use crate::auth::AuthError;
use crate::store::StoreError;
use crate::throttle::ThrottleError;
use crate::user::{InvalidUsername, PasswordError, PasswordRejected};

/// Why a password check failed. Unknown user, wrong password and disabled account are one
/// error, [`SignInError::InvalidCredentials`], on purpose.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignInError {
    /// Too many failures for the account or the client; the password was not checked.
    #[error("too many failed sign-ins; try again in {} s", retry_after.as_secs())]
    TooManyAttempts {
        /// How long the lockout still lasts.
        retry_after: Duration,
    },
    /// Unknown user, wrong password or disabled account (or one changed while signing in).
    #[error("invalid username or password")]
    InvalidCredentials,
    /// The password is longer than the policy's `max_bytes`; refused before hashing.
    #[error("passwords are at most {max} bytes long")]
    PasswordTooLong {
        /// The bound, in bytes.
        max: usize,
    },
    /// The throttle's store failed: password checks fail closed.
    #[error("the sign-in throttle failed")]
    Throttle(#[source] ThrottleError),
    /// Looking up the user, hashing, or issuing the credential failed.
    #[error(transparent)]
    Auth(#[from] AuthError),
}

impl SignInError {
    /// A short label for metrics: `throttled`, `invalid_credentials`, `rejected` or `error`.
    pub fn outcome(&self) -> &'static str {
        match self {
            Self::TooManyAttempts { .. } => "throttled",
            Self::InvalidCredentials => "invalid_credentials",
            Self::PasswordTooLong { .. } => "rejected",
            Self::Throttle(_) | Self::Auth(_) => "error",
        }
    }
}

/// Why a change to a user failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AccountError {
    /// No user by that name (or ID).
    #[error("there is no user called {0:?}")]
    NoSuchUser(String),
    /// The name is taken (compared case-insensitively).
    #[error("a user called {0:?} already exists")]
    UserExists(String),
    /// The name breaks the username rules.
    #[error("invalid username")]
    InvalidUsername(#[from] InvalidUsername),
    /// A role breaks the role rules.
    #[error("invalid role {0:?}: a role is 1 to 64 of A-Z a-z 0-9 . _ : -")]
    InvalidRole(String),
    /// The new password breaks the password policy.
    #[error("password rejected")]
    PasswordRejected(#[from] PasswordRejected),
    /// The current password, asked for before a change, was not right (or was throttled).
    #[error("the current password was not accepted")]
    CurrentPassword(#[source] SignInError),
    /// Hashing the new password failed.
    #[error("cannot hash the password")]
    Hash(#[from] PasswordError),
    /// The store failed.
    #[error("the store failed")]
    Store(#[from] StoreError),
    /// Ending the user's sessions or tokens failed.
    #[error(transparent)]
    Auth(#[from] AuthError),
}
