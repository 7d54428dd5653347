//! Session identifiers: the secret the client holds, the digest the store keeps, and the public
//! handle that names a session in listings.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::random::{self, RandomError};

/// Length of a session ID in bytes (256 bits).
const ID_BYTES: usize = 32;
/// Length of a session ID in its base64url form (no padding).
const ID_CHARS: usize = 43;
/// Length of a public handle in bytes (128 bits).
const HANDLE_BYTES: usize = 16;
/// Length of a public handle in its base64url form (no padding).
const HANDLE_CHARS: usize = 22;

/// The secret that a client presents to claim its session: 256 random bits from the operating
/// system, written as base64url without padding.
///
/// It is never stored: stores keep its [`SessionKey`] (SHA-256), so a copy of the store cannot
/// be replayed. `Debug` prints `[redacted]`, equality is constant-time, and the bytes are wiped
/// on drop.
///
/// ```
/// use cloakroom::session::SessionId;
///
/// let id = SessionId::generate()?;
/// let text = id.expose_secret();
/// assert_eq!(text.len(), 43);
/// assert_eq!(SessionId::parse(&text)?, id);
/// assert_eq!(format!("{id:?}"), "SessionId([redacted])");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SessionId([u8; ID_BYTES]);

/// A session ID that is not 43 characters of base64url encoding 32 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed session ID")]
pub struct InvalidSessionId;

impl SessionId {
    /// A new, random session ID.
    pub fn generate() -> Result<Self, RandomError> {
        Ok(Self(random::bytes::<ID_BYTES>()?))
    }

    /// Parses the text a client presented (e.g. a cookie value).
    ///
    /// Anything but exactly 43 base64url characters is refused before decoding, so oversized or
    /// hostile input costs nothing.
    pub fn parse(text: &str) -> Result<Self, InvalidSessionId> {
        if text.len() != ID_CHARS {
            return Err(InvalidSessionId);
        }
        // The decoder asks for room rounded up to whole 3-byte groups.
        let mut buf = zeroize::Zeroizing::new([0u8; ID_BYTES + 3]);
        let n = URL_SAFE_NO_PAD
            .decode_slice(text.as_bytes(), &mut buf[..])
            .map_err(|_| InvalidSessionId)?;
        if n != ID_BYTES {
            return Err(InvalidSessionId);
        }
        let mut bytes = [0u8; ID_BYTES];
        bytes.copy_from_slice(&buf[..ID_BYTES]);
        Ok(Self(bytes))
    }

    /// The ID as the client should hold it. Named so that every place that reveals it is easy
    /// to find.
    pub fn expose_secret(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    /// The raw bytes, for deriving from (see `session::rotation`); never stored.
    pub(crate) fn as_bytes(&self) -> &[u8; ID_BYTES] {
        &self.0
    }

    /// An ID made of `bytes` (see `session::rotation`).
    pub(crate) fn from_bytes(bytes: [u8; ID_BYTES]) -> Self {
        Self(bytes)
    }

    /// The digest under which stores keep this session.
    pub fn key(&self) -> SessionKey {
        SessionKey(Sha256::digest(self.0).into())
    }
}

impl PartialEq for SessionId {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for SessionId {}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionId([redacted])")
    }
}

/// The SHA-256 of a [`SessionId`]: what stores use as the primary key.
///
/// Knowing a key does not let anyone present the session, so it may appear in a store dump;
/// `Debug` still shows only a prefix, enough to correlate log lines.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionKey([u8; 32]);

impl SessionKey {
    /// Wraps a digest read back from a store.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw digest, for storing.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The digest in lowercase hex, for stores that key by text.
    pub fn to_hex(&self) -> String {
        use std::fmt::Write as _;
        self.0.iter().fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    }
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionKey({}…)", &self.to_hex()[..8])
    }
}

/// The public name of a session, shown in `/auth/sessions` and carried as `sid` in tokens.
///
/// It is 128 random bits chosen when the session starts, unrelated to the [`SessionId`]: seeing
/// a handle never lets anyone present the session.
///
/// It is kept inline as its 22 base64url characters (all zero for the [empty](Self::empty)
/// handle): `Copy`, no allocation, and every session record carries one. In serde it is the
/// text, as before; deserializing anything but a handle or `""` fails.
///
/// ```
/// use cloakroom::session::SessionHandle;
///
/// let handle = SessionHandle::generate()?;
/// assert_eq!(handle.as_str().len(), 22);
/// assert_eq!(SessionHandle::parse(handle.as_str())?, handle);
/// assert_eq!(serde_json::to_string(&SessionHandle::empty())?, r#""""#);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
// Ordering the bytes orders the text: the empty handle's zeros sort first, as "" does.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionHandle([u8; HANDLE_CHARS]);

