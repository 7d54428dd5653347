//! The published examples: RFC 8037 Appendix A (Ed25519) and RFC 7520 §4.1 (RS256) and §4.4
//! (HS256), each verified with the RFC's own key, through `Key` and through the verifier.

use cloakroom::clock::Timestamp;
use cloakroom::token::{
    Algorithm, Jwk, Key, KeyRing, KeySet, Kid, StoredKey, TokenError, TokenVerifier, Validation,
};
use serde_json::json;

use crate::token_support::vectors::*;
use crate::token_support::*;

#[test]
fn rfc8037_a4_ed25519_jws_verifies_with_the_rfcs_key() {
    // PKCS#8 v1 for Ed25519 (RFC 8410): a fixed prefix, then the 32-byte private key.
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend(unb64(RFC8037_D));
    let private = Key::from_stored(
        &StoredKey::from_pkcs8(Algorithm::EdDSA, &der, Timestamp::from_unix(T0)).unwrap(),
    )
    .unwrap();
    assert_eq!(private.to_jwk().unwrap().x.as_deref(), Some(RFC8037_X));

    let jwk: Jwk = serde_json::from_value(json!({
        "kty": "OKP", "crv": "Ed25519", "kid": "rfc8037", "x": RFC8037_X
    }))
    .unwrap();
    let public = Key::from_public_jwk(&jwk, Some(Algorithm::EdDSA)).unwrap();
    let (input, sig) = RFC8037_JWS.rsplit_once('.').unwrap();
    for key in [&public, &private] {
        key.verify_signature(input.as_bytes(), &unb64(sig)).unwrap();
        let mut flipped = unb64(sig);
        flipped[10] ^= 1;
        assert!(matches!(
            key.verify_signature(input.as_bytes(), &flipped),
            Err(TokenError::BadSignature)
        ));
    }
    // Through the verifier it gets past the signature; it is no access token (no kid).
    let ring = KeyRing::new(KeySet::new(public));
    let verifier = TokenVerifier::new(ring, Validation::new(ISS, AUD));
    assert!(matches!(
        verifier.verify(RFC8037_JWS),
        Err(TokenError::MissingKid)
    ));
}

#[test]
fn rfc7520_4_1_rs256_jws_verifies_with_the_rfcs_key() {
    let jwk: Jwk = serde_json::from_value(json!({
        "kty": "RSA", "kid": RFC7520_KID, "use": "sig", "n": RFC7520_N, "e": RFC7520_E
    }))
    .unwrap();
    let public = Key::from_public_jwk(&jwk, Some(Algorithm::Rs256)).unwrap();
    let mut stored = StoredKey::from_pkcs8(
        Algorithm::Rs256,
        &fixture(RFC7520_PKCS8),
        Timestamp::from_unix(T0),
    )
    .unwrap();
    stored.kid = Kid::parse_external(RFC7520_KID).unwrap();
    let private = Key::from_stored(&stored).unwrap();
    assert_eq!(private.to_jwk().unwrap().n.as_deref(), Some(RFC7520_N));
    // RSASSA-PKCS1-v1_5 is deterministic: the independent signer reproduces the RFC's bytes.
    let (input, sig) = RFC7520_JWS.rsplit_once('.').unwrap();
    assert_eq!(b64(&sign_bytes(&stored, input.as_bytes())), sig);

    for key in [&public, &private] {
        key.verify_signature(input.as_bytes(), &unb64(sig)).unwrap();
    }
    // The full verifier finds the key by the RFC's kid, checks RS256 and the signature, and
    // then refuses it for what it is: not an access token (no `typ`).
    for key in [public, private] {
        let verifier =
            TokenVerifier::new(KeyRing::new(KeySet::new(key)), Validation::new(ISS, AUD));
        assert!(matches!(
            verifier.verify(RFC7520_JWS),
            Err(TokenError::MissingType)
        ));
        let tampered = RFC7520_JWS.replacen("SXTigJlz", "SXTigJly", 1);
        assert!(matches!(
            verifier.verify(&tampered),
            Err(TokenError::BadSignature)
        ));
    }
}

#[test]
fn rfc7520_4_4_hs256_jws_verifies_with_the_rfcs_key() {
    let mut stored = StoredKey::from_secret(
        Algorithm::Hs256,
        &unb64(RFC7520_HMAC_K),
        Timestamp::from_unix(T0),
    )
    .unwrap();
    stored.kid = Kid::parse_external(RFC7520_HMAC_KID).unwrap();
    let key = Key::from_stored(&stored).unwrap();
    let (input, sig) = RFC7520_HS256_JWS.rsplit_once('.').unwrap();
    key.verify_signature(input.as_bytes(), &unb64(sig)).unwrap();
    assert_eq!(b64(&sign_bytes(&stored, input.as_bytes())), sig);
    let verifier = TokenVerifier::new(KeyRing::new(KeySet::new(key)), Validation::new(ISS, AUD));
    assert!(matches!(
        verifier.verify(RFC7520_HS256_JWS),
        Err(TokenError::MissingType)
    ));
}
