//! What other services ask of the token modes: introspection (RFC 7662) and revocation by
//! the token itself (RFC 7009).

use std::sync::Arc;

use super::{Authority, Flow};
use crate::auth::AuthError;
use crate::session::{SessionId, SessionRecord};
use crate::token::AccessClaims;

/// Which kind of token [`Authority::introspect`] found.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum IntrospectedKind {
    /// A valid access token, and what it says.
    Access(Arc<AccessClaims>),
    /// A live refresh token (`hybrid`): its session.
    Refresh(SessionRecord),
}

/// A token that is active.
#[derive(Debug, Clone)]
pub struct Introspected {
    /// What it is.
    pub kind: IntrospectedKind,
}

impl Authority {
    /// Whether `token` is an active access token or (`hybrid`) refresh token, and what it
    /// stands for; `None` for anything else. `refresh_first` follows the caller's
    /// `token_type_hint`. `session` mode has no tokens.
    pub async fn introspect(
        &self,
        token: &str,
        refresh_first: bool,
    ) -> Result<Option<Introspected>, AuthError> {
        let verifier = self.verifier().ok_or(AuthError::NotInMode {
            what: "introspection",
        })?;
        let access = || {
            verifier
                .verify_shared(token)
                .ok()
                .map(|claims| Introspected {
                    kind: IntrospectedKind::Access(claims),
                })
        };
        if !refresh_first {
            if let Some(found) = access() {
                return Ok(Some(found));
            }
        }
        if let Some(record) = self.refresh_session(token).await? {
            return Ok(Some(Introspected {
                kind: IntrospectedKind::Refresh(record),
            }));
        }
        Ok(if refresh_first { access() } else { None })
    }

    /// Revokes `token`: an access token is denied until nothing can verify it, a refresh token
    /// ends its whole session with its access tokens. Holding a token is the right to revoke
    /// it; anything that is not a live token is ignored, so the caller learns nothing.
    pub async fn revoke_token(&self, token: &str) -> Result<(), AuthError> {
        let verifier = self.verifier().ok_or(AuthError::NotInMode {
            what: "token revocation",
        })?;
        if let Ok(claims) = verifier.verify_shared(token) {
            return match self.flow() {
                Flow::Jwt { auth, .. } => auth.revoke_access(&claims.jti, claims.exp).await,
                Flow::Hybrid { auth, .. } => auth.revoke_access(&claims.jti, claims.exp).await,
                Flow::Session(_) => Ok(()),
            };
        }
        if let (Some(record), Flow::Hybrid { auth, .. }) =
            (self.refresh_session(token).await?, self.flow())
        {
            auth.revoke(&record.user.id, &record.handle).await?;
        }
        Ok(())
    }

    /// Whose `token` is, if it is a live access or refresh token: for rating revocations per
    /// user before revoking.
    pub async fn token_owner(&self, token: &str) -> Result<Option<String>, AuthError> {
        let Some(verifier) = self.verifier() else {
            return Ok(None);
        };
        if let Ok(claims) = verifier.verify_shared(token) {
            return Ok(Some(claims.sub.clone()));
        }
        Ok(self
            .refresh_session(token)
            .await?
            .map(|r| r.user.id.clone()))
    }

    /// The live refresh session a refresh token names (`hybrid` mode).
    async fn refresh_session(&self, token: &str) -> Result<Option<SessionRecord>, AuthError> {
        let (Flow::Hybrid { auth, .. }, Ok(id)) = (self.flow(), SessionId::parse(token)) else {
            return Ok(None);
        };
        let sessions = auth.sessions();
        let Some(record) = sessions.store().load(&id.key()).await? else {
            return Ok(None);
        };
        Ok((!record.is_expired(sessions.now())).then_some(record))
    }
}
