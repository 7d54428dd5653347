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
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionHandle(String);

impl SessionHandle {
    /// A new, random handle.
    pub fn generate() -> Result<Self, RandomError> {
        Ok(Self(
            URL_SAFE_NO_PAD.encode(random::bytes::<HANDLE_BYTES>()?),
        ))
    }

    /// Parses a handle that a client named (e.g. in `DELETE /auth/sessions/{id}`).
    pub fn parse(text: &str) -> Result<Self, InvalidSessionId> {
        let ok = text.len() == 22
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(text.to_owned()))
        } else {
            Err(InvalidSessionId)
        }
    }

    /// A handle that names no session (no generated or parsed handle is empty).
    pub fn empty() -> Self {
        Self(String::new())
    }

    /// The handle as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SessionHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
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
    }
}
