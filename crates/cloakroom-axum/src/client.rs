//! Who is on the other end of a request, for the list of sessions.

use std::net::SocketAddr;

use cloakroom::session::ClientInfo;
use http::HeaderMap;
use http::header::USER_AGENT;

/// The client info of a request: its `User-Agent` (cut and cleaned) and the peer address.
///
/// The address is the TCP peer's (from axum's `ConnectInfo`); a server behind a reverse proxy
/// that it trusts should pass the address the proxy reports instead.
pub fn client_info(headers: &HeaderMap, peer: Option<SocketAddr>) -> ClientInfo {
    let ua = headers.get(USER_AGENT).and_then(|v| v.to_str().ok());
    ClientInfo::new(ua, peer.map(|a| a.ip()))
}
