//! Rates for the token routes that write on every call: `/auth/refresh` (and the browser's
//! `/auth/refresh/browser`) rotates a refresh session, `/auth/revoke` can add a deny-list entry
//! on every node. Each is limited per client address and per session or user, with `governor`'s
//! keyed GCRA limiters; past the rate, 429 `too_many_requests` with `Retry-After`.
//!
//! Memory is bounded: each limiter holds at most [`MAX_KEYS`] keys. When it is full, keys whose
//! bucket has refilled (idle long enough to have forgotten them harmlessly) are dropped, at most
//! once a second; if it is still full, newcomers share one overflow bucket of the same rate, so
//! a flood of made-up keys slows itself rather than growing the map or locking everyone out.
//! The numbers, and why, are in docs/SECURITY.md ("Rates").

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::ApiError;
use cloakroom::session::{ClientInfo, FamilyKey, SessionId};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use http::StatusCode;

/// The most keys one limiter remembers (a key costs well under 100 bytes: 10 MB at the worst).
pub const MAX_KEYS: usize = 100_000;
/// How often a full limiter may sweep its idle keys: a sweep walks the whole map.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Refreshes of one session: a burst of 32 (16 tabs refreshing at once, twice), then one per
/// 10 s. An honest client refreshes once per access-token lifetime (15 min by default).
pub const REFRESH_PER_SESSION: Rate = Rate::new(32, 6);
/// Refreshes from one address (an IPv6 /64): a burst of 120, then one a second, for the many
/// users behind one NAT, each refreshing once per access-token lifetime.
pub const REFRESH_PER_CLIENT: Rate = Rate::new(120, 60);
/// Revocations from one address: a burst of 60, then one per 2 s.
pub const REVOKE_PER_CLIENT: Rate = Rate::new(60, 30);
/// Revocations of one user's tokens: a burst of 20, then one per 6 s. Each one that revokes
/// adds a deny-list entry on every node, so this is what bounds the deny-list one user can grow.
pub const REVOKE_PER_USER: Rate = Rate::new(20, 10);

/// A burst, then a steady number per minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// How many requests may come at once.
    pub burst: u32,
    /// How many more per minute after the burst.
    pub per_minute: u32,
}

impl Rate {
    /// `burst` at once, then `per_minute`.
    pub const fn new(burst: u32, per_minute: u32) -> Self {
        Self { burst, per_minute }
    }

    fn quota(self) -> Quota {
        let nonzero = |n: u32| NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
        Quota::per_minute(nonzero(self.per_minute)).allow_burst(nonzero(self.burst))
    }
}

/// One keyed limiter with its memory bound.
#[derive(Debug)]
struct Keyed<K: Hash + Eq + Clone> {
    limiter: DefaultKeyedRateLimiter<K>,
    overflow: DefaultDirectRateLimiter,
    last_sweep: Mutex<Option<Instant>>,
    max_keys: usize,
}

impl<K: Hash + Eq + Clone> Keyed<K> {
    fn new(rate: Rate, max_keys: usize) -> Self {
        Self {
            limiter: RateLimiter::keyed(rate.quota()),
            overflow: RateLimiter::direct(rate.quota()),
            last_sweep: Mutex::new(None),
            max_keys,
        }
    }

    /// `Err(wait)` when `key` is over its rate.
    fn check(&self, key: &K) -> Result<(), Duration> {
        let now = DefaultClock::default().now();
        if self.limiter.len() >= self.max_keys && !self.sweep() {
            return self.overflow.check().map_err(|n| n.wait_time_from(now));
        }
        self.limiter
            .check_key(key)
            .map_err(|n| n.wait_time_from(now))
    }

    /// Drops the keys that have refilled, unless that was done less than a second ago; says
    /// whether there is room now.
    fn sweep(&self) -> bool {
        let mut last = self.last_sweep.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_none_or(|at| at.elapsed() >= SWEEP_EVERY) {
            *last = Some(Instant::now());
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        self.limiter.len() < self.max_keys
    }

    fn len(&self) -> usize {
        self.limiter.len()
    }
}

/// Where a client is, for its rate: its address, an IPv6 address by its /64 (what one host
/// or household is given), `None` when the server runs without connection info.
fn client_key(client: &ClientInfo) -> Option<IpAddr> {
    client.ip.map(|ip| match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
    })
}

