//! Keys over time (rotation, retirement, restarts), the JWKS, and the published RFC examples.
//!
//! Of RFC 7520's signature examples §4.1 (RS256) and §4.4 (HS256) apply; §4.2 is PS384 and
//! §4.3 ES512, neither of which Cloakroom's keys offer (jsonwebtoken has no ES512 at all).

mod token_support;

#[path = "token_keys/rfc_vectors.rs"]
mod rfc_vectors;

use std::sync::Arc;
use std::time::Duration;

use cloakroom::clock::{ManualClock, Timestamp};
use cloakroom::token::{
    Algorithm, Jwk, Key, KeyError, KeyManager, KeyPolicy, KeyRing, KeySet, KeyStatus, KeyStore,
    MemoryKeyStore, StoredKey, TokenError, TokenIssuer, TokenSubject, TokenVerifier, Validation,
};
use serde_json::json;
use token_support::*;

const ACCESS_TTL: Duration = Duration::from_secs(900);

fn policy(alg: Algorithm) -> KeyPolicy {
    KeyPolicy {
        algorithm: alg,
        max_token_ttl: ACCESS_TTL,
        leeway: Duration::from_secs(30),
        rotate_every: None,
    }
}

struct Node {
    clock: Arc<ManualClock>,
    keys: KeyManager,
    issuer: TokenIssuer,
    verifier: TokenVerifier,
}

async fn node(store: Arc<dyn KeyStore>, clock: Arc<ManualClock>, policy: KeyPolicy) -> Node {
    let keys = KeyManager::open(store, policy, clock.clone())
        .await
        .unwrap();
    let issuer =
        TokenIssuer::new(keys.ring().clone(), ISS, AUD, ACCESS_TTL).with_clock(clock.clone());
    let verifier = TokenVerifier::new(keys.ring().clone(), Validation::new(ISS, AUD))
        .with_clock(clock.clone());
    Node {
        clock,
        keys,
        issuer,
        verifier,
    }
}

fn subject() -> TokenSubject {
    TokenSubject {
        user_id: "42".into(),
        name: "Bhaskar".into(),
        roles: vec!["user".into()],
        session: "c2Vzc2lvbiBoYW5kbGUhIQ".into(),
    }
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(Timestamp::from_unix(T0)))
}

#[tokio::test]
async fn tokens_signed_before_a_rotation_verify_until_their_key_retires() {
    let store = Arc::new(MemoryKeyStore::new());
    let n = node(store.clone(), clock(), policy(Algorithm::EdDSA)).await;
    let old_kid = n.keys.ring().snapshot().active().kid().clone();
    let old = n.issuer.issue(&subject()).unwrap();
    // A token the old key signs with a far exp: only retirement can stop it.
    let old_stored = store.load_all().await.unwrap().remove(0);
    let mut long = Server::new(Algorithm::EdDSA).claims();
    long["exp"] = json!(T0 + 86_400);
    let header = json!({"alg": "EdDSA", "typ": "at+jwt", "kid": old_kid.as_str()});
    let long_lived = forge_with(&old_stored, &header, &long);

    n.clock.advance(Duration::from_secs(60));
    let new_kid = n.keys.rotate().await.unwrap();
    assert_ne!(new_kid, old_kid);
    let new = n.issuer.issue(&subject()).unwrap();
    assert!(new.token.expose_secret().len() > 10);
    assert_eq!(n.keys.jwks().keys.len(), 2);
    for token in [&old.token, &new.token] {
        assert!(n.verifier.verify(token.expose_secret()).is_ok());
    }
    assert!(n.verifier.verify(&long_lived).is_ok());

    // Retention = max TTL + leeway after the rotation: the old key's last token has expired.
    n.clock.advance(ACCESS_TTL + Duration::from_secs(29));
    assert!(n.verifier.verify(&long_lived).is_ok());
    n.clock.advance(Duration::from_secs(1));
    assert!(matches!(
        n.verifier.verify(&long_lived),
        Err(TokenError::KeyRetired)
    ));
    assert!(matches!(
        n.verifier.verify(old.token.expose_secret()),
        Err(TokenError::KeyRetired)
    ));
    assert_eq!(n.keys.jwks().keys.len(), 1, "the JWKS drops it at once");

    let done = n.keys.maintain().await.unwrap();
    assert_eq!(done.retired, vec![old_kid.clone()]);
    assert!(matches!(
        n.verifier.verify(&long_lived),
        Err(TokenError::UnknownKid)
    ));
    let fresh = n.issuer.issue(&subject()).unwrap();
    assert!(n.verifier.verify(fresh.token.expose_secret()).is_ok());
    let list = n.keys.list().await.unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(
        (list[0].kid.clone(), list[0].status),
        (new_kid, KeyStatus::Active)
    );
    assert_eq!(
        (list[1].kid.clone(), list[1].status),
        (old_kid, KeyStatus::Retired)
    );
}

