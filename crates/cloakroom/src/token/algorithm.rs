//! The signing algorithms Cloakroom supports, by their JOSE names (RFC 7518, RFC 8037).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A JWS signing algorithm. Every key is bound to exactly one; a token is verified with the
/// algorithm of the key its `kid` names, never with the one its header claims.
///
/// ```
/// use cloakroom::token::Algorithm;
///
/// assert_eq!(Algorithm::default(), Algorithm::EdDSA);
/// assert_eq!("ES256".parse::<Algorithm>()?, Algorithm::Es256);
/// assert!("none".parse::<Algorithm>().is_err());
/// # Ok::<(), cloakroom::token::UnknownAlgorithm>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Algorithm {
    /// HMAC with SHA-256; a shared secret of at least 32 bytes.
    Hs256,
    /// HMAC with SHA-384; a shared secret of at least 48 bytes.
    Hs384,
    /// HMAC with SHA-512; a shared secret of at least 64 bytes.
    Hs512,
    /// RSASSA-PKCS1-v1_5 with SHA-256; RSA keys of at least 2048 bits.
    Rs256,
    /// RSASSA-PSS with SHA-256; RSA keys of at least 2048 bits.
    Ps256,
    /// ECDSA on P-256 with SHA-256.
    Es256,
    /// ECDSA on P-384 with SHA-384.
    Es384,
    /// Ed25519 (RFC 8037): small keys, fast, deterministic. The default.
    #[default]
    EdDSA,
}

/// A name that is not one of the supported algorithms (this includes `none`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unsupported algorithm {0:?}: expected one of HS256, HS384, HS512, RS256, PS256, ES256, ES384, EdDSA"
)]
pub struct UnknownAlgorithm(pub String);

/// The smallest RSA modulus Cloakroom accepts, in bits.
pub const MIN_RSA_BITS: usize = 2048;

impl Algorithm {
    /// Every supported algorithm.
    pub const ALL: [Algorithm; 8] = [
        Self::Hs256,
        Self::Hs384,
        Self::Hs512,
        Self::Rs256,
        Self::Ps256,
        Self::Es256,
        Self::Es384,
        Self::EdDSA,
    ];

    /// The JOSE name, as it appears in `alg`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Hs256 => "HS256",
            Self::Hs384 => "HS384",
            Self::Hs512 => "HS512",
            Self::Rs256 => "RS256",
            Self::Ps256 => "PS256",
            Self::Es256 => "ES256",
            Self::Es384 => "ES384",
            Self::EdDSA => "EdDSA",
        }
    }

    /// Whether keys of this algorithm are shared secrets (and so never published).
    pub const fn is_symmetric(self) -> bool {
        matches!(self, Self::Hs256 | Self::Hs384 | Self::Hs512)
    }

    /// For HMAC, the smallest secret accepted: the hash's output length (RFC 7518 §3.2).
    pub const fn min_secret_len(self) -> Option<usize> {
        match self {
            Self::Hs256 => Some(32),
            Self::Hs384 => Some(48),
            Self::Hs512 => Some(64),
            _ => None,
        }
    }

    pub(crate) const fn to_jose(self) -> jsonwebtoken::Algorithm {
        match self {
            Self::Hs256 => jsonwebtoken::Algorithm::HS256,
            Self::Hs384 => jsonwebtoken::Algorithm::HS384,
            Self::Hs512 => jsonwebtoken::Algorithm::HS512,
            Self::Rs256 => jsonwebtoken::Algorithm::RS256,
            Self::Ps256 => jsonwebtoken::Algorithm::PS256,
            Self::Es256 => jsonwebtoken::Algorithm::ES256,
            Self::Es384 => jsonwebtoken::Algorithm::ES384,
            Self::EdDSA => jsonwebtoken::Algorithm::EdDSA,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Algorithm {
    type Err = UnknownAlgorithm;

    /// Parses a JOSE name exactly as RFC 7518 spells it: names are case-sensitive.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| UnknownAlgorithm(s.chars().take(32).collect()))
    }
}

impl Serialize for Algorithm {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Algorithm {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for alg in Algorithm::ALL {
            assert_eq!(alg.as_str().parse::<Algorithm>().unwrap(), alg);
            let json = serde_json::to_string(&alg).unwrap();
            assert_eq!(serde_json::from_str::<Algorithm>(&json).unwrap(), alg);
        }
    }

    #[test]
    fn none_and_wrong_case_are_unknown() {
        for bad in ["none", "None", "NONE", "hs256", "eddsa", "RS384", ""] {
            assert!(bad.parse::<Algorithm>().is_err(), "{bad}");
        }
    }

    #[test]
    fn only_hmac_is_symmetric() {
        let sym: Vec<_> = Algorithm::ALL
            .into_iter()
            .filter(|a| a.is_symmetric())
            .collect();
        assert_eq!(sym, [Algorithm::Hs256, Algorithm::Hs384, Algorithm::Hs512]);
    }
}
