//! Managing users: what `cloakroom user …` and the admin page do, through the authority, so
//! that every change ends what it must end ([`cloakroom::authority::Authority`]). The server's
//! tests use it too, through [`App::user_admin`](crate::App::user_admin).

use std::sync::Arc;

use cloakroom::authority::{AccountError, Accounts, Authority};
use cloakroom::clock::SystemClock;
use cloakroom::user::{Password, PasswordPolicy, User};

use crate::error::Error;
use crate::settings::Settings;
use crate::stores::{self, Stores};
use crate::tokens::TokenService;

/// Adds, lists and removes users, changes passwords, roles and status, ending the sessions
/// and tokens of a user whose standing changes.
#[derive(Debug, Clone)]
pub struct UserAdmin {
    authority: Authority,
}

impl UserAdmin {
    /// Users and sessions kept where `settings` say, as the `user` commands see them: the same
    /// authority a server builds, so a change here revokes on every node (at once over a bus,
    /// otherwise within `jwt.reload_interval`).
    ///
    /// With `session_store = "memory"` the sessions live in the server's process, out of this
    /// one's reach; [`ends_sessions`](Self::ends_sessions) is then false.
    pub async fn open(settings: &Settings) -> Result<Self, Error> {
        let clock = Arc::new(SystemClock);
        let stores = Stores::open(settings, clock.clone()).await?;
        let tokens = if settings.mode.uses_tokens() {
            Some(TokenService::for_user_changes(settings, &stores, clock.clone()).await?)
        } else {
            None
        };
        let accounts = Accounts {
            users: stores.database.users(),
            hasher: stores::hasher(settings)?,
            throttle: crate::login::throttle_for(settings, clock.clone()).await?,
            password_policy: settings.password_policy()?,
        };
        let authority = crate::app::authority(settings, &stores, tokens.as_ref(), accounts, clock)?;
        Ok(Self::new(authority))
    }

    /// An admin over `authority`.
    pub(crate) fn new(authority: Authority) -> Self {
        Self { authority }
    }

    /// The rules new passwords must follow.
    pub fn password_policy(&self) -> &PasswordPolicy {
        &self.authority.accounts().password_policy
    }

    /// Whether removing a user or changing a password here ends that user's sessions.
    pub fn ends_sessions(&self) -> bool {
        self.authority.ends_sessions()
    }

    /// Adds a user with `roles`, after checking the name, the roles and the password.
    pub async fn add(
        &self,
        name: &str,
        roles: &[String],
        password: &Password,
    ) -> Result<User, Error> {
        Ok(self.authority.add_user(name, roles, password).await?)
    }

    /// Every user, in the order they were added.
    pub async fn list(&self) -> Result<Vec<User>, Error> {
        Ok(self.authority.list_users().await?)
    }

    /// The user called `name` (case-insensitively).
    pub async fn find(&self, name: &str) -> Result<User, Error> {
        Ok(self.authority.find_user(name).await?)
    }

    /// Removes the user called `name` and ends their sessions; returns how many ended.
    pub async fn remove(&self, name: &str) -> Result<u64, Error> {
        Ok(self.authority.remove_user(name).await?)
    }

    /// Gives the user called `name` a new password and ends their sessions; returns how many
    /// ended.
    pub async fn set_password(&self, name: &str, password: &Password) -> Result<u64, Error> {
        Ok(self.authority.reset_password(name, password).await?)
    }

    /// Disables or enables the user called `name`. Disabling ends their sessions and refuses
    /// their access tokens at once; returns how many sessions ended.
    pub async fn set_disabled(&self, name: &str, disabled: bool) -> Result<u64, Error> {
        Ok(self.authority.set_disabled(name, disabled).await?)
    }

    /// Gives the user called `name` these roles and ends their sessions, whose records and
    /// tokens carry the old roles; returns how many sessions ended.
    pub async fn set_roles(&self, name: &str, roles: &[String]) -> Result<u64, Error> {
        Ok(self.authority.set_roles(name, roles).await?)
    }
}

impl From<AccountError> for Error {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::NoSuchUser(name) => Self::NoSuchUser(name),
            AccountError::UserExists(name) => Self::UserExists(name),
            AccountError::InvalidUsername(e) => Self::InvalidUsername(e),
            AccountError::InvalidRole(role) => Self::InvalidRole(role),
            AccountError::PasswordRejected(e) => Self::PasswordRejected(e),
            AccountError::Hash(e) => Self::Hash(e),
            AccountError::Store(e) => Self::Store(e),
            AccountError::Auth(e) => Self::Auth(e),
            other => Self::Account(other),
        }
    }
}
