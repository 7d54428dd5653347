//! Any bytes as an access token: `TokenVerifier::verify` and `inspect` (what `cloakroom token
//! inspect` prints) never panic, and accept nothing that was not signed by a key of the ring.
#![no_main]

use std::sync::LazyLock;

use cloakroom::clock::{Clock as _, SystemClock};
use cloakroom::token::{
    AccessClaims, Algorithm, Key, KeyRing, KeySet, StoredKey, TokenVerifier, Validation,
};
use libfuzzer_sys::fuzz_target;

const ISS: &str = "https://auth.example";
const AUD: &str = "cloakroom";

/// One verifier per algorithm family, each over a ring with an active and a previous key.
static VERIFIERS: LazyLock<Vec<TokenVerifier>> = LazyLock::new(|| {
    [Algorithm::EdDSA, Algorithm::Hs256, Algorithm::Es256]
        .into_iter()
        .map(|alg| {
            let now = SystemClock.now();
            let key =
                |alg| Key::from_stored(&StoredKey::generate(alg, now).expect("key")).expect("key");
            let ring = KeyRing::new(KeySet::from_keys(key(alg), [key(alg)]));
            TokenVerifier::new(ring, Validation::new(ISS, AUD))
        })
        .collect()
});

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for verifier in VERIFIERS.iter() {
        // Nobody but the ring's keys signed anything the fuzzer makes.
        assert!(
            verifier.verify(&text).is_err(),
            "accepted a forged token: {text:?}"
        );
        let _ = verifier.inspect(&text);
    }
    let _ = AccessClaims::from_json(data);
});
