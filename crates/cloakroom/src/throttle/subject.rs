//! What failures are counted against: an account and client pair, the client across accounts,
//! and the account across clients. Accounts are kept by a digest of their name, client
//! addresses IPv6 by their /64 (which one client usually holds whole).

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv6Addr};

use sha2::{Digest as _, Sha256};

use super::ThrottlePolicy;
use super::policy::Limit;

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Subject {
    /// One account from one client (`None`: every attempt whose address is unknown counts as
    /// one client).
    Pair([u8; 32], Option<IpAddr>),
    /// A client address (an IPv6 address cut to its /64), across accounts.
    Address(IpAddr),
    /// An account, by the digest of its name, across clients.
    Account([u8; 32]),
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

    /// This account from this client: the pair a success clears.
    pub(crate) fn pair(&self) -> Subject {
        Subject::Pair(self.account, self.address)
    }

    /// What this attempt counts against, each with its limit: the pair first, then the
    /// client across accounts (if its address is known), then the account across clients.
    pub(crate) fn subjects(&self, policy: &ThrottlePolicy) -> Vec<(Subject, Limit)> {
        let mut subjects = Vec::with_capacity(3);
        subjects.push((self.pair(), policy.pair()));
        if let Some(ip) = self.address {
            subjects.push((Subject::Address(ip), policy.client()));
        }
        subjects.push((Subject::Account(self.account), policy.account()));
        subjects
    }
}

impl Subject {
    /// The subject in a form fit for a key name: `p:{hex}:{address or -}` for a pair,
    /// `i:{address}` for a client, `a:{hex}` for an account. Plain ASCII, so byte order and
    /// PostgreSQL's `C` collation agree.
    #[cfg_attr(not(any(feature = "redis", feature = "postgres")), allow(dead_code))]
    pub(crate) fn key_suffix(&self) -> String {
        let hex = |digest: &[u8; 32], s: &mut String| {
            for b in digest {
                let _ = write!(s, "{b:02x}");
            }
        };
        match self {
            Self::Pair(digest, ip) => {
                let mut s = String::with_capacity(2 + 64 + 41);
                s.push_str("p:");
                hex(digest, &mut s);
                match ip {
                    Some(ip) => {
                        let _ = write!(s, ":{ip}");
                    }
                    None => s.push_str(":-"),
                }
                s
            }
            Self::Address(ip) => format!("i:{ip}"),
            Self::Account(digest) => {
                let mut s = String::with_capacity(2 + 64);
                s.push_str("a:");
                hex(digest, &mut s);
                s
            }
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
        let policy = ThrottlePolicy::default();
        let keys: Vec<String> = a
            .subjects(&policy)
            .iter()
            .map(|(s, _)| s.key_suffix())
            .collect();
        assert_eq!(keys.len(), 3);
        assert!(keys[0].starts_with("p:") && keys[0].ends_with(":192.0.2.1"));
        assert_eq!(keys[1], "i:192.0.2.1");
        assert!(keys[2].starts_with("a:") && keys[2].len() == 66);
        assert!(keys.iter().all(|k| !k.contains("alice")));
        let unknown = Attempt::new("alice", None);
        let keys: Vec<String> = unknown
            .subjects(&policy)
            .iter()
            .map(|(s, _)| s.key_suffix())
            .collect();
        assert_eq!(keys.len(), 2);
        assert!(keys[0].ends_with(":-"), "{keys:?}");
    }
}
