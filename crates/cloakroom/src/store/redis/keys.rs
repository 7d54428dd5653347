//! The key layout: every key of a store starts with its namespace.

use crate::session::{FamilyKey, SessionKey};

/// The longest namespace accepted, in bytes.
const MAX_NAMESPACE: usize = 64;

/// A namespace that would make keys ambiguous or unsafe in a `SCAN MATCH` pattern.
#[derive(Debug, thiserror::Error)]
#[error(
    "invalid Redis namespace {0:?}: use 1 to 64 ASCII letters, digits, '.', '_' or '-' \
     (no ':', so that one namespace is never a prefix of another's keys)"
)]
pub(super) struct InvalidNamespace(pub(super) String);

/// The names of one namespace's keys:
///
/// - `{ns}:s:{hex key}`: a session, a hash (see [`codec`](super::codec));
/// - `{ns}:u:{user id}`: a set of the hex keys of one user's sessions;
/// - `{ns}:x`: a sorted set of every hex key, scored by when the session ends (Unix seconds);
/// - `{ns}:f:{hex family}`: a refresh family (hybrid mode's refresh tokens, one per rotated
///   session), a hash of the current member `c`, the just-spent member `p`, when it was spent
///   `t`, the successor's nonce `n`, and the user ID `u`, handle `h` and absolute expiry `ae`
///   of its session;
/// - `{ns}:r:{kind}:{subject}`: a deny-list entry, a hash of its expiry `e` and, for a user,
///   not-before `nb` (Unix seconds);
/// - `{ns}:rx`: a sorted set of every `{kind}:{subject}`, scored by when the entry expires.
#[derive(Debug, Clone)]
pub(super) struct Keys {
    namespace: String,
    record_prefix: String,
    user_prefix: String,
    expiry: String,
    family_prefix: String,
}

impl Keys {
    /// The layout for `namespace`, if it is a valid one.
    pub(super) fn new(namespace: &str) -> Result<Self, InvalidNamespace> {
        let valid = !namespace.is_empty()
            && namespace.len() <= MAX_NAMESPACE
            && namespace
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !valid {
            return Err(InvalidNamespace(namespace.to_owned()));
        }
        Ok(Self {
            namespace: namespace.to_owned(),
            record_prefix: format!("{namespace}:s:"),
            user_prefix: format!("{namespace}:u:"),
            expiry: format!("{namespace}:x"),
            family_prefix: format!("{namespace}:f:"),
        })
    }

    /// The namespace itself.
    pub(super) fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The key of the session stored under `key`.
    pub(super) fn record(&self, key: &SessionKey) -> String {
        let mut out = String::with_capacity(self.record_prefix.len() + 64);
        out.push_str(&self.record_prefix);
        push_hex(&mut out, key);
        out
    }

    /// What record keys start with; scripts append a member to it.
    pub(super) fn record_prefix(&self) -> &str {
        &self.record_prefix
    }

    /// The key of the refresh family `family`.
    pub(super) fn family(&self, family: &FamilyKey) -> String {
        let mut out = String::with_capacity(self.family_prefix.len() + 64);
        out.push_str(&self.family_prefix);
        push_hex(&mut out, &SessionKey::from_bytes(*family.as_bytes()));
        out
    }

    /// The key of the deny-list entry named `member` (`{kind}:{subject}`).
    #[cfg(feature = "jwt")]
    pub(super) fn revocation(&self, member: &str) -> String {
        format!("{}{member}", self.revocation_prefix())
    }

    /// What deny-list entry keys start with; scripts append a member to it. (Built on each
    /// call: revocations are rare, and sessions need none of these.)
    #[cfg(feature = "jwt")]
    pub(super) fn revocation_prefix(&self) -> String {
        format!("{}:r:", self.namespace)
    }

    /// The key of the sorted set of deny-list entries by expiry.
    #[cfg(feature = "jwt")]
    pub(super) fn revocations(&self) -> String {
        format!("{}:rx", self.namespace)
    }

    /// The key of the set of `user_id`'s sessions.
    pub(super) fn user(&self, user_id: &str) -> String {
        format!("{}{user_id}", self.user_prefix)
    }

    /// What user-set keys start with; scripts append a user ID to it.
    pub(super) fn user_prefix(&self) -> &str {
        &self.user_prefix
    }

    /// The key of the sorted set of sessions by expiry.
    pub(super) fn expiry(&self) -> &str {
        &self.expiry
    }
}

/// How a session key appears in the index sets: its digest in lowercase hex.
pub(super) fn member(key: &SessionKey) -> String {
    let mut out = String::with_capacity(64);
    push_hex(&mut out, key);
    out
}

/// Reads a member back; `None` if it is not 64 hex digits.
pub(super) fn parse_member(text: &[u8]) -> Option<SessionKey> {
    if text.len() != 64 {
        return None;
    }
    let mut bytes = [0u8; 32];
    for (out, pair) in bytes.iter_mut().zip(text.chunks_exact(2)) {
        *out = (hex_digit(pair[0])? << 4) | hex_digit(pair[1])?;
    }
    Some(SessionKey::from_bytes(bytes))
}

fn push_hex(out: &mut String, key: &SessionKey) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for b in key.as_bytes() {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_round_trip_and_match_to_hex() {
        let key = SessionKey::from_bytes(std::array::from_fn(|i| (i * 37) as u8));
        let m = member(&key);
        assert_eq!(m, key.to_hex());
        assert_eq!(parse_member(m.as_bytes()), Some(key));
        assert_eq!(parse_member(b"abc"), None);
        assert_eq!(parse_member(m.to_uppercase().as_bytes()), None);
    }

    #[test]
    fn layout_is_namespaced() {
        let keys = Keys::new("app-1").unwrap();
        let key = SessionKey::from_bytes([0xab; 32]);
        assert_eq!(keys.record(&key), format!("app-1:s:{}", "ab".repeat(32)));
        assert_eq!(keys.user("42"), "app-1:u:42");
        assert_eq!(keys.expiry(), "app-1:x");
        assert_eq!(
            keys.family(&FamilyKey::from_bytes([0xab; 32])),
            format!("app-1:f:{}", "ab".repeat(32))
        );
        #[cfg(feature = "jwt")]
        {
            assert_eq!(keys.revocation("token:j1"), "app-1:r:token:j1");
            assert_eq!(keys.revocations(), "app-1:rx");
        }
    }

    #[test]
    fn namespaces_that_could_overlap_or_glob_are_refused() {
        for bad in ["", "a:b", "a*", "a?", "[a]", "a b", "ü", &"a".repeat(65)] {
            assert!(Keys::new(bad).is_err(), "{bad:?}");
        }
    }
}
