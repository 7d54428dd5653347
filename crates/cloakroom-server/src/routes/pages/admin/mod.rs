//! `/admin`, for the `admin` role: users (create, disable and enable, reset the password, set
//! the roles) and everyone's sessions (revoke). Disabling a user, resetting their password or
//! changing their roles ends their sessions and refuses their access tokens at once
//! ([`UserAdmin`](crate::users::UserAdmin)).

use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use cloakroom_axum::{ApiError, Auth};
use http::{HeaderMap, StatusCode, Uri};
use maud::html;
use serde::Deserialize;

use super::csrf::CsrfKey;
use super::layout::{csrf_field, forbidden_form, notice, page, respond, see_other};
use super::views::user_card;
use super::{bad_form, failed, form_ok, require_admin};

pub(crate) mod sessions;
pub(crate) mod users;

use crate::App;
use crate::error::Error;
use sessions::revoke;
use users::{create, disable, reset_password, set_roles};

pub(super) fn router() -> Router<App> {
    Router::new()
        .route("/admin", get(show))
        .route("/admin/users/create", post(create))
        .route("/admin/users/disable", post(disable))
        .route("/admin/users/password", post(reset_password))
        .route("/admin/users/roles", post(set_roles))
        .route("/admin/sessions/revoke", post(revoke))
}

#[derive(Deserialize)]
struct MsgQuery {
    msg: Option<String>,
}

/// Fixed notices, named by the redirect after each action.
fn message(code: &str) -> Option<(&'static str, bool)> {
    Some(match code {
        "created" => ("The user was added.", false),
        "exists" => ("A user of that name already exists.", true),
        "invalid" => (
            "Refused: check the username, the roles (no spaces) and the password (at least 8 characters).",
            true,
        ),
        "disabled" => ("The user was disabled and their sessions ended.", false),
        "enabled" => ("The user was enabled.", false),
        "self" => ("You cannot disable your own account.", true),
        "password-reset" => (
            "The password was reset and the user's sessions ended.",
            false,
        ),
        "roles-set" => (
            "The roles were changed and the user's sessions ended.",
            false,
        ),
        "revoked" => ("The session was ended.", false),
        "no-such-user" => ("There is no such user.", true),
        "no-such-session" => ("There is no such session.", true),
        _ => return None,
    })
}

#[utoipa::path(
    get,
    path = "/admin",
    tag = "pages",
    operation_id = "admin_page",
    summary = "Administration: users and their sessions",
    description = "For the `admin` role.",
    params(("msg" = Option<String>, Query, description = "A notice to show, by its code (fixed texts only)")),
    responses(
        (status = 200, description = "The administration page (sets the CSRF cookie)", content_type = "text/html", body = String),
        (status = 303, description = "Not signed in: to the sign-in page (in `hybrid` mode first to `/auth/refresh/browser`)", headers(("Location" = String, description = "Where to go next"))),
        (status = 403, description = "Error page: not an administrator", content_type = "text/html", body = String),
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
    let p = require_admin(&app, auth, &uri)?;
    let key = CsrfKey::for_request(&app, &headers).map_err(|e| failed(&e.into()))?;
    let token = key.token(p.session.as_str());
    let users = app.user_admin().list().await.map_err(|e| {
        tracing::error!(error = %e, "could not list users");
        failed(&ApiError::store_unavailable())
    })?;
    let keeps_sessions = app.authority().sessions().is_some();
    let mut rows = Vec::with_capacity(users.len());
    for user in users {
        let sessions = if keeps_sessions {
            app.authority()
                .list_sessions(&user.id)
                .await
                .map_err(|e| failed(&e.into()))?
        } else {
            Vec::new()
        };
        rows.push((user, sessions));
    }
    let msg = q.msg.as_deref().and_then(message);
    let body = html! {
        (notice(msg.map(|m| m.0), msg.is_some_and(|m| m.1)))
        section aria-labelledby="new-user" {
            h2 id="new-user" { "Add a user" }
            form method="post" action="/admin/users/create" {
                (csrf_field(&token))
                div class="field" {
                    label for="new-username" { "Username" }
                    input id="new-username" name="username" type="text" autocomplete="off" required;
                }
                div class="field" {
                    label for="new-password" { "Password" }
                    input id="new-password" name="password" type="password" autocomplete="new-password" minlength="8" required;
                }
                div class="field" {
                    label for="new-roles" { "Roles (comma-separated)" }
                    input id="new-roles" name="roles" type="text" autocomplete="off";
                }
                button type="submit" { "Add user" }
            }
        }
        section aria-labelledby="users" {
            h2 id="users" { "Users" }
            @if !keeps_sessions {
                p { "This server runs in jwt mode and keeps no sessions; disabling a user or resetting their password refuses their tokens." }
            }
            @for (user, sessions) in &rows {
                (user_card(user, sessions, &token))
            }
        }
    };
    let cookies: Vec<_> = key.set_cookie().into_iter().cloned().collect();
    Ok(respond(
        StatusCode::OK,
        &cookies,
        page("Administration", Some(&p), &body),
    ))
}

/// Roles as typed: comma- or space-separated.
fn parse_roles(text: &str) -> Vec<String> {
    text.split([',', ' '])
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The redirect code for a failed user change.
fn code_for(e: &Error) -> Result<&'static str, Response> {
    match e {
        Error::UserExists(_) => Ok("exists"),
        Error::NoSuchUser(_) => Ok("no-such-user"),
        Error::InvalidUsername(_) | Error::InvalidRole(_) | Error::PasswordRejected(_) => {
            Ok("invalid")
        }
        other => {
            tracing::error!(error = %other, "an admin change failed");
            Err(failed(&ApiError::internal()))
        }
    }
}

fn done(code: &str) -> Response {
    see_other(&format!("/admin?msg={code}"), &[])
}

/// The admin and the parsed form, after the CSRF check.
async fn checked<T>(
    app: &App,
    auth: Result<Auth, ApiError>,
    headers: &HeaderMap,
    uri: &Uri,
    form_data: Result<Form<T>, FormRejection>,
    csrf: impl Fn(&T) -> &str,
) -> Result<(cloakroom::auth::Principal, T), Response> {
    let p = require_admin(app, auth, uri)?;
    let Form(f) = form_data.map_err(|_| bad_form())?;
    if !form_ok(app, headers, p.session.as_str(), csrf(&f)) {
        return Err(forbidden_form());
    }
    Ok((p, f))
}

#[cfg(test)]
mod tests {
    use super::{message, parse_roles};

    #[test]
    fn roles_are_split_on_commas_and_spaces() {
        assert_eq!(parse_roles(" admin, ops  dev,,"), ["admin", "ops", "dev"]);
        assert!(parse_roles(" , ").is_empty());
    }

    #[test]
    fn only_known_notices_are_shown() {
        assert!(message("created").is_some());
        assert!(message("<b>anything</b>").is_none());
    }
}
