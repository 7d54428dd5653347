//! Changes to users: the administrator's (add, disable, enable, reset a password, set roles,
//! remove) and the user's own password change. Each change that touches what a credential
//! stands for ends every session and token of that user, on every node; the sign-in's second
//! look at the user ([`Authority::sign_in`]) ends the credentials issued while it ran.

use super::sign_in::subject;
use super::{AccountError, Authority, Credential};
use crate::auth::Principal;
use crate::clock::{Clock as _, SystemClock};
use crate::session::ClientInfo;
use crate::store::StoreError;
use crate::user::{NewUser, Password, User, Username};

/// The longest role name, in characters.
const MAX_ROLE_CHARS: usize = 64;

impl Authority {
    /// Adds a user with `roles`, after checking the name, the roles and the password policy.
    pub async fn add_user(
        &self,
        name: &str,
        roles: &[String],
        password: &Password,
    ) -> Result<User, AccountError> {
        let accounts = self.accounts();
        let username = Username::parse(name)?;
        let roles = check_roles(roles)?;
        accounts.password_policy.check(password)?;
        let password_hash = accounts.hasher.hash(password).await?;
        let new = NewUser {
            username,
            roles,
            password_hash,
            created_at: SystemClock.now(),
        };
        match accounts.users.create(&new).await {
            Ok(user) => Ok(user),
            Err(StoreError::Duplicate) => Err(AccountError::UserExists(new.username.to_string())),
            Err(e) => Err(e.into()),
        }
    }

    /// Every user, in the order they were added.
    pub async fn list_users(&self) -> Result<Vec<User>, AccountError> {
        Ok(self.accounts().users.list().await?)
    }

    /// The user called `name` (case-insensitively).
    pub async fn find_user(&self, name: &str) -> Result<User, AccountError> {
        self.accounts()
            .users
            .by_username(name)
            .await?
            .ok_or_else(|| AccountError::NoSuchUser(name.to_owned()))
    }

    /// The user with this ID.
    pub async fn user_by_id(&self, id: &str) -> Result<User, AccountError> {
        self.accounts()
            .users
            .by_id(id)
            .await?
            .ok_or_else(|| AccountError::NoSuchUser(id.to_owned()))
    }

    /// Removes the user called `name`, ending their sessions and tokens; returns how many
    /// sessions ended.
    pub async fn remove_user(&self, name: &str) -> Result<u64, AccountError> {
        let user = self.find_user(name).await?;
        // Before and after: if removing fails, nobody is left signed in as them; a sign-in
        // that read the user before the removal is ended by the second pass.
        let mut ended = self.sign_out_everywhere(&user.id).await?;
        if !self.accounts().users.remove(&user.id).await? {
            return Err(AccountError::NoSuchUser(name.to_owned()));
        }
        ended += self.sign_out_everywhere(&user.id).await?;
        Ok(ended)
    }

    /// Gives the user called `name` a new password (the administrator's reset) and ends their
    /// sessions and tokens; returns how many sessions ended.
    pub async fn reset_password(
        &self,
        name: &str,
        password: &Password,
    ) -> Result<u64, AccountError> {
        let user = self.find_user(name).await?;
        self.store_password(&user, password).await?;
        Ok(self.sign_out_everywhere(&user.id).await?)
    }

    /// Disables or enables the user called `name`. Disabling ends their sessions and tokens at
    /// once; returns how many sessions ended.
    pub async fn set_disabled(&self, name: &str, disabled: bool) -> Result<u64, AccountError> {
        let user = self.find_user(name).await?;
        if !self
            .accounts()
            .users
            .set_disabled(&user.id, disabled)
            .await?
        {
            return Err(AccountError::NoSuchUser(name.to_owned()));
        }
        if !disabled {
            return Ok(0);
        }
        Ok(self.sign_out_everywhere(&user.id).await?)
    }

    /// Gives the user called `name` these roles and ends their sessions and tokens, which
    /// carry the old roles (a role taken away must not outlive the change); returns how many
    /// sessions ended.
    pub async fn set_roles(&self, name: &str, roles: &[String]) -> Result<u64, AccountError> {
        let user = self.find_user(name).await?;
        let roles = check_roles(roles)?;
        if !self.accounts().users.set_roles(&user.id, &roles).await? {
            return Err(AccountError::NoSuchUser(name.to_owned()));
        }
        Ok(self.sign_out_everywhere(&user.id).await?)
    }

    /// The signed-in user changes their own password: the current one is checked through the
    /// sign-in throttle (so a stolen cookie is no password oracle), every credential of the
    /// user ends, and a new one is issued for this client, which stays signed in.
    pub async fn change_password(
        &self,
        principal: &Principal,
        current: &Password,
        new: &Password,
        client: ClientInfo,
    ) -> Result<Credential, AccountError> {
        let user = self
            .check_password(&principal.username, current, client.ip)
            .await
            .map_err(AccountError::CurrentPassword)?;
        if user.id != principal.user_id {
            // The name now belongs to someone else (renamed and re-added): not this principal.
            return Err(AccountError::NoSuchUser(principal.username.clone()));
        }
        self.accounts().password_policy.check(new)?;
        let hash = self.store_password(&user, new).await?;
        self.sign_out_everywhere(&user.id).await?;
        let user = User {
            password_hash: hash,
            ..user
        };
        Ok(self.issue_for(subject(&user), client).await?)
    }

    async fn store_password(
        &self,
        user: &User,
        password: &Password,
    ) -> Result<crate::user::PasswordHash, AccountError> {
        let accounts = self.accounts();
        accounts.password_policy.check(password)?;
        let hash = accounts.hasher.hash(password).await?;
        if !accounts.users.set_password_hash(&user.id, &hash).await? {
            return Err(AccountError::NoSuchUser(user.username.to_string()));
        }
        Ok(hash)
    }
}

/// Whether `role` is a role name: 1 to 64 of `A-Z a-z 0-9 . _ : -`. Roles travel
/// comma-separated in `X-Cloakroom-Roles` and space-separated in some gateways' headers, so
/// neither (nor anything a header or a log line could misread) may be part of one.
pub fn is_role_name(role: &str) -> bool {
    !role.is_empty()
        && role.len() <= MAX_ROLE_CHARS
        && role
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// Roles follow [`is_role_name`]; duplicates are dropped. Every door that sets roles (the
/// CLI, the admin page, the API) comes through here.
fn check_roles(roles: &[String]) -> Result<Vec<String>, AccountError> {
    let mut out: Vec<String> = Vec::with_capacity(roles.len());
    for role in roles {
        let ok = is_role_name(role);
        if !ok {
            return Err(AccountError::InvalidRole(role.clone()));
        }
        if !out.contains(role) {
            out.push(role.clone());
        }
    }
    Ok(out)
}
