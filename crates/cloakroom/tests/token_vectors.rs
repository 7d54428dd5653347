//! Wycheproof-style negative vectors for the signature checks, made by construction from a
//! real signature: ECDSA scalars out of range or in the wrong encoding, Ed25519 signatures of
//! the wrong length or with a non-canonical S, small-order Ed25519 keys, RSA signatures of the
//! wrong length or padding. Each must be refused as a bad signature (never a server fault, a
//! panic, or a pass). Forms already in `token_attacks*` (r = s = 0, high S, flipped and
//! truncated bytes) are not repeated.

mod token_support;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING, EcdsaKeyPair, RSA_PKCS1_SHA256,
    RsaKeyPair,
};
use cloakroom::token::{
    Algorithm, Jwk, Key, KeyRing, KeySet, TokenError, TokenVerifier, Validation,
};
use token_support::*;

/// The group orders, big-endian.
const P256_N: &str = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";
const P384_N: &str = concat!(
    "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf",
    "581a0db248b0a77aecec196accc52973"
);
/// The Ed25519 group order L, little-endian (as S is encoded).
const ED25519_L: &str = "edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010";

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

/// `a + b` over little-endian byte strings of one length (no carry out: callers make sure).
fn add_le(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut carry = 0u16;
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            let sum = u16::from(*x) + u16::from(*y) + carry;
            carry = sum >> 8;
            (sum & 0xff) as u8
        })
        .collect()
}

/// Asserts each `(name, signature)` over `server`'s valid signing input is a bad signature.
fn refused(server: &Server, cases: Vec<(&str, Vec<u8>)>) {
    let token = server.token();
    let (input, _) = token.rsplit_once('.').unwrap();
    for (name, sig) in cases {
        let forged = format!("{input}.{}", b64(&sig));
        match server.verify(&forged) {
            Err(TokenError::BadSignature) => {}
            other => panic!("{} {name}: {other:?}", server.key.algorithm()),
        }
    }
}

/// The real signature of `server`'s token.
fn real_signature(server: &Server) -> (String, Vec<u8>) {
    let token = server.token();
    let (input, sig) = token.rsplit_once('.').unwrap();
    (input.to_owned(), unb64(sig))
}

#[test]
fn ecdsa_scalars_out_of_range_or_misencoded_are_refused() {
    for (alg, n, der_alg) in [
        (
            Algorithm::Es256,
            hex(P256_N),
            &ECDSA_P256_SHA256_ASN1_SIGNING,
        ),
        (
            Algorithm::Es384,
            hex(P384_N),
            &ECDSA_P384_SHA384_ASN1_SIGNING,
        ),
    ] {
        let server = Server::new(alg);
        let (input, sig) = real_signature(&server);
        let half = sig.len() / 2;
        let (r, s) = (sig[..half].to_vec(), sig[half..].to_vec());
        assert!(server.verify(&format!("{input}.{}", b64(&sig))).is_ok());
        let mut n_plus_1 = n.clone();
        *n_plus_1.last_mut().unwrap() += 1;
        let ones = vec![0xff; half];
        let mut padded_r = vec![0];
        padded_r.extend_from_slice(&r);
        let der = EcdsaKeyPair::from_pkcs8(der_alg, server.stored.material.expose_secret())
            .unwrap()
            .sign(&SystemRandom::new(), input.as_bytes())
            .unwrap()
            .as_ref()
            .to_vec();
        refused(
            &server,
            vec![
                ("r = n", [n.clone(), s.clone()].concat()),
                ("s = n", [r.clone(), n.clone()].concat()),
                ("r = n + 1", [n_plus_1.clone(), s.clone()].concat()),
                ("s = n + 1", [r.clone(), n_plus_1].concat()),
                ("r = 2^k - 1", [ones.clone(), s.clone()].concat()),
                ("s = 2^k - 1", [r.clone(), ones].concat()),
                ("s = 0", [r.clone(), vec![0; half]].concat()),
                ("r = 0", [vec![0; half], s.clone()].concat()),
                ("r and s swapped", [s.clone(), r.clone()].concat()),
                ("r with a leading zero", [padded_r, s.clone()].concat()),
                ("s with a trailing zero", [sig.clone(), vec![0]].concat()),
                ("a valid DER signature", der),
                ("r alone", r),
            ],
        );
    }
}

