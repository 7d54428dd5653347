//! A key loaded for use: checked, parsed once, ready to sign and verify.

use std::fmt;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair,
    KeyPair, RsaKeyPair, RsaPublicKeyComponents,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{DecodingKey, EncodingKey};

use super::jwks::Jwk;
use super::{Kid, StoredKey};
use crate::clock::Timestamp;
use crate::token::algorithm::MIN_RSA_BITS;
use crate::token::{Algorithm, KeyError, TokenError, backend};

/// The public half of an asymmetric key, as JWK members and as X.509 SubjectPublicKeyInfo.
#[derive(Clone)]
pub(super) struct PublicPart {
    /// RFC 7518 / RFC 8037 members: (`n`, `e`), (`crv`, `x`, `y`) or (`crv`, `x`).
    pub(super) params: PublicParams,
    /// DER SubjectPublicKeyInfo, for tools that want a PEM (not kept for keys from a JWK).
    pub(super) spki_der: Option<Vec<u8>>,
}

#[derive(Clone)]
pub(super) enum PublicParams {
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    Ec {
        crv: &'static str,
        x: Vec<u8>,
        y: Vec<u8>,
    },
    Okp {
        x: Vec<u8>,
    },
}

/// A key, loaded: bound to one algorithm, with its material parsed and checked (sizes,
/// curves), and its validity period. Shared between threads behind an `Arc` in a
/// [`KeySet`](super::KeySet).
#[derive(Clone)]
pub struct Key {
    /// Process-unique, shared by clones: names this key's cached verifiers.
    pub(super) id: u64,
    /// SHA-256 of the algorithm and the verifying material: the same for every load of the
    /// same key, different for any other key, even one that reuses the `kid`. The verified-token
    /// cache accepts an entry only while the ring still holds a key with this fingerprint.
    pub(super) fingerprint: [u8; 32],
    pub(super) kid: Kid,
    pub(super) algorithm: Algorithm,
    pub(super) encoding: Option<EncodingKey>,
    pub(super) decoding: DecodingKey,
    pub(super) public: Option<PublicPart>,
    pub(super) created_at: Timestamp,
    pub(super) activated_at: Timestamp,
    pub(super) retire_after: Option<Timestamp>,
}

impl Key {
    /// Loads a stored key, refusing material that does not fit its algorithm, RSA keys under
    /// 2048 bits and HMAC secrets shorter than their hash.
    pub fn from_stored(stored: &StoredKey) -> Result<Self, KeyError> {
        let algorithm = stored.algorithm;
        let der = stored.material.expose_secret();
        let invalid = |source: Box<dyn std::error::Error + Send + Sync>| KeyError::InvalidKey {
            kid: stored.kid.to_string(),
            algorithm,
            source,
        };
        let (encoding, decoding, public) = match algorithm {
            Algorithm::Hs256 | Algorithm::Hs384 | Algorithm::Hs512 => {
                let min = algorithm.min_secret_len().unwrap_or(64);
                if der.len() < min {
                    return Err(KeyError::SecretTooShort {
                        algorithm,
                        min,
                        actual: der.len(),
                    });
                }
                (
                    EncodingKey::from_secret(der),
                    DecodingKey::from_secret(der),
                    None,
                )
            }
            Algorithm::EdDSA => {
                let pair = Ed25519KeyPair::from_pkcs8(der).map_err(|e| invalid(Box::new(e)))?;
                let x = pair.public_key().as_ref().to_vec();
                let spki = pair
                    .public_key()
                    .as_der()
                    .map_err(|e| invalid(Box::new(e)))?;
                (
                    EncodingKey::from_ed_der(der),
                    DecodingKey::from_ed_der(&x),
                    Some(PublicPart {
                        params: PublicParams::Okp { x },
                        spki_der: Some(spki.as_ref().to_vec()),
                    }),
                )
            }
            Algorithm::Es256 | Algorithm::Es384 => {
                let (curve, crv, coord) = if algorithm == Algorithm::Es256 {
                    (&ECDSA_P256_SHA256_FIXED_SIGNING, "P-256", 32)
                } else {
                    (&ECDSA_P384_SHA384_FIXED_SIGNING, "P-384", 48)
                };
                // Refuses a key on another curve than the algorithm's.
                let pair =
                    EcdsaKeyPair::from_pkcs8(curve, der).map_err(|e| invalid(Box::new(e)))?;
                let point = pair.public_key().as_ref();
                // Uncompressed SEC1 point: 0x04 || x || y.
                if point.len() != 1 + 2 * coord || point[0] != 4 {
                    return Err(invalid("unexpected public point encoding".into()));
                }
                let spki = pair
                    .public_key()
                    .as_der()
                    .map_err(|e| invalid(Box::new(e)))?;
                (
                    EncodingKey::from_ec_der(der),
                    DecodingKey::from_ec_der(point),
                    Some(PublicPart {
                        params: PublicParams::Ec {
                            crv,
                            x: point[1..=coord].to_vec(),
                            y: point[1 + coord..].to_vec(),
                        },
                        spki_der: Some(spki.as_ref().to_vec()),
                    }),
                )
            }
            Algorithm::Rs256 | Algorithm::Ps256 => {
                let pair = RsaKeyPair::from_pkcs8(der).map_err(|e| invalid(Box::new(e)))?;
                let bits = pair.public_modulus_len() * 8;
                if bits < MIN_RSA_BITS {
                    return Err(KeyError::RsaTooSmall { bits });
                }
                // jsonwebtoken signs with PKCS#1 RSAPrivateKey, which PKCS#8 wraps.
                let info = pkcs8::PrivateKeyInfo::try_from(der)
                    .map_err(|e| invalid(e.to_string().into()))?;
                let components = RsaPublicKeyComponents::<Vec<u8>>::from(pair.public_key());
                let spki = pair
                    .public_key()
                    .as_der()
                    .map_err(|e| invalid(Box::new(e)))?;
                (
                    EncodingKey::from_rsa_der(info.private_key),
                    DecodingKey::from_rsa_raw_components(&components.n, &components.e),
                    Some(PublicPart {
                        params: PublicParams::Rsa {
                            n: components.n,
                            e: components.e,
                        },
                        spki_der: Some(spki.as_ref().to_vec()),
                    }),
                )
            }
        };
        Ok(Self {
            id: backend::next_key_id(),
            fingerprint: fingerprint(algorithm, &decoding),
            kid: stored.kid.clone(),
            algorithm,
            encoding: Some(encoding),
            decoding,
            public,
            created_at: stored.created_at,
            activated_at: stored.activated_at,
            retire_after: stored.retire_after,
        })
    }

