//! Keys at rest: their IDs, their secret material, and the form a key store keeps.

use std::fmt;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair,
    RsaKeyPair,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::clock::Timestamp;
use crate::random;
use crate::token::{Algorithm, KeyError};

/// Random bytes in a generated key ID (128 bits: no two keys ever share one).
const KID_BYTES: usize = 16;
/// The longest key ID accepted from a store or a configuration.
const KID_MAX: usize = 64;

/// A key's ID, carried as `kid` in every token it signs: 128 random bits in base64url.
///
/// It names a key in a map; it is never a path, a URL or part of a query.
///
/// ```
/// use cloakroom::token::Kid;
///
/// let kid = Kid::generate()?;
/// assert_eq!(kid.as_str().len(), 22);
/// assert!(Kid::parse("../../etc/passwd").is_err());
/// # Ok::<(), cloakroom::token::KeyError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Kid(String);

impl Kid {
    /// A new, random key ID.
    pub fn generate() -> Result<Self, KeyError> {
        Ok(Self(URL_SAFE_NO_PAD.encode(random::bytes::<KID_BYTES>()?)))
    }

    /// A key ID read from a store or a configuration: 1 to 64 URL-safe characters.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let ok = !text.is_empty()
            && text.len() <= KID_MAX
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(text.to_owned()))
        } else {
            Err(KeyError::InvalidKid)
        }
    }

    /// A key ID from another issuer's JWKS, which may use any printable characters (RFC 7517
    /// leaves `kid` free-form): 1 to 256 characters, no control characters. It only ever names
    /// a key in a map.
    pub fn parse_external(text: &str) -> Result<Self, KeyError> {
        let ok = !text.is_empty() && text.len() <= 256 && !text.chars().any(char::is_control);
        if ok {
            Ok(Self(text.to_owned()))
        } else {
            Err(KeyError::InvalidKid)
        }
    }

    /// The ID as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Kid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Kid {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Kid::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A key's private material: PKCS#8 DER for RSA, ECDSA and Ed25519, the raw secret for HMAC.
///
/// `Debug` prints `[redacted]` and the bytes are wiped on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct KeyMaterial(Vec<u8>);

impl KeyMaterial {
    /// Wraps material read back from a store.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// The raw bytes, for storing. Named so that every place that reveals them is easy to find.
    pub fn expose_secret(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyMaterial([redacted])")
    }
}

/// A key as a [`KeyStore`](super::KeyStore) keeps it: one row of a table
/// `(kid TEXT PRIMARY KEY, algorithm TEXT, material BLOB, created_at INTEGER,
/// activated_at INTEGER, retire_after INTEGER NULL, retired_at INTEGER NULL)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    /// The key's ID.
    pub kid: Kid,
    /// The one algorithm the key signs and verifies with.
    pub algorithm: Algorithm,
    /// The private material.
    pub material: KeyMaterial,
    /// When the key was made.
    pub created_at: Timestamp,
    /// When the key became the signing key.
    pub activated_at: Timestamp,
    /// When the key stops verifying: set when a newer key replaces it, to the rotation time
    /// plus the longest token lifetime plus the leeway. `None` while it is the active key.
    pub retire_after: Option<Timestamp>,
    /// When the key was retired; a retired key is never loaded again.
    pub retired_at: Option<Timestamp>,
}

