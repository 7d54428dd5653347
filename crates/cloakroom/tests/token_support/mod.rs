//! Shared by the token tests: a server's keys and verifier on a manual clock, and a forger that
//! signs whatever header and claims a test wants, with aws-lc-rs directly (not with the code
//! under test), so that a refusal is the verifier's doing and not the signer's.
#![allow(dead_code)]

pub mod vectors;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair,
    RSA_PKCS1_SHA256, RSA_PSS_SHA256, RsaKeyPair,
};
use aws_lc_rs::{hmac, signature::KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use cloakroom::clock::{ManualClock, Timestamp};
use cloakroom::revocation::DenyList;
use cloakroom::token::{
    AccessClaims, Algorithm, Key, KeyRing, KeySet, StoredKey, TokenError, TokenVerifier, Validation,
};
use serde_json::{Value, json};

pub const ISS: &str = "https://auth.example";
pub const AUD: &str = "cloakroom";
pub const T0: i64 = 1_700_000_000;
pub const TTL: i64 = 900;

pub const ASYMMETRIC: [Algorithm; 5] = [
    Algorithm::Rs256,
    Algorithm::Ps256,
    Algorithm::Es256,
    Algorithm::Es384,
    Algorithm::EdDSA,
];

/// One generated key per algorithm per test binary: RSA generation is slow.
pub fn stored_key(alg: Algorithm) -> StoredKey {
    static KEYS: OnceLock<Mutex<HashMap<Algorithm, StoredKey>>> = OnceLock::new();
    let keys = KEYS.get_or_init(Default::default);
    let mut keys = keys.lock().unwrap();
    keys.entry(alg)
        .or_insert_with(|| StoredKey::generate(alg, Timestamp::from_unix(T0)).unwrap())
        .clone()
}

/// A server with one key, its verifier and deny-list, at `T0` on a manual clock.
pub struct Server {
    pub clock: Arc<ManualClock>,
    pub stored: StoredKey,
    pub key: Key,
    pub ring: KeyRing,
    pub deny: Arc<DenyList>,
    pub verifier: TokenVerifier,
}

impl Server {
    pub fn new(alg: Algorithm) -> Self {
        let stored = stored_key(alg);
        let key = Key::from_stored(&stored).unwrap();
        let ring = KeyRing::new(KeySet::new(key.clone()));
        let clock = Arc::new(ManualClock::new(Timestamp::from_unix(T0)));
        let deny = Arc::new(DenyList::new());
        let verifier = TokenVerifier::new(ring.clone(), Validation::new(ISS, AUD))
            .with_deny_list(deny.clone())
            .with_clock(clock.clone());
        Self {
            clock,
            stored,
            key,
            ring,
            deny,
            verifier,
        }
    }

    pub fn kid(&self) -> String {
        self.key.kid().to_string()
    }

    pub fn header(&self) -> Value {
        json!({"alg": self.key.algorithm().as_str(), "typ": "at+jwt", "kid": self.kid()})
    }

    pub fn claims(&self) -> Value {
        json!({
            "iss": ISS, "sub": "42", "aud": AUD, "exp": T0 + TTL, "iat": T0,
            "jti": "dGhlIGp0aSBvZiB0aGlzIQ", "sid": "c2Vzc2lvbiBoYW5kbGUhIQ",
            "name": "Bhaskar", "roles": ["user"],
        })
    }

    /// Signs `header.claims` with the server's own private key.
    pub fn forge(&self, header: &Value, claims: &Value) -> String {
        forge_with(&self.stored, header, claims)
    }

    /// A valid token.
    pub fn token(&self) -> String {
        self.forge(&self.header(), &self.claims())
    }

    /// A valid token whose claims are edited by `edit`.
    pub fn token_with(&self, edit: impl FnOnce(&mut Value)) -> String {
        let mut claims = self.claims();
        edit(&mut claims);
        self.forge(&self.header(), &claims)
    }

    /// A validly signed token whose header is edited by `edit`.
    pub fn token_with_header(&self, edit: impl FnOnce(&mut Value)) -> String {
        let mut header = self.header();
        edit(&mut header);
        self.forge(&header, &self.claims())
    }

    pub fn verify(&self, token: &str) -> Result<AccessClaims, TokenError> {
        self.verifier.verify(token)
    }
}

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn unb64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).unwrap()
}

pub fn json_b64(v: &Value) -> String {
    b64(&serde_json::to_vec(v).unwrap())
}

/// `header.payload.signature` from parts already chosen.
pub fn assemble(header: &Value, claims: &Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        json_b64(header),
        json_b64(claims),
        b64(signature)
    )
}

/// Signs `header.claims` with `key`'s private material, by its algorithm.
pub fn forge_with(key: &StoredKey, header: &Value, claims: &Value) -> String {
    let input = format!("{}.{}", json_b64(header), json_b64(claims));
    let sig = sign_bytes(key, input.as_bytes());
    format!("{input}.{}", b64(&sig))
}

/// Signs raw bytes with aws-lc-rs, independently of the crate under test.
pub fn sign_bytes(key: &StoredKey, msg: &[u8]) -> Vec<u8> {
    let der = key.material.expose_secret();
    let rng = SystemRandom::new();
    match key.algorithm {
        Algorithm::Hs256 => hmac_sign(hmac::HMAC_SHA256, der, msg),
        Algorithm::Hs384 => hmac_sign(hmac::HMAC_SHA384, der, msg),
        Algorithm::Hs512 => hmac_sign(hmac::HMAC_SHA512, der, msg),
        Algorithm::EdDSA => Ed25519KeyPair::from_pkcs8(der)
            .unwrap()
            .sign(msg)
            .as_ref()
            .to_vec(),
        Algorithm::Es256 | Algorithm::Es384 => {
            let curve = if key.algorithm == Algorithm::Es256 {
                &ECDSA_P256_SHA256_FIXED_SIGNING
            } else {
                &ECDSA_P384_SHA384_FIXED_SIGNING
            };
            EcdsaKeyPair::from_pkcs8(curve, der)
                .unwrap()
                .sign(&rng, msg)
                .unwrap()
                .as_ref()
                .to_vec()
        }
        Algorithm::Rs256 | Algorithm::Ps256 => {
            let pair = RsaKeyPair::from_pkcs8(der).unwrap();
            let mut sig = vec![0; pair.public_modulus_len()];
            let padding = if key.algorithm == Algorithm::Rs256 {
                &RSA_PKCS1_SHA256 as &dyn aws_lc_rs::signature::RsaEncoding
            } else {
                &RSA_PSS_SHA256
            };
            pair.sign(padding, &rng, msg, &mut sig).unwrap();
            sig
        }
        other => panic!("no forger for {other}"),
    }
}

pub fn hmac_sign(alg: hmac::Algorithm, secret: &[u8], msg: &[u8]) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(alg, secret), msg)
        .as_ref()
        .to_vec()
}

/// A key that is not the server's: what an attacker signs with.
pub fn attacker_ed25519() -> (Ed25519KeyPair, String) {
    let pair = Ed25519KeyPair::generate().unwrap();
    let x = b64(pair.public_key().as_ref());
    (pair, x)
}

/// A DER public key as PEM, as a server would publish it.
pub fn pem(der: &[u8], trailing_newline: bool) -> String {
    let body = STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let mut out = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----",
        lines.join("\n")
    );
    if trailing_newline {
        out.push('\n');
    }
    out
}

/// Decodes one of the base64 fixtures in `vectors`.
pub fn fixture(lines: &[&str]) -> Vec<u8> {
    STANDARD.decode(lines.concat()).unwrap()
}
