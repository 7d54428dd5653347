//! The errors of the remote verifier: fetching a JWKS, and verifying with it.

use std::sync::Arc;

use crate::token::TokenError;

/// Why a JWKS could not be used. Cheap to clone: the last one is kept to explain later refusals.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum JwksError {
    /// The URL does not parse, or is not `http`/`https`.
    #[error("invalid JWKS URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Plain `http://` to a host other than loopback: anyone on the path could swap the keys.
    #[error("refusing plain http for the JWKS at {url}: use https, or allow plain http explicitly")]
    PlainHttp {
        /// The URL.
        url: String,
    },
    /// The HTTP client could not be built.
    #[error("could not build the HTTP client")]
    Client(#[source] Arc<reqwest::Error>),
    /// No answer: connection refused, timeout, TLS, a body cut short.
    #[error("could not fetch the JWKS from {url}")]
    Request {
        /// The URL.
        url: String,
        /// What failed.
        #[source]
        source: Arc<reqwest::Error>,
    },
    /// An answer other than 2xx (redirects are not followed).
    #[error("the JWKS endpoint {url} answered {status}")]
    Status {
        /// The URL.
        url: String,
        /// The HTTP status.
        status: u16,
    },
    /// The body is larger than [`JwksOptions::max_bytes`].
    #[error("the JWKS from {url} is larger than {max} bytes")]
    TooLarge {
        /// The URL.
        url: String,
        /// The limit, in bytes.
        max: usize,
    },
    /// The body is not `{"keys": [...]}`.
    #[error("the JWKS from {url} is not a JSON key set")]
    Json {
        /// The URL.
        url: String,
        /// Why it does not parse.
        #[source]
        source: Arc<serde_json::Error>,
    },
    /// Not one key in the set can be trusted (see [`RemoteJwks`] for which are skipped).
    #[error("the JWKS from {url} has no usable key ({skipped} skipped)")]
    NoUsableKeys {
        /// The URL.
        url: String,
        /// How many keys were skipped.
        skipped: usize,
    },
}

/// Why [`RemoteVerifier::verify`] refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RemoteError {
    /// The token is refused (401), or a key could not be used (see
    /// [`TokenError::is_server_fault`]).
    #[error(transparent)]
    Token(#[from] TokenError),
    /// No key set has been fetched yet, so nothing can be verified (503, not the token's fault).
    #[error("the issuer's keys are not available yet")]
    Unavailable {
        /// Why the last fetch failed.
        #[source]
        last_error: Option<JwksError>,
    },
}

impl RemoteError {
    /// Whether the verifying service, not the token, is at fault.
    pub fn is_server_fault(&self) -> bool {
        match self {
            Self::Token(e) => e.is_server_fault(),
            Self::Unavailable { .. } => true,
        }
    }
}
