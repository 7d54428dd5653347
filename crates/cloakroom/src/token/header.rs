//! The JOSE header, read strictly and by hand: what it must not carry matters as much as what
//! it does.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, IgnoredAny, Visitor};
use serde::{Deserialize, Deserializer};

use super::TokenError;
use super::claims::without_position;

/// The header members verification uses, borrowed from the decoded header where they have
/// no escapes (the hot path allocates nothing for them).
#[derive(Debug)]
pub(crate) struct Header<'a> {
    pub(crate) alg: Cow<'a, str>,
    pub(crate) kid: Option<Cow<'a, str>>,
    pub(crate) typ: Option<Cow<'a, str>>,
}

/// A JSON string, borrowed when it can be, owned when it has escapes.
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V(std::marker::PhantomData))
    }
}

/// The header as JSON. Members that carry or locate a key, and `crit`, are only noted as
/// present (whatever their value, `null` included) so they can be refused; a repeated known
/// member is refused by serde itself (`duplicate field`).
#[derive(Deserialize)]
struct RawHeader<'a> {
    #[serde(default, borrow)]
    alg: Option<Text<'a>>,
    #[serde(default, borrow)]
    kid: Option<Text<'a>>,
    #[serde(default, borrow)]
    typ: Option<Text<'a>>,
    #[serde(default, deserialize_with = "present")]
    crit: bool,
    #[serde(default, deserialize_with = "present")]
    jwk: bool,
    #[serde(default, deserialize_with = "present")]
    jku: bool,
    #[serde(default, deserialize_with = "present")]
    x5u: bool,
    #[serde(default, deserialize_with = "present")]
    x5c: bool,
}

fn present<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    IgnoredAny::deserialize(d).map(|_| true)
}

/// Parses a decoded header. Refuses, in this order: anything but a JSON object with a string
/// `alg` (and string `kid`/`typ` if present); `alg: none` in any case; an embedded or linked
/// key (`jwk`, `jku`, `x5u`, `x5c`), which is never fetched nor used; and any `crit`, since no
/// extension is understood (RFC 7515 §4.1.11).
pub(crate) fn parse(json: &[u8]) -> Result<Header<'_>, TokenError> {
    let raw: RawHeader<'_> =
        serde_json::from_slice(json).map_err(|e| TokenError::BadHeader(without_position(&e)))?;
    let alg = raw
        .alg
        .ok_or_else(|| TokenError::BadHeader("missing \"alg\"".to_owned()))?
        .0;
    if alg.eq_ignore_ascii_case("none") {
        return Err(TokenError::AlgorithmNone);
    }
    for (is_present, name) in [
        (raw.jwk, "jwk"),
        (raw.jku, "jku"),
        (raw.x5u, "x5u"),
        (raw.x5c, "x5c"),
    ] {
        if is_present {
            return Err(TokenError::ForbiddenHeader(name));
        }
    }
    if raw.crit {
        return Err(TokenError::UnsupportedCritical);
    }
    Ok(Header {
        alg,
        kid: raw.kid.map(|t| t.0),
        typ: raw.typ.map(|t| t.0),
    })
}

/// Whether `typ` names an access token (RFC 9068 §2.1; media types compare case-insensitively,
/// and the `application/` prefix may be left out, RFC 7515 §4.1.9).
pub(crate) fn is_access_token_type(typ: &str) -> bool {
    typ.eq_ignore_ascii_case("at+jwt") || typ.eq_ignore_ascii_case("application/at+jwt")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(json: &str) -> TokenError {
        parse(json.as_bytes()).unwrap_err()
    }

    #[test]
    fn reads_the_members_it_needs() {
        let h = parse(br#"{"alg":"EdDSA","kid":"k1","typ":"at+jwt","x5t":"ignored"}"#).unwrap();
        assert_eq!(h.alg, "EdDSA");
        assert_eq!(h.kid.as_deref(), Some("k1"));
        assert_eq!(h.typ.as_deref(), Some("at+jwt"));
    }

    #[test]
    fn none_is_refused_in_every_spelling_and_escape() {
        for alg in ["none", "None", "NONE", "nOnE", "\\u006eone"] {
            let json = format!(r#"{{"alg":"{alg}","kid":"k"}}"#);
            assert!(matches!(err(&json), TokenError::AlgorithmNone), "{alg}");
        }
    }

    #[test]
    fn key_carrying_members_are_refused_even_when_null() {
        for member in ["jwk", "jku", "x5u", "x5c"] {
            for value in ["null", "\"https://attacker.example/k\"", "{}", "[]"] {
                let json = format!(r#"{{"alg":"ES256","kid":"k","{member}":{value}}}"#);
                assert!(
                    matches!(err(&json), TokenError::ForbiddenHeader(m) if m == member),
                    "{json}"
                );
            }
        }
    }

    #[test]
    fn crit_is_refused() {
        assert!(matches!(
            err(r#"{"alg":"ES256","kid":"k","crit":["exp"],"exp":1}"#),
            TokenError::UnsupportedCritical
        ));
    }

    #[test]
    fn wrong_shapes_and_types_are_bad_headers() {
        for json in [
            "[]",
            "\"alg\"",
            "{}",
            r#"{"alg":5}"#,
            r#"{"alg":"ES256","kid":7}"#,
            r#"{"alg":"ES256","kid":["k"]}"#,
            r#"{"alg":"ES256","typ":true}"#,
            r#"{"alg":"ES256","alg":"none"}"#,
            r#"{"alg":"ES256"} trailing"#,
            "not json",
        ] {
            assert!(matches!(err(json), TokenError::BadHeader(_)), "{json}");
        }
    }

    #[test]
    fn typ_matches_rfc9068() {
        assert!(is_access_token_type("at+jwt"));
        assert!(is_access_token_type("AT+JWT"));
        assert!(is_access_token_type("application/at+jwt"));
        assert!(!is_access_token_type("JWT"));
        assert!(!is_access_token_type("at+jwt "));
    }
}