#[tokio::test]
async fn jwks_lists_public_members_of_current_and_unretired_keys_only() {
    for alg in Algorithm::ALL {
        let n = node(Arc::new(MemoryKeyStore::new()), clock(), policy(alg)).await;
        let jwks = n.keys.jwks();
        if alg.is_symmetric() {
            assert!(
                jwks.keys.is_empty(),
                "{alg}: an HMAC secret must never be published"
            );
            continue;
        }
        let json = serde_json::to_value(&jwks).unwrap();
        let key = &json["keys"][0];
        assert_eq!(key["alg"], alg.as_str());
        assert_eq!(key["use"], "sig");
        assert_eq!(key["kid"], n.keys.ring().snapshot().active().kid().as_str());
        let members: Vec<&str> = key
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut expected = match alg {
            Algorithm::Rs256 | Algorithm::Ps256 => vec!["kty", "use", "alg", "kid", "n", "e"],
            Algorithm::Es256 | Algorithm::Es384 => {
                vec!["kty", "use", "alg", "kid", "crv", "x", "y"]
            }
            _ => vec!["kty", "use", "alg", "kid", "crv", "x"],
        };
        let mut members = members;
        members.sort_unstable();
        expected.sort_unstable();
        assert_eq!(members, expected, "{alg}");
        let (kty, crv) = match alg {
            Algorithm::Rs256 | Algorithm::Ps256 => ("RSA", None),
            Algorithm::Es256 => ("EC", Some("P-256")),
            Algorithm::Es384 => ("EC", Some("P-384")),
            _ => ("OKP", Some("Ed25519")),
        };
        assert_eq!(key["kty"], kty);
        assert_eq!(key["crv"].as_str(), crv);
    }
}

#[tokio::test]
async fn another_service_verifies_through_the_jwks_alone() {
    for alg in ASYMMETRIC {
        let n = node(Arc::new(MemoryKeyStore::new()), clock(), policy(alg)).await;
        let token = n.issuer.issue(&subject()).unwrap();
        let jwks: cloakroom::token::Jwks =
            serde_json::from_str(&serde_json::to_string(&n.keys.jwks()).unwrap()).unwrap();
        let public = Key::from_public_jwk(&jwks.keys[0], None).unwrap();
        assert!(!public.can_sign());
        let ring = KeyRing::new(KeySet::new(public.clone()));
        let remote =
            TokenVerifier::new(ring, Validation::new(ISS, AUD)).with_clock(n.clock.clone());
        assert_eq!(
            remote.verify(token.token.expose_secret()).unwrap().sub,
            "42"
        );
        assert!(matches!(
            cloakroom::token::sign(&public, &token.claims),
            Err(cloakroom::token::IssueError::CannotSign { .. })
        ));
    }
}

#[tokio::test]
async fn keys_survive_a_restart_and_a_changed_algorithm_rotates() {
    let store: Arc<dyn KeyStore> = Arc::new(MemoryKeyStore::new());
    let first = node(store.clone(), clock(), policy(Algorithm::EdDSA)).await;
    let token = first.issuer.issue(&subject()).unwrap();
    let kid = first.keys.ring().snapshot().active().kid().clone();

    let again = node(store.clone(), first.clock.clone(), policy(Algorithm::EdDSA)).await;
    assert_eq!(again.keys.ring().snapshot().active().kid(), &kid);
    assert!(again.verifier.verify(token.token.expose_secret()).is_ok());

    let switched = node(store.clone(), first.clock.clone(), policy(Algorithm::Es256)).await;
    let set = switched.keys.ring().snapshot();
    assert_eq!(set.active().algorithm(), Algorithm::Es256);
    assert!(
        switched
            .verifier
            .verify(token.token.expose_secret())
            .is_ok()
    );
    assert_eq!(switched.keys.jwks().keys.len(), 2);
}

