//! The errors of the token layer: keys ([`KeyError`]), issuing ([`IssueError`]) and
//! verification ([`TokenError`]).

use crate::clock::Timestamp;
use crate::random::RandomError;
use crate::revocation::Revoked;
use crate::store::{BoxError, StoreError};

use super::Algorithm;

/// What can go wrong with keys: generating, loading, rotating.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// A configured HMAC secret is shorter than the hash (RFC 7518 §3.2).
    #[error(
        "the {algorithm} secret is {actual} bytes long; it must be at least {min} bytes (the hash's length)"
    )]
    SecretTooShort {
        /// The algorithm the secret is for.
        algorithm: Algorithm,
        /// The smallest length accepted, in bytes.
        min: usize,
        /// The length given, in bytes.
        actual: usize,
    },
    /// An RSA key below 2048 bits.
    #[error("the RSA key has {bits} bits; at least 2048 are required")]
    RsaTooSmall {
        /// The modulus size, in bits.
        bits: usize,
    },
    /// A secret was given for an asymmetric algorithm, or a private key for HMAC.
    #[error("{algorithm} does not take this kind of key material")]
    WrongMaterial {
        /// The algorithm.
        algorithm: Algorithm,
    },
    /// The key material cannot be parsed for its algorithm (corrupt, or another key type).
    #[error("key {kid:?} is not a valid {algorithm} key")]
    InvalidKey {
        /// The key's ID.
        kid: String,
        /// The algorithm the key is recorded for.
        algorithm: Algorithm,
        /// Why it was refused.
        #[source]
        source: BoxError,
    },
    /// A key ID that is empty, too long, or not URL-safe.
    #[error("invalid key ID: 1 to 64 characters of A-Z, a-z, 0-9, '-' and '_' are allowed")]
    InvalidKid,
    /// Generating a key failed in the crypto library.
    #[error("could not generate a {algorithm} key")]
    Generate {
        /// The algorithm of the key being generated.
        algorithm: Algorithm,
    },
    /// The key store holds no usable key and none could be made.
    #[error("there is no active signing key")]
    NoActiveKey,
    /// The operating system's random number generator failed.
    #[error(transparent)]
    Random(#[from] RandomError),
    /// The key store failed.
    #[error("the key store failed")]
    Store(#[from] StoreError),
    /// A blocking task (key generation) was cancelled or panicked.
    #[error("key generation did not finish")]
    Join(#[source] BoxError),
}

/// What can go wrong when issuing a token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IssueError {
    /// The key has only its public half (e.g. it came from a JWKS) and cannot sign.
    #[error("key {kid:?} cannot sign: it has no private material")]
    CannotSign {
        /// The key's ID.
        kid: String,
    },
    /// The claims could not be serialized.
    #[error("the claims could not be serialized")]
    Json(#[from] serde_json::Error),
    /// The crypto library refused to sign.
    #[error("signing failed")]
    Crypto(#[from] jsonwebtoken::errors::Error),
    /// The operating system's random number generator failed (for the `jti`).
    #[error(transparent)]
    Random(#[from] RandomError),
}

/// Which part of a compact JWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPart {
    /// The protected header, first.
    Header,
    /// The claims, second.
    Payload,
    /// The signature, third.
    Signature,
}

impl std::fmt::Display for TokenPart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Header => "header",
            Self::Payload => "payload",
            Self::Signature => "signature",
        })
    }
}

