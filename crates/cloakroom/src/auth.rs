//! The modes' building blocks: sessions ([`SessionManager`]), the principal a request stands
//! for, and the errors of authenticating. Signing in and everything after it goes through the
//! facade, [`crate::authority::Authority`].

use std::sync::Arc;

use serde::Serialize;

use crate::clock::{SharedClock, SystemClock, Timestamp};
use crate::random::RandomError;
use crate::session::{
    ClientInfo, DataError, SessionData, SessionHandle, SessionId, SessionKey, SessionPolicy,
    SessionRecord, SessionStore, SessionUser,
};
use crate::store::StoreError;
use crate::user::PasswordError;

/// How many times [`SessionManager::update_data`] retries after losing a race.
const MAX_UPDATE_ATTEMPTS: usize = 16;

/// What can go wrong when signing in or authenticating.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// Unknown user, wrong password or disabled account: deliberately one error, so callers
    /// cannot tell which.
    #[error("invalid username or password")]
    InvalidCredentials,
    /// No session under this ID: never was, logged out, or purged.
    #[error("no such session")]
    UnknownSession,
    /// The session has passed its idle or absolute expiry.
    #[error("the session has expired")]
    SessionExpired,
    /// The session's data was changed concurrently and retrying did not help.
    #[error("the session data was changed concurrently")]
    Conflict,
    /// The session's data would exceed the policy's bound.
    #[error("the session data exceeds {limit} bytes")]
    DataTooLarge {
        /// The bound, in bytes.
        limit: usize,
    },
    /// A value in the session's data has another type than the one asked for.
    #[error(transparent)]
    Data(#[from] DataError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Password hashing failed.
    #[error(transparent)]
    Password(#[from] PasswordError),
    /// The operating system's random number generator failed.
    #[error(transparent)]
    Random(#[from] RandomError),
    /// A refresh token was presented after it had been spent: it was copied. The session it
    /// belonged to has been revoked.
    #[error("the refresh token was already used; its session has been revoked")]
    RefreshReused,
    /// The configured mode has no such thing (e.g. refresh tokens in `session` mode).
    #[error("{what} is not available in this mode")]
    NotInMode {
        /// What was asked for.
        what: &'static str,
    },
    /// An access token could not be issued.
    #[cfg(feature = "jwt")]
    #[error(transparent)]
    Issue(#[from] crate::token::IssueError),
}

/// How a request was authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMethod {
    /// A server-side session, by its ID in a cookie.
    Session,
    /// A signed access token (`jwt` mode).
    Jwt,
    /// A short-lived access token backed by a rotating refresh session (`hybrid` mode).
    Hybrid,
}

impl AuthMethod {
    /// The mode's name: `session`, `jwt` or `hybrid`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Session => "session",
            Self::Jwt => "jwt",
            Self::Hybrid => "hybrid",
        }
    }
}

/// The access token a request was authenticated with: what revoking it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRef {
    /// The token's unique ID (`jti`).
    pub jti: String,
    /// When it expires (`exp`): a revocation need not outlive it.
    pub expires_at: Timestamp,
}

/// Who made a request, as the handlers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The user's stable ID.
    pub user_id: String,
    /// The user's name.
    pub username: String,
    /// The user's roles.
    pub roles: Vec<String>,
    /// The public handle of the session the request belongs to.
    pub session: SessionHandle,
    /// How the request was authenticated.
    pub method: AuthMethod,
    /// The access token, when the request was authenticated by one.
    pub token: Option<TokenRef>,
}

impl Principal {
    /// The principal an access token stands for. A `sid` that is not a session handle (which
    /// this server never issues) gives an empty handle rather than an error: it can only match
    /// nothing.
    #[cfg(feature = "jwt")]
    pub fn from_claims(claims: &crate::token::AccessClaims, method: AuthMethod) -> Self {
        Self {
            user_id: claims.sub.clone(),
            username: claims.name.clone(),
            roles: claims.roles.clone(),
            session: claims
                .session_handle()
                .unwrap_or_else(|_| SessionHandle::empty()),
            method,
            token: Some(TokenRef {
                jti: claims.jti.clone(),
                expires_at: claims.exp,
            }),
        }
    }

    /// Whether the principal has `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

/// A session found and checked by [`SessionManager::authenticate`].
#[derive(Debug, Clone)]
pub struct ActiveSession {
    /// The store key, for later writes to this session.
    pub key: SessionKey,
    /// The record, as of this request.
    pub record: SessionRecord,
}

impl ActiveSession {
    /// The principal this session stands for.
    pub fn principal(&self) -> Principal {
        Principal {
            user_id: self.record.user.id.clone(),
            username: self.record.user.name.clone(),
            roles: self.record.user.roles.clone(),
            session: self.record.handle,
            method: AuthMethod::Session,
            token: None,
        }
    }
}

/// Starts, checks and ends sessions over any [`SessionStore`]. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SessionManager {
    store: Arc<dyn SessionStore>,
    policy: SessionPolicy,
    clock: SharedClock,
}

impl SessionManager {
    /// Sessions in `store` under `policy`, timed by the system clock.
    pub fn new(store: impl SessionStore, policy: SessionPolicy) -> Self {
        Self::from_shared(Arc::new(store), policy)
    }

    /// Sessions in a store that is shared with other parts of the program.
    pub fn from_shared(store: Arc<dyn SessionStore>, policy: SessionPolicy) -> Self {
        Self {
            store,
            policy,
            clock: Arc::new(SystemClock),
        }
    }

    /// The same manager reading time from `clock` (tests move it by hand).
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn SessionStore> {
        &self.store
    }

