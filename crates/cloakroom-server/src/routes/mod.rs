//! The HTTP routes, one module per group, and what they share.

pub(crate) mod health;
pub(crate) mod metrics;
pub(crate) mod pages;
pub(crate) mod verify;

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use cloakroom::session::ClientInfo;
use cloakroom_axum::ApiError;
use cloakroom_axum::routes::client_of;
use http::StatusCode;
use http::request::Parts;

use crate::App;

/// 404 for every path no route matches.
pub(crate) async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "there is nothing at this path",
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
        Ok(Self(client_of(parts, app.proxies())))
    }
}
