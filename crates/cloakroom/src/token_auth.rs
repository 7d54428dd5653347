//! The token modes: `jwt` (stateless access tokens, revoked through the deny-list) and
//! `hybrid` (short-lived access tokens backed by rotating refresh sessions).

use std::sync::Arc;
use std::time::Duration;

use crate::auth::{AuthError, Principal, SessionManager};
use crate::clock::Timestamp;
use crate::revocation::{Revocation, Revocations};
use crate::session::{
    ClientInfo, RefreshRotation, Refreshed, RotatingStore, RotationNonce, SessionHandle, SessionId,
    SessionPolicy, SessionRecord, SessionUser,
};
use crate::token::{IssuedToken, TokenIssuer, TokenSubject};

fn subject(user: &SessionUser, session: &SessionHandle) -> TokenSubject {
    TokenSubject {
        user_id: user.id.clone(),
        name: user.name.clone(),
        roles: user.roles.clone(),
        session: session.to_string(),
    }
}

/// What both token modes share: issuing, and revoking through the deny-list.
#[derive(Debug, Clone)]
struct Tokens {
    issuer: TokenIssuer,
    revocations: Arc<Revocations>,
    /// How long after its `exp` a token still verifies (the verifier's leeway).
    leeway: Duration,
}

impl Tokens {
    /// When the last token issued now stops verifying: what a revocation must outlive.
    fn horizon(&self, now: Timestamp) -> Timestamp {
        now.saturating_add(self.issuer.ttl() + self.leeway)
    }

    /// Issues a token, never with an `iat` before the user's not-before: a user who signs out
    /// everywhere and signs in again within the same second gets a token that works.
    fn issue(&self, subject: &TokenSubject) -> Result<IssuedToken, AuthError> {
        let now = self.issuer.now();
        let cut = self
            .revocations
            .deny_list()
            .user_not_before(&subject.user_id)
            .filter(|cut| *cut > now && cut.since(now) <= self.leeway);
        Ok(self.issuer.issue_at(subject, cut.unwrap_or(now))?)
    }

    /// Refuses every token of `user_id` issued so far (including this very second, and tokens
    /// whose `iat` [`issue`](Self::issue) raised to an earlier cut-off that is still ahead).
    async fn revoke_user(&self, user_id: &str) -> Result<(), AuthError> {
        let now = self.issuer.now();
        let not_before = self.revocations.next_user_cut(user_id);
        let until = self.horizon(now).max(not_before);
        self.revocations
            .revoke(Revocation::user(user_id, not_before, until))
            .await?;
        Ok(())
    }

    /// Denies one access token for as long as it can verify: past its `exp` by the verifier's
    /// leeway, or a signed-out token would verify again once its entry was purged.
    async fn revoke_token(&self, jti: &str, expires_at: Timestamp) -> Result<(), AuthError> {
        let last_valid = expires_at.saturating_add(self.leeway);
        self.revocations
            .revoke(Revocation::token(jti, last_valid))
            .await?;
        Ok(())
    }

    async fn revoke_session(&self, sid: &SessionHandle) -> Result<(), AuthError> {
        let until = self.horizon(self.issuer.now());
        self.revocations
            .revoke(Revocation::session(sid.as_str(), until))
            .await?;
        Ok(())
    }
}

/// `jwt` mode: the passport. Signing in issues an access token and keeps nothing; logout puts
/// the token's `jti` on the deny-list until it expires; logout-all refuses every token of the
/// user issued before now.
#[derive(Debug, Clone)]
pub struct JwtAuth {
    tokens: Tokens,
}

impl JwtAuth {
    /// Issues with `issuer`, revokes into `revocations`; `leeway` is the verifier's.
    pub fn new(issuer: TokenIssuer, revocations: Arc<Revocations>, leeway: Duration) -> Self {
        Self {
            tokens: Tokens {
                issuer,
                revocations,
                leeway,
            },
        }
    }

    /// Signs `user` in: an access token with a fresh `sid` that names this sign-in.
    pub fn login(&self, user: &SessionUser) -> Result<IssuedToken, AuthError> {
        self.tokens
            .issue(&subject(user, &SessionHandle::generate()?))
    }

    /// Revokes the token the principal presented.
    pub async fn logout(&self, principal: &Principal) -> Result<(), AuthError> {
        if let Some(token) = &principal.token {
            self.tokens
                .revoke_token(&token.jti, token.expires_at)
                .await?;
        }
        Ok(())
    }

    /// Denies the access token `jti` (expiring at `expires_at`) on every node.
    pub async fn revoke_access(&self, jti: &str, expires_at: Timestamp) -> Result<(), AuthError> {
        self.tokens.revoke_token(jti, expires_at).await
    }

    /// Revokes every token of `user_id` issued so far.
    pub async fn logout_all(&self, user_id: &str) -> Result<(), AuthError> {
        self.tokens.revoke_user(user_id).await
    }
}

/// A new access token and refresh token, as login and refresh return them.
#[derive(Debug)]
pub struct TokenPair {
    /// The short-lived access token.
    pub access: IssuedToken,
    /// The refresh token: a secret like a session ID, kept by the store only as its digest,
    /// good for one refresh.
    pub refresh: SessionId,
    /// The refresh session, as of now.
    pub session: SessionRecord,
}

/// `hybrid` mode: short-lived access tokens that any node verifies without a lookup, and a
/// refresh session per sign-in whose token rotates at every use. A refresh token presented a
/// second time means it was copied: the whole session is revoked, access tokens included.
#[derive(Debug, Clone)]
pub struct HybridAuth {
    sessions: SessionManager,
    store: Arc<dyn RotatingStore>,
    rotation: RefreshRotation,
    tokens: Tokens,
}

