//! Managing users: what `cloakroom user …` does, without the terminal. The server's tests use
//! it too, through [`App::user_admin`](crate::App::user_admin).

use std::sync::Arc;
use std::time::Duration;

use cloakroom::auth::SessionManager;
use cloakroom::clock::{Clock as _, SystemClock, Timestamp};
use cloakroom::revocation::{BusMessage, Revocation, RevocationBus, RevocationStore, Revocations};
use cloakroom::store::StoreError;
use cloakroom::user::{
    NewUser, Password, PasswordHasher, PasswordPolicy, User, UserStore, Username,
};

use crate::error::Error;
use crate::settings::Settings;
use crate::stores::{self, Stores};

/// The longest role name, in characters.
const MAX_ROLE_CHARS: usize = 64;

/// Adds, lists and removes users and changes passwords, ending the sessions of a user whose
/// password changes or who is removed, and in the token modes refusing their access tokens.
#[derive(Debug, Clone)]
pub struct UserAdmin {
    users: Arc<dyn UserStore>,
    /// The sessions this process can reach: `None` for a memory store in another process.
    sessions: Option<SessionManager>,
    /// Where the user's access tokens are revoked, in `jwt` and `hybrid` modes.
    tokens: Option<TokenRevoker>,
    hasher: PasswordHasher,
    policy: PasswordPolicy,
}

/// Where [`UserAdmin`] revokes a user's access tokens.
#[derive(Debug, Clone)]
enum TokenRevoker {
    /// A running server's deny-list (and its store): at once.
    Live(Arc<Revocations>, Duration),
    /// The stored deny-list, and the bus when there is one: running servers apply the entry
    /// at once through the bus, or without one within `jwt.reload_interval`.
    Stored {
        store: Arc<dyn RevocationStore>,
        bus: Option<Arc<dyn RevocationBus>>,
        horizon: Duration,
    },
}

impl UserAdmin {
    /// Users and sessions kept where `settings` say, as the `user` commands see them.
    ///
    /// With `session_store = "memory"` the sessions live in the server's process, out of this
    /// one's reach; [`ends_sessions`](Self::ends_sessions) is then false.
    pub async fn open(settings: &Settings) -> Result<Self, Error> {
        let stores = Stores::open(settings, Arc::new(SystemClock)).await?;
        let policy = if settings.mode.uses_tokens() {
            settings.refresh_policy()?
        } else {
            settings.session_policy()?
        };
        let sessions = stores
            .sessions_shared
            .then(|| SessionManager::from_shared(stores.sessions.clone(), policy));
        let mut admin = Self::new(
            stores.database.users(),
            sessions,
            stores::hasher(settings)?,
            PasswordPolicy::default(),
        );
        if settings.mode.uses_tokens() {
            admin.tokens = Some(TokenRevoker::Stored {
                store: stores.revocations.clone(),
                bus: stores.bus.clone(),
                horizon: token_horizon(settings),
            });
        }
        Ok(admin)
    }

    /// The same admin, revoking access tokens in `revocations` (a running app's).
    pub(crate) fn revoking_in(
        mut self,
        revocations: Arc<Revocations>,
        settings: &Settings,
    ) -> Self {
        self.tokens = Some(TokenRevoker::Live(revocations, token_horizon(settings)));
        self
    }

    /// An admin over these parts.
    pub(crate) fn new(
        users: Arc<dyn UserStore>,
        sessions: Option<SessionManager>,
        hasher: PasswordHasher,
        policy: PasswordPolicy,
    ) -> Self {
        Self {
            users,
            sessions,
            tokens: None,
            hasher,
            policy,
        }
    }

    /// The rules new passwords must follow.
    pub fn password_policy(&self) -> &PasswordPolicy {
        &self.policy
    }

    /// Whether removing a user or changing a password here ends that user's sessions.
    pub fn ends_sessions(&self) -> bool {
        self.sessions.is_some()
    }

    /// Adds a user with `roles`, after checking the name, the roles and the password.
    pub async fn add(
        &self,
        name: &str,
        roles: &[String],
        password: &Password,
    ) -> Result<User, Error> {
        let username = Username::parse(name)?;
        let roles = check_roles(roles)?;
        self.policy.check(password)?;
        let password_hash = self.hasher.hash(password).await?;
        let new = NewUser {
            username,
            roles,
            password_hash,
            created_at: SystemClock.now(),
        };
        match self.users.create(&new).await {
            Ok(user) => Ok(user),
            Err(StoreError::Duplicate) => Err(Error::UserExists(new.username.to_string())),
            Err(e) => Err(e.into()),
        }
    }

    /// Every user, in the order they were added.
    pub async fn list(&self) -> Result<Vec<User>, Error> {
        Ok(self.users.list().await?)
    }

