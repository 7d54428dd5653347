//! `/account`: who you are, your sessions and devices, ending one or all of them, and changing
//! your password.

use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use cloakroom::authority::{AccountError, SignInError};
use cloakroom::session::SessionHandle;
use cloakroom::user::Password;
use cloakroom_axum::{ApiError, Auth};
use http::{HeaderMap, StatusCode, Uri};
use maud::html;
use serde::Deserialize;
use utoipa::ToSchema;

use super::csrf::CsrfKey;
use super::layout::{csrf_field, forbidden_form, notice, page, respond, see_other};
use super::views::{SessionTable, session_table};
use super::{CsrfForm, bad_form, credentials, failed, form_ok, require};
use crate::App;
use crate::routes::Client;

pub(super) fn router() -> Router<App> {
    Router::new()
        .route("/account", get(show))
        .route("/account/sessions/revoke", post(revoke))
        .route("/account/logout-all", post(logout_all))
        .route("/account/password", post(change_password))
}

#[derive(Deserialize)]
struct MsgQuery {
    msg: Option<String>,
}

/// The notices a redirect back to the page may name: fixed texts, so that a link cannot make
/// the page say anything else.
fn message(code: &str) -> Option<(&'static str, bool)> {
    Some(match code {
        "revoked" => ("The session was ended.", false),
        "no-such-session" => ("You have no such session.", true),
        "password-changed" => (
            "Your password was changed. Your other sessions were ended.",
            false,
        ),
        "wrong-password" => ("The current password is not right.", true),
        "too-many-attempts" => (
            "Too many wrong passwords. Wait a few minutes, then try again.",
            true,
        ),
        "weak-password" => (
            "The new password was refused: it needs at least 8 characters (and at most 1024 bytes).",
            true,
        ),
        _ => return None,
    })
}

#[utoipa::path(
    get,
    path = "/account",
    tag = "pages",
    operation_id = "account_page",
    summary = "Your account: who you are, your sessions, your password",
    params(("msg" = Option<String>, Query, description = "A notice to show, by its code (fixed texts only)")),
    responses(
        (status = 200, description = "The account page (sets the CSRF cookie)", content_type = "text/html", body = String),
        (status = 303, description = "Not signed in: to the sign-in page (in `hybrid` mode first to `/auth/refresh/browser`)", headers(("Location" = String, description = "Where to go next"))),
        (status = 503, description = "Error page: a store does not answer", content_type = "text/html", body = String),
    ),
    security(("session_cookie" = []), ("access_cookie" = [])),
)]
async fn show(
    State(app): State<App>,
    auth: Result<Auth, ApiError>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<MsgQuery>,
) -> Result<Response, Response> {
    let p = require(&app, auth, &uri)?;
    let key = CsrfKey::for_request(&app, &headers).map_err(|e| failed(&e.into()))?;
    let token = key.token(p.session.as_str());
    let sessions = if app.authority().sessions().is_none() {
        None // jwt mode keeps no sessions
    } else {
        Some(
            app.authority()
                .list_sessions(&p.user_id)
                .await
                .map_err(|e| failed(&e.into()))?,
        )
    };
    let msg = q.msg.as_deref().and_then(message);
    let body = html! {
        (notice(msg.map(|m| m.0), msg.is_some_and(|m| m.1)))
        section aria-labelledby="who" {
            h2 id="who" { "Who you are" }
            dl {
                dt { "Username" } dd id="username" { (p.username) }
                dt { "Roles" } dd { @if p.roles.is_empty() { "none" } @else { (p.roles.join(", ")) } }
                dt { "Signed in by" } dd { (format!("{:?}", p.method).to_lowercase()) }
            }
            form method="post" action="/logout" {
                (csrf_field(&token))
                button type="submit" { "Sign out" }
            }
        }
        section aria-labelledby="sessions" {
            h2 id="sessions" { "Your sessions and devices" }
            @match &sessions {
                Some(list) => (session_table(&SessionTable {
                    caption: "Where you are signed in",
                    list,
                    current: Some(&p.session),
                    action: "/account/sessions/revoke",
                    user_id: None,
                    token: &token,
                })),
                None => p { "This server runs in jwt mode and keeps no sessions. Sign out everywhere to refuse every token issued to you." },
            }
            form method="post" action="/account/logout-all" {
                (csrf_field(&token))
                button type="submit" class="danger" { "Sign out everywhere" }
            }
        }
        section aria-labelledby="password-heading" {
            h2 id="password-heading" { "Change your password" }
            p { "Changing it ends your other sessions; this one stays signed in." }
            form method="post" action="/account/password" {
                (csrf_field(&token))
                div class="field" {
                    label for="current_password" { "Current password" }
                    input id="current_password" name="current_password" type="password" autocomplete="current-password" required;
                }
                div class="field" {
                    label for="new_password" { "New password" }
                    input id="new_password" name="new_password" type="password" autocomplete="new-password" minlength="8" required;
                }
                button type="submit" { "Change password" }
            }
        }
    };
    let cookies: Vec<_> = key.set_cookie().into_iter().cloned().collect();
    Ok(respond(
        StatusCode::OK,
        &cookies,
        page("Your account", Some(&p), &body),
    ))
}

