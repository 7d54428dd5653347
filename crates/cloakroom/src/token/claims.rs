//! The claims of an access token, and their strict parser.

use std::cell::Cell;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::TokenError;
use crate::clock::Timestamp;
use crate::random::{self, RandomError};
use crate::session::{InvalidSessionId, SessionHandle};

/// Random bytes in a `jti` (128 bits).
const JTI_BYTES: usize = 16;

/// The claims Cloakroom puts in an access token. Nothing secret: anyone holding the token can
/// read them.
///
/// Parsed strictly ([`from_json`](Self::from_json)): a claim of the wrong JSON type (a string
/// `exp`, a numeric `aud`, a string `roles`, a `null`) makes the token invalid rather than
/// counting as absent, and a repeated claim is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessClaims {
    /// The issuer: the server's public URL.
    pub iss: String,
    /// The subject: the user's ID.
    pub sub: String,
    /// The audience(s) the token is for.
    pub aud: Audience,
    /// When the token expires.
    pub exp: Timestamp,
    /// When the token starts being valid, if not at once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nbf: Option<Timestamp>,
    /// When the token was issued.
    pub iat: Timestamp,
    /// The token's unique ID (128 random bits, base64url): what revoking one token names.
    pub jti: String,
    /// The public handle of the session the token belongs to.
    pub sid: String,
    /// The user's name.
    pub name: String,
    /// The user's roles.
    pub roles: Vec<String>,
}

impl AccessClaims {
    /// Parses a token's payload. See the type's documentation for how strict this is.
    pub fn from_json(json: &[u8]) -> Result<Self, TokenError> {
        let fault = Cell::new(None);
        let mut de = serde_json::Deserializer::from_slice(json);
        let raw = ClaimsSeed { fault: &fault }
            .deserialize(&mut de)
            .and_then(|raw| de.end().map(|()| raw))
            .map_err(|e| match fault.get() {
                Some(Fault::Type(claim)) if e.classify() == serde_json::error::Category::Data => {
                    TokenError::InvalidClaim {
                        claim,
                        reason: without_position(&e),
                    }
                }
                Some(Fault::Duplicate(claim)) => {
                    TokenError::BadClaims(format!("the claim \"{claim}\" appears twice"))
                }
                _ => TokenError::BadClaims(without_position(&e)),
            })?;
        Ok(Self {
            iss: raw.iss.ok_or(TokenError::MissingClaim("iss"))?,
            sub: raw.sub.ok_or(TokenError::MissingClaim("sub"))?,
            aud: raw.aud.ok_or(TokenError::MissingClaim("aud"))?,
            exp: raw.exp.ok_or(TokenError::MissingClaim("exp"))?,
            nbf: raw.nbf,
            iat: raw.iat.ok_or(TokenError::MissingClaim("iat"))?,
            jti: raw.jti.ok_or(TokenError::MissingClaim("jti"))?,
            sid: raw.sid.ok_or(TokenError::MissingClaim("sid"))?,
            name: raw.name.ok_or(TokenError::MissingClaim("name"))?,
            roles: raw.roles.ok_or(TokenError::MissingClaim("roles"))?,
        })
    }

    /// Whether the token grants `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// The session handle in `sid`, checked.
    pub fn session_handle(&self) -> Result<SessionHandle, InvalidSessionId> {
        SessionHandle::parse(&self.sid)
    }
}

/// A new `jti`: 128 random bits from the operating system, base64url.
pub fn new_jti() -> Result<String, RandomError> {
    Ok(URL_SAFE_NO_PAD.encode(random::bytes::<JTI_BYTES>()?))
}

/// The `aud` claim: one audience (written as a string) or several (an array), RFC 7519 §4.1.3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audience(Vec<String>);

impl Audience {
    /// A single audience.
    pub fn one(aud: impl Into<String>) -> Self {
        Self(vec![aud.into()])
    }

    /// Several audiences.
    pub fn many(auds: Vec<String>) -> Self {
        Self(auds)
    }

    /// Whether `aud` is one of them.
    pub fn contains(&self, aud: &str) -> bool {
        self.0.iter().any(|a| a == aud)
    }