    /// The user called `name` (case-insensitively).
    pub async fn find(&self, name: &str) -> Result<User, Error> {
        self.users
            .by_username(name)
            .await?
            .ok_or_else(|| Error::NoSuchUser(name.to_owned()))
    }

    /// Removes the user called `name` and ends their sessions; returns how many ended.
    pub async fn remove(&self, name: &str) -> Result<u64, Error> {
        let user = self.find(name).await?;
        // Sessions first: if removing the user then fails, nobody is left signed in as them.
        let ended = self.end_sessions(&user).await?;
        if !self.users.remove(&user.id).await? {
            return Err(Error::NoSuchUser(name.to_owned()));
        }
        Ok(ended)
    }

    /// Gives the user called `name` a new password and ends their sessions; returns how many
    /// ended.
    pub async fn set_password(&self, name: &str, password: &Password) -> Result<u64, Error> {
        let user = self.find(name).await?;
        self.policy.check(password)?;
        let hash = self.hasher.hash(password).await?;
        if !self.users.set_password_hash(&user.id, &hash).await? {
            return Err(Error::NoSuchUser(name.to_owned()));
        }
        self.end_sessions(&user).await
    }

    /// Disables or enables the user called `name`. Disabling ends their sessions and refuses
    /// their access tokens at once; returns how many sessions ended.
    pub async fn set_disabled(&self, name: &str, disabled: bool) -> Result<u64, Error> {
        let user = self.find(name).await?;
        if !self.users.set_disabled(&user.id, disabled).await? {
            return Err(Error::NoSuchUser(name.to_owned()));
        }
        if disabled {
            self.end_sessions(&user).await
        } else {
            Ok(0)
        }
    }

    /// Gives the user called `name` these roles and ends their sessions, whose records and
    /// tokens carry the old roles (a role taken away must not outlive the change); returns how
    /// many sessions ended.
    pub async fn set_roles(&self, name: &str, roles: &[String]) -> Result<u64, Error> {
        let user = self.find(name).await?;
        let roles = check_roles(roles)?;
        if !self.users.set_roles(&user.id, &roles).await? {
            return Err(Error::NoSuchUser(name.to_owned()));
        }
        self.end_sessions(&user).await
    }

    async fn end_sessions(&self, user: &User) -> Result<u64, Error> {
        // Tokens first, like sessions before the user: a failure leaves nobody signed in.
        self.revoke_tokens(user).await?;
        match &self.sessions {
            Some(sessions) => Ok(sessions.end_all(&user.id).await?),
            None => Ok(0),
        }
    }

    /// Refuses every access token of `user` issued so far, for as long as one can be valid.
    async fn revoke_tokens(&self, user: &User) -> Result<(), Error> {
        let entry = |now: Timestamp, cut: Timestamp, horizon: Duration| {
            Revocation::user(user.id.clone(), cut, now.saturating_add(horizon).max(cut))
        };
        match &self.tokens {
            Some(TokenRevoker::Live(revocations, horizon)) => {
                let cut = revocations.next_user_cut(&user.id);
                revocations
                    .revoke(entry(revocations.now(), cut, *horizon))
                    .await?;
            }
            Some(TokenRevoker::Stored {
                store,
                bus,
                horizon,
            }) => {
                // A running server's rule (`Revocations::next_user_cut`), on the stored list.
                let now = SystemClock.now();
                let current = store
                    .load_all(now)
                    .await?
                    .into_iter()
                    .filter_map(|r| match r {
                        Revocation::User {
                            user_id,
                            not_before,
                            ..
                        } if user_id == user.id => Some(not_before),
                        _ => None,
                    })
                    .max();
                let cut = Revocation::next_user_cut(now, current);
                let entry = entry(now, cut, *horizon);
                store.add(&entry).await?;
                if let Some(bus) = bus {
                    bus.publish(&BusMessage::Revoked(entry)).await?;
                }
            }
            None => {}
        }
        Ok(())
    }
}

/// How long after now a token issued now may still verify: its lifetime, the leeway, and a
/// second for the not-before's rounding.
fn token_horizon(settings: &Settings) -> Duration {
    settings.access_ttl() + settings.jwt.leeway + Duration::from_secs(1)
}

/// Roles are short, without spaces or control characters; duplicates are dropped.
fn check_roles(roles: &[String]) -> Result<Vec<String>, Error> {
    let mut out: Vec<String> = Vec::with_capacity(roles.len());
    for role in roles {
        let ok = !role.is_empty()
            && role.chars().count() <= MAX_ROLE_CHARS
            && !role.chars().any(|c| c.is_whitespace() || c.is_control());
        if !ok {
            return Err(Error::InvalidRole(role.clone()));
        }
        if !out.contains(role) {
            out.push(role.clone());
        }
    }
    Ok(out)
}
