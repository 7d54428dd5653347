//! `RemoteVerifier` against a real JWKS endpoint on loopback (axum on port 0, counting its
//! fetches): rotation, floods of unknown `kid`s, `jku`, keys that must not be trusted, and an
//! endpoint that fails. Time is a `ManualClock` shared by the issuer and the verifier.

mod token_support;

#[path = "remote_jwks/support.rs"]
mod support;

use std::io::ErrorKind;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use cloakroom::clock::Timestamp;
use cloakroom::token::{
    Algorithm, JwksError, JwksOptions, Key, RemoteError, RemoteJwks, RemoteVerifier, StoredKey,
    TokenError, Validation,
};
use serde_json::json;
use support::*;
use token_support::{AUD, ISS, T0, assemble, b64, hmac_sign, json_b64};

#[tokio::test]
async fn tokens_from_a_token_issuer_verify_through_its_jwks() {
    for alg in token_support::ASYMMETRIC {
        let clock = clock();
        let issuer = Issuer::new(clock.clone(), alg);
        let endpoint = Endpoint::start(&issuer.jwks()).await;
        let verifier = connect(&endpoint, &clock).await;
        for _ in 0..10 {
            let claims = verifier.verify(&issuer.token()).await.unwrap();
            assert_eq!(
                (claims.sub.as_str(), claims.name.as_str()),
                ("42", "Bhaskar")
            );
        }
        assert_eq!(endpoint.fetches(), 1, "{alg}: fetched once, then cached");
        let keys = verifier.jwks().ring().unwrap().snapshot();
        assert!(keys.keys().iter().all(|k| !k.can_sign()));
    }
}

#[tokio::test]
async fn a_rotation_is_picked_up_with_exactly_one_refetch() {
    let clock = clock();
    let mut issuer = Issuer::new(clock.clone(), Algorithm::EdDSA);
    let endpoint = Endpoint::start(&issuer.jwks()).await;
    let verifier = connect(&endpoint, &clock).await;
    let before = issuer.token();

    clock.advance(COOLDOWN * 2);
    issuer.rotate();
    endpoint.set(StatusCode::OK, issuer.jwks().to_string());
    let after = issuer.token();
    for _ in 0..5 {
        verifier.verify(&after).await.unwrap();
        verifier.verify(&before).await.unwrap();
    }
    assert_eq!(endpoint.fetches(), 2);
    assert_eq!(verifier.jwks().requests(), 2);
}