    /// The policy.
    pub fn policy(&self) -> &SessionPolicy {
        &self.policy
    }

    /// The current time, by this manager's clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Starts a session for `user` under a new random ID. The ID is returned once, to be handed
    /// to the client; the store keeps only its digest. `user` may be a [`SessionUser`] or an
    /// `Arc` of one to share.
    pub async fn start(
        &self,
        user: impl Into<Arc<SessionUser>>,
        client: ClientInfo,
    ) -> Result<(SessionId, SessionRecord), AuthError> {
        let now = self.now();
        let record = SessionRecord {
            handle: SessionHandle::generate()?,
            user: user.into(),
            created_at: now,
            last_seen_at: now,
            idle_expires_at: now.saturating_add(self.policy.idle_timeout()),
            absolute_expires_at: now.saturating_add(self.policy.absolute_timeout()),
            client,
            version: 0,
            data: SessionData::default(),
        };
        let id = SessionId::generate()?;
        // A duplicate of 256 random bits does not happen; if the store says so, it is broken.
        self.store.create(&id.key(), &record).await?;
        Ok((id, record))
    }

    /// Finds the session a client's ID names and checks that it has not expired. Records the
    /// activity, at most once per touch interval.
    pub async fn authenticate(&self, id: &SessionId) -> Result<ActiveSession, AuthError> {
        self.authenticate_key(id.key()).await
    }

    /// [`authenticate`](Self::authenticate), by the store key.
    pub async fn authenticate_key(&self, key: SessionKey) -> Result<ActiveSession, AuthError> {
        let now = self.now();
        let Some(mut record) = self.store.load(&key).await? else {
            return Err(AuthError::UnknownSession);
        };
        if record.is_expired(now) {
            // Best effort: the purge task removes it anyway.
            if let Err(e) = self.store.delete(&key).await {
                tracing::debug!(error = %e, "could not delete an expired session");
            }
            return Err(AuthError::SessionExpired);
        }
        if now.since(record.last_seen_at) >= self.policy.touch_interval() {
            let idle_expires_at = now
                .saturating_add(self.policy.idle_timeout())
                .min(record.absolute_expires_at);
            if !self.store.touch(&key, now, idle_expires_at).await? {
                return Err(AuthError::UnknownSession);
            }
            record.last_seen_at = now;
            record.idle_expires_at = idle_expires_at;
        }
        Ok(ActiveSession { key, record })
    }

    /// Ends the session a client's ID names; the result says whether there was one.
    pub async fn end(&self, id: &SessionId) -> Result<bool, AuthError> {
        Ok(self.store.delete(&id.key()).await?)
    }

    /// Ends the session under `key`.
    pub async fn end_key(&self, key: &SessionKey) -> Result<bool, AuthError> {
        Ok(self.store.delete(key).await?)
    }

    /// Ends every session of `user_id`.
    pub async fn end_all(&self, user_id: &str) -> Result<u64, AuthError> {
        Ok(self.store.delete_user(user_id).await?)
    }

    /// Ends the session of `user_id` named `handle`; another user's session is never touched.
    pub async fn revoke(&self, user_id: &str, handle: &SessionHandle) -> Result<bool, AuthError> {
        Ok(self.store.delete_by_handle(user_id, handle).await?)
    }

    /// The live sessions of `user_id`, oldest first.
    pub async fn list(&self, user_id: &str) -> Result<Vec<SessionRecord>, AuthError> {
        let now = self.now();
        Ok(self
            .store
            .list_user(user_id)
            .await?
            .into_iter()
            .map(|(_, r)| r)
            .filter(|r| !r.is_expired(now))
            .collect())
    }

    /// How many sessions are live.
    pub async fn count_active(&self) -> Result<u64, AuthError> {
        Ok(self.store.count_active(self.now()).await?)
    }

    /// Deletes ended sessions.
    pub async fn purge_expired(&self) -> Result<u64, AuthError> {
        Ok(self.store.purge_expired(self.now()).await?)
    }

    /// Writes `data` if the session is still at `version`; returns the new version.
    /// [`AuthError::Conflict`] if someone else wrote first.
    pub async fn save_data(
        &self,
        key: &SessionKey,
        version: u64,
        data: &SessionData,
    ) -> Result<u64, AuthError> {
        let limit = self.policy.max_data_bytes();
        if data.to_json().len() > limit {
            return Err(AuthError::DataTooLarge { limit });
        }
        match self.store.save_data(key, version, data).await {
            Ok(v) => Ok(v),
            Err(StoreError::Conflict { .. }) => Err(AuthError::Conflict),
            Err(StoreError::NotFound) => Err(AuthError::UnknownSession),
            Err(e) => Err(e.into()),
        }
    }

    /// Reads the session's data, applies `f`, and writes it back; on a concurrent write, reads
    /// again and re-applies `f`, so no update is lost. Returns what `f` returned last.
    pub async fn update_data<R>(
        &self,
        key: &SessionKey,
        mut f: impl FnMut(&mut SessionData) -> Result<R, AuthError>,
    ) -> Result<R, AuthError> {
        for _ in 0..MAX_UPDATE_ATTEMPTS {
            let active = self.authenticate_key(*key).await?;
            let mut data = active.record.data;
            let out = f(&mut data)?;
            match self.save_data(key, active.record.version, &data).await {
                Ok(_) => return Ok(out),
                Err(AuthError::Conflict) => tokio::task::yield_now().await,
                Err(e) => return Err(e),
            }
        }
        Err(AuthError::Conflict)
    }
}