/// 429 `too_many_requests`, retry after `wait`.
fn too_many(wait: Duration) -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_requests",
        "too many requests; try again later",
    )
    .with_retry_after(wait + Duration::from_millis(999))
}

/// The limiters of the token routes, one set per server.
#[derive(Debug)]
pub struct RateLimits {
    refresh_client: Keyed<Option<IpAddr>>,
    refresh_session: Keyed<FamilyKey>,
    revoke_client: Keyed<Option<IpAddr>>,
    revoke_user: Keyed<String>,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self::with_max_keys(MAX_KEYS)
    }
}

impl RateLimits {
    /// The limiters at the documented rates, each remembering at most `max_keys` keys.
    pub fn with_max_keys(max_keys: usize) -> Self {
        Self {
            refresh_client: Keyed::new(REFRESH_PER_CLIENT, max_keys),
            refresh_session: Keyed::new(REFRESH_PER_SESSION, max_keys),
            revoke_client: Keyed::new(REVOKE_PER_CLIENT, max_keys),
            revoke_user: Keyed::new(REVOKE_PER_USER, max_keys),
        }
    }

    /// A refresh of `token` by `client`: the address's rate first (so that made-up tokens cost
    /// the sender, not the map of sessions), then the session's. A session is named by its
    /// refresh family, which every token of it shares and which needs no store lookup.
    pub fn refresh(&self, client: &ClientInfo, token: &SessionId) -> Result<(), ApiError> {
        self.refresh_client
            .check(&client_key(client))
            .and_then(|()| self.refresh_session.check(&FamilyKey::of(token)))
            .map_err(too_many)
    }

    /// A revocation request from `client`, before its token is looked at.
    pub fn revoke_from(&self, client: &ClientInfo) -> Result<(), ApiError> {
        self.revoke_client
            .check(&client_key(client))
            .map_err(too_many)
    }

    /// A revocation of a token of `user_id`, once it is known to be valid.
    pub fn revoke_of(&self, user_id: &str) -> Result<(), ApiError> {
        self.revoke_user
            .check(&user_id.to_owned())
            .map_err(too_many)
    }

    /// How many keys the limiters hold, together: what the memory bound is about.
    pub fn keys(&self) -> usize {
        self.refresh_client.len()
            + self.refresh_session.len()
            + self.revoke_client.len()
            + self.revoke_user.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(ip: &str) -> ClientInfo {
        ClientInfo::new(None, Some(ip.parse().unwrap()))
    }

    #[test]
    fn a_session_gets_its_burst_then_a_429_with_retry_after() {
        let limits = RateLimits::default();
        let token = SessionId::generate().unwrap();
        let c = client("192.0.2.1");
        for _ in 0..REFRESH_PER_SESSION.burst {
            limits.refresh(&c, &token).unwrap();
        }
        let e = limits.refresh(&c, &token).unwrap_err();
        assert_eq!(
            (e.status, e.code),
            (StatusCode::TOO_MANY_REQUESTS, "too_many_requests")
        );
        assert!((1..=10).contains(&e.retry_after().unwrap()), "{e:?}");
        // Another session from the same address is not held back by this one.
        limits.refresh(&c, &SessionId::generate().unwrap()).unwrap();
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_slash_64() {
        assert_eq!(
            client_key(&client("2001:db8:1:2:aaaa::1")),
            client_key(&client("2001:db8:1:2:bbbb::2"))
        );
        assert_ne!(
            client_key(&client("2001:db8:1:2::1")),
            client_key(&client("2001:db8:1:3::1"))
        );
    }

    #[test]
    fn keys_are_bounded_and_newcomers_share_the_overflow_bucket() {
        let limits = RateLimits::with_max_keys(100);
        for i in 0..1_000u32 {
            let ip = std::net::Ipv4Addr::from(0x0a00_0000 + i);
            let c = ClientInfo::new(None, Some(ip.into()));
            let _ = limits.revoke_from(&c);
        }
        assert!(limits.keys() <= 100, "{}", limits.keys());
        // The overflow bucket has the per-client rate: the newcomers past it were refused.
        let c = client("198.51.100.7");
        assert!(limits.revoke_from(&c).is_err());
    }
}