impl SessionHandle {
    /// A new, random handle.
    pub fn generate() -> Result<Self, RandomError> {
        let mut text = [0u8; HANDLE_CHARS];
        let written = URL_SAFE_NO_PAD.encode_slice(random::bytes::<HANDLE_BYTES>()?, &mut text);
        // 16 bytes are 22 characters, exactly the room given: the encoder never runs short.
        debug_assert_eq!(written.ok(), Some(HANDLE_CHARS));
        Ok(Self(text))
    }

    /// Parses a handle that a client named (e.g. in `DELETE /auth/sessions/{id}`).
    pub fn parse(text: &str) -> Result<Self, InvalidSessionId> {
        let bytes: [u8; HANDLE_CHARS] = text.as_bytes().try_into().map_err(|_| InvalidSessionId)?;
        if bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
        {
            Ok(Self(bytes))
        } else {
            Err(InvalidSessionId)
        }
    }

    /// A handle that names no session (no generated or parsed handle is empty).
    pub const fn empty() -> Self {
        Self([0; HANDLE_CHARS])
    }

    /// Whether this is the [empty](Self::empty) handle.
    pub fn is_empty(&self) -> bool {
        self.0[0] == 0
    }

    /// The handle as text.
    pub fn as_str(&self) -> &str {
        let text = if self.is_empty() {
            &[][..]
        } else {
            &self.0[..]
        };
        // Only ASCII is ever stored (see `generate` and `parse`), so this never falls back.
        std::str::from_utf8(text).unwrap_or_default()
    }
}

impl fmt::Debug for SessionHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SessionHandle")
            .field(&self.as_str())
            .finish()
    }
}

impl fmt::Display for SessionHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for SessionHandle {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for SessionHandle {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Text;
        impl serde::de::Visitor<'_> for Text {
            type Value = SessionHandle;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a session handle (22 base64url characters) or \"\"")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<SessionHandle, E> {
                if text.is_empty() {
                    return Ok(SessionHandle::empty());
                }
                SessionHandle::parse(text)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Str(text), &self))
            }
        }
        deserializer.deserialize_str(Text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_distinct_and_round_trip() {
        let a = SessionId::generate().unwrap();
        let b = SessionId::generate().unwrap();
        assert_ne!(a, b);
        assert_eq!(SessionId::parse(&a.expose_secret()).unwrap(), a);
    }

    #[test]
    fn key_is_sha256_of_the_raw_bytes() {
        let id = SessionId([0u8; 32]);
        assert_eq!(
            id.key().to_hex(),
            "66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925"
        );
    }

    #[test]
    fn parse_refuses_bad_input() {
        for bad in [
            "",
            "short",
            &"A".repeat(44),
            &"A".repeat(42),
            "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            // Non-canonical last character: 43 chars carry 258 bits, the last 2 must be zero.
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB",
        ] {
            assert_eq!(SessionId::parse(bad), Err(InvalidSessionId), "{bad:?}");
        }
    }

    #[test]
    fn debug_is_redacted() {
        let id = SessionId::generate().unwrap();
        let shown = format!("{id:?}");
        assert!(!shown.contains(&id.expose_secret()));
        assert_eq!(shown, "SessionId([redacted])");
    }

    #[test]
    fn handles_are_unrelated_to_ids_and_parse() {
        let h = SessionHandle::generate().unwrap();
        assert_eq!(SessionHandle::parse(h.as_str()).unwrap(), h);
        assert!(SessionHandle::parse("../../etc/passwd").is_err());
        assert!(SessionHandle::parse(&"a".repeat(23)).is_err());
        assert!(SessionHandle::parse("").is_err());
        assert!(!h.is_empty());
        assert!(SessionHandle::empty().is_empty());
        assert_eq!(SessionHandle::empty().as_str(), "");
    }

    #[test]
    fn handles_serialize_as_their_text_and_order_as_it() {
        let a = SessionHandle::parse("AAAAAAAAAAAAAAAAAAAAAA").unwrap();
        let b = SessionHandle::parse("AAAAAAAAAAAAAAAAAAAAA_").unwrap();
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(json, r#""AAAAAAAAAAAAAAAAAAAAAA""#);
        assert_eq!(serde_json::from_str::<SessionHandle>(&json).unwrap(), a);
        let empty: SessionHandle = serde_json::from_str(r#""""#).unwrap();
        assert_eq!(empty, SessionHandle::empty());
        assert!(serde_json::from_str::<SessionHandle>(r#""../etc""#).is_err());
        // As the text sorts: "" < "AAA…A" < "AAA…_" (bytewise, as the SQL stores order).
        assert!(SessionHandle::empty() < a && a < b);
        assert_eq!(a.cmp(&b), a.as_str().cmp(b.as_str()));
        assert_eq!(
            format!("{a:?}"),
            r#"SessionHandle("AAAAAAAAAAAAAAAAAAAAAA")"#
        );
    }
}
