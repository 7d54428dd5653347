//! Issuing access tokens.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::claims::new_jti;
use super::{AccessClaims, Audience, IssueError, Key, KeyRing, backend};
use crate::clock::{SharedClock, SystemClock, Timestamp};

/// The `typ` of every access token (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";

/// A signed access token, as the client holds it: a bearer credential, so `Debug` prints
/// `[redacted]` and the text is wiped on drop.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct AccessToken(String);

impl AccessToken {
    /// The token text (compact JWS). Named so that every place that reveals it is easy to find.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken([redacted])")
    }
}

/// Who a token is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSubject {
    /// The user's ID (`sub`).
    pub user_id: String,
    /// The user's name (`name`).
    pub name: String,
    /// The user's roles (`roles`).
    pub roles: Vec<String>,
    /// The public handle of the session the token belongs to (`sid`).
    pub session: String,
}

/// A token just issued, with what it says.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// The token, for the client.
    pub token: AccessToken,
    /// Its claims.
    pub claims: AccessClaims,
}

impl IssuedToken {
    /// Seconds until it expires, for `expires_in`.
    pub fn expires_in(&self) -> Duration {
        self.claims.exp.since(self.claims.iat)
    }
}

/// Issues access tokens signed by the active key of a [`KeyRing`]. Cheap to clone.
#[derive(Debug, Clone)]
pub struct TokenIssuer {
    keys: KeyRing,
    issuer: Arc<str>,
    audience: Arc<str>,
    ttl: Duration,
    clock: SharedClock,
}

impl TokenIssuer {
    /// Tokens from `issuer` (the server's public URL) for `audience`, valid for `ttl`.
    pub fn new(
        keys: KeyRing,
        issuer: impl Into<String>,
        audience: impl Into<String>,
        ttl: Duration,
    ) -> Self {
        Self {
            keys,
            issuer: Arc::from(issuer.into()),
            audience: Arc::from(audience.into()),
            ttl,
            clock: Arc::new(SystemClock),
        }
    }

    /// The same issuer reading time from `clock`.
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// How long tokens are valid.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The claims a token for `subject` issued at `now` carries, with a new `jti`.
    pub fn claims_for(
        &self,
        subject: &TokenSubject,
        now: Timestamp,
    ) -> Result<AccessClaims, IssueError> {
        Ok(AccessClaims {
            iss: self.issuer.to_string(),
            sub: subject.user_id.clone(),
            aud: Audience::one(self.audience.to_string()),
            exp: now.saturating_add(self.ttl),
            nbf: None,
            iat: now,
            jti: new_jti()?,
            sid: subject.session.clone(),
            name: subject.name.clone(),
            roles: subject.roles.clone(),
        })
    }

    /// Issues a token for `subject`, signed by the active key.
    pub fn issue(&self, subject: &TokenSubject) -> Result<IssuedToken, IssueError> {
        self.issue_at(subject, self.clock.now())
    }

    /// The current time, by this issuer's clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Issues a token for `subject` as of `now` (`iat`; `exp` follows from the TTL).
    pub fn issue_at(
        &self,
        subject: &TokenSubject,
        now: Timestamp,
    ) -> Result<IssuedToken, IssueError> {
        let claims = self.claims_for(subject, now)?;
        let keys = self.keys.snapshot();
        let token = sign(keys.active(), &claims)?;
        Ok(IssuedToken { token, claims })
    }
}

#[derive(Serialize)]
struct SigningHeader<'a> {
    alg: &'static str,
    typ: &'static str,
    kid: &'a str,
}

/// Signs `claims` with `key`: header `{"alg", "typ": "at+jwt", "kid"}`, compact JWS.
pub fn sign(key: &Key, claims: &AccessClaims) -> Result<AccessToken, IssueError> {
    let encoding = key.encoding().ok_or_else(|| IssueError::CannotSign {
        kid: key.kid().to_string(),
    })?;
    let header = serde_json::to_vec(&SigningHeader {
        alg: key.algorithm().as_str(),
        typ: ACCESS_TOKEN_TYPE,
        kid: key.kid().as_str(),
    })?;
    let payload = serde_json::to_vec(claims)?;
    let mut token = String::with_capacity((header.len() + payload.len()) * 4 / 3 + 400);
    URL_SAFE_NO_PAD.encode_string(&header, &mut token);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(&payload, &mut token);
    let signature = backend::sign(key.algorithm(), encoding, token.as_bytes())?;
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(&signature, &mut token);
    Ok(AccessToken(token))
}
