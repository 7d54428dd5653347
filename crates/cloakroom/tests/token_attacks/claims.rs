//! Claims that lie: expired, not yet valid, for someone else, of the wrong type, or revoked.

use std::time::Duration;

use cloakroom::clock::Timestamp;
use cloakroom::revocation::{Revocation, Revoked};
use cloakroom::token::{Algorithm, TokenError};
use serde_json::json;

use crate::token_support::*;

#[test]
fn expired_tokens_are_refused_after_the_leeway() {
    let server = Server::new(Algorithm::EdDSA);
    let ok = server.token_with(|c| c["exp"] = json!(T0 - 29));
    assert!(server.verify(&ok).is_ok());
    for exp in [T0 - 30, T0 - 3_600, 0, -1, i64::MIN] {
        let token = server.token_with(|c| c["exp"] = json!(exp));
        assert!(
            matches!(server.verify(&token), Err(TokenError::Expired { exp: e }) if e.unix() == exp),
            "{exp}"
        );
    }
    // And a good token, once the clock passes its exp and the leeway.
    let token = server.token();
    server.clock.advance(Duration::from_secs((TTL + 30) as u64));
    assert!(matches!(
        server.verify(&token),
        Err(TokenError::Expired { .. })
    ));
}

#[test]
fn tokens_not_yet_valid_are_refused_beyond_the_leeway() {
    let server = Server::new(Algorithm::Es256);
    assert!(
        server
            .verify(&server.token_with(|c| c["nbf"] = json!(T0 + 30)))
            .is_ok()
    );
    let early = server.token_with(|c| c["nbf"] = json!(T0 + 31));
    assert!(matches!(
        server.verify(&early),
        Err(TokenError::NotYetValid { .. })
    ));

    assert!(
        server
            .verify(&server.token_with(|c| c["iat"] = json!(T0 + 30)))
            .is_ok()
    );
    for iat in [T0 + 31, T0 + 86_400, i64::MAX] {
        let future = server.token_with(|c| c["iat"] = json!(iat));
        assert!(
            matches!(
                server.verify(&future),
                Err(TokenError::IssuedInFuture { .. })
            ),
            "{iat}"
        );
    }
}

#[test]
fn another_audience_issuer_or_type_is_refused() {
    let server = Server::new(Algorithm::Hs256);
    let cases = [
        (
            server.token_with(|c| c["aud"] = json!("billing")),
            "wrong_audience",
        ),
        (
            server.token_with(|c| c["aud"] = json!([])),
            "wrong_audience",
        ),
        (
            server.token_with(|c| c["aud"] = json!(["billing", "CLOAKROOM"])),
            "wrong_audience",
        ),
        (
            server.token_with(|c| c["iss"] = json!("https://evil.example")),
            "wrong_issuer",
        ),
        (
            server.token_with(|c| c["iss"] = json!("https://auth.example/")),
            "wrong_issuer",
        ),
        (
            server.token_with_header(|h| h["typ"] = json!("JWT")),
            "wrong_typ",
        ),
        (
            server.token_with_header(|h| h["typ"] = json!("id_token+jwt")),
            "wrong_typ",
        ),
        (
            server.token_with_header(|h| {
                h.as_object_mut().unwrap().remove("typ");
            }),
            "missing_typ",
        ),
    ];
    for (token, code) in cases {
        assert_eq!(server.verify(&token).unwrap_err().code(), code, "{token}");
    }
    // What RFC 9068 and RFC 7519 allow.
    for token in [
        server.token_with(|c| c["aud"] = json!(["billing", AUD])),
        server.token_with_header(|h| h["typ"] = json!("application/at+jwt")),
        server.token_with_header(|h| h["typ"] = json!("AT+JWT")),
    ] {
        assert!(server.verify(&token).is_ok(), "{token}");
    }
}

#[test]
fn claims_of_the_wrong_json_type_make_the_token_invalid() {
    let server = Server::new(Algorithm::EdDSA);
    for (claim, value) in [
        ("exp", json!("1700000900")),
        ("exp", json!(null)),
        ("iat", json!("1700000000")),
        ("nbf", json!("1700000000")),
        ("aud", json!(5)),
        ("aud", json!({"cloakroom": true})),
        ("roles", json!("admin")),
        ("roles", json!([["admin"]])),
        ("sub", json!(42)),
        ("iss", json!(["https://auth.example"])),
        ("jti", json!(7)),
        ("sid", json!(null)),
        ("name", json!(false)),
    ] {
        let token = server.token_with(|c| c[claim] = value.clone());
        match server.verify(&token) {
            Err(TokenError::InvalidClaim { claim: c, .. }) => assert_eq!(c, claim),
            other => panic!("{claim} = {value}: {other:?}"),
        }
    }
    for claim in ["exp", "iat", "sub", "aud", "jti", "sid", "roles"] {
        let token = server.token_with(|c| {
            c.as_object_mut().unwrap().remove(claim);
        });
        assert!(
            matches!(server.verify(&token), Err(TokenError::MissingClaim(c)) if c == claim),
            "{claim}"
        );
    }
}

#[test]
fn revoked_jti_sid_and_user_not_before_are_refused() {
    let server = Server::new(Algorithm::EdDSA);
    let token = server.token();
    let claims = server.verify(&token).unwrap();
    let exp = Timestamp::from_unix(T0 + TTL);

    server
        .deny
        .apply(&Revocation::token(claims.jti.clone(), exp));
    assert!(matches!(
        server.verify(&token),
        Err(TokenError::Revoked(Revoked::Token))
    ));
    let other_jti = server.token_with(|c| c["jti"] = json!("another"));
    assert!(server.verify(&other_jti).is_ok());

    server.deny.apply(&Revocation::session(claims.sid, exp));
    assert!(matches!(
        server.verify(&other_jti),
        Err(TokenError::Revoked(Revoked::Session))
    ));

    let fresh = |iat: i64| {
        server.token_with(|c| {
            c["jti"] = json!(format!("j{iat}"));
            c["sid"] = json!("another-session");
            c["iat"] = json!(iat);
        })
    };
    assert!(server.verify(&fresh(T0)).is_ok());
    let not_before = Timestamp::from_unix(T0 + 10);
    server.deny.apply(&Revocation::user(
        "42",
        not_before,
        exp.saturating_add(Duration::from_secs(30)),
    ));
    assert!(matches!(
        server.verify(&fresh(T0 + 9)),
        Err(TokenError::Revoked(Revoked::User { .. }))
    ));
    // A token issued at or after the cut-off (a new login) passes.
    assert!(server.verify(&fresh(T0 + 10)).is_ok());
}
