//! The one facade every door goes through: [`Authority`] owns a credential's whole life in the
//! configured mode — sign in, refresh, sign out, revoke, list, change a password, and the
//! administrator's changes to a user — so that a property every door needs (the throttle, the
//! ownership check, a user's change ending what it must end) is written once, here.
//!
//! The three modes differ inside it, as data ([`Flow`]): outside, there are no per-mode pairs
//! of handlers.
//!
//! ```
//! use std::sync::Arc;
//! use cloakroom::authority::{Accounts, Authority, Credential, Flow};
//! use cloakroom::auth::SessionManager;
//! use cloakroom::session::{ClientInfo, SessionPolicy};
//! use cloakroom::store::MemoryStore;
//! use cloakroom::throttle::{MemoryThrottle, ThrottlePolicy};
//! use cloakroom::user::{HashParams, MemoryUserStore, Password, PasswordHasher, PasswordPolicy};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let accounts = Accounts {
//!     users: Arc::new(MemoryUserStore::new()),
//!     hasher: PasswordHasher::new(HashParams::INSECURE_FAST_FOR_TESTS, 2)?,
//!     throttle: Arc::new(MemoryThrottle::new(ThrottlePolicy::default(), 10_000)),
//!     password_policy: PasswordPolicy::default(),
//! };
//! let sessions = SessionManager::new(MemoryStore::new(10_000), SessionPolicy::default());
//! let authority = Authority::new(Flow::Session(sessions), accounts);
//!
//! let password = Password::new("correct horse battery staple");
//! authority.add_user("bhaskar", &[], &password).await?;
//! let signed_in = authority.sign_in("bhaskar", &password, ClientInfo::default()).await?;
//! let Credential::Session { id, .. } = &signed_in.credential else { unreachable!() };
//! let principal = authority.authenticate_session(id).await?;
//! assert_eq!(principal.username, "bhaskar");
//!
//! authority.sign_out(&principal).await?;
//! assert!(authority.authenticate_session(id).await.is_err());
//! # Ok(())
//! # }
//! ```

mod accounts;
mod credential;
mod error;
mod sign_in;
#[cfg(feature = "jwt")]
mod tokens;

use std::sync::Arc;

pub use self::accounts::is_role_name;
pub use self::credential::{Credential, SignedIn};
pub use self::error::{AccountError, SignInError};
#[cfg(feature = "jwt")]
pub use self::tokens::{Introspected, IntrospectedKind};
use crate::auth::{AuthError, AuthMethod, Principal, SessionManager};
use crate::session::{SessionHandle, SessionId, SessionRecord};
use crate::throttle::LoginThrottle;
#[cfg(feature = "jwt")]
use crate::token::TokenVerifier;
#[cfg(feature = "jwt")]
use crate::token_auth::{HybridAuth, JwtAuth, TokenPair};
use crate::user::{PasswordHasher, PasswordPolicy, UserStore};

/// What the modes share: who may sign in, how passwords are hashed and what they must be, and
/// the throttle every password check goes through.
#[derive(Debug, Clone)]
pub struct Accounts {
    /// The users.
    pub users: Arc<dyn UserStore>,
    /// argon2id, on a bounded blocking pool.
    pub hasher: PasswordHasher,
    /// Counts failed password checks, per account and client, for every door alike.
    pub throttle: Arc<dyn LoginThrottle>,
    /// What a new password must be, and the longest one checked at all.
    pub password_policy: PasswordPolicy,
}

/// The parts of the configured mode.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Flow {
    /// `session`: the cloakroom ticket; the server keeps the session.
    Session(SessionManager),
    /// `jwt`: the passport; access tokens and a deny-list.
    #[cfg(feature = "jwt")]
    Jwt {
        /// Issues and revokes the access tokens.
        auth: JwtAuth,
        /// Verifies them.
        verifier: TokenVerifier,
    },
    /// `hybrid`: short-lived access tokens over rotating refresh sessions.
    #[cfg(feature = "jwt")]
    Hybrid {
        /// Issues, refreshes and revokes.
        auth: HybridAuth,
        /// Verifies the access tokens.
        verifier: TokenVerifier,
    },
}

/// The facade of one mode. Cheap to clone. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct Authority {
    inner: Arc<Inner>,
}

#[derive(Debug, Clone)]
struct Inner {
    flow: Flow,
    accounts: Accounts,
    /// False when the sessions live in another process's memory (the CLI next to a server with
    /// `session_store = "memory"`): ending them here would end nothing.
    sessions_reachable: bool,
}

impl Authority {
    /// The facade of `flow`, over `accounts`.
    pub fn new(flow: Flow, accounts: Accounts) -> Self {
        Self {
            inner: Arc::new(Inner {
                flow,
                accounts,
                sessions_reachable: true,
            }),
        }
    }

    /// The same facade, knowing that the sessions it holds are a stand-in for ones kept in
    /// another process's memory, which it cannot end ([`ends_sessions`](Self::ends_sessions)
    /// is then false).
    #[must_use]
    pub fn with_sessions_elsewhere(self) -> Self {
        let inner = Arc::unwrap_or_clone(self.inner);
        Self {
            inner: Arc::new(Inner {
                sessions_reachable: false,
                ..inner
            }),
        }
    }

    /// The mode's parts.
    pub fn flow(&self) -> &Flow {
        &self.inner.flow
    }

