//! The verified-token cache: each of its safety rules, attacked. A token the cache holds must
//! be refused exactly when full verification would refuse it: revoked, expired, not yet valid,
//! its key retired, removed or replaced, or one byte changed; and the cache must stay bounded
//! whatever is thrown at it.

mod token_support;

use std::sync::Arc;
use std::time::Duration;

use cloakroom::clock::Timestamp;
use cloakroom::revocation::Revocation;
use cloakroom::token::{
    Algorithm, DEFAULT_VERIFIED_CACHE_BYTES, Key, KeySet, StoredKey, TokenError, TokenVerifier,
    Validation,
};
use serde_json::json;
use token_support::*;

fn at(secs: i64) -> Timestamp {
    Timestamp::from_unix(secs)
}

/// A valid token with its own `jti`.
fn nth_token(server: &Server, n: usize) -> String {
    server.token_with(|c| c["jti"] = json!(format!("jti-number-{n}")))
}

#[test]
fn on_by_default_and_a_repeat_is_served_from_it() {
    for alg in [Algorithm::Hs256, Algorithm::EdDSA, Algorithm::Es256] {
        let server = Server::new(alg);
        let cache = server.verifier.verified_cache().expect("on by default");
        assert_eq!(
            cache.capacity() as u64,
            DEFAULT_VERIFIED_CACHE_BYTES,
            "a memory bound"
        );
        let token = server.token();
        assert!(!cache.contains(&token));
        let first = server.verify(&token).unwrap();
        assert!(cache.contains(&token), "{alg}");
        let again = server.verify(&token).unwrap();
        assert_eq!(first, again);
        assert_eq!(cache.len(), 1);
    }
}

#[test]
fn a_repeat_shares_the_cached_claims_and_a_miss_does_not() {
    let server = Server::new(Algorithm::Hs256);
    let token = server.token();
    let first = server.verifier.verify_shared(&token).unwrap();
    let again = server.verifier.verify_shared(&token).unwrap();
    assert!(Arc::ptr_eq(&first, &again), "a hit copies nothing");
    assert_eq!(*first, server.verify(&token).unwrap());
    let uncached = server.verifier.with_verified_cache(0);
    let a = uncached.verify_shared(&token).unwrap();
    let b = uncached.verify_shared(&token).unwrap();
    assert!(!Arc::ptr_eq(&a, &b));
    assert_eq!(a, b);
}

#[test]
fn can_be_turned_off() {
    let server = Server::new(Algorithm::Hs256);
    let verifier = server.verifier.clone().with_verified_cache(0);
    assert!(verifier.verified_cache().is_none());
    let token = server.token();
    verifier.verify(&token).unwrap();
    verifier.verify(&token).unwrap();
    let small = server.verifier.with_verified_cache(3);
    assert_eq!(small.verified_cache().map(|c| c.capacity()), Some(3));
}

#[test]
fn a_cached_token_is_refused_at_once_when_revoked_by_jti_session_or_user() {
    let until = at(T0 + TTL);
    let revocations = [
        Revocation::token("dGhlIGp0aSBvZiB0aGlzIQ", until),
        Revocation::session("c2Vzc2lvbiBoYW5kbGUhIQ", until),
        Revocation::user("42", at(T0 + 1), until),
    ];
    for revocation in revocations {
        let server = Server::new(Algorithm::EdDSA);
        let token = server.token();
        server.verify(&token).unwrap();
        server.verify(&token).unwrap();
        assert!(server.verifier.verified_cache().unwrap().contains(&token));
        server.deny.apply(&revocation);
        assert!(
            matches!(server.verify(&token), Err(TokenError::Revoked(_))),
            "{revocation:?}"
        );
        // Still refused on every later request, cached or not.
        assert!(matches!(server.verify(&token), Err(TokenError::Revoked(_))));
    }
}

#[test]
fn a_revoked_token_is_never_cached() {
    let server = Server::new(Algorithm::Hs256);
    let token = server.token();
    server
        .deny
        .apply(&Revocation::token("dGhlIGp0aSBvZiB0aGlzIQ", at(T0 + TTL)));
    assert!(matches!(server.verify(&token), Err(TokenError::Revoked(_))));
    assert!(server.verifier.verified_cache().unwrap().is_empty());
}