    /// Checks a raw JWS signature over `signing_input` (`header.payload`) with this key and its
    /// algorithm, and nothing else: no header, no claims. For interoperability tests and tools;
    /// tokens go through [`TokenVerifier`](crate::token::TokenVerifier).
    pub fn verify_signature(
        &self,
        signing_input: &[u8],
        signature: &[u8],
    ) -> Result<(), TokenError> {
        let valid = backend::verify(
            self.id,
            self.algorithm,
            &self.decoding,
            signing_input,
            &signature.to_vec(),
        )
        .map_err(TokenError::Crypto)?;
        if valid {
            Ok(())
        } else {
            Err(TokenError::BadSignature)
        }
    }

    /// Whether this key can sign (keys from a JWK cannot).
    pub fn can_sign(&self) -> bool {
        self.encoding.is_some()
    }

    /// The key's ID.
    pub fn kid(&self) -> &Kid {
        &self.kid
    }

    /// The one algorithm this key signs and verifies with.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// When the key was made.
    pub fn created_at(&self) -> Timestamp {
        self.created_at
    }

    /// When the key became the signing key.
    pub fn activated_at(&self) -> Timestamp {
        self.activated_at
    }

    /// When the key stops verifying (`None` while it is the signing key).
    pub fn retire_after(&self) -> Option<Timestamp> {
        self.retire_after
    }

    /// Whether the key has stopped verifying at `now`.
    pub fn is_retired_at(&self, now: Timestamp) -> bool {
        self.retire_after.is_some_and(|t| t <= now)
    }

    /// The public key as DER SubjectPublicKeyInfo; `None` for HMAC keys, which have no public
    /// half, and for keys loaded from a JWK.
    pub fn public_key_der(&self) -> Option<&[u8]> {
        self.public.as_ref().and_then(|p| p.spki_der.as_deref())
    }

    /// The public key as a JWK (RFC 7517) with `kid`, `alg` and `use: "sig"`; `None` for HMAC
    /// keys, which are never published.
    pub fn to_jwk(&self) -> Option<Jwk> {
        let public = self.public.as_ref()?;
        let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
        let mut jwk = Jwk {
            kty: String::new(),
            key_use: Some("sig".to_owned()),
            alg: Some(self.algorithm.as_str().to_owned()),
            kid: self.kid.to_string(),
            crv: None,
            n: None,
            e: None,
            x: None,
            y: None,
        };
        match &public.params {
            PublicParams::Rsa { n, e } => {
                jwk.kty = "RSA".to_owned();
                jwk.n = Some(b64(n));
                jwk.e = Some(b64(e));
            }
            PublicParams::Ec { crv, x, y } => {
                jwk.kty = "EC".to_owned();
                jwk.crv = Some((*crv).to_owned());
                jwk.x = Some(b64(x));
                jwk.y = Some(b64(y));
            }
            PublicParams::Okp { x } => {
                jwk.kty = "OKP".to_owned();
                jwk.crv = Some("Ed25519".to_owned());
                jwk.x = Some(b64(x));
            }
        }
        Some(jwk)
    }

