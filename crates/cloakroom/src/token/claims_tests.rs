//! The strict claims parser, claim by claim.

use super::{AccessClaims, Audience, TokenError};
use crate::clock::Timestamp;

const GOOD: &str = r#"{"iss":"https://a.example","sub":"1","aud":"cloakroom","exp":2000,"iat":1000,
    "jti":"j","sid":"s","name":"Bhaskar","roles":["user"],"extra":{"ignored":[1,2]}}"#;

fn with(claim: &str, value: &str) -> String {
    let mut v: serde_json::Value = serde_json::from_str(GOOD).unwrap();
    v[claim] = serde_json::from_str(value).unwrap();
    v.to_string()
}

fn without(claim: &str) -> String {
    let mut v: serde_json::Value = serde_json::from_str(GOOD).unwrap();
    v.as_object_mut().unwrap().remove(claim);
    v.to_string()
}

fn parse(json: &str) -> Result<AccessClaims, TokenError> {
    AccessClaims::from_json(json.as_bytes())
}

#[test]
fn parses_a_good_payload() {
    let c = parse(GOOD).unwrap();
    assert_eq!(c.exp, Timestamp::from_unix(2000));
    assert_eq!(c.aud, Audience::one("cloakroom"));
    assert_eq!(c.nbf, None);
    assert!(c.has_role("user"));
}

#[test]
fn audience_may_be_an_array_and_dates_fractions() {
    let c = parse(&with("aud", r#"["other","cloakroom"]"#)).unwrap();
    assert!(c.aud.contains("cloakroom"));
    let c = parse(&with("exp", "2000.9")).unwrap();
    assert_eq!(c.exp, Timestamp::from_unix(2000));
}

#[test]
fn wrong_types_are_invalid_claims_not_missing_ones() {
    for (claim, value) in [
        ("exp", r#""2000""#),
        ("exp", "null"),
        ("exp", "true"),
        ("exp", "1e300"),
        ("exp", "18446744073709551615"),
        ("iat", r#""1000""#),
        ("nbf", "[1]"),
        ("aud", "5"),
        ("aud", r#"["cloakroom",5]"#),
        ("roles", r#""admin""#),
        ("roles", r#"[1]"#),
        ("sub", "1"),
        ("iss", "{}"),
        ("jti", "null"),
        ("sid", "false"),
        ("name", "[]"),
    ] {
        match parse(&with(claim, value)) {
            Err(TokenError::InvalidClaim { claim: c, .. }) => assert_eq!(c, claim, "{value}"),
            other => panic!("{claim}={value}: {other:?}"),
        }
    }
}

#[test]
fn absent_claims_are_missing() {
    for claim in [
        "iss", "sub", "aud", "exp", "iat", "jti", "sid", "name", "roles",
    ] {
        assert!(
            matches!(parse(&without(claim)), Err(TokenError::MissingClaim(c)) if c == claim),
            "{claim}"
        );
    }
}

#[test]
fn repeats_and_non_objects_are_bad_claims() {
    let repeated = GOOD.replacen(r#""exp":2000"#, r#""exp":2000,"exp":9999999999"#, 1);
    assert!(matches!(parse(&repeated), Err(TokenError::BadClaims(m)) if m.contains("exp")));
    for json in ["[]", "1", "\"s\"", "null", "", "{", r#"{"exp":1"#, "{} {}"] {
        assert!(
            matches!(parse(json), Err(TokenError::BadClaims(_))),
            "{json}"
        );
    }
}

#[test]
fn serializes_single_audience_as_a_string() {
    let c = parse(GOOD).unwrap();
    let json = serde_json::to_value(&c).unwrap();
    assert_eq!(json["aud"], "cloakroom");
    assert!(json.get("nbf").is_none());
    assert_eq!(
        AccessClaims::from_json(json.to_string().as_bytes()).unwrap(),
        c
    );
}
