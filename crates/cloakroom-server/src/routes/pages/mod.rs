//! The HTML pages: sign-in (`/login`), your account (`/account`) and administration
//! (`/admin`), rendered on the server, working without JavaScript, with one stylesheet served
//! from here and a strict Content-Security-Policy.
//!
//! Every form `POST` passes two checks: the request is not cross-site
//! ([`is_cross_site`](cloakroom_axum::is_cross_site)), and it carries a CSRF token
//! ([`csrf`]) bound to the signed-in session. Errors are HTML pages, not JSON.

// A handler's early exit is a whole `Response`; boxing it would buy nothing on these paths.
#![allow(clippy::result_large_err)]

pub(crate) mod account;
pub(crate) mod admin;
mod credentials;
pub(crate) mod csrf;
mod layout;
pub(crate) mod login;
pub(crate) mod next;
mod views;

use axum::Router;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use cloakroom::auth::Principal;
use cloakroom_axum::{ApiError, Auth, is_cross_site};
use http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use http::{HeaderMap, HeaderValue, StatusCode, Uri};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::App;
use crate::settings::Mode;

/// No script at all, styles only from this server, forms only to it, never in a frame.
pub(crate) const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The GET endpoint, under the refresh cookie's path, that refreshes a browser's tokens and
/// sends it back where it was (see [`login`]).
pub(crate) const BROWSER_REFRESH: &str = "/auth/refresh/browser";

const STYLE: &str = include_str!("../../../assets/style.css");

pub(crate) fn router(mode: Mode) -> Router<App> {
    let header =
        |name, value| SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value));
    Router::new()
        .merge(login::router(mode))
        .merge(account::router())
        .merge(admin::router())
        .route("/assets/style.css", get(style))
        .layer(header(CONTENT_SECURITY_POLICY, CSP))
        .layer(header(REFERRER_POLICY, "no-referrer"))
        .layer(header(X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(header(X_FRAME_OPTIONS, "DENY"))
}

#[utoipa::path(
    get,
    path = "/assets/style.css",
    tag = "pages",
    operation_id = "stylesheet",
    summary = "The pages' stylesheet",
    responses((status = 200, description = "The stylesheet", content_type = "text/css", body = String)),
    security(()),
)]
async fn style() -> Response {
    (
        [
            (
                CONTENT_TYPE,
                HeaderValue::from_static("text/css; charset=utf-8"),
            ),
            (
                CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            ),
        ],
        STYLE,
    )
        .into_response()
}

/// Where to come back to after signing in: the page itself, or for a form post (which
/// cannot be replayed by a redirect) the page the form was on.
fn here(uri: &Uri) -> &str {
    match uri.path() {
        "/account" | "/admin" => uri.path_and_query().map_or("/account", |pq| pq.as_str()),
        path if path.starts_with("/admin/") => "/admin",
        _ => "/account",
    }
}

/// The signed-in principal, or the response that gets the browser signed in: in `hybrid` mode
/// a trip through [`BROWSER_REFRESH`] (the access token may just have expired), else the
/// sign-in page; a 503 page when a store is down.
fn require(app: &App, auth: Result<Auth, ApiError>, uri: &Uri) -> Result<Principal, Response> {
    match auth {
        Ok(Auth(p)) => Ok(p),
        Err(e) if e.status == StatusCode::UNAUTHORIZED => {
            let back = here(uri);
            let to = if app.authority().method() == cloakroom::auth::AuthMethod::Hybrid {
                format!("{BROWSER_REFRESH}?next={}", next::encode(back))
            } else {
                next::login_url(Some(back))
            };
            Err(layout::see_other(&to, &[]))
        }
        Err(e) => Err(failed(&e)),
    }
}

/// A principal with the `admin` role, or the response for everyone else (403 for the
/// signed-in).
fn require_admin(
    app: &App,
    auth: Result<Auth, ApiError>,
    uri: &Uri,
) -> Result<Principal, Response> {
    let p = require(app, auth, uri)?;
    if p.has_role("admin") {
        return Ok(p);
    }
    Err(layout::error_page(
        StatusCode::FORBIDDEN,
        Some(&p),
        "Not allowed",
        "This page is for administrators only.",
    ))
}

/// An error page for a failure of the server or a store (details are in the log).
fn failed(e: &ApiError) -> Response {
    let status = if e.status.is_server_error() {
        e.status
    } else {
        StatusCode::BAD_REQUEST
    };
    layout::error_page(status, None, "Something went wrong", &e.message)
}

/// Whether a form post may go on: same-site, and its token is the one for `binding`.
fn form_ok(app: &App, headers: &HeaderMap, binding: &str, token: &str) -> bool {
    !is_cross_site(headers) && csrf::verify(app, headers, binding, token)
}

/// A form with nothing but its CSRF token.
#[derive(serde::Deserialize, utoipa::ToSchema)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// 400 page for a form that lacks fields or does not parse.
fn bad_form() -> Response {
    layout::error_page(
        StatusCode::BAD_REQUEST,
        None,
        "Incomplete form",
        "The form was incomplete. Go back and try again.",
    )
}
