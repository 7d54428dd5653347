//! The client's address behind reverse proxies: the forwarding headers are believed only when
//! the TCP peer is a proxy the operator trusts, and only as far back as trusted proxies go.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use http::HeaderMap;

/// The header a trusted proxy reports the client's address in. Only this one is read: a
/// proxy that writes `X-Forwarded-For` passes a `Forwarded` header from the client through
/// untouched, so reading both would let clients choose their address.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (nginx, HAProxy, Traefik, Envoy, most load
    /// balancers). The default.
    #[default]
    XForwardedFor,
    /// `Forwarded: for=client, for=proxy1` (RFC 7239).
    Forwarded,
    /// `X-Real-IP: client`, one address set by the proxy.
    XRealIp,
}

impl ForwardedHeader {
    fn name(self) -> &'static str {
        match self {
            Self::XForwardedFor => "x-forwarded-for",
            Self::Forwarded => "forwarded",
            Self::XRealIp => "x-real-ip",
        }
    }
}

/// An address range, `192.0.2.0/24` or `2001:db8::/32`; a bare address is a range of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

/// A range that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an address or an address range such as 10.0.0.0/8 or fd00::/8")]
pub struct InvalidCidr(pub String);

impl FromStr for Cidr {
    type Err = InvalidCidr;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || InvalidCidr(s.to_owned());
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let network = canonical(addr.parse::<IpAddr>().map_err(|_| bad())?);
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?,
            None => max,
        };
        Ok(Self { network, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl Cidr {
    /// Whether `ip` lies in the range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// IPv4-mapped IPv6 addresses (a dual-stack socket's view of IPv4 peers) as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// The reverse proxies whose forwarding header is believed, and which header that is.
///
/// With none (the default), the client's address is the TCP peer's, whatever headers say.
///
/// ```
/// use cloakroom_axum::{ForwardedHeader, TrustedProxies};
/// use http::HeaderMap;
///
/// let proxies = TrustedProxies::new(["10.0.0.0/8"], ForwardedHeader::XForwardedFor).unwrap();
/// let mut headers = HeaderMap::new();
/// headers.insert("x-forwarded-for", "1.2.3.4, 198.51.100.7, 10.1.1.1".parse().unwrap());
/// // Through the trusted proxy: the first hop from the right that is not a trusted proxy.
/// let via_proxy = proxies.client_addr(&headers, Some("10.0.0.2".parse().unwrap()));
/// assert_eq!(via_proxy, Some("198.51.100.7".parse().unwrap()));
/// // From anyone else the header is ignored.
/// let direct = proxies.client_addr(&headers, Some("203.0.113.9".parse().unwrap()));
/// assert_eq!(direct, Some("203.0.113.9".parse().unwrap()));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    ranges: Vec<Cidr>,
    header: ForwardedHeader,
}

impl TrustedProxies {
    /// Trusts the proxies in `ranges` to report the client in `header`.
    pub fn new<I, S>(ranges: I, header: ForwardedHeader) -> Result<Self, InvalidCidr>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let ranges = ranges
            .into_iter()
            .map(|r| r.as_ref().parse())
            .collect::<Result<_, _>>()?;
        Ok(Self { ranges, header })
    }

    /// Whether `ip` is a trusted proxy.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.ranges.iter().any(|r| r.contains(ip))
    }

    /// The client's address: the TCP `peer`'s, unless the peer is a trusted proxy; then the
    /// forwarding header is walked from the right (the hop the trusted proxy itself added),
    /// skipping trusted proxies, to the first address that is not one. An entry that is not an
    /// address (`unknown`, an obfuscated name, garbage) ends the walk at the last address
    /// known. `None` only when there is no peer address.
    pub fn client_addr(&self, headers: &HeaderMap, peer: Option<IpAddr>) -> Option<IpAddr> {
        let mut client = canonical(peer?);
        if !self.trusts(client) {
            return Some(client);
        }
        let mut hops: Vec<&str> = Vec::new();
        for value in headers.get_all(self.header.name()) {
            let Ok(value) = value.to_str() else {
                return Some(client);
            };
            match self.header {
                ForwardedHeader::XRealIp => hops = vec![value],
                _ => hops.extend(value.split(',')),
            }
        }
        for hop in hops.iter().rev() {
            let parsed = match self.header {
                ForwardedHeader::Forwarded => forwarded_for(hop).and_then(host_addr),
                _ => host_addr(hop),
            };
            let Some(ip) = parsed else {
                return Some(client);
            };
            client = ip;
            if !self.trusts(ip) {
                break;
            }
        }
        Some(client)
    }
}