#[derive(Deserialize, ToSchema)]
#[schema(as = AccountRevokeForm)]
struct RevokeForm {
    #[serde(default)]
    csrf: String,
    session: String,
}

#[utoipa::path(
    post,
    path = "/account/sessions/revoke",
    tag = "pages",
    operation_id = "account_revoke_session",
    summary = "End one of your sessions",
    request_body(content = RevokeForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Back to `/account` with a notice, or to the sign-in page when it was this session; or not signed in: to sign in", headers(("Location" = String, description = "Where to go next"), ("Set-Cookie" = String, description = "The new credential cookies"))),
        (status = 400, description = "Error page: the form lacks fields or does not parse", content_type = "text/html", body = String),
        (status = 403, description = "Error page: the form is cross-site or its CSRF token is wrong", content_type = "text/html", body = String),
        (status = 503, description = "Error page: a store does not answer", content_type = "text/html", body = String),
    ),
    security(("session_cookie" = []), ("access_cookie" = [])),
)]
async fn revoke(
    State(app): State<App>,
    auth: Result<Auth, ApiError>,
    headers: HeaderMap,
    uri: Uri,
    form_data: Result<Form<RevokeForm>, FormRejection>,
) -> Result<Response, Response> {
    let p = require(&app, auth, &uri)?;
    let Form(f) = form_data.map_err(|_| bad_form())?;
    if !form_ok(&app, &headers, p.session.as_str(), &f.csrf) {
        return Err(forbidden_form());
    }
    let Ok(handle) = SessionHandle::parse(&f.session) else {
        return Ok(see_other("/account?msg=no-such-session", &[]));
    };
    let revoked = match app.authority().revoke_session(&p.user_id, &handle).await {
        Ok(revoked) => revoked,
        // `jwt` mode keeps no sessions: there is none of the caller's to end.
        Err(cloakroom::auth::AuthError::NotInMode { .. }) => false,
        Err(e) => return Err(failed(&e.into())),
    };
    if !revoked {
        return Ok(see_other("/account?msg=no-such-session", &[]));
    }
    tracing::info!(user_id = %p.user_id, "ended a session (browser)");
    if handle == p.session {
        return Ok(see_other("/login", &credentials::clear(&app)));
    }
    Ok(see_other("/account?msg=revoked", &[]))
}

