//! Connections per client address, so that one client cannot hold every connection slot.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use cloakroom_axum::TrustedProxies;

/// How many connections each client address holds; an IPv6 client is its /64 (one host
/// has them all).
#[derive(Debug, Clone)]
pub(super) struct ClientSlots {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    max: usize,
    proxies: TrustedProxies,
    held: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection's share; given back when the connection ends.
#[derive(Debug)]
pub(super) struct Slot {
    inner: Arc<Inner>,
    /// `None` for a trusted proxy, which is not counted.
    key: Option<IpAddr>,
}

/// The key a client is counted under.
fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
        v4 => v4,
    }
}

impl ClientSlots {
    pub(super) fn new(max: usize, proxies: TrustedProxies) -> Self {
        Self {
            inner: Arc::new(Inner {
                max,
                proxies,
                held: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// A slot for a connection from `ip`, or `None` when that client holds the most already.
    /// The map holds only clients with a connection open, so it is bounded by the global cap.
    pub(super) fn take(&self, ip: IpAddr) -> Option<Slot> {
        if self.inner.proxies.trusts(ip) {
            return Some(Slot {
                inner: Arc::clone(&self.inner),
                key: None,
            });
        }
        let key = key(ip);
        let mut held = self.inner.held.lock().unwrap_or_else(|e| e.into_inner());
        let count = held.entry(key).or_insert(0);
        if *count >= self.inner.max {
            return None;
        }
        *count += 1;
        Some(Slot {
            inner: Arc::clone(&self.inner),
            key: Some(key),
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let Some(key) = self.key else { return };
        let mut held = self.inner.held.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = held.get_mut(&key) {
            *count -= 1;
            if *count == 0 {
                held.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_gets_its_share_and_gets_it_back() {
        let slots = ClientSlots::new(2, TrustedProxies::default());
        let ip: IpAddr = "203.0.113.5".parse().unwrap();
        let a = slots.take(ip).unwrap();
        let _b = slots.take(ip).unwrap();
        assert!(
            slots.take(ip).is_none(),
            "a third connection from one client"
        );
        assert!(
            slots.take("203.0.113.6".parse().unwrap()).is_some(),
            "another client"
        );
        drop(a);
        assert!(slots.take(ip).is_some(), "the slot came back");
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_slash_64_and_proxies_not_at_all() {
        let proxies = TrustedProxies::new(
            ["10.0.0.0/8"],
            cloakroom_axum::ForwardedHeader::XForwardedFor,
        )
        .unwrap();
        let slots = ClientSlots::new(1, proxies);
        let _a = slots.take("2001:db8:1:2::1".parse().unwrap()).unwrap();
        assert!(slots.take("2001:db8:1:2::ffff".parse().unwrap()).is_none());
        assert!(slots.take("2001:db8:1:3::1".parse().unwrap()).is_some());
        let _p = slots.take("10.0.0.1".parse().unwrap()).unwrap();
        assert!(
            slots.take("10.0.0.1".parse().unwrap()).is_some(),
            "proxies are not capped"
        );
    }
}