    /// The same key, to stop verifying at `at` (or never, while it signs).
    pub(crate) fn with_retire_after(&self, at: Option<Timestamp>) -> Self {
        let mut key = self.clone();
        key.retire_after = at;
        key
    }

    pub(crate) fn encoding(&self) -> Option<&EncodingKey> {
        self.encoding.as_ref()
    }

    pub(crate) fn decoding(&self) -> &DecodingKey {
        &self.decoding
    }

    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// See the field: what the verified-token cache checks a cached token's key by.
    pub(crate) fn fingerprint(&self) -> &[u8; 32] {
        &self.fingerprint
    }
}

/// SHA-256 over the algorithm and the material a key verifies with, each length-prefixed so
/// that no two different keys hash the same input. One-way: it reveals nothing of an HMAC
/// secret.
pub(super) fn fingerprint(algorithm: Algorithm, decoding: &DecodingKey) -> [u8; 32] {
    use jsonwebtoken::DecodingKeyKind;
    use sha2::{Digest as _, Sha256};
    let mut h = Sha256::new();
    let mut part = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_be_bytes());
        h.update(bytes);
    };
    part(b"cloakroom key fingerprint v1");
    part(algorithm.as_str().as_bytes());
    match decoding.kind() {
        DecodingKeyKind::SecretOrDer(bytes) => part(bytes),
        DecodingKeyKind::RsaModulusExponent { n, e } => {
            part(n);
            part(e);
        }
    }
    h.finalize().into()
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("can_sign", &self.encoding.is_some())
            .field("created_at", &self.created_at)
            .field("activated_at", &self.activated_at)
            .field("retire_after", &self.retire_after)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(alg: Algorithm) -> Key {
        Key::from_stored(&StoredKey::generate(alg, Timestamp::from_unix(100)).unwrap()).unwrap()
    }

    #[test]
    fn every_algorithm_generates_and_loads() {
        for alg in Algorithm::ALL {
            let key = load(alg);
            assert_eq!(key.algorithm(), alg);
            assert_eq!(key.to_jwk().is_none(), alg.is_symmetric());
            assert_eq!(key.public_key_der().is_none(), alg.is_symmetric());
        }
    }

    #[test]
    fn material_of_another_algorithm_is_refused() {
        let now = Timestamp::from_unix(0);
        let ed = StoredKey::generate(Algorithm::EdDSA, now).unwrap();
        for alg in [Algorithm::Es256, Algorithm::Es384, Algorithm::Rs256] {
            let mut wrong = ed.clone();
            wrong.algorithm = alg;
            assert!(matches!(
                Key::from_stored(&wrong),
                Err(KeyError::InvalidKey { .. })
            ));
        }
        let mut p256_as_p384 = StoredKey::generate(Algorithm::Es256, now).unwrap();
        p256_as_p384.algorithm = Algorithm::Es384;
        assert!(Key::from_stored(&p256_as_p384).is_err());
    }

    #[test]
    fn cached_verifiers_never_mix_keys() {
        // More keys than a thread caches, each checked against its own and a neighbour's MAC.
        let keys: Vec<Key> = (0..12).map(|_| load(Algorithm::Hs256)).collect();
        let msg = b"header.payload";
        let sigs: Vec<Vec<u8>> = keys
            .iter()
            .map(|k| backend::sign(k.algorithm(), k.encoding().unwrap(), msg).unwrap())
            .collect();
        for round in 0..3 {
            for (i, key) in keys.iter().enumerate() {
                assert!(key.verify_signature(msg, &sigs[i]).is_ok(), "{round} {i}");
                let other = &sigs[(i + 1) % sigs.len()];
                assert!(key.verify_signature(msg, other).is_err(), "{round} {i}");
            }
        }
    }

    #[test]
    fn debug_shows_no_material() {
        let key = load(Algorithm::Hs256);
        let shown = format!("{key:?}");
        assert!(shown.starts_with("Key {"), "{shown}");
        assert!(!shown.contains("material"));
    }
}
