//! Access-token authentication: `Authorization: Bearer` (RFC 6750) and, for browsers, an
//! `HttpOnly` cookie. Never the query string.

use std::sync::Arc;

use cloakroom::auth::AuthMethod;
use cloakroom::token::TokenVerifier;
use http::HeaderMap;
use http::header::AUTHORIZATION;

use crate::CookieConfig;
use crate::layer::{AUTH_METRIC, AuthState};

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
}

impl TokenAuth {
    /// Tokens checked by `verifier`; principals are marked as authenticated by `method`
    /// ([`AuthMethod::Jwt`] or [`AuthMethod::Hybrid`]).
    pub fn new(verifier: TokenVerifier, method: AuthMethod) -> Self {
        Self {
            verifier,
            cookie: None,
            method,
        }
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

    /// The outcome for a request that presents a token; `None` when it presents none.
    pub(crate) fn authenticate(&self, headers: &HeaderMap) -> Option<AuthState> {
        let token = bearer(headers).or_else(|| self.cookie.as_ref()?.find_raw(headers))?;
        Some(match self.verifier.verify(token) {
            Ok(claims) => {
                metrics::counter!(AUTH_METRIC, "outcome" => "success").increment(1);
                AuthState::Token(Arc::new(claims))
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
        })
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