#[test]
fn a_cached_token_expires_on_time() {
    let server = Server::new(Algorithm::EdDSA);
    let token = server.token();
    server.verify(&token).unwrap();
    let leeway = 30;
    // The last second it is accepted (exp + leeway - 1), from the cache.
    server.clock.set(at(T0 + TTL + leeway - 1));
    server.verify(&token).unwrap();
    assert!(server.verifier.verified_cache().unwrap().contains(&token));
    server.clock.set(at(T0 + TTL + leeway));
    assert!(matches!(
        server.verify(&token),
        Err(TokenError::Expired { .. })
    ));
    server.clock.advance(Duration::from_secs(3600));
    assert!(matches!(
        server.verify(&token),
        Err(TokenError::Expired { .. })
    ));
}

#[test]
fn nbf_and_iat_are_checked_on_every_hit() {
    let server = Server::new(Algorithm::Hs256);
    let token = server.token_with(|c| c["nbf"] = json!(T0 + 100));
    // Not yet valid (beyond the leeway): refused and not cached.
    assert!(matches!(
        server.verify(&token),
        Err(TokenError::NotYetValid { .. })
    ));
    assert!(server.verifier.verified_cache().unwrap().is_empty());
    server.verifier.verify_at(&token, at(T0 + 100)).unwrap();
    assert!(server.verifier.verified_cache().unwrap().contains(&token));
    // Asked about an earlier time (a clock stepped back), the cached token is not yet valid.
    assert!(matches!(
        server.verifier.verify_at(&token, at(T0)),
        Err(TokenError::NotYetValid { .. })
    ));
    let plain = server.token();
    server.verify(&plain).unwrap();
    assert!(matches!(
        server.verifier.verify_at(&plain, at(T0 - 3600)),
        Err(TokenError::IssuedInFuture { .. } | TokenError::NotYetValid { .. })
    ));
}

#[test]
fn nothing_is_cached_that_fails_verification() {
    let server = Server::new(Algorithm::EdDSA);
    let cache = server.verifier.verified_cache().unwrap();
    let other = Server::new(Algorithm::Es256);
    let bad = [
        server.token_with(|c| c["aud"] = json!("someone-else")),
        server.token_with(|c| c["iss"] = json!("https://evil.example")),
        server.token_with(|c| c["exp"] = json!(T0 - 3600)),
        server.token_with_header(|h| h["typ"] = json!("JWT")),
        other.token(),
        "a.b.c".to_owned(),
        "x".repeat(9000),
    ];
    for token in &bad {
        assert!(server.verify(token).is_err());
        assert!(server.verify(token).is_err());
    }
    assert!(cache.is_empty(), "{cache:?}");
}

#[test]
fn one_changed_byte_anywhere_is_a_miss_and_fails() {
    for alg in [Algorithm::Hs256, Algorithm::EdDSA, Algorithm::Es256] {
        let server = Server::new(alg);
        let token = server.token();
        server.verify(&token).unwrap();
        let cache = server.verifier.verified_cache().unwrap();
        let dots: Vec<usize> = token.match_indices('.').map(|(i, _)| i).collect();
        // A character in the header, in the payload, and the signature's first and last.
        for i in [3, dots[0] + 5, dots[1] + 1, token.len() - 1] {
            let mut bytes = token.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let forged = String::from_utf8(bytes).unwrap();
            assert_ne!(forged, token);
            assert!(!cache.contains(&forged));
            assert!(server.verify(&forged).is_err(), "{alg} byte {i}");
        }
        // The signature with one bit flipped, decoded and encoded again.
        let sig = unb64(&token[dots[1] + 1..]);
        let mut flipped = sig.clone();
        flipped[0] ^= 1;
        let forged = format!("{}.{}", &token[..dots[1]], b64(&flipped));
        assert!(matches!(
            server.verify(&forged),
            Err(TokenError::BadSignature)
        ));
        assert_eq!(cache.len(), 1, "{alg}");
        server.verify(&token).unwrap();
    }
}

#[test]
fn a_cached_token_dies_with_its_key_removed_from_the_ring() {
    let server = Server::new(Algorithm::EdDSA);
    let token = server.token();
    server.verify(&token).unwrap();
    let next = Key::from_stored(&StoredKey::generate(Algorithm::EdDSA, at(T0)).unwrap()).unwrap();
    server.ring.replace(KeySet::new(next));
    assert!(matches!(server.verify(&token), Err(TokenError::UnknownKid)));
    assert!(!server.verifier.verified_cache().unwrap().contains(&token));
}