/// Why a token was refused. Variants are listed in the order verification checks them; the
/// message is fit for RFC 6750's `error_description` and for `cloakroom token inspect`.
///
/// Every variant but [`Crypto`](Self::Crypto) is the token's fault (401); `Crypto` means a key
/// of ours is unusable, which is the server's.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The token is longer than the limit (checked before anything else is read).
    #[error("the token is {len} bytes long; at most {max} are accepted")]
    TooLarge {
        /// The token's length in bytes.
        len: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// Not three non-empty base64url parts separated by dots.
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// A part is not canonical base64url without padding.
    #[error("the token's {0} is not valid base64url")]
    BadEncoding(TokenPart),
    /// The header is not a JSON object with a string `alg` (and string `kid` and `typ`, if any),
    /// or repeats a member.
    #[error("invalid token header: {0}")]
    BadHeader(String),
    /// `alg` is `none`, in any spelling: unsigned tokens are never accepted.
    #[error("unsigned tokens (alg \"none\") are not accepted")]
    AlgorithmNone,
    /// The header carries a key or a key location (`jwk`, `jku`, `x5u`, `x5c`): keys come only
    /// from this server's key set, and nothing a token names is ever fetched.
    #[error("the token header must not carry \"{0}\": keys come only from the server's key set")]
    ForbiddenHeader(&'static str),
    /// The header has `crit`: no extension is understood, so RFC 7515 §4.1.11 says refuse.
    #[error("the token header lists critical extensions (\"crit\") that are not supported")]
    UnsupportedCritical,
    /// The header has no `kid`.
    #[error("the token header has no key ID (\"kid\")")]
    MissingKid,
    /// No key of this server has the token's `kid`.
    #[error("the token was signed with an unknown key")]
    UnknownKid,
    /// The key was retired: every token it signed has expired.
    #[error("the token was signed with a retired key")]
    KeyRetired,
    /// The header's `alg` is not the algorithm the key is bound to.
    #[error("the token's algorithm {found:?} is not the key's algorithm {expected}")]
    AlgorithmMismatch {
        /// The key's algorithm.
        expected: Algorithm,
        /// The header's `alg`, shortened.
        found: String,
    },
    /// The signature does not match the header and payload under the key.
    #[error("the token's signature is invalid")]
    BadSignature,
    /// `typ` is missing (RFC 9068 requires `at+jwt`).
    #[error("the token header has no type (\"typ\"); access tokens are \"at+jwt\"")]
    MissingType,
    /// `typ` is not `at+jwt`: another kind of JWT (an ID token, say) is not an access token.
    #[error("the token's type is not \"at+jwt\"")]
    WrongType,
    /// The payload is not a JSON object, or repeats a claim.
    #[error("invalid token claims: {0}")]
    BadClaims(String),
    /// A claim has the wrong JSON type (a string `exp`, a number `aud`, …).
    #[error("the claim \"{claim}\" has the wrong type: {reason}")]
    InvalidClaim {
        /// The claim's name.
        claim: &'static str,
        /// What was wrong with it.
        reason: String,
    },
    /// A required claim is absent.
    #[error("the token has no \"{0}\" claim")]
    MissingClaim(&'static str),
    /// `iss` is not this server.
    #[error("the token was issued by someone else (\"iss\")")]
    WrongIssuer,
    /// `aud` does not include this audience.
    #[error("the token is meant for another audience (\"aud\")")]
    WrongAudience,
    /// `exp` has passed (beyond the leeway).
    #[error("the token expired at {exp}")]
    Expired {
        /// The token's `exp`.
        exp: Timestamp,
    },
    /// `nbf` is still ahead (beyond the leeway).
    #[error("the token is not valid before {nbf}")]
    NotYetValid {
        /// The token's `nbf`.
        nbf: Timestamp,
    },
    /// `iat` is in the future (beyond the leeway).
    #[error("the token claims to be issued in the future, at {iat}")]
    IssuedInFuture {
        /// The token's `iat`.
        iat: Timestamp,
    },
    /// The token, its session or its user was revoked.
    #[error(transparent)]
    Revoked(#[from] Revoked),
    /// A key of this server could not be used by the crypto library: not the token's fault.
    #[error("a server key could not be used")]
    Crypto(#[source] jsonwebtoken::errors::Error),
}

impl TokenError {
    /// A short, stable code for logs and metrics (`expired`, `bad_signature`, …).
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "too_large",
            Self::Malformed(_) => "malformed",
            Self::BadEncoding(_) => "bad_encoding",
            Self::BadHeader(_) => "bad_header",
            Self::AlgorithmNone => "alg_none",
            Self::ForbiddenHeader(_) => "forbidden_header",
            Self::UnsupportedCritical => "unsupported_crit",
            Self::MissingKid => "missing_kid",
            Self::UnknownKid => "unknown_kid",
            Self::KeyRetired => "key_retired",
            Self::AlgorithmMismatch { .. } => "alg_mismatch",
            Self::BadSignature => "bad_signature",
            Self::MissingType => "missing_typ",
            Self::WrongType => "wrong_typ",
            Self::BadClaims(_) => "bad_claims",
            Self::InvalidClaim { .. } => "invalid_claim",
            Self::MissingClaim(_) => "missing_claim",
            Self::WrongIssuer => "wrong_issuer",
            Self::WrongAudience => "wrong_audience",
            Self::Expired { .. } => "expired",
            Self::NotYetValid { .. } => "not_yet_valid",
            Self::IssuedInFuture { .. } => "issued_in_future",
            Self::Revoked(_) => "revoked",
            Self::Crypto(_) => "server_key",
        }
    }

    /// Whether the server, not the token, is at fault (a 500 rather than a 401).
    pub fn is_server_fault(&self) -> bool {
        matches!(self, Self::Crypto(_))
    }
}

/// Shortens text taken from a token before it goes into an error message or a log.
pub(crate) fn shorten(s: &str) -> String {
    s.chars().take(32).collect()
}
