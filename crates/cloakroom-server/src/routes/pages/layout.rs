//! The frame every page shares, and the small pieces the pages are built from. maud escapes
//! everything it interpolates, so no user-controlled text can become markup.

use axum::response::{IntoResponse, Response};
use cloakroom::auth::Principal;
use http::header::{CONTENT_TYPE, SET_COOKIE};
use http::{HeaderValue, StatusCode};
use maud::{DOCTYPE, Markup, html};

use super::csrf::CSRF_FIELD;

/// A whole page: the title, a navigation bar for `viewer`, and `body`.
pub(super) fn page(title: &str, viewer: Option<&Principal>, body: &Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                title { (title) " · Cloakroom" }
                link rel="stylesheet" href="/assets/style.css";
            }
            body {
                a class="skip" href="#main" { "Skip to content" }
                header {
                    nav aria-label="Main" {
                        span class="brand" { "Cloakroom" }
                        @if let Some(p) = viewer {
                            a href="/account" { "Account" }
                            @if p.has_role("admin") {
                                a href="/admin" { "Admin" }
                            }
                        } @else {
                            a href="/login" { "Sign in" }
                        }
                    }
                }
                main id="main" {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// The hidden field with the CSRF token.
pub(super) fn csrf_field(token: &str) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(token); }
}

/// A notice for people, announced by screen readers.
pub(super) fn notice(text: Option<&str>, error: bool) -> Markup {
    html! {
        @if let Some(text) = text {
            p class=(if error { "notice error" } else { "notice" }) role=(if error { "alert" } else { "status" }) { (text) }
        }
    }
}

/// `markup` as an HTML response with `status`, setting each cookie in `cookies`.
pub(super) fn respond(status: StatusCode, cookies: &[HeaderValue], markup: Markup) -> Response {
    let mut res = (status, markup.into_string()).into_response();
    let headers = res.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    for c in cookies {
        headers.append(SET_COOKIE, c.clone());
    }
    res
}

/// An error page: `status`, a title and one sentence.
pub(super) fn error_page(
    status: StatusCode,
    viewer: Option<&Principal>,
    title: &str,
    text: &str,
) -> Response {
    let body = html! {
        p { (text) }
        p { a href="/account" { "Back to your account" } }
    };
    respond(status, &[], page(title, viewer, &body))
}

/// 403 for a form whose CSRF token is missing or wrong, or that came from another site.
pub(super) fn forbidden_form() -> Response {
    error_page(
        StatusCode::FORBIDDEN,
        None,
        "Request refused",
        "The form was not accepted: it has expired or did not come from this site. Go back, reload the page and try again.",
    )
}

/// A `303 See Other` to `to`, setting each cookie in `cookies`.
pub(super) fn see_other(to: &str, cookies: &[HeaderValue]) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    let headers = res.headers_mut();
    // Locations here are built from checked paths; a bad one falls back to the account page.
    let location = HeaderValue::from_str(to).unwrap_or(HeaderValue::from_static("/account"));
    headers.insert(http::header::LOCATION, location);
    for c in cookies {
        headers.append(SET_COOKIE, c.clone());
    }
    res
}