#[utoipa::path(
    post,
    path = "/account/logout-all",
    tag = "pages",
    operation_id = "account_logout_all",
    summary = "Sign out everywhere",
    request_body(content = CsrfForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "To the sign-in page, with the cookies cleared; or not signed in: to sign in", headers(("Location" = String, description = "Where to go next"), ("Set-Cookie" = String, description = "The new credential cookies"))),
        (status = 400, description = "Error page: the form lacks fields or does not parse", content_type = "text/html", body = String),
        (status = 403, description = "Error page: the form is cross-site or its CSRF token is wrong", content_type = "text/html", body = String),
        (status = 503, description = "Error page: a store does not answer", content_type = "text/html", body = String),
    ),
    security(("session_cookie" = []), ("access_cookie" = [])),
)]
async fn logout_all(
    State(app): State<App>,
    auth: Result<Auth, ApiError>,
    headers: HeaderMap,
    uri: Uri,
    form_data: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, Response> {
    let p = require(&app, auth, &uri)?;
    let Form(f) = form_data.map_err(|_| bad_form())?;
    if !form_ok(&app, &headers, p.session.as_str(), &f.csrf) {
        return Err(forbidden_form());
    }
    app.authority()
        .sign_out_everywhere(&p.user_id)
        .await
        .map_err(|e| failed(&e.into()))?;
    tracing::info!(user_id = %p.user_id, "signed out everywhere (browser)");
    Ok(see_other("/login", &credentials::clear(&app)))
}

/// Not `Debug`: it holds passwords.
#[derive(Deserialize, ToSchema)]
#[schema(as = AccountPasswordForm)]
struct PasswordForm {
    #[serde(default)]
    csrf: String,
    current_password: String,
    new_password: String,
}

/// Checks the current password, sets the new one (which ends every session of the user and
/// refuses their access tokens), then signs this browser in again with a fresh session.
#[utoipa::path(
    post,
    path = "/account/password",
    tag = "pages",
    operation_id = "account_password",
    summary = "Change your password",
    request_body(content = PasswordForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Back to `/account` with a notice (changed, wrong password, refused), signed in afresh; or not signed in: to sign in", headers(("Location" = String, description = "Where to go next"), ("Set-Cookie" = String, description = "The new credential cookies"))),
        (status = 400, description = "Error page: the form lacks fields or does not parse", content_type = "text/html", body = String),
        (status = 403, description = "Error page: the form is cross-site or its CSRF token is wrong", content_type = "text/html", body = String),
        (status = 500, description = "Error page: the change failed", content_type = "text/html", body = String),
        (status = 503, description = "Error page: a store does not answer", content_type = "text/html", body = String),
    ),
    security(("session_cookie" = []), ("access_cookie" = [])),
)]
async fn change_password(
    State(app): State<App>,
    auth: Result<Auth, ApiError>,
    Client(client): Client,
    headers: HeaderMap,
    uri: Uri,
    form_data: Result<Form<PasswordForm>, FormRejection>,
) -> Result<Response, Response> {
    let p = require(&app, auth, &uri)?;
    let Form(f) = form_data.map_err(|_| bad_form())?;
    if !form_ok(&app, &headers, p.session.as_str(), &f.csrf) {
        return Err(forbidden_form());
    }
    let current = Password::new(f.current_password);
    let new = Password::new(f.new_password);
    // The authority checks the current password through the sign-in throttle: a stolen cookie
    // is no password oracle.
    let credential = match app
        .authority()
        .change_password(&p, &current, &new, client)
        .await
    {
        Ok(credential) => credential,
        Err(AccountError::CurrentPassword(SignInError::TooManyAttempts { .. })) => {
            return Ok(see_other("/account?msg=too-many-attempts", &[]));
        }
        Err(AccountError::CurrentPassword(
            SignInError::InvalidCredentials | SignInError::PasswordTooLong { .. },
        ))
        | Err(AccountError::NoSuchUser(_)) => {
            return Ok(see_other("/account?msg=wrong-password", &[]));
        }
        Err(AccountError::PasswordRejected(_)) => {
            return Ok(see_other("/account?msg=weak-password", &[]));
        }
        Err(e) => {
            tracing::error!(error = %e, "could not change a password");
            return Err(failed(&ApiError::from(e)));
        }
    };
    tracing::info!(user_id = %p.user_id, "changed their password (browser)");
    let cookies = credentials::cookies(&app, &credential);
    Ok(see_other("/account?msg=password-changed", &cookies))
}
