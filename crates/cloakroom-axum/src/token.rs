//! Access-token authentication: `Authorization: Bearer` (RFC 6750) and, for browsers, an
//! `HttpOnly` cookie. Never the query string.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};

use cloakroom::auth::AuthMethod;
use cloakroom::token::{AccessClaims, TokenError, TokenVerifier};
use http::HeaderMap;
use http::header::AUTHORIZATION;
use metrics::Counter;

use crate::CookieConfig;
use crate::layer::{AUTH_METRIC, AuthState, count_success};

/// How [`AuthLayer`](crate::AuthLayer) authenticates access tokens.
///
/// The token is taken from `Authorization: Bearer …` or, failing that, from the access-token
/// cookie (if one is configured). A token in the query string (`?access_token=`) is never
/// looked at: URLs end up in logs, histories and `Referer` headers.
#[derive(Debug, Clone)]
pub struct TokenAuth {
    pub(crate) verifier: TokenVerifier,
    pub(crate) cookie: Option<CookieConfig>,
    pub(crate) method: AuthMethod,
    reloader: Option<Arc<dyn KeyReloader>>,
    successes: OnceLock<Counter>,
}

/// Loads the signing keys again when a token names a `kid` the verifier does not know: another
/// node, or `cloakroom keys rotate`, made a key this process has not seen yet.
///
/// Called only on that failure, never on the hot path; the implementation decides how often a
/// reload may really happen (a cooldown), since anyone can send a made-up `kid`.
pub trait KeyReloader: Send + Sync + fmt::Debug + 'static {
    /// Reloads the keys; `true` if they may have changed, so that the token is verified once
    /// more.
    fn reload(&self) -> Pin<Box<dyn Future<Output = bool> + Send + '_>>;
}

impl TokenAuth {
    /// Tokens checked by `verifier`; principals are marked as authenticated by `method`
    /// ([`AuthMethod::Jwt`] or [`AuthMethod::Hybrid`]).
    pub fn new(verifier: TokenVerifier, method: AuthMethod) -> Self {
        Self {
            verifier,
            cookie: None,
            method,
            reloader: None,
            successes: OnceLock::new(),
        }
    }

    /// Asks `reloader` for the keys again when a token's `kid` is unknown, then verifies the
    /// token once more.
    pub fn with_key_reloader(mut self, reloader: Arc<dyn KeyReloader>) -> Self {
        self.reloader = Some(reloader);
        self
    }

    /// Also accepts the token from the cookie `cookie` describes (for browsers).
    pub fn with_cookie(mut self, cookie: CookieConfig) -> Self {
        self.cookie = Some(cookie);
        self
    }

    /// The verifier.
    pub fn verifier(&self) -> &TokenVerifier {
        &self.verifier
    }

    /// The access-token cookie, if browsers may use one.
    pub fn cookie(&self) -> Option<&CookieConfig> {
        self.cookie.as_ref()
    }

    /// The outcome for a request that presents a token; `None` when it presents none. Reloads
    /// the keys and verifies again when the token's `kid` is unknown and a reloader is set.
    pub(crate) async fn authenticate(&self, headers: &HeaderMap) -> Option<AuthState> {
        let token = self.find(headers)?;
        let mut result = self.verifier.verify_shared(token);
        if let (Err(TokenError::UnknownKid), Some(reloader)) = (&result, &self.reloader) {
            if reloader.reload().await {
                result = self.verifier.verify_shared(token);
            }
        }
        Some(self.outcome(result))
    }

    /// [`authenticate`](Self::authenticate) without the reload: what the layer settles
    /// without waiting.
    pub(crate) fn authenticate_at_once(&self, headers: &HeaderMap) -> Option<AuthState> {
        let token = self.find(headers)?;
        Some(self.outcome(self.verifier.verify_shared(token)))
    }

    /// Whether an unknown `kid` makes the keys load again.
    pub(crate) fn reloads(&self) -> bool {
        self.reloader.is_some()
    }

    /// The layer's verdict on a verification, counted by outcome.
    fn outcome(&self, result: Result<Arc<AccessClaims>, TokenError>) -> AuthState {
        match result {
            Ok(claims) => {
                count_success(&self.successes);
                AuthState::Token(claims)
            }
            Err(e) => {
                metrics::counter!(AUTH_METRIC, "outcome" => e.code()).increment(1);
                if e.is_server_fault() {
                    tracing::error!(error = %e, cause = ?std::error::Error::source(&e), "a server key could not verify a token");
                } else {
                    tracing::debug!(reason = e.code(), "refused an access token");
                }
                AuthState::InvalidToken(Arc::new(e))
            }
        }
    }

    fn find<'h>(&self, headers: &'h HeaderMap) -> Option<&'h str> {
        bearer(headers).or_else(|| self.cookie.as_ref()?.find_raw(headers))
    }
}

/// The token in `Authorization: Bearer <token>`; the scheme is case-insensitive (RFC 7235).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn bearer_parsing() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert(
            AUTHORIZATION,
            HeaderValue::from_static("Bearer abc.def.ghi"),
        );
        assert_eq!(bearer(&h), Some("abc.def.ghi"));
        h.insert(AUTHORIZATION, HeaderValue::from_static("bEaReR   abc "));
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(
            AUTHORIZATION,
            HeaderValue::from_static("Basic dXNlcjpwYXNz"),
        );
        assert_eq!(bearer(&h), None);
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert_eq!(bearer(&h), None);
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer"));
        assert_eq!(bearer(&h), None);
    }
}
