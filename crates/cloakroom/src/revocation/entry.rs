//! What can be revoked, and why a token was refused for it.

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;

/// One entry of the deny-list. Entries name tokens by their `jti`, sessions by their handle
/// (`sid`) and users by their ID, never by a hash of the token text: ECDSA signatures and
/// base64 are malleable, so one token has many spellings, but only one `jti`.
///
/// Serializable, so that a revocation bus can carry entries between nodes as they are.
///
/// ```
/// use cloakroom::clock::Timestamp;
/// use cloakroom::revocation::Revocation;
///
/// let r = Revocation::token("Xk3…jti", Timestamp::from_unix(2_000));
/// let json = serde_json::to_string(&r)?;
/// assert_eq!(json, r#"{"kind":"token","jti":"Xk3…jti","expires_at":2000}"#);
/// assert_eq!(serde_json::from_str::<Revocation>(&json)?, r);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Revocation {
    /// One token (logout in `jwt` mode), kept until the token expires.
    Token {
        /// The token's `jti`.
        jti: String,
        /// The token's `exp`: after it, the token fails anyway.
        expires_at: Timestamp,
    },
    /// Every token of one session (logout in `hybrid` mode, a revoked device).
    Session {
        /// The session's public handle, the tokens' `sid`.
        sid: String,
        /// When the last token of the session expires.
        until: Timestamp,
    },
    /// Every token of one user issued before `not_before` (logout-all, a disabled or removed
    /// user).
    User {
        /// The user's ID, the tokens' `sub`.
        user_id: String,
        /// Tokens with an `iat` before this are refused.
        not_before: Timestamp,
        /// When the last token issued before `not_before` expires.
        until: Timestamp,
    },
}

impl Revocation {
    /// Revokes the token `jti`, which expires at `expires_at`.
    pub fn token(jti: impl Into<String>, expires_at: Timestamp) -> Self {
        Self::Token {
            jti: jti.into(),
            expires_at,
        }
    }

    /// Revokes every token of session `sid` until `until`.
    pub fn session(sid: impl Into<String>, until: Timestamp) -> Self {
        Self::Session {
            sid: sid.into(),
            until,
        }
    }

    /// Revokes every token of `user_id` issued before `not_before`; the entry is kept until
    /// `until` (at least `not_before` plus the longest token lifetime plus the leeway).
    pub fn user(user_id: impl Into<String>, not_before: Timestamp, until: Timestamp) -> Self {
        Self::User {
            user_id: user_id.into(),
            not_before,
            until,
        }
    }

    /// What kind of entry this is.
    pub fn kind(&self) -> RevocationKind {
        match self {
            Self::Token { .. } => RevocationKind::Token,
            Self::Session { .. } => RevocationKind::Session,
            Self::User { .. } => RevocationKind::User,
        }
    }

    /// The `jti`, `sid` or user ID the entry is about.
    pub fn subject(&self) -> &str {
        match self {
            Self::Token { jti, .. } => jti,
            Self::Session { sid, .. } => sid,
            Self::User { user_id, .. } => user_id,
        }
    }

    /// The not-before for a new user-wide cut at `now`, given the user's `current` one: a
    /// second from now (`iat` has whole seconds), or a second past `current` when that is not
    /// earlier, since tokens issued after a cut are dated at it. What
    /// [`Revocations::next_user_cut`](super::Revocations::next_user_cut) applies to its list.
    pub fn next_user_cut(now: Timestamp, current: Option<Timestamp>) -> Timestamp {
        let floor = now.saturating_add(std::time::Duration::from_secs(1));
        match current {
            Some(cut) if cut >= floor => cut.saturating_add(std::time::Duration::from_secs(1)),
            _ => floor,
        }
    }

    /// When the entry can be forgotten: every token it refuses has expired by then.
    pub fn expires_at(&self) -> Timestamp {
        match self {
            Self::Token { expires_at, .. } => *expires_at,
            Self::Session { until, .. } | Self::User { until, .. } => *until,
        }
    }

    /// The same entry, keeping the stricter values of `self` and `other` (which must be about
    /// the same subject): a later expiry and a later not-before.
    pub fn merge(&self, other: &Self) -> Self {
        match (self, other) {
            (
                Self::User {
                    user_id,
                    not_before: a,
                    until: ua,
                },
                Self::User {
                    not_before: b,
                    until: ub,
                    ..
                },
            ) => Self::user(user_id.clone(), *a.max(b), *ua.max(ub)),
            (Self::Token { jti, .. }, _) => {
                Self::token(jti.clone(), self.expires_at().max(other.expires_at()))
            }
            (Self::Session { sid, .. }, _) => {
                Self::session(sid.clone(), self.expires_at().max(other.expires_at()))
            }
            (Self::User { .. }, _) => self.clone(),
        }
    }
}

/// The kinds of deny-list entries (a column in a store).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevocationKind {
    /// A token, by `jti`.
    Token,
    /// A session, by `sid`.
    Session,
    /// A user, by ID, with a not-before time.
    User,
}

impl RevocationKind {
    /// The name, as stored: `token`, `session` or `user`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Token => "token",
            Self::Session => "session",
            Self::User => "user",
        }
    }
}

/// Why the deny-list refused a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Revoked {
    /// The token itself was revoked (logout).
    #[error("the token was revoked")]
    Token,
    /// The token's session was revoked.
    #[error("the token's session was revoked")]
    Session,
    /// The user's tokens issued before a time were revoked (logout everywhere).
    #[error("the user's tokens issued before {not_before} were revoked")]
    User {
        /// Tokens issued before this are refused.
        not_before: Timestamp,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_unix(s)
    }

    #[test]
    fn merge_keeps_the_stricter_values() {
        let a = Revocation::user("u", t(10), t(100));
        let b = Revocation::user("u", t(20), t(50));
        assert_eq!(a.merge(&b), Revocation::user("u", t(20), t(100)));
        let s = Revocation::session("s", t(5)).merge(&Revocation::session("s", t(9)));
        assert_eq!(s.expires_at(), t(9));
    }

    #[test]
    fn serializes_with_a_kind_tag() {
        let json = serde_json::to_string(&Revocation::user("7", t(1), t(2))).unwrap();
        assert_eq!(
            json,
            r#"{"kind":"user","user_id":"7","not_before":1,"until":2}"#
        );
    }
}
