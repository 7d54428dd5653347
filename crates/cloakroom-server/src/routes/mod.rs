//! The HTTP routes, one module per group, and what they share.

pub(crate) mod auth;
pub(crate) mod health;
pub(crate) mod jwks;
pub(crate) mod metrics;
pub(crate) mod oauth;
pub(crate) mod pages;
pub(crate) mod sessions;
pub(crate) mod tokens;
pub(crate) mod verify;

use std::convert::Infallible;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use cloakroom::session::ClientInfo;
use cloakroom_axum::{ApiError, client_info_via};
use http::StatusCode;
use http::request::Parts;

use crate::App;
use crate::settings::Mode;

/// 404 for every path no route matches.
pub(crate) async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "there is nothing at this path",
    )
}

/// 404 `not_available_in_mode`: the route exists, but not in the mode the server runs in.
pub(crate) fn not_in_mode(mode: Mode, what: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_available_in_mode",
        format!("{what} is not available in {} mode", mode.as_str()),
    )
}

/// The client a request came from (user agent, address), for the list of sessions and the
/// sign-in throttle. The address is the TCP peer's, or what a trusted proxy reports
/// (`trusted_proxies`).
#[derive(Debug, Clone)]
pub(crate) struct Client(pub(crate) ClientInfo);

impl FromRequestParts<App> for Client {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        // Absent when the router is served without connect info (e.g. in unit tests).
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0);
        Ok(Self(client_info_via(&parts.headers, peer, app.proxies())))
    }
}