impl HybridAuth {
    /// Refresh sessions in `store` under `policy` (its absolute timeout is the refresh token's
    /// lifetime); access tokens from `issuer`; revocations into `revocations`; `leeway` is the
    /// verifier's.
    pub fn new(
        store: Arc<dyn RotatingStore>,
        policy: SessionPolicy,
        issuer: TokenIssuer,
        revocations: Arc<Revocations>,
        leeway: Duration,
    ) -> Self {
        let sessions = SessionManager::from_shared(store.clone(), policy);
        Self {
            sessions,
            store,
            rotation: RefreshRotation::default(),
            tokens: Tokens {
                issuer,
                revocations,
                leeway,
            },
        }
    }

    /// The same, reading time from `clock` (tests move it by hand).
    pub fn with_clock(mut self, clock: crate::clock::SharedClock) -> Self {
        self.sessions = self.sessions.with_clock(clock);
        self
    }

    /// The same, answering a just-spent refresh token with its successor for `reuse_interval`
    /// ([`DEFAULT_REUSE_INTERVAL`](crate::session::DEFAULT_REUSE_INTERVAL) unless set; zero
    /// makes every second presentation reuse).
    pub fn with_reuse_interval(mut self, reuse_interval: Duration) -> Self {
        self.rotation = RefreshRotation::new(reuse_interval);
        self
    }

    /// The refresh sessions, for listing and revoking them.
    pub fn sessions(&self) -> &SessionManager {
        &self.sessions
    }

    /// Signs `user` in: a new refresh session and the first access token of it.
    pub async fn login(
        &self,
        user: SessionUser,
        client: ClientInfo,
    ) -> Result<TokenPair, AuthError> {
        let (refresh, session) = self.sessions.start(user, client).await?;
        let access = self
            .tokens
            .issue(&subject(&session.user, &session.handle))?;
        Ok(TokenPair {
            access,
            refresh,
            session,
        })
    }

    /// Spends a refresh token for a new pair. Presented again within the reuse interval, while
    /// its successor is unspent, it gets the same refresh token back (honest races: two tabs,
    /// a server-side render and its browser); any other spent token of the session revokes the
    /// whole session and its access tokens ([`AuthError::RefreshReused`]).
    pub async fn refresh(&self, refresh: &SessionId) -> Result<TokenPair, AuthError> {
        let now = self.sessions.now();
        let nonce = RotationNonce::generate()?;
        let refreshed = self
            .rotation
            .rotate(self.store.as_ref(), refresh, nonce, now)
            .await?;
        match refreshed {
            Refreshed::Rotated {
                next,
                mut session,
                repeated,
            } => {
                if session.is_expired(now) {
                    if !repeated {
                        self.store.delete(&next.key()).await?;
                    }
                    return Err(AuthError::SessionExpired);
                }
                let idle = now
                    .saturating_add(self.sessions.policy().idle_timeout())
                    .min(session.absolute_expires_at);
                self.store.touch(&next.key(), now, idle).await?;
                session.last_seen_at = now;
                session.idle_expires_at = idle;
                let access = self
                    .tokens
                    .issue(&subject(&session.user, &session.handle))?;
                Ok(TokenPair {
                    access,
                    refresh: next,
                    session,
                })
            }
            Refreshed::Reused { user_id, handle } => {
                tracing::warn!(user = %user_id, session = %handle, "a spent refresh token was presented again: session revoked");
                self.tokens.revoke_session(&handle).await?;
                Err(AuthError::RefreshReused)
            }
            Refreshed::Unknown => Err(AuthError::UnknownSession),
        }
    }

    /// Ends the session the principal's token belongs to, and its access tokens, at once.
    pub async fn logout(&self, principal: &Principal) -> Result<(), AuthError> {
        self.revoke(&principal.user_id, &principal.session).await?;
        Ok(())
    }

    /// Ends the session `handle` of `user_id` and revokes its access tokens; the result says
    /// whether the session was theirs and existed. Another user's handle is refused before
    /// anything is revoked, so callers need no guard of their own.
    pub async fn revoke(&self, user_id: &str, handle: &SessionHandle) -> Result<bool, AuthError> {
        let owned = self
            .sessions
            .list(user_id)
            .await?
            .iter()
            .any(|r| r.handle == *handle);
        if !owned {
            return Ok(false);
        }
        // Revoke first: even if deleting fails, the tokens are dead.
        self.tokens.revoke_session(handle).await?;
        self.sessions.revoke(user_id, handle).await
    }

    /// Denies the access token `jti` (expiring at `expires_at`) on every node.
    pub async fn revoke_access(&self, jti: &str, expires_at: Timestamp) -> Result<(), AuthError> {
        self.tokens.revoke_token(jti, expires_at).await
    }

    /// Ends every session of `user_id` and refuses every access token issued to them so far;
    /// returns how many sessions ended. The tokens are cut before the sessions end (a failure
    /// leaves nobody signed in) and again after: a refresh that rotated just before the
    /// sessions ended may have dated its token at the first cut, and the second is later.
    pub async fn logout_all(&self, user_id: &str) -> Result<u64, AuthError> {
        self.tokens.revoke_user(user_id).await?;
        let ended = self.sessions.end_all(user_id).await?;
        self.tokens.revoke_user(user_id).await?;
        Ok(ended)
    }
}
