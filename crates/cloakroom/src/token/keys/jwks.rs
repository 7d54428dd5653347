//! JSON Web Key Sets (RFC 7517): the public keys other services verify tokens with.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::DecodingKey;
use serde::{Deserialize, Serialize};

use super::key::{PublicParams, PublicPart};
use super::{Key, Kid};
use crate::clock::Timestamp;
use crate::token::algorithm::MIN_RSA_BITS;
use crate::token::{Algorithm, KeyError};

/// One public key, as `GET /.well-known/jwks.json` lists it. Members that do not apply to the
/// key type are left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// Key type: `RSA`, `EC` or `OKP`.
    pub kty: String,
    /// `sig`: these keys only verify signatures (always present in Cloakroom's JWKS).
    #[serde(rename = "use", default, skip_serializing_if = "Option::is_none")]
    pub key_use: Option<String>,
    /// The one algorithm the key is for (`RS256`, `ES256`, `EdDSA`, …; always present in
    /// Cloakroom's JWKS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// The key ID tokens name in their header.
    pub kid: String,
    /// The curve (`P-256`, `P-384`, `Ed25519`), for `EC` and `OKP` keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// The RSA modulus, base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// The RSA public exponent, base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    /// The x coordinate (`EC`) or the public key (`OKP`), base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// The y coordinate (`EC`), base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
}

/// A JWK Set: `{"keys": [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwks {
    /// The keys, the signing key first.
    pub keys: Vec<Jwk>,
}

impl Jwks {
    /// The key named `kid`, if listed.
    pub fn get(&self, kid: &str) -> Option<&Jwk> {
        self.keys.iter().find(|k| k.kid == kid)
    }
}

impl Key {
    /// A verify-only key from a public JWK (e.g. another issuer's JWKS, or a test vector). Its
    /// algorithm is the JWK's `alg`, or `default_algorithm` if the JWK has none; it must fit
    /// the key type and curve. HMAC (`oct`) keys and RSA keys under 2048 bits are refused.
    pub fn from_public_jwk(
        jwk: &Jwk,
        default_algorithm: Option<Algorithm>,
    ) -> Result<Self, KeyError> {
        let kid = Kid::parse_external(&jwk.kid)?;
        let named = jwk.alg.as_deref().map(str::parse::<Algorithm>).transpose();
        let algorithm = match named {
            Ok(Some(alg)) => alg,
            Ok(None) => default_algorithm.ok_or_else(|| KeyError::InvalidKey {
                kid: jwk.kid.clone(),
                algorithm: Algorithm::default(),
                source: "the JWK names no \"alg\" and no default was given".into(),
            })?,
            Err(e) => {
                return Err(KeyError::InvalidKey {
                    kid: jwk.kid.clone(),
                    algorithm: default_algorithm.unwrap_or_default(),
                    source: Box::new(e),
                });
            }
        };
        let invalid = |why: &str| KeyError::InvalidKey {
            kid: jwk.kid.clone(),
            algorithm,
            source: why.into(),
        };
        if jwk.key_use.as_deref().is_some_and(|u| u != "sig") {
            return Err(invalid("the key's \"use\" is not \"sig\""));
        }
        let b64 = |v: &Option<String>, name: &str| {
            let text = v
                .as_deref()
                .ok_or_else(|| invalid(&format!("missing \"{name}\"")))?;
            URL_SAFE_NO_PAD
                .decode(text)
                .map_err(|_| invalid(&format!("\"{name}\" is not base64url")))
        };
        let (decoding, params) = match (jwk.kty.as_str(), algorithm, jwk.crv.as_deref()) {
            ("RSA", Algorithm::Rs256 | Algorithm::Ps256, _) => {
                let (n, e) = (b64(&jwk.n, "n")?, b64(&jwk.e, "e")?);
                let significant = n.iter().skip_while(|b| **b == 0).count();
                if significant * 8 < MIN_RSA_BITS {
                    return Err(KeyError::RsaTooSmall {
                        bits: significant * 8,
                    });
                }
                let decoding = DecodingKey::from_rsa_raw_components(&n, &e);
                (decoding, PublicParams::Rsa { n, e })
            }
            ("EC", Algorithm::Es256, Some(crv @ "P-256"))
            | ("EC", Algorithm::Es384, Some(crv @ "P-384")) => {
                let coord = if crv == "P-256" { 32 } else { 48 };
                let (x, y) = (b64(&jwk.x, "x")?, b64(&jwk.y, "y")?);
                if x.len() != coord || y.len() != coord {
                    return Err(invalid("the coordinates do not fit the curve"));
                }
                let point = [&[4u8][..], &x, &y].concat();
                let crv = if coord == 32 { "P-256" } else { "P-384" };
                (
                    DecodingKey::from_ec_der(&point),
                    PublicParams::Ec { crv, x, y },
                )
            }
            ("OKP", Algorithm::EdDSA, Some("Ed25519")) => {
                let x = b64(&jwk.x, "x")?;
                if x.len() != 32 {
                    return Err(invalid("an Ed25519 key is 32 bytes"));
                }
                if is_small_order_ed25519(&x) {
                    // Under such a key, R = identity and S = 0 verify every message.
                    return Err(invalid("an Ed25519 key of small order"));
                }
                (DecodingKey::from_ed_der(&x), PublicParams::Okp { x })
            }
            _ => return Err(invalid("the key type or curve does not fit the algorithm")),
        };
        Ok(Self {
            id: crate::token::backend::next_key_id(),
            fingerprint: super::key::fingerprint(algorithm, &decoding),
            kid,
            algorithm,
            encoding: None,
            decoding,
            public: Some(PublicPart {
                params,
                spki_der: None,
            }),
            created_at: Timestamp::from_unix(0),
            activated_at: Timestamp::from_unix(0),
            retire_after: None,
        })
    }
}