/// The `for=` parameter of one `Forwarded` element.
fn forwarded_for(element: &str) -> Option<&str> {
    element.split(';').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("for")
            .then(|| value.trim().trim_matches('"'))
    })
}

/// An address with or without a port: `192.0.2.1`, `192.0.2.1:80`, `2001:db8::1`,
/// `[2001:db8::1]`, `[2001:db8::1]:80`.
fn host_addr(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    if let Some(rest) = hop.strip_prefix('[') {
        let (inside, _) = rest.split_once(']')?;
        return inside
            .parse::<Ipv6Addr>()
            .ok()
            .map(|ip| canonical(ip.into()));
    }
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    let (host, port) = hop.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn headers(name: &'static str, values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(name, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn ranges_parse_and_match() {
        let r: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(r.contains(ip("10.255.0.1")));
        assert!(r.contains(ip("::ffff:10.0.0.1")));
        assert!(!r.contains(ip("11.0.0.1")));
        let one: Cidr = "192.0.2.7".parse().unwrap();
        assert!(one.contains(ip("192.0.2.7")) && !one.contains(ip("192.0.2.8")));
        let v6: Cidr = "fd00::/8".parse().unwrap();
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("203.0.113.1")));
        for bad in [
            "",
            "10.0.0.0/33",
            "fd00::/129",
            "example.com",
            "10.0.0.0/x",
            "/8",
        ] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn untrusted_peers_are_taken_as_they_are() {
        let p = TrustedProxies::default();
        let h = headers("x-forwarded-for", &["1.1.1.1"]);
        assert_eq!(
            p.client_addr(&h, Some(ip("192.0.2.1"))),
            Some(ip("192.0.2.1"))
        );
        assert_eq!(p.client_addr(&h, None), None);
    }

    #[test]
    fn x_forwarded_for_is_walked_from_the_right_past_trusted_hops() {
        let p = TrustedProxies::new(["10.0.0.0/8"], ForwardedHeader::XForwardedFor).unwrap();
        let peer = Some(ip("10.0.0.1"));
        // Two headers count as one list, in order.
        let h = headers(
            "x-forwarded-for",
            &["6.6.6.6, 198.51.100.1", "10.0.0.9 , 10.0.0.8"],
        );
        assert_eq!(p.client_addr(&h, peer), Some(ip("198.51.100.1")));
        let h = headers("x-forwarded-for", &["[2001:db8::5]:443, 198.51.100.2:8080"]);
        assert_eq!(p.client_addr(&h, peer), Some(ip("198.51.100.2")));
        // Garbage ends the walk at the last trusted hop.
        let h = headers("x-forwarded-for", &["6.6.6.6, nonsense, 10.0.0.3"]);
        assert_eq!(p.client_addr(&h, peer), Some(ip("10.0.0.3")));
        // No header: the proxy itself.
        assert_eq!(p.client_addr(&HeaderMap::new(), peer), peer);
        // Only trusted hops: the leftmost.
        let h = headers("x-forwarded-for", &["10.0.0.4, 10.0.0.5"]);
        assert_eq!(p.client_addr(&h, peer), Some(ip("10.0.0.4")));
    }

    #[test]
    fn only_the_configured_header_is_read() {
        let p = TrustedProxies::new(["10.0.0.1"], ForwardedHeader::XForwardedFor).unwrap();
        let mut h = headers("forwarded", &["for=6.6.6.6"]);
        h.append("x-real-ip", "7.7.7.7".parse().unwrap());
        assert_eq!(
            p.client_addr(&h, Some(ip("10.0.0.1"))),
            Some(ip("10.0.0.1"))
        );
    }

    #[test]
    fn forwarded_and_x_real_ip() {
        let peer = Some(ip("10.0.0.1"));
        let p = TrustedProxies::new(["10.0.0.0/8"], ForwardedHeader::Forwarded).unwrap();
        let h = headers(
            "forwarded",
            &["for=6.6.6.6;proto=https, For=\"[2001:db8::7]:4711\";by=x, for=10.0.0.2"],
        );
        assert_eq!(p.client_addr(&h, peer), Some(ip("2001:db8::7")));
        let h = headers("forwarded", &["for=unknown"]);
        assert_eq!(p.client_addr(&h, peer), peer);
        let p = TrustedProxies::new(["10.0.0.0/8"], ForwardedHeader::XRealIp).unwrap();
        let h = headers("x-real-ip", &["198.51.100.3"]);
        assert_eq!(p.client_addr(&h, peer), Some(ip("198.51.100.3")));
    }
}