#[tokio::test]
async fn a_key_withdrawn_from_the_jwks_stops_verifying_once_the_set_is_old() {
    let clock = clock();
    let mut issuer = Issuer::new(clock.clone(), Algorithm::Es256);
    let endpoint = Endpoint::start(&issuer.jwks()).await;
    let verifier = connect(&endpoint, &clock).await;
    let old = issuer.token();
    issuer.rotate();
    // The issuer withdraws the old key at once (say it leaked): only the new one is published.
    let new_only = json!({"keys": [issuer.ring.snapshot().active().to_jwk().unwrap()]});
    endpoint.set(StatusCode::OK, new_only.to_string());

    clock.advance(Duration::from_secs(300));
    verifier.verify(&old).await.unwrap();
    assert_eq!(endpoint.fetches(), 1, "the set is not old yet");

    clock.advance(Duration::from_secs(301));
    // This one still passes on the cached set and starts a background fetch.
    verifier.verify(&old).await.unwrap();
    for _ in 0..200 {
        if endpoint.fetches() == 2 && verifier.jwks().ring().unwrap().snapshot().len() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(endpoint.fetches(), 2);
    let refused = verifier.verify(&old).await.unwrap_err();
    assert!(
        matches!(refused, RemoteError::Token(TokenError::UnknownKid)),
        "{refused:?}"
    );
    assert_eq!(
        endpoint.fetches(),
        2,
        "inside the cooldown of the background fetch"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_unknown_kids_makes_at_most_one_fetch_per_cooldown() {
    let clock = clock();
    let issuer = Issuer::new(clock.clone(), Algorithm::EdDSA);
    let endpoint = Endpoint::start(&issuer.jwks()).await;
    let verifier = connect(&endpoint, &clock).await;
    let tokens: Arc<Vec<String>> = Arc::new(
        (0..1000)
            .map(|i| {
                issuer.forge(&json!({"alg": "EdDSA", "typ": "at+jwt", "kid": format!("k{i}")}))
            })
            .collect(),
    );
    let flood = || async {
        let mut tasks = tokio::task::JoinSet::new();
        for chunk in 0..10 {
            let (verifier, tokens) = (verifier.clone(), tokens.clone());
            tasks.spawn(async move {
                for token in &tokens[chunk * 100..(chunk + 1) * 100] {
                    let err = verifier.verify(token).await.unwrap_err();
                    assert!(
                        matches!(err, RemoteError::Token(TokenError::UnknownKid)),
                        "{err:?}"
                    );
                }
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.unwrap();
        }
    };
    // Each step: how far the clock moves, then how many fetches there have been in all.
    for (advance, total) in [(0, 1), (31, 2), (0, 2), (29, 2), (2, 3), (600, 4)] {
        clock.advance(Duration::from_secs(advance));
        flood().await;
        assert_eq!(endpoint.fetches(), total, "after +{advance}s");
    }
    verifier.verify(&issuer.token()).await.unwrap();
}

#[tokio::test]
async fn a_token_naming_a_jku_or_x5u_is_refused_and_that_url_is_never_asked() {
    let clock = clock();
    let issuer = Issuer::new(clock.clone(), Algorithm::EdDSA);
    let endpoint = Endpoint::start(&issuer.jwks()).await;
    let verifier = connect(&endpoint, &clock).await;
    let trap = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    trap.set_nonblocking(true).unwrap();
    let trap_url = format!("http://{}/jwks.json", trap.local_addr().unwrap());
    clock.advance(COOLDOWN * 2);
    for member in ["jku", "x5u"] {
        for kid in [issuer.kid(), "not-a-known-kid".to_owned()] {
            let token = issuer
                .forge(&json!({"alg": "EdDSA", "typ": "at+jwt", "kid": kid, member: trap_url}));
            let err = verifier.verify(&token).await.unwrap_err();
            assert!(
                matches!(err, RemoteError::Token(TokenError::ForbiddenHeader(m)) if m == member),
                "{member}: {err:?}"
            );
        }
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    match trap.accept() {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        other => panic!("the verifier connected to the URL a token named: {other:?}"),
    }
    assert_eq!(
        endpoint.fetches(),
        1,
        "a refused header is no reason to refetch"
    );
}

#[tokio::test]
async fn shared_secrets_and_keys_without_a_usable_alg_are_never_trusted() {
    let clock = clock();
    let issuer = Issuer::new(clock.clone(), Algorithm::EdDSA);
    let secret = [7u8; 32];
    let other =
        Key::from_stored(&StoredKey::generate(Algorithm::EdDSA, Timestamp::from_unix(T0)).unwrap())
            .unwrap();
    let mut no_alg = serde_json::to_value(other.to_jwk().unwrap()).unwrap();
    no_alg.as_object_mut().unwrap().remove("alg");
    no_alg["kid"] = json!("no-alg");
    let mut bad_alg = no_alg.clone();
    bad_alg["alg"] = json!("ES512");
    bad_alg["kid"] = json!("bad-alg");
    let mut twin = serde_json::to_value(other.to_jwk().unwrap()).unwrap();
    twin["kid"] = json!(issuer.kid());
    let good = issuer.jwks()["keys"][0].clone();
    let hmac = json!({"kty": "oct", "kid": "hmac", "alg": "HS256", "k": b64(&secret)});
    // The identity point: under it, R = identity and S = 0 verify any message.
    let identity = [&[1u8][..], &[0u8; 31]].concat();
    let small = json!({"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "kid": "small", "x": b64(&identity)});
    let mut jwks =
        json!({"keys": [hmac, no_alg, bad_alg, {"kty": "OKP", "alg": "EdDSA"}, small, good]});
    let endpoint = Endpoint::start(&jwks).await;
    let verifier = connect(&endpoint, &clock).await;
    assert_eq!(verifier.jwks().ring().unwrap().snapshot().len(), 1);
    verifier.verify(&issuer.token()).await.unwrap();

    let header = json!({"alg": "HS256", "typ": "at+jwt", "kid": "hmac"});
    let good_token = issuer.token();
    let payload = good_token.split('.').nth(1).unwrap();
    let input = format!("{}.{payload}", json_b64(&header));
    let mac = hmac_sign(aws_lc_rs::hmac::HMAC_SHA256, &secret, input.as_bytes());
    let forged = format!("{input}.{}", b64(&mac));
    let err = verifier.verify(&forged).await.unwrap_err();
    assert!(
        matches!(err, RemoteError::Token(TokenError::UnknownKid)),
        "{err:?}"
    );

    let header = json!({"alg": "EdDSA", "typ": "at+jwt", "kid": "small"});
    let claims: serde_json::Value = serde_json::from_slice(&token_support::unb64(payload)).unwrap();
    let forged = assemble(&header, &claims, &[identity, vec![0; 32]].concat());
    let err = verifier.verify(&forged).await.unwrap_err();
    assert!(
        matches!(err, RemoteError::Token(TokenError::UnknownKid)),
        "{err:?}"
    );

    // Another key under the same kid: neither is trusted, and a set of nothing else is no set.
    jwks["keys"].as_array_mut().unwrap().push(twin);
    endpoint.set(StatusCode::OK, jwks.to_string());
    let err = verifier.jwks().refresh().await.unwrap_err();
    assert!(
        matches!(err, JwksError::NoUsableKeys { skipped: 7, .. }),
        "{err:?}"
    );
    verifier.verify(&issuer.token()).await.unwrap();
}

#[tokio::test]
async fn the_last_good_keys_stay_when_the_jwks_fails() {
    let clock = clock();
    let issuer = Issuer::new(clock.clone(), Algorithm::EdDSA);
    let endpoint = Endpoint::start(&issuer.jwks()).await;
    let verifier = connect(&endpoint, &clock).await;
    let token = issuer.token();
    for (status, body) in [
        (StatusCode::INTERNAL_SERVER_ERROR, "oops".to_owned()),
        (StatusCode::FOUND, String::new()),
        (StatusCode::OK, "{\"keys\": 42}".to_owned()),
        (StatusCode::OK, "{\"keys\": []}".to_owned()),
    ] {
        endpoint.set(status, body);
        assert!(verifier.jwks().refresh().await.is_err(), "{status}");
        verifier.verify(&token).await.unwrap();
    }
    assert!(matches!(
        verifier.jwks().last_error(),
        Some(JwksError::NoUsableKeys { .. })
    ));

    endpoint.shut_down().await;
    let err = verifier.jwks().refresh().await.unwrap_err();
    assert!(matches!(err, JwksError::Request { .. }), "{err:?}");
    assert!(std::error::Error::source(&err).is_some());
    clock.advance(COOLDOWN * 2);
    verifier.verify(&token).await.unwrap();
    let unknown = issuer.forge(&json!({"alg": "EdDSA", "typ": "at+jwt", "kid": "new"}));
    let err = verifier.verify(&unknown).await.unwrap_err();
    assert!(
        matches!(err, RemoteError::Token(TokenError::UnknownKid)),
        "{err:?}"
    );
    verifier.verify(&token).await.unwrap();
}

#[tokio::test]
async fn nothing_verifies_until_a_first_fetch_succeeds() {
    let clock = clock();
    let issuer = Issuer::new(clock.clone(), Algorithm::EdDSA);
    let endpoint = Endpoint::start(&json!({"keys": []})).await;
    let jwks = RemoteJwks::new(&endpoint.url(), options(&clock)).unwrap();
    let verifier = RemoteVerifier::new(jwks, Validation::new(ISS, AUD));
    let err = verifier.verify(&issuer.token()).await.unwrap_err();
    assert!(err.is_server_fault());
    assert!(
        matches!(
            &err,
            RemoteError::Unavailable {
                last_error: Some(JwksError::NoUsableKeys { .. })
            }
        ),
        "{err:?}"
    );
    endpoint.set(StatusCode::OK, issuer.jwks().to_string());
    assert!(
        verifier.verify(&issuer.token()).await.is_err(),
        "inside the cooldown"
    );
    clock.advance(COOLDOWN);
    verifier.verify(&issuer.token()).await.unwrap();
    assert_eq!(endpoint.fetches(), 2);
}

#[tokio::test]
async fn large_slow_and_misplaced_endpoints_are_refused() {
    let clock = clock();
    let endpoint = Endpoint::start(&json!({"keys": [], "pad": "x".repeat(300 * 1024)})).await;
    let jwks = RemoteJwks::new(&endpoint.url(), options(&clock)).unwrap();
    let err = jwks.refresh().await.unwrap_err();
    assert!(
        matches!(err, JwksError::TooLarge { max: 262_144, .. }),
        "{err:?}"
    );

    // No declared length: the limit holds for what arrives.
    let mut chunked = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..8 {
        chunked.extend_from_slice(format!("10000\r\n{}\r\n", " ".repeat(0x10000)).as_bytes());
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let jwks = RemoteJwks::new(&raw_server(chunked).await, options(&clock)).unwrap();
    let err = jwks.refresh().await.unwrap_err();
    assert!(matches!(err, JwksError::TooLarge { .. }), "{err:?}");

    // Accepts the connection and never answers.
    let url = raw_server(Vec::new()).await;
    let jwks = RemoteJwks::new(&url, options(&clock).timeout(Duration::from_millis(300))).unwrap();
    let started = std::time::Instant::now();
    let err = jwks.refresh().await.unwrap_err();
    assert!(matches!(err, JwksError::Request { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(5));

    for (url, plain_ok) in [
        ("http://auth.example/jwks.json", false),
        ("http://10.0.0.1/jwks.json", false),
        ("http://localhost:1/jwks.json", true),
        ("http://[::1]:1/jwks.json", true),
        ("https://auth.example/.well-known/jwks.json", true),
    ] {
        let made = RemoteJwks::new(url, JwksOptions::default());
        assert_eq!(made.is_ok(), plain_ok, "{url}");
        if !plain_ok {
            assert!(matches!(made, Err(JwksError::PlainHttp { .. })));
            assert!(RemoteJwks::new(url, JwksOptions::default().allow_plain_http(true)).is_ok());
        }
    }
    for url in [
        "file:///etc/passwd",
        "ftp://auth.example/jwks",
        "jwks.json",
        "",
    ] {
        let made = RemoteJwks::new(url, JwksOptions::default().allow_plain_http(true));
        assert!(matches!(made, Err(JwksError::InvalidUrl { .. })), "{url}");
    }
}

#[tokio::test]
async fn a_deny_list_is_honoured() {
    let clock = clock();
    let issuer = Issuer::new(clock.clone(), Algorithm::EdDSA);
    let endpoint = Endpoint::start(&issuer.jwks()).await;
    let deny = Arc::new(cloakroom::revocation::DenyList::new());
    let verifier = connect(&endpoint, &clock)
        .await
        .with_deny_list(deny.clone());
    let token = issuer.token();
    let claims = verifier.verify(&token).await.unwrap();
    deny.apply(&cloakroom::revocation::Revocation::token(
        claims.jti, claims.exp,
    ));
    let err = verifier.verify(&token).await.unwrap_err();
    assert!(
        matches!(err, RemoteError::Token(TokenError::Revoked(_))),
        "{err:?}"
    );
    verifier.verify(&issuer.token()).await.unwrap();
}
