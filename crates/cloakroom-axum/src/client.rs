//! Who is on the other end of a request, for the list of sessions and the sign-in throttle.

use std::net::SocketAddr;

use cloakroom::session::ClientInfo;
use http::HeaderMap;
use http::header::USER_AGENT;

use crate::TrustedProxies;

/// The client info of a request: its `User-Agent` (cut and cleaned) and the TCP peer's
/// address, trusting no proxy. Behind a reverse proxy, use [`client_info_via`].
pub fn client_info(headers: &HeaderMap, peer: Option<SocketAddr>) -> ClientInfo {
    client_info_via(headers, peer, &TrustedProxies::default())
}

/// The client info of a request, its address found through `proxies`
/// ([`TrustedProxies::client_addr`]): a forwarding header counts only when the peer is a
/// trusted proxy.
pub fn client_info_via(
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
    proxies: &TrustedProxies,
) -> ClientInfo {
    let ua = headers.get(USER_AGENT).and_then(|v| v.to_str().ok());
    ClientInfo::new(ua, proxies.client_addr(headers, peer.map(|a| a.ip())))
}