/// Whether a 32-byte Ed25519 public key encodes a point of order 1, 2, 4 or 8, whatever its sign
/// bit: the `y` of every torsion point, and the non-canonical encodings `p` (of 0) and `p + 1`
/// (of 1). The list is libsodium's (`has_small_order`).
fn is_small_order_ed25519(x: &[u8]) -> bool {
    const SMALL_ORDER: [&str; 7] = [
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0100000000000000000000000000000000000000000000000000000000000000",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    ];
    let hex: String = x
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let b = if i == 31 { b & 0x7f } else { *b };
            format!("{b:02x}")
        })
        .collect();
    SMALL_ORDER.contains(&hex.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn okp(x: &[u8]) -> Jwk {
        Jwk {
            kty: "OKP".into(),
            key_use: Some("sig".into()),
            alg: Some("EdDSA".into()),
            kid: "k".into(),
            crv: Some("Ed25519".into()),
            n: None,
            e: None,
            x: Some(URL_SAFE_NO_PAD.encode(x)),
            y: None,
        }
    }

    #[test]
    fn small_order_ed25519_keys_are_refused_with_either_sign_bit() {
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let mut negated = identity;
        negated[31] |= 0x80;
        for x in [identity, negated, [0u8; 32]] {
            assert!(matches!(
                Key::from_public_jwk(&okp(&x), None),
                Err(KeyError::InvalidKey { .. })
            ));
        }
        let real = Key::from_stored(
            &crate::token::StoredKey::generate(Algorithm::EdDSA, Timestamp::from_unix(0)).unwrap(),
        )
        .unwrap();
        let jwk = real.to_jwk().unwrap();
        assert!(Key::from_public_jwk(&jwk, None).is_ok());
    }

    #[test]
    fn jwks_of_the_wrong_shape_are_refused() {
        let mut jwk = okp(&[9u8; 32]);
        jwk.crv = Some("X25519".into());
        assert!(Key::from_public_jwk(&jwk, None).is_err());
        let mut jwk = okp(&[9u8; 32]);
        jwk.alg = Some("ES256".into());
        assert!(Key::from_public_jwk(&jwk, None).is_err());
        let mut jwk = okp(&[9u8; 32]);
        jwk.key_use = Some("enc".into());
        assert!(Key::from_public_jwk(&jwk, None).is_err());
        let mut jwk = okp(&[9u8; 32]);
        jwk.alg = None;
        assert!(Key::from_public_jwk(&jwk, None).is_err());
        assert!(Key::from_public_jwk(&jwk, Some(Algorithm::EdDSA)).is_ok());
        let oct = Jwk {
            kty: "oct".into(),
            alg: Some("HS256".into()),
            ..okp(&[9u8; 32])
        };
        assert!(Key::from_public_jwk(&oct, None).is_err());
    }
}
