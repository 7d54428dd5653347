//! Verifying another issuer's tokens through its JWKS URL: the explainer's microservice case,
//! where a service checks Cloakroom's tokens without sharing its database.
//!
//! [`RemoteJwks`] fetches the key set from the one URL the operator configured, keeps the
//! public keys it can trust, and fetches again when a token names a `kid` it does not know, at
//! most once per cooldown, so a flood of made-up `kid`s cannot turn into a flood of requests.
//! [`RemoteVerifier`] checks tokens against it with the same strict rules as
//! [`TokenVerifier`]; nothing a token names (`jku`, `x5u`) is ever fetched.
//!
//! ```no_run
//! use cloakroom::token::{JwksOptions, RemoteVerifier, Validation};
//!
//! # async fn run(token: &str) -> Result<(), Box<dyn std::error::Error>> {
//! let verifier = RemoteVerifier::connect(
//!     "http://127.0.0.1:8080/.well-known/jwks.json",
//!     Validation::new("http://127.0.0.1:8080", "cloakroom"),
//!     JwksOptions::default(),
//! )
//! .await?;
//! let claims = verifier.verify(token).await?;
//! println!("hello, {}", claims.name);
//! # Ok(())
//! # }
//! ```
//!
//! `https://` URLs go through rustls with the Web PKI roots compiled in (nothing is read from
//! the system or downloaded at run time); plain `http://` is refused except on loopback,
//! unless [`JwksOptions::allow_plain_http`] says otherwise.

mod error;
mod jwks;
mod keys;

use std::sync::{Arc, OnceLock};

pub use error::{JwksError, RemoteError};
pub use jwks::{JwksOptions, RemoteJwks};

use super::{AccessClaims, TokenError, TokenVerifier, Validation};
use crate::revocation::DenyList;

/// Verifies tokens with the keys of a [`RemoteJwks`], by the rules of [`TokenVerifier`]. Cheap
/// to clone.
///
/// A token whose `kid` is unknown makes it fetch the JWKS again (at most once per cooldown) and
/// try once more; nothing else a token says leads to a request.
#[derive(Debug, Clone)]
pub struct RemoteVerifier {
    jwks: RemoteJwks,
    validation: Validation,
    deny: Option<Arc<DenyList>>,
    /// Made on the first good fetch, over the ring that later fetches update.
    verifier: Arc<OnceLock<TokenVerifier>>,
}

impl RemoteVerifier {
    /// A verifier of tokens signed by the keys at `jwks` that meet `validation`. Nothing is
    /// fetched until the first token (or [`RemoteJwks::refresh`]).
    pub fn new(jwks: RemoteJwks, validation: Validation) -> Self {
        Self {
            jwks,
            validation,
            deny: None,
            verifier: Arc::new(OnceLock::new()),
        }
    }

    /// A verifier of the keys at `url`, fetched now: fails if they cannot be.
    pub async fn connect(
        url: &str,
        validation: Validation,
        options: JwksOptions,
    ) -> Result<Self, JwksError> {
        let jwks = RemoteJwks::new(url, options)?;
        jwks.refresh().await?;
        Ok(Self::new(jwks, validation))
    }

    /// The same verifier, also refusing what `deny` lists.
    pub fn with_deny_list(mut self, deny: Arc<DenyList>) -> Self {
        self.deny = Some(deny);
        self.verifier = Arc::new(OnceLock::new());
        self
    }

    /// The key cache.
    pub fn jwks(&self) -> &RemoteJwks {
        &self.jwks
    }

    /// Verifies `token`: with the cached keys, or once more after a fetch if its `kid` is
    /// unknown and the cooldown allows.
    pub async fn verify(&self, token: &str) -> Result<AccessClaims, RemoteError> {
        let now = self.jwks.now();
        self.jwks.refresh_if_stale(now);
        let seen = self.jwks.generation();
        let verifier = match self.verifier() {
            Some(verifier) => verifier,
            None => {
                self.jwks.refetch(seen).await;
                self.verifier().ok_or_else(|| RemoteError::Unavailable {
                    last_error: self.jwks.last_error(),
                })?
            }
        };
        match verifier.verify_at(token, now) {
            Err(TokenError::UnknownKid) if self.jwks.refetch(seen).await => {
                Ok(verifier.verify_at(token, now)?)
            }
            result => Ok(result?),
        }
    }

    fn verifier(&self) -> Option<&TokenVerifier> {
        let ring = self.jwks.ring()?;
        Some(self.verifier.get_or_init(|| {
            let verifier = TokenVerifier::new(ring.clone(), self.validation.clone())
                .with_clock(self.jwks.clock().clone());
            match &self.deny {
                Some(deny) => verifier.with_deny_list(deny.clone()),
                None => verifier,
            }
        }))
    }
}
