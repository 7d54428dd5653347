//! Interoperability with JOSE code nobody here wrote: PyJWT (and jwcrypto, when installed)
//! verifies one token per algorithm through the public JWKS (HS256 through its secret as a
//! JWK), and signs tokens with keys Cloakroom generated (exported as PKCS#8 PEM), which
//! Cloakroom then verifies through its JWKS alone.
//!
//! Needs Python 3 with (the flag lets pip write to a Debian-managed Python; pip >= 23.0.1):
//!     python3 -m pip install --quiet --break-system-packages 'pyjwt[crypto]' jwcrypto
//! Without PyJWT the test fails under `CI=true` and warns (and passes) elsewhere.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use cloakroom::clock::{Clock, SystemClock};
use cloakroom::token::{
    Algorithm, Jwks, Key, KeyRing, KeySet, StoredKey, TokenIssuer, TokenSubject, TokenVerifier,
    Validation,
};
use serde_json::{Value, json};

const ISS: &str = "https://auth.example";
const AUD: &str = "cloakroom";
const INSTALL: &str = "python3 -m pip install --break-system-packages 'pyjwt[crypto]' jwcrypto";

const ALGORITHMS: [Algorithm; 6] = [
    Algorithm::EdDSA,
    Algorithm::Es256,
    Algorithm::Es384,
    Algorithm::Rs256,
    Algorithm::Ps256,
    Algorithm::Hs256,
];

/// Whether PyJWT can be imported; otherwise fails under CI and says how to install it.
fn pyjwt_available() -> bool {
    let probe = Command::new("python3")
        .args(["-c", "import jwt, cryptography"])
        .output();
    if probe.is_ok_and(|o| o.status.success()) {
        return true;
    }
    let message = format!("PyJWT (with cryptography) is not installed for python3: {INSTALL}");
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{message}");
    eprintln!("\n!!!!!!!! SKIPPED interop_pyjwt: {message} !!!!!!!!\n");
    false
}

fn pem(der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        lines.join("\n")
    )
}

fn write_json(dir: &Path, name: &str, value: &Value) {
    std::fs::write(dir.join(name), serde_json::to_vec_pretty(value).unwrap()).unwrap();
}

#[test]
fn pyjwt_and_jwcrypto_verify_our_tokens_and_we_verify_pyjwts() {
    if !pyjwt_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let now = SystemClock.now();
    let subject = TokenSubject {
        user_id: "42".into(),
        name: "Bhaskar".into(),
        roles: vec!["user".into()],
        session: "c2Vzc2lvbiBoYW5kbGUhIQ".into(),
    };
    let (mut tokens, mut to_sign, mut public) = (Vec::new(), Vec::new(), Vec::new());
    for alg in ALGORITHMS {
        let stored = StoredKey::generate(alg, now).unwrap();
        let key = Key::from_stored(&stored).unwrap();
        let ring = KeyRing::new(KeySet::new(key.clone()));
        let issuer = TokenIssuer::new(ring, ISS, AUD, Duration::from_secs(900));
        let token = issuer.issue(&subject).unwrap();
        let kid = key.kid().to_string();
        tokens.push(json!({"alg": alg.as_str(), "kid": kid, "token": token.token.expose_secret()}));
        if alg.is_symmetric() {
            // A shared secret is never in the public JWKS: it goes in a file of its own.
            let k = URL_SAFE_NO_PAD.encode(stored.material.expose_secret());
            let jwk = json!({"kty": "oct", "kid": kid, "alg": alg.as_str(), "k": k});
            write_json(dir.path(), "hmac.jwk.json", &jwk);
        } else {
            let file = format!("{alg}.pem");
            std::fs::write(dir.path().join(&file), pem(stored.material.expose_secret())).unwrap();
            to_sign.push(json!({"alg": alg.as_str(), "kid": kid, "pem": file}));
            public.push(key);
        }
    }
    let jwks = Jwks {
        keys: public.iter().map(|k| k.to_jwk().unwrap()).collect(),
    };
    write_json(
        dir.path(),
        "jwks.json",
        &serde_json::to_value(&jwks).unwrap(),
    );
    let manifest = json!({"issuer": ISS, "audience": AUD, "tokens": tokens, "sign": to_sign});
    write_json(dir.path(), "manifest.json", &manifest);

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/verify.py");
    let run = Command::new("python3")
        .arg(&script)
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&run.stderr));
    assert!(run.status.success(), "verify.py failed:\n{stdout}");
    let jwcrypto = stdout.contains("jwcrypto present");
    for alg in ALGORITHMS {
        let line = format!("ok pyjwt {alg} sub=42 roles=user");
        assert!(stdout.lines().any(|l| l == line), "missing {line:?}");
        if jwcrypto {
            let line = format!("ok jwcrypto {alg} sub=42");
            assert!(stdout.lines().any(|l| l == line), "missing {line:?}");
        }
    }
    assert!(!stdout.contains("FAIL"));

    // The reverse direction: PyJWT signed, Cloakroom verifies with the public JWKS alone.
    let served: Jwks =
        serde_json::from_slice(&std::fs::read(dir.path().join("jwks.json")).unwrap()).unwrap();
    let remote_keys: Vec<Key> = served
        .keys
        .iter()
        .map(|jwk| Key::from_public_jwk(jwk, None).unwrap())
        .collect();
    let (first, rest) = remote_keys.split_first().unwrap();
    let verifier = TokenVerifier::new(
        KeyRing::new(KeySet::from_keys(first.clone(), rest.to_vec())),
        Validation::new(ISS, AUD),
    );
    let signed: Vec<Value> =
        serde_json::from_slice(&std::fs::read(dir.path().join("pyjwt_tokens.json")).unwrap())
            .unwrap();
    assert_eq!(signed.len(), 5);
    for entry in &signed {
        let token = entry["token"].as_str().unwrap();
        let claims = verifier
            .verify(token)
            .unwrap_or_else(|e| panic!("{}: {e}", entry["alg"]));
        assert_eq!(
            (claims.sub.as_str(), claims.name.as_str()),
            ("py-42", "Bhaskar (PyJWT)")
        );
        println!("ok cloakroom verified pyjwt's {}", entry["alg"]);
    }
}