#[test]
fn a_cached_token_dies_with_its_key_retired() {
    let server = Server::new(Algorithm::EdDSA);
    let token = server.token();
    server.verify(&token).unwrap();
    let next = Key::from_stored(&StoredKey::generate(Algorithm::EdDSA, at(T0)).unwrap()).unwrap();
    let rotated = KeySet::new(server.key.clone()).rotate(next, at(T0), Duration::from_secs(60));
    server.ring.replace(rotated);
    // Rotated but still verifying: accepted, from the cache.
    server.clock.set(at(T0 + 59));
    server.verify(&token).unwrap();
    assert!(server.verifier.verified_cache().unwrap().contains(&token));
    server.clock.set(at(T0 + 60));
    assert!(matches!(server.verify(&token), Err(TokenError::KeyRetired)));
}

#[test]
fn a_key_reloaded_unchanged_keeps_its_tokens_cached_but_another_key_under_the_kid_does_not() {
    let server = Server::new(Algorithm::Hs256);
    let token = server.token();
    server.verify(&token).unwrap();
    // A reload builds new `Key`s from the same stored keys: the cache keeps serving.
    server
        .ring
        .replace(KeySet::new(Key::from_stored(&server.stored).unwrap()));
    server.verify(&token).unwrap();
    assert!(server.verifier.verified_cache().unwrap().contains(&token));
    // Other material under the same kid: the cached token must be re-verified, and fails.
    let mut impostor = StoredKey::generate(Algorithm::Hs256, at(T0)).unwrap();
    impostor.kid = server.stored.kid.clone();
    server
        .ring
        .replace(KeySet::new(Key::from_stored(&impostor).unwrap()));
    assert!(matches!(
        server.verify(&token),
        Err(TokenError::BadSignature)
    ));
    assert!(!server.verifier.verified_cache().unwrap().contains(&token));
}

#[test]
fn a_flood_of_distinct_valid_tokens_stays_within_the_bound() {
    let server = Server::new(Algorithm::Hs256);
    let verifier = server.verifier.clone().with_verified_cache(64);
    let cache = verifier.verified_cache().unwrap();
    for n in 0..1_000 {
        verifier.verify(&nth_token(&server, n)).unwrap();
        assert!(cache.len() <= 64, "{} after {n}", cache.len());
    }
    assert!(cache.len() >= 32, "{}", cache.len());
}

#[test]
fn a_flood_of_invalid_tokens_neither_inserts_nor_evicts() {
    let server = Server::new(Algorithm::Hs256);
    let verifier = server.verifier.clone().with_verified_cache(16);
    let cache = verifier.verified_cache().unwrap();
    let kept: Vec<String> = (0..10).map(|n| nth_token(&server, n)).collect();
    for token in &kept {
        verifier.verify(token).unwrap();
    }
    let stranger = Server::new(Algorithm::EdDSA);
    for n in 0..2_000 {
        let valid = nth_token(&server, 100 + n);
        let bad = match n % 4 {
            0 => format!("{}A", valid.trim_end_matches(|c| c != '.')),
            1 => server.token_with(|c| c["aud"] = json!(format!("aud-{n}"))),
            2 => stranger.token_with(|c| c["jti"] = json!(format!("j{n}"))),
            _ => format!("{valid}x"),
        };
        assert!(verifier.verify(&bad).is_err(), "{n}");
    }
    assert_eq!(cache.len(), kept.len());
    for token in &kept {
        assert!(cache.contains(token));
    }
}

#[test]
fn a_token_in_use_survives_a_flood_of_tokens_seen_once() {
    let server = Server::new(Algorithm::Hs256);
    let verifier = server.verifier.clone().with_verified_cache(100);
    let cache = verifier.verified_cache().unwrap();
    let hot = server.token();
    for n in 0..2_000 {
        if n % 10 == 0 {
            verifier.verify(&hot).unwrap();
        }
        verifier.verify(&nth_token(&server, n)).unwrap();
    }
    assert!(cache.contains(&hot));
}

#[test]
fn clones_share_the_cache_and_threads_agree() {
    let server = Server::new(Algorithm::EdDSA);
    let tokens: Arc<Vec<String>> = Arc::new((0..20).map(|n| nth_token(&server, n)).collect());
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let verifier = server.verifier.clone();
            let tokens = Arc::clone(&tokens);
            std::thread::spawn(move || {
                for _ in 0..5 {
                    for token in tokens.iter() {
                        assert_eq!(verifier.verify(token).unwrap().sub, "42");
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(server.verifier.verified_cache().unwrap().len(), 20);
    // A verifier built separately has a cache of its own.
    let fresh = TokenVerifier::new(server.ring, Validation::new(ISS, AUD));
    assert!(fresh.verified_cache().unwrap().is_empty());
}