    /// How principals of this mode are marked.
    pub fn method(&self) -> AuthMethod {
        match &self.inner.flow {
            Flow::Session(_) => AuthMethod::Session,
            #[cfg(feature = "jwt")]
            Flow::Jwt { .. } => AuthMethod::Jwt,
            #[cfg(feature = "jwt")]
            Flow::Hybrid { .. } => AuthMethod::Hybrid,
        }
    }

    /// The users, the hasher, the throttle and the password policy.
    pub fn accounts(&self) -> &Accounts {
        &self.inner.accounts
    }

    /// The sessions this mode keeps: the sessions of `session` mode, the refresh sessions of
    /// `hybrid`; `None` in `jwt` mode, which keeps none.
    pub fn sessions(&self) -> Option<&SessionManager> {
        match &self.inner.flow {
            Flow::Session(sessions) => Some(sessions),
            #[cfg(feature = "jwt")]
            Flow::Jwt { .. } => None,
            #[cfg(feature = "jwt")]
            Flow::Hybrid { auth, .. } => Some(auth.sessions()),
        }
    }

    /// Whether ending a user's sessions here reaches them (false only
    /// [`with_sessions_elsewhere`](Self::with_sessions_elsewhere)).
    pub fn ends_sessions(&self) -> bool {
        self.inner.sessions_reachable && self.sessions().is_some()
    }

    /// The access-token verifier, in `jwt` and `hybrid` modes.
    #[cfg(feature = "jwt")]
    pub fn verifier(&self) -> Option<&TokenVerifier> {
        match &self.inner.flow {
            Flow::Session(_) => None,
            Flow::Jwt { verifier, .. } | Flow::Hybrid { verifier, .. } => Some(verifier),
        }
    }

    /// Finds the session a session ID names (`session` mode) and checks its expiry.
    pub async fn authenticate_session(&self, id: &SessionId) -> Result<Principal, AuthError> {
        let sessions = self.sessions().ok_or(AuthError::NotInMode {
            what: "session cookies",
        })?;
        Ok(sessions.authenticate(id).await?.principal())
    }

    /// Spends a refresh token for a new pair (`hybrid` mode). A spent one presented again
    /// revokes its whole session ([`AuthError::RefreshReused`]).
    ///
    /// The refresh session must still exist once the new access token is issued: a sign-out
    /// everywhere (or a change to the user) that ended it meanwhile has cut the user's tokens
    /// already, and a token issued after that cut must not outlive it.
    #[cfg(feature = "jwt")]
    pub async fn refresh(&self, refresh: &SessionId) -> Result<TokenPair, AuthError> {
        let Flow::Hybrid { auth, .. } = &self.inner.flow else {
            return Err(AuthError::NotInMode {
                what: "refreshing tokens",
            });
        };
        let pair = auth.refresh(refresh).await?;
        if auth
            .sessions()
            .store()
            .load(&pair.refresh.key())
            .await?
            .is_none()
        {
            auth.revoke_access(&pair.access.claims.jti, pair.access.claims.exp)
                .await?;
            return Err(AuthError::UnknownSession);
        }
        Ok(pair)
    }

    /// Ends the sign-in `principal` belongs to: its session, or (`jwt`) its token, or
    /// (`hybrid`) its refresh session and every access token of it, on every node.
    pub async fn sign_out(&self, principal: &Principal) -> Result<(), AuthError> {
        match &self.inner.flow {
            Flow::Session(sessions) => {
                sessions
                    .revoke(&principal.user_id, &principal.session)
                    .await?;
            }
            #[cfg(feature = "jwt")]
            Flow::Jwt { auth, .. } => auth.logout(principal).await?,
            #[cfg(feature = "jwt")]
            Flow::Hybrid { auth, .. } => auth.logout(principal).await?,
        }
        Ok(())
    }

    /// Ends every sign-in of `user_id` and refuses every access token issued to them so far;
    /// returns how many sessions ended.
    pub async fn sign_out_everywhere(&self, user_id: &str) -> Result<u64, AuthError> {
        match &self.inner.flow {
            Flow::Session(sessions) => sessions.end_all(user_id).await,
            #[cfg(feature = "jwt")]
            Flow::Jwt { auth, .. } => {
                auth.logout_all(user_id).await?;
                Ok(0)
            }
            #[cfg(feature = "jwt")]
            Flow::Hybrid { auth, .. } => auth.logout_all(user_id).await,
        }
    }

    /// Ends the session `handle` of `user_id` (and, in `hybrid` mode, its access tokens);
    /// whether it was theirs and existed. Another user's handle is never touched, and not even
    /// put on the deny-list. `jwt` mode keeps no sessions.
    pub async fn revoke_session(
        &self,
        user_id: &str,
        handle: &SessionHandle,
    ) -> Result<bool, AuthError> {
        match &self.inner.flow {
            Flow::Session(sessions) => sessions.revoke(user_id, handle).await,
            #[cfg(feature = "jwt")]
            Flow::Jwt { .. } => Err(AuthError::NotInMode { what: "sessions" }),
            #[cfg(feature = "jwt")]
            Flow::Hybrid { auth, .. } => auth.revoke(user_id, handle).await,
        }
    }

    /// The live sessions of `user_id`, oldest first; `jwt` mode keeps none.
    pub async fn list_sessions(&self, user_id: &str) -> Result<Vec<SessionRecord>, AuthError> {
        let sessions = self
            .sessions()
            .ok_or(AuthError::NotInMode { what: "sessions" })?;
        sessions.list(user_id).await
    }
}
