//! What failures are counted against: an account (by a digest of its name) and a client
//! address (IPv6 by its /64, which one client usually holds whole).

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv6Addr};

use sha2::{Digest as _, Sha256};

/// One sign-in attempt, as the throttle sees it: whom it is for and where it comes from.
///
/// The account is kept as the SHA-256 of its lowercased name, so the throttle's memory (or
/// Redis) never holds what clients typed, and a megabyte of username costs 32 bytes. Unknown
/// usernames are counted like known ones: the throttle must not tell them apart.
#[derive(Clone, PartialEq, Eq)]
pub struct Attempt {
    account: [u8; 32],
    address: Option<IpAddr>,
}

impl std::fmt::Debug for Attempt {
    // The digest of a username is still about a username: left out.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attempt")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

/// A counter's subject: what one entry of the throttle is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Subject {
    /// An account, by the digest of its name.
    Account([u8; 32]),
    /// A client address (an IPv6 address cut to its /64).
    Address(IpAddr),
}

impl Attempt {
    /// An attempt to sign in as `username` from `address` (`None` when the address is not
    /// known, e.g. in tests without a socket: only the account is then counted).
    pub fn new(username: &str, address: Option<IpAddr>) -> Self {
        let account = Sha256::digest(username.trim().to_lowercase().as_bytes()).into();
        Self {
            account,
            address: address.map(normalize),
        }
    }

    /// The client address failures are counted against, after normalizing.
    pub fn address(&self) -> Option<IpAddr> {
        self.address
    }

    pub(crate) fn account(&self) -> Subject {
        Subject::Account(self.account)
    }

    /// The address as a subject, if known.
    pub(crate) fn address_subject(&self) -> Option<Subject> {
        self.address.map(Subject::Address)
    }

    /// The account, then the address if known.
    pub(crate) fn subjects(&self) -> impl Iterator<Item = Subject> + '_ {
        std::iter::once(self.account()).chain(self.address.map(Subject::Address))
    }
}

impl Subject {
    /// The subject in a form fit for a key name: `a:{hex}` or `i:{address}`.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn key_suffix(&self) -> String {
        match self {
            Self::Account(digest) => {
                let mut s = String::with_capacity(2 + 64);
                s.push_str("a:");
                for b in digest {
                    let _ = write!(s, "{b:02x}");
                }
                s
            }
            Self::Address(ip) => format!("i:{ip}"),
        }
    }
}

/// IPv4-mapped IPv6 addresses become IPv4; other IPv6 addresses are cut to their /64, since
/// a single client is commonly given a whole /64 and could otherwise rotate through it.
fn normalize(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(bits))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_ignore_case_and_surrounding_space() {
        assert_eq!(Attempt::new("Alice ", None), Attempt::new("alice", None));
        assert_ne!(Attempt::new("alice", None), Attempt::new("bob", None));
    }

    #[test]
    fn ipv6_counts_by_its_64_and_mapped_ipv4_as_ipv4() {
        let a = Attempt::new("x", Some("2001:db8:1:2:aaaa::1".parse().unwrap()));
        let b = Attempt::new("x", Some("2001:db8:1:2:ffff::9".parse().unwrap()));
        assert_eq!(a.address(), b.address());
        assert_eq!(a.address(), Some("2001:db8:1:2::".parse().unwrap()));
        let mapped = Attempt::new("x", Some("::ffff:192.0.2.1".parse().unwrap()));
        assert_eq!(mapped.address(), Some("192.0.2.1".parse().unwrap()));
    }

    #[test]
    fn key_suffixes_hold_no_username() {
        let a = Attempt::new("alice", Some("192.0.2.1".parse().unwrap()));
        let keys: Vec<String> = a.subjects().map(|s| s.key_suffix()).collect();
        assert_eq!(keys.len(), 2);
        assert!(keys[0].starts_with("a:") && keys[0].len() == 66);
        assert!(!keys[0].contains("alice"));
        assert_eq!(keys[1], "i:192.0.2.1");
    }
}