impl StoredKey {
    /// Generates a new key for `algorithm`, active from `now`.
    ///
    /// HMAC secrets are as long as the hash, from the operating system; RSA keys have 2048 bits.
    /// RSA generation takes a while (tens to hundreds of milliseconds): call it off async threads.
    pub fn generate(algorithm: Algorithm, now: Timestamp) -> Result<Self, KeyError> {
        let gen_err = |_| KeyError::Generate { algorithm };
        let material = match algorithm {
            Algorithm::Hs256 | Algorithm::Hs384 | Algorithm::Hs512 => {
                let len = algorithm.min_secret_len().unwrap_or(64);
                let mut secret = vec![0u8; len];
                random::fill(&mut secret)?;
                secret
            }
            Algorithm::Rs256 | Algorithm::Ps256 => RsaKeyPair::generate(KeySize::Rsa2048)
                .and_then(|k| k.as_der())
                .map_err(gen_err)?
                .as_ref()
                .to_vec(),
            Algorithm::Es256 | Algorithm::Es384 => {
                let curve = if algorithm == Algorithm::Es256 {
                    &ECDSA_P256_SHA256_FIXED_SIGNING
                } else {
                    &ECDSA_P384_SHA384_FIXED_SIGNING
                };
                EcdsaKeyPair::generate(curve)
                    .and_then(|k| k.to_pkcs8v1())
                    .map_err(gen_err)?
                    .as_ref()
                    .to_vec()
            }
            Algorithm::EdDSA => Ed25519KeyPair::generate()
                .and_then(|k| k.to_pkcs8v1())
                .map_err(gen_err)?
                .as_ref()
                .to_vec(),
        };
        Self::new(algorithm, KeyMaterial(material), now)
    }

    /// A key from a configured HMAC secret, refused if shorter than the hash.
    pub fn from_secret(
        algorithm: Algorithm,
        secret: &[u8],
        now: Timestamp,
    ) -> Result<Self, KeyError> {
        let Some(min) = algorithm.min_secret_len() else {
            return Err(KeyError::WrongMaterial { algorithm });
        };
        if secret.len() < min {
            return Err(KeyError::SecretTooShort {
                algorithm,
                min,
                actual: secret.len(),
            });
        }
        Self::new(algorithm, KeyMaterial(secret.to_vec()), now)
    }

    /// A key from an existing PKCS#8 DER private key (e.g. made with `openssl genpkey`).
    /// The material is checked when the key is loaded with [`Key::from_stored`](super::Key).
    pub fn from_pkcs8(algorithm: Algorithm, der: &[u8], now: Timestamp) -> Result<Self, KeyError> {
        if algorithm.is_symmetric() {
            return Err(KeyError::WrongMaterial { algorithm });
        }
        Self::new(algorithm, KeyMaterial(der.to_vec()), now)
    }

    fn new(algorithm: Algorithm, material: KeyMaterial, now: Timestamp) -> Result<Self, KeyError> {
        Ok(Self {
            kid: Kid::generate()?,
            algorithm,
            material,
            created_at: now,
            activated_at: now,
            retire_after: None,
            retired_at: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kids_are_random_and_url_safe() {
        let a = Kid::generate().unwrap();
        let b = Kid::generate().unwrap();
        assert_ne!(a, b);
        assert_eq!(Kid::parse(a.as_str()).unwrap(), a);
    }

    #[test]
    fn kid_parse_refuses_paths_queries_and_long_text() {
        for bad in [
            "",
            "../../etc/passwd",
            "a' OR '1'='1",
            "a b",
            "é",
            &"a".repeat(65),
        ] {
            assert!(Kid::parse(bad).is_err(), "{bad:?}");
        }
        assert!(serde_json::from_str::<Kid>("\"../x\"").is_err());
    }

    #[test]
    fn material_is_redacted() {
        let k = StoredKey::generate(Algorithm::Hs256, Timestamp::from_unix(0)).unwrap();
        assert_eq!(k.material.expose_secret().len(), 32);
        let shown = format!("{k:?}");
        assert!(shown.contains("KeyMaterial([redacted])"), "{shown}");
    }

    #[test]
    fn short_secrets_are_refused() {
        let now = Timestamp::from_unix(0);
        for (alg, min) in [
            (Algorithm::Hs256, 32),
            (Algorithm::Hs384, 48),
            (Algorithm::Hs512, 64),
        ] {
            let err = StoredKey::from_secret(alg, &vec![7u8; min - 1], now).unwrap_err();
            assert!(
                matches!(err, KeyError::SecretTooShort { min: m, actual, .. } if m == min && actual == min - 1)
            );
            assert!(err.to_string().contains("at least"));
            assert!(StoredKey::from_secret(alg, &vec![7u8; min], now).is_ok());
        }
        assert!(matches!(
            StoredKey::from_secret(Algorithm::EdDSA, &[0; 64], now),
            Err(KeyError::WrongMaterial { .. })
        ));
    }
}
