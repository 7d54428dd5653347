//! `GET /auth/verify`: forward auth for a reverse proxy (nginx `auth_request`, Traefik
//! ForwardAuth). The auth layer has already checked the credential (session cookie, bearer
//! token or access-token cookie); this answers with headers and an empty body, and writes
//! nothing.
//!
//! - signed in: 200 with `X-Cloakroom-User` (the username) and `X-Cloakroom-Roles` (the roles,
//!   comma-separated); with `?role=R`, 403 unless the user has role `R`;
//! - not signed in: 401, or for a browser (`Accept: text/html`) a 302 to `/login?next=…`,
//!   where `next` is the original URI (`X-Original-URI` from nginx, `X-Forwarded-Uri` from
//!   Traefik) if it is a path. In `hybrid` mode the browser goes first to
//!   `/auth/refresh/browser?next=…`, which sends it back signed in when its refresh cookie still
//!   works (its access token merely expired) and on to `/login?next=…` otherwise. The
//!   `Location` is relative, so it resolves against the host the browser asked for; no
//!   `X-Forwarded-Host` is trusted into it. Every 401 also carries `X-Cloakroom-Sign-In` with
//!   that same URL, for proxies (nginx) that cannot pass a redirect through.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use cloakroom_axum::{ApiError, Auth};
use http::header::{ACCEPT, LOCATION, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

use super::pages::BROWSER_REFRESH;
use super::pages::next::{encode, login_url, safe_next};
use crate::App;

/// The signed-in user's name.
pub const USER_HEADER: HeaderName = HeaderName::from_static("x-cloakroom-user");
/// The signed-in user's roles, comma-separated.
pub const ROLES_HEADER: HeaderName = HeaderName::from_static("x-cloakroom-roles");
/// Where to sign in, on a 401.
pub const SIGN_IN_HEADER: HeaderName = HeaderName::from_static("x-cloakroom-sign-in");

pub(crate) fn router() -> Router<App> {
    Router::new().route("/auth/verify", get(verify))
}

/// The value of `role=` in the query, if any (the first; no percent-decoding: role names have
/// no characters that need it).
fn wanted_role(query: Option<&str>) -> Option<&str> {
    query?
        .split('&')
        .find_map(|pair| pair.strip_prefix("role="))
        .filter(|r| !r.is_empty())
}

#[utoipa::path(
    get,
    path = "/auth/verify",
    tag = "gateway",
    operation_id = "verify",
    summary = "Forward auth for a reverse proxy (nginx `auth_request`, Traefik ForwardAuth)",
    description = "All modes. Checks the credential the proxied request carries and answers \
        with headers and an empty body; writes nothing. Signed in: 200 with the user's name and \
        roles (with `?role=R`, 403 unless the user has role `R`). Not signed in: 401 with \
        `X-Cloakroom-Sign-In`, or for a browser (`Accept` naming `text/html`) a 302 to that same \
        URL. The URL is `/login?next=…` (in `hybrid` mode `/auth/refresh/browser?next=…`), where \
        `next` is the original URI if it is a path on this origin.",
    params(
        ("role" = Option<String>, Query, description = "A role the user must have"),
        ("X-Original-URI" = Option<String>, Header, description = "The URI the client asked the proxy for (nginx)"),
        ("X-Forwarded-Uri" = Option<String>, Header, description = "The URI the client asked the proxy for (Traefik), if `X-Original-URI` is absent"),
        ("Accept" = Option<String>, Header, description = "With `text/html`, an anonymous caller gets a 302 instead of a 401"),
    ),
    responses(
        (status = 200, description = "Signed in (empty body)", headers(
            ("X-Cloakroom-User" = String, description = "The username"),
            ("X-Cloakroom-Roles" = String, description = "The user's roles, comma-separated (empty for none)"),
        )),
        (status = 302, description = "Not signed in, and a browser: go sign in (empty body)", headers(
            ("Location" = String, description = "Relative URL of the sign-in page (or in `hybrid` mode of the browser refresh), with `next`"),
        )),
        (status = 401, description = "Not signed in, or the credential is not valid (empty body)", headers(
            ("X-Cloakroom-Sign-In" = String, description = "Where to sign in: the URL a browser would be sent to"),
        )),
        (status = 403, description = "Signed in, but without the role `role` names (empty body)"),
        (status = 503, description = "`store_unavailable`"),
    ),
    security((), ("bearer" = []), ("session_cookie" = []), ("access_cookie" = [])),
)]
async fn verify(
    State(app): State<App>,
    auth: Result<Auth, ApiError>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let p = match auth {
        Ok(Auth(p)) => p,
        Err(e) if e.status == StatusCode::UNAUTHORIZED => {
            let hybrid = app.authority().method() == cloakroom::auth::AuthMethod::Hybrid;
            // The same `WWW-Authenticate` challenge as every other 401 (token modes).
            let challenge = e.into_response().headers().get(WWW_AUTHENTICATE).cloned();
            let mut res = unauthenticated(&headers, hybrid);
            if let Some(challenge) = challenge.filter(|_| res.status() == StatusCode::UNAUTHORIZED)
            {
                res.headers_mut().insert(WWW_AUTHENTICATE, challenge);
            }
            return res;
        }
        Err(e) => return e.into_response(),
    };
    if let Some(role) = wanted_role(query.as_deref()) {
        if !p.has_role(role) {
            return StatusCode::FORBIDDEN.into_response();
        }
    }
    let (Ok(user), Ok(roles)) = (
        HeaderValue::from_bytes(p.username.as_bytes()),
        HeaderValue::from_str(&p.roles.join(",")),
    ) else {
        tracing::error!("a username or role cannot be sent in a header");
        return ApiError::internal().into_response();
    };
    let mut res = StatusCode::OK.into_response();
    res.headers_mut().insert(USER_HEADER, user);
    res.headers_mut().insert(ROLES_HEADER, roles);
    res
}

fn unauthenticated(headers: &HeaderMap, hybrid: bool) -> Response {
    let original = headers
        .get("x-original-uri")
        .or_else(|| headers.get("x-forwarded-uri"))
        .and_then(|v| v.to_str().ok());
    // Only a same-origin path is kept; anything else signs in to the account page.
    let url = match original.and_then(safe_next) {
        Some(next) if hybrid => format!("{BROWSER_REFRESH}?next={}", encode(next)),
        None if hybrid => BROWSER_REFRESH.to_owned(),
        _ => login_url(original),
    };
    let login = HeaderValue::from_str(&url).unwrap_or(HeaderValue::from_static("/login"));
    let wants_html = headers
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    let status = if wants_html {
        StatusCode::FOUND
    } else {
        StatusCode::UNAUTHORIZED
    };
    let mut res = status.into_response();
    let name = if wants_html { LOCATION } else { SIGN_IN_HEADER };
    res.headers_mut().insert(name, login);
    res
}

#[cfg(test)]
mod tests {
    use super::wanted_role;

    #[test]
    fn reads_the_role_parameter() {
        assert_eq!(wanted_role(Some("role=admin")), Some("admin"));
        assert_eq!(wanted_role(Some("x=1&role=ops")), Some("ops"));
        assert_eq!(wanted_role(Some("xrole=admin")), None);
        assert_eq!(wanted_role(Some("role=")), None);
        assert_eq!(wanted_role(None), None);
    }
}
