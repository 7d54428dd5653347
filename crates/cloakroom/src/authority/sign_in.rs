//! Signing in: the one way every door checks a password, and issues the mode's credential.
//!
//! The order: the password's length, before any hashing; the throttle, which counts the
//! attempt as a failure in advance so parallel guesses cannot slip past; the credentials (a
//! dummy hash for unknown users, so both cost the same); the credential; then a second look at
//! the user. That last step closes the race with a change in flight: if the user's password,
//! roles or status changed (or the user went) while argon2 ran, the credential just issued is
//! withdrawn, since the change's own cut-off may have been taken before it existed.

use std::net::IpAddr;

use super::{Authority, Credential, Flow, SignInError, SignedIn};
use crate::auth::AuthError;
use crate::session::{ClientInfo, SessionUser};
use crate::throttle::{Attempt, ThrottleError};
use crate::user::{Password, User, Verification};

impl Authority {
    /// Signs a user in with a password from `client`, throttled, and issues the mode's
    /// credential. Unknown user, wrong password and disabled account all answer
    /// [`SignInError::InvalidCredentials`] after the same work.
    pub async fn sign_in(
        &self,
        username: &str,
        password: &Password,
        client: ClientInfo,
    ) -> Result<SignedIn, SignInError> {
        let user = self.check_password(username, password, client.ip).await?;
        let credential = self.issue(&user, client).await?;
        self.confirm(user, credential).await
    }

    /// Checks `username`'s password for a client at `ip` (`None` counts the account only),
    /// through the same throttle as sign-in. Every password check of every door is this one.
    pub async fn check_password(
        &self,
        username: &str,
        password: &Password,
        ip: Option<IpAddr>,
    ) -> Result<User, SignInError> {
        let accounts = self.accounts();
        // Before the throttle: an overlong password tests nothing, so it costs no count.
        let max = accounts.password_policy.max_bytes;
        if password.expose_secret().len() > max {
            return Err(SignInError::PasswordTooLong { max });
        }
        let attempt = Attempt::new(username, ip);
        match accounts.throttle.check(&attempt).await {
            Ok(()) => {}
            Err(ThrottleError::Locked { retry_after }) => {
                return Err(SignInError::TooManyAttempts { retry_after });
            }
            Err(e) => return Err(SignInError::Throttle(e)),
        }
        match self.verify_credentials(username, password).await {
            Ok(user) => {
                if let Err(e) = accounts.throttle.record_success(&attempt).await {
                    tracing::warn!(error = %e, "could not clear the sign-in throttle");
                }
                Ok(user)
            }
            Err(AuthError::InvalidCredentials) => Err(SignInError::InvalidCredentials),
            Err(e) => {
                if let Err(e) = accounts.throttle.release(&attempt).await {
                    tracing::warn!(error = %e, "could not release a sign-in attempt");
                }
                Err(SignInError::Auth(e))
            }
        }
    }

    /// The password check itself: one argon2 verification whatever the user, and a rehash of
    /// a right password kept with old parameters.
    async fn verify_credentials(
        &self,
        username: &str,
        password: &Password,
    ) -> Result<User, AuthError> {
        let accounts = self.accounts();
        let user = accounts.users.by_username(username).await?;
        let verdict = accounts
            .hasher
            .verify(password, user.as_ref().map(|u| &u.password_hash))
            .await?;
        let (Some(user), Verification::Match { needs_rehash }) = (user, verdict) else {
            return Err(AuthError::InvalidCredentials);
        };
        if user.disabled {
            return Err(AuthError::InvalidCredentials);
        }
        if needs_rehash {
            match accounts.hasher.hash(password).await {
                Ok(hash) => {
                    if let Err(e) = accounts.users.set_password_hash(&user.id, &hash).await {
                        tracing::warn!(error = %e, user = %user.id, "could not store a rehashed password");
                    }
                    // The stored hash changed: what `confirm` compares against.
                    return Ok(User {
                        password_hash: hash,
                        ..user
                    });
                }
                Err(e) => tracing::warn!(error = %e, "could not rehash a password"),
            }
        }
        Ok(user)
    }

    /// Issues the mode's credential for `user`, whose password was checked. Private: every
    /// caller comes through [`sign_in`](Self::sign_in) or
    /// [`dangerous::sign_in_unchecked`](crate::dangerous::sign_in_unchecked).
    pub(super) async fn issue(
        &self,
        user: &User,
        client: ClientInfo,
    ) -> Result<Credential, AuthError> {
        self.issue_for(subject(user), client).await
    }

    pub(crate) async fn issue_for(
        &self,
        subject: SessionUser,
        client: ClientInfo,
    ) -> Result<Credential, AuthError> {
        match self.flow() {
            Flow::Session(sessions) => {
                let (id, record) = sessions.start(subject, client).await?;
                Ok(Credential::Session { id, record })
            }
            #[cfg(feature = "jwt")]
            Flow::Jwt { auth, .. } => Ok(Credential::Access(auth.login(&subject)?)),
            #[cfg(feature = "jwt")]
            Flow::Hybrid { auth, .. } => Ok(Credential::Pair(auth.login(subject, client).await?)),
        }
    }

    /// The second look at the user once the credential exists: the same password, roles and
    /// status as when the password was checked, or the credential is withdrawn.
    async fn confirm(&self, user: User, credential: Credential) -> Result<SignedIn, SignInError> {
        let now = self.accounts().users.by_id(&user.id).await;
        let unchanged = matches!(&now, Ok(Some(current)) if same_standing(current, &user));
        if unchanged {
            return Ok(SignedIn { user, credential });
        }
        tracing::info!(user = %user.id, "the user changed during sign-in: credential withdrawn");
        self.withdraw(&user.id, &credential).await?;
        match now {
            Err(e) => Err(SignInError::Auth(e.into())),
            Ok(_) => Err(SignInError::InvalidCredentials),
        }
    }

    /// Ends a credential that was just issued.
    #[cfg_attr(not(feature = "jwt"), allow(unused_variables))]
    pub(super) async fn withdraw(
        &self,
        user_id: &str,
        credential: &Credential,
    ) -> Result<(), AuthError> {
        match (self.flow(), credential) {
            (Flow::Session(sessions), Credential::Session { id, .. }) => {
                sessions.end(id).await?;
            }
            #[cfg(feature = "jwt")]
            (Flow::Jwt { auth, .. }, Credential::Access(token)) => {
                auth.revoke_access(&token.claims.jti, token.claims.exp)
                    .await?;
            }
            #[cfg(feature = "jwt")]
            (Flow::Hybrid { auth, .. }, Credential::Pair(pair)) => {
                auth.revoke(user_id, &pair.session.handle).await?;
            }
            // A credential of another mode was never issued by this facade.
            #[allow(unreachable_patterns)]
            _ => {}
        }
        Ok(())
    }
}

/// What a credential carries of the user: the principal's name and roles.
pub(super) fn subject(user: &User) -> SessionUser {
    SessionUser {
        id: user.id.clone(),
        name: user.username.to_string(),
        roles: user.roles.clone(),
    }
}

/// Whether `now` is the user `then` was, as far as credentials go: the same password, roles
/// and status.
fn same_standing(now: &User, then: &User) -> bool {
    now.password_hash == then.password_hash && now.roles == then.roles && !now.disabled
}