#[test]
fn ed25519_signatures_of_the_wrong_length_or_with_s_not_below_l_are_refused() {
    let server = Server::new(Algorithm::EdDSA);
    let (_, sig) = real_signature(&server);
    let (r, s) = (sig[..32].to_vec(), sig[32..].to_vec());
    // S + L is the same scalar mod L, so an implementation that does not check S < L accepts
    // it (RFC 8032 §5.1.7 says refuse).
    let s_plus_l = add_le(&s, &hex(ED25519_L));
    let mut s_high_bit = s.clone();
    s_high_bit[31] |= 0x80;
    refused(
        &server,
        vec![
            ("S + L", [r.clone(), s_plus_l].concat()),
            ("S with its top bit set", [r.clone(), s_high_bit].concat()),
            ("63 bytes", sig[..63].to_vec()),
            ("65 bytes", [sig.clone(), vec![0]].concat()),
            ("a leading zero", [vec![0], sig.clone()].concat()),
            ("twice", [sig.clone(), sig.clone()].concat()),
            ("R = 0, S = 0", vec![0; 64]),
            ("R and S swapped", [s, r].concat()),
        ],
    );
}

#[test]
fn small_order_ed25519_keys_verify_nothing() {
    // With A of small order (here the identity, y = 1) and R the identity, S = 0 satisfies the
    // verification equation for every message, unless A is refused or the check is strict.
    let identity = {
        let mut y = vec![0u8; 32];
        y[0] = 1;
        y
    };
    let jwk = Jwk {
        kty: "OKP".into(),
        key_use: Some("sig".into()),
        alg: Some("EdDSA".into()),
        kid: "small-order".into(),
        crv: Some("Ed25519".into()),
        n: None,
        e: None,
        x: Some(b64(&identity)),
        y: None,
    };
    let Ok(key) = Key::from_public_jwk(&jwk, None) else {
        return; // Refused when loaded: nothing can verify under it.
    };
    let server = Server::new(Algorithm::EdDSA);
    let verifier = TokenVerifier::new(KeyRing::new(KeySet::new(key)), Validation::new(ISS, AUD))
        .with_clock(server.clock.clone());
    let header = serde_json::json!({"alg": "EdDSA", "typ": "at+jwt", "kid": "small-order"});
    let forged = assemble(&header, &server.claims(), &[identity, vec![0; 32]].concat());
    assert!(
        matches!(verifier.verify(&forged), Err(TokenError::BadSignature)),
        "a token forged for a small-order key verified"
    );
}

#[test]
fn rsa_signatures_of_the_wrong_length_value_or_padding_are_refused() {
    for alg in [Algorithm::Rs256, Algorithm::Ps256] {
        let server = Server::new(alg);
        let (_, sig) = real_signature(&server);
        let mut minus_one_byte = sig.clone();
        minus_one_byte.remove(0);
        refused(
            &server,
            vec![
                ("a leading zero", [vec![0], sig.clone()].concat()),
                ("one byte short", minus_one_byte),
                ("all ones (above n)", vec![0xff; sig.len()]),
                ("zero", vec![0; sig.len()]),
                ("one", [vec![0; sig.len() - 1], vec![1]].concat()),
            ],
        );
    }
    // One RSA key bound to PS256: a PKCS#1 v1.5 signature by the same key is not a PSS one.
    let server = Server::new(Algorithm::Ps256);
    let token = server.token();
    let (input, _) = token.rsplit_once('.').unwrap();
    let pair = RsaKeyPair::from_pkcs8(server.stored.material.expose_secret()).unwrap();
    let mut pkcs1 = vec![0; pair.public_modulus_len()];
    pair.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        input.as_bytes(),
        &mut pkcs1,
    )
    .unwrap();
    refused(&server, vec![("PKCS#1 v1.5 under a PS256 key", pkcs1)]);
}