    /// The audiences.
    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

impl Serialize for Audience {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0.as_slice() {
            [one] => s.serialize_str(one),
            many => many.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Audience {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Audience;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Audience, E> {
                Ok(Audience::one(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Audience, A::Error> {
                let mut out = Vec::new();
                while let Some(a) = seq.next_element::<String>()? {
                    out.push(a);
                }
                Ok(Audience(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// A NumericDate (RFC 7519 §2): a JSON number of seconds; fractions are dropped.
struct NumericDate(Timestamp);

impl<'de> Deserialize<'de> for NumericDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = NumericDate;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number of seconds since the epoch")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<NumericDate, E> {
                Ok(NumericDate(Timestamp::from_unix(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<NumericDate, E> {
                i64::try_from(v)
                    .map(|v| NumericDate(Timestamp::from_unix(v)))
                    .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<NumericDate, E> {
                // ±2^62 covers every date that matters and converts exactly.
                const LIMIT: f64 = 4_611_686_018_427_387_904.0;
                if v.is_finite() && v.abs() < LIMIT {
                    Ok(NumericDate(Timestamp::from_unix(v.floor() as i64)))
                } else {
                    Err(E::invalid_value(de::Unexpected::Float(v), &self))
                }
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Clone, Copy)]
enum Fault {
    Type(&'static str),
    Duplicate(&'static str),
}

#[derive(Default)]
struct RawClaims {
    iss: Option<String>,
    sub: Option<String>,
    aud: Option<Audience>,
    exp: Option<Timestamp>,
    nbf: Option<Timestamp>,
    iat: Option<Timestamp>,
    jti: Option<String>,
    sid: Option<String>,
    name: Option<String>,
    roles: Option<Vec<String>>,
}

/// Reads the claims object, noting in `fault` which claim failed, so that the error can name
/// it (serde_json's own message does not).
struct ClaimsSeed<'a> {
    fault: &'a Cell<Option<Fault>>,
}

impl<'de> DeserializeSeed<'de> for ClaimsSeed<'_> {
    type Value = RawClaims;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<RawClaims, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ClaimsSeed<'_> {
    type Value = RawClaims;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object of claims")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawClaims, A::Error> {
        let mut raw = RawClaims::default();
        let fault = self.fault;
        // One claim: refuses a repeat, and notes the claim's name if its value is refused.
        fn take<'de, A: MapAccess<'de>, T: Deserialize<'de>>(
            map: &mut A,
            slot: &mut Option<T>,
            name: &'static str,
            fault: &Cell<Option<Fault>>,
        ) -> Result<(), A::Error> {
            if slot.is_some() {
                fault.set(Some(Fault::Duplicate(name)));
                return Err(de::Error::custom(format_args!("duplicate claim {name}")));
            }
            fault.set(Some(Fault::Type(name)));
            *slot = Some(map.next_value()?);
            fault.set(None);
            Ok(())
        }
        let date = |d: &mut Option<Timestamp>, v: Option<NumericDate>| *d = v.map(|v| v.0);
        while let Some(key) = map.next_key::<ClaimName>()? {
            match key {
                ClaimName::Iss => take(&mut map, &mut raw.iss, "iss", fault)?,
                ClaimName::Sub => take(&mut map, &mut raw.sub, "sub", fault)?,
                ClaimName::Aud => take(&mut map, &mut raw.aud, "aud", fault)?,
                ClaimName::Exp | ClaimName::Nbf | ClaimName::Iat => {
                    let (slot, name) = match key {
                        ClaimName::Exp => (&mut raw.exp, "exp"),
                        ClaimName::Nbf => (&mut raw.nbf, "nbf"),
                        _ => (&mut raw.iat, "iat"),
                    };
                    let mut v = slot.map(NumericDate);
                    take(&mut map, &mut v, name, fault)?;
                    date(slot, v);
                }
                ClaimName::Jti => take(&mut map, &mut raw.jti, "jti", fault)?,
                ClaimName::Sid => take(&mut map, &mut raw.sid, "sid", fault)?,
                ClaimName::Name => take(&mut map, &mut raw.name, "name", fault)?,
                ClaimName::Roles => take(&mut map, &mut raw.roles, "roles", fault)?,
                ClaimName::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(raw)
    }
}

/// A claim's name, matched without allocating.
enum ClaimName {
    Iss,
    Sub,
    Aud,
    Exp,
    Nbf,
    Iat,
    Jti,
    Sid,
    Name,
    Roles,
    Other,
}

impl<'de> Deserialize<'de> for ClaimName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ClaimName;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a claim name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ClaimName, E> {
                Ok(match v {
                    "iss" => ClaimName::Iss,
                    "sub" => ClaimName::Sub,
                    "aud" => ClaimName::Aud,
                    "exp" => ClaimName::Exp,
                    "nbf" => ClaimName::Nbf,
                    "iat" => ClaimName::Iat,
                    "jti" => ClaimName::Jti,
                    "sid" => ClaimName::Sid,
                    "name" => ClaimName::Name,
                    "roles" => ClaimName::Roles,
                    _ => ClaimName::Other,
                })
            }
        }
        d.deserialize_identifier(V)
    }
}

/// serde_json's message without " at line 1 column 17": positions in a decoded payload mean
/// nothing to the reader of an error.
pub(crate) fn without_position(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg,
    }
}
