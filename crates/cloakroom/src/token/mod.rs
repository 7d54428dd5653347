//! Signed access tokens (the passport): keys and key sets with rotation and JWKS
//! ([`keys`](self::KeyManager)), claims ([`AccessClaims`]), issuing ([`TokenIssuer`]) and
//! verification ([`TokenVerifier`]).
//!
//! A token's algorithm comes from the key its `kid` names, never from the token; `none`,
//! algorithm confusion, embedded or linked keys and `crit` are refused, and nothing a token
//! names is ever fetched. Signatures are made and checked by `jsonwebtoken` with its aws-lc-rs
//! backend.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use cloakroom::clock::{ManualClock, Timestamp};
//! use cloakroom::revocation::{DenyList, Revocation};
//! use cloakroom::token::{
//!     KeyManager, KeyPolicy, MemoryKeyStore, TokenError, TokenIssuer, TokenSubject,
//!     TokenVerifier, Validation,
//! };
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let clock = Arc::new(ManualClock::new(Timestamp::from_unix(1_700_000_000)));
//! let keys = KeyManager::open(Arc::new(MemoryKeyStore::new()), KeyPolicy::default(), clock.clone()).await?;
//! let issuer = TokenIssuer::new(keys.ring().clone(), "https://auth.example", "cloakroom", Duration::from_secs(900))
//!     .with_clock(clock.clone());
//! let deny = Arc::new(DenyList::new());
//! let verifier = TokenVerifier::new(keys.ring().clone(), Validation::new("https://auth.example", "cloakroom"))
//!     .with_deny_list(deny.clone())
//!     .with_clock(clock.clone());
//!
//! let subject = TokenSubject {
//!     user_id: "1".into(),
//!     name: "Bhaskar".into(),
//!     roles: vec!["user".into()],
//!     session: "cUdPXqLqBrYxdvTgXsQSHg".into(),
//! };
//! let issued = issuer.issue(&subject)?;
//! let claims = verifier.verify(issued.token.expose_secret())?;
//! assert_eq!(claims.name, "Bhaskar");
//!
//! // Logout: the token's jti goes on the deny-list until the token expires.
//! deny.apply(&Revocation::token(claims.jti.clone(), claims.exp));
//! assert!(matches!(verifier.verify(issued.token.expose_secret()), Err(TokenError::Revoked(_))));
//! # Ok(())
//! # }
//! ```

mod algorithm;
mod backend;
mod cache;
mod claims;
mod error;
mod header;
mod issue;
mod keys;
#[cfg(feature = "remote-jwks")]
mod remote;
mod verify;

#[cfg(test)]
mod claims_tests;

pub use algorithm::{Algorithm, MIN_RSA_BITS, UnknownAlgorithm};
#[cfg(feature = "jwt-rust-crypto")]
pub use backend::set_backend;
pub use backend::{Backend, backend};
pub use cache::{DEFAULT_VERIFIED_CACHE, DEFAULT_VERIFIED_CACHE_BYTES, VerifiedCache, entry_bytes};
pub use claims::{AccessClaims, Audience, new_jti};
pub use error::{IssueError, KeyError, TokenError, TokenPart};
pub use issue::{ACCESS_TOKEN_TYPE, AccessToken, IssuedToken, TokenIssuer, TokenSubject, sign};
pub use keys::{
    CheckError, KEK_LEN, KeyEncryptionKey, SealError, SealReport, SealedKeyStore, is_sealed,
};
pub use keys::{
    Jwk, Jwks, Key, KeyInfo, KeyManager, KeyMaterial, KeyPolicy, KeyRing, KeySet, KeyStatus,
    KeyStore, Kid, Maintenance, MemoryKeyStore, StoredKey,
};
#[cfg(feature = "remote-jwks")]
pub use remote::{JwksError, JwksOptions, RemoteError, RemoteJwks, RemoteVerifier};
pub use verify::{Inspection, MAX_TOKEN_BYTES, TokenVerifier, Validation};