#[tokio::test]
async fn an_interrupted_rotation_is_repaired_on_load() {
    let store = Arc::new(MemoryKeyStore::new());
    let t = Timestamp::from_unix(T0);
    let older = StoredKey::generate(Algorithm::EdDSA, t).unwrap();
    let newer =
        StoredKey::generate(Algorithm::EdDSA, t.saturating_add(Duration::from_secs(10))).unwrap();
    store.insert(&older).await.unwrap();
    store.insert(&newer).await.unwrap();
    let n = node(store.clone(), clock(), policy(Algorithm::EdDSA)).await;
    assert_eq!(n.keys.ring().snapshot().active().kid(), &newer.kid);
    let repaired = store.load_all().await.unwrap();
    let old = repaired.iter().find(|k| k.kid == older.kid).unwrap();
    assert_eq!(
        old.retire_after,
        Some(
            newer
                .activated_at
                .saturating_add(ACCESS_TTL + Duration::from_secs(30))
        )
    );
}

#[tokio::test]
async fn scheduled_rotation_happens_when_due() {
    let mut p = policy(Algorithm::EdDSA);
    p.rotate_every = Some(Duration::from_secs(86_400));
    let n = node(Arc::new(MemoryKeyStore::new()), clock(), p).await;
    assert_eq!(n.keys.maintain().await.unwrap().rotated, None);
    n.clock.advance(Duration::from_secs(86_400));
    let done = n.keys.maintain().await.unwrap();
    assert!(done.rotated.is_some());
    assert_eq!(n.keys.ring().snapshot().len(), 2);
}

#[tokio::test]
async fn a_corrupt_key_in_the_store_fails_closed() {
    let store = Arc::new(MemoryKeyStore::new());
    let mut bad = StoredKey::generate(Algorithm::EdDSA, Timestamp::from_unix(T0)).unwrap();
    bad.material = cloakroom::token::KeyMaterial::from_bytes(b"not a key".to_vec());
    store.insert(&bad).await.unwrap();
    let err = KeyManager::open(store, policy(Algorithm::EdDSA), clock())
        .await
        .unwrap_err();
    assert!(matches!(err, KeyError::InvalidKey { .. }), "{err:?}");
}

#[test]
fn weak_keys_are_refused_with_a_clear_error() {
    let now = Timestamp::from_unix(T0);
    let small =
        StoredKey::from_pkcs8(Algorithm::Rs256, &fixture(vectors::RSA_1024_PKCS8), now).unwrap();
    let err = Key::from_stored(&small).unwrap_err();
    // aws-lc-rs itself refuses RSA keys under 2048 bits; either way the key never loads.
    assert!(
        matches!(
            err,
            KeyError::RsaTooSmall { .. } | KeyError::InvalidKey { .. }
        ),
        "{err:?}"
    );
    let err =
        StoredKey::from_secret(Algorithm::Hs256, b"correct horse battery staple", now).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the HS256 secret is 28 bytes long; it must be at least 32 bytes (the hash's length)"
    );
    // Small RSA moduli in a JWK too.
    let jwk: Jwk = serde_json::from_value(json!({
        "kty": "RSA", "kid": "small", "alg": "RS256", "n": b64(&[0xC5; 128]), "e": "AQAB"
    }))
    .unwrap();
    assert!(matches!(
        Key::from_public_jwk(&jwk, None),
        Err(KeyError::RsaTooSmall { bits: 1024 })
    ));
}

#[tokio::test]
async fn every_node_converges_on_the_same_keys() {
    let store: Arc<dyn KeyStore> = Arc::new(MemoryKeyStore::new());
    let clock = clock();
    // Two nodes start at once on an empty store: each makes a first key.
    let (a, b) = tokio::join!(
        node(store.clone(), clock.clone(), policy(Algorithm::EdDSA)),
        node(store.clone(), clock.clone(), policy(Algorithm::EdDSA)),
    );
    a.keys.maintain().await.unwrap();
    b.keys.maintain().await.unwrap();
    let active = |n: &Node| n.keys.ring().snapshot().active().kid().clone();
    assert_eq!(active(&a), active(&b));
    let from_a = a.issuer.issue(&subject()).unwrap();
    assert!(b.verifier.verify(from_a.token.expose_secret()).is_ok());

    // One rotates (say `cloakroom keys rotate`); the other follows at its next maintenance.
    clock.advance(Duration::from_secs(60));
    let new_kid = a.keys.rotate().await.unwrap();
    let from_a = a.issuer.issue(&subject()).unwrap();
    assert!(matches!(
        b.verifier.verify(from_a.token.expose_secret()),
        Err(TokenError::UnknownKid)
    ));
    b.keys.maintain().await.unwrap();
    assert_eq!(active(&b), new_kid);
    assert!(b.verifier.verify(from_a.token.expose_secret()).is_ok());
    assert_eq!(a.keys.jwks(), b.keys.jwks());
}
