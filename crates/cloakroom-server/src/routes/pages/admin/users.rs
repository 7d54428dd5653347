//! The user forms of `/admin`: create, disable and enable, reset the password, set the roles.

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::response::Response;
use cloakroom::user::Password;
use cloakroom_axum::{ApiError, Auth};
use http::{HeaderMap, Uri};
use serde::Deserialize;
use utoipa::ToSchema;

use super::{checked, code_for, done, parse_roles};
use crate::App;

/// Not `Debug`: it holds a password.
#[derive(Deserialize, ToSchema)]
#[schema(as = AdminCreateForm)]
pub(super) struct CreateForm {
    #[serde(default)]
    csrf: String,
    username: String,
    password: String,
    #[serde(default)]
    roles: String,
}

#[utoipa::path(
    post,
    path = "/admin/users/create",
    tag = "pages",
    operation_id = "admin_create_user",
    summary = "Add a user",
    request_body(content = CreateForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Back to `/admin` with a notice naming the outcome; or not signed in: to sign in", headers(("Location" = String, description = "Where to go next"))),
        (status = 400, description = "Error page: the form lacks fields or does not parse", content_type = "text/html", body = String),
        (status = 403, description = "Error page: not an administrator, or the form is cross-site or its CSRF token is wrong", content_type = "text/html", body = String),
        (status = 500, description = "Error page: the change failed", content_type = "text/html", body = String),
        (status = 503, description = "Error page: a store does not answer", content_type = "text/html", body = String),
    ),
    security(("session_cookie" = []), ("access_cookie" = [])),
)]
pub(super) async fn create(
    State(app): State<App>,
    auth: Result<Auth, ApiError>,
    headers: HeaderMap,
    uri: Uri,
    form_data: Result<Form<CreateForm>, FormRejection>,
) -> Result<Response, Response> {
    let (p, f) = checked(&app, auth, &headers, &uri, form_data, |f| &f.csrf).await?;
    let roles = parse_roles(&f.roles);
    match app
        .user_admin()
        .add(&f.username, &roles, &Password::new(f.password))
        .await
    {
        Ok(user) => {
            tracing::info!(admin = %p.user_id, user_id = %user.id, "added a user");
            Ok(done("created"))
        }
        Err(e) => Ok(done(code_for(&e)?)),
    }
}

#[derive(Deserialize, ToSchema)]
#[schema(as = AdminDisableForm)]
pub(super) struct DisableForm {
    #[serde(default)]
    csrf: String,
    username: String,
    disabled: String,
}

#[utoipa::path(
    post,
    path = "/admin/users/disable",
    tag = "pages",
    operation_id = "admin_disable_user",
    summary = "Disable or enable a user",
    request_body(content = DisableForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Back to `/admin` with a notice naming the outcome; or not signed in: to sign in", headers(("Location" = String, description = "Where to go next"))),
        (status = 400, description = "Error page: the form lacks fields or does not parse", content_type = "text/html", body = String),
        (status = 403, description = "Error page: not an administrator, or the form is cross-site or its CSRF token is wrong", content_type = "text/html", body = String),
        (status = 500, description = "Error page: the change failed", content_type = "text/html", body = String),
        (status = 503, description = "Error page: a store does not answer", content_type = "text/html", body = String),
    ),
    security(("session_cookie" = []), ("access_cookie" = [])),
)]
pub(super) async fn disable(
    State(app): State<App>,
    auth: Result<Auth, ApiError>,
    headers: HeaderMap,
    uri: Uri,
    form_data: Result<Form<DisableForm>, FormRejection>,
) -> Result<Response, Response> {
    let (p, f) = checked(&app, auth, &headers, &uri, form_data, |f| &f.csrf).await?;
    let disabled = f.disabled == "true";
    let admin = app.user_admin();
    if disabled {
        match admin.find(&f.username).await {
            Ok(user) if user.id == p.user_id => return Ok(done("self")),
            Ok(_) => {}
            Err(e) => return Ok(done(code_for(&e)?)),
        }
    }
    match admin.set_disabled(&f.username, disabled).await {
        Ok(ended) => {
            tracing::info!(admin = %p.user_id, disabled, ended, "changed whether a user may sign in");
            Ok(done(if disabled { "disabled" } else { "enabled" }))
        }
        Err(e) => Ok(done(code_for(&e)?)),
    }
}

/// Not `Debug`: it holds a password.
#[derive(Deserialize, ToSchema)]
#[schema(as = AdminPasswordForm)]
pub(super) struct PasswordForm {
    #[serde(default)]
    csrf: String,
    username: String,
    password: String,
}

#[utoipa::path(
    post,
    path = "/admin/users/password",
    tag = "pages",
    operation_id = "admin_reset_password",
    summary = "Reset a user's password",
    request_body(content = PasswordForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Back to `/admin` with a notice naming the outcome; or not signed in: to sign in", headers(("Location" = String, description = "Where to go next"))),
        (status = 400, description = "Error page: the form lacks fields or does not parse", content_type = "text/html", body = String),
        (status = 403, description = "Error page: not an administrator, or the form is cross-site or its CSRF token is wrong", content_type = "text/html", body = String),
        (status = 500, description = "Error page: the change failed", content_type = "text/html", body = String),
        (status = 503, description = "Error page: a store does not answer", content_type = "text/html", body = String),
    ),
    security(("session_cookie" = []), ("access_cookie" = [])),
)]
pub(super) async fn reset_password(
    State(app): State<App>,
    auth: Result<Auth, ApiError>,
    headers: HeaderMap,
    uri: Uri,
    form_data: Result<Form<PasswordForm>, FormRejection>,
) -> Result<Response, Response> {
    let (p, f) = checked(&app, auth, &headers, &uri, form_data, |f| &f.csrf).await?;
    match app
        .user_admin()
        .set_password(&f.username, &Password::new(f.password))
        .await
    {
        Ok(ended) => {
            tracing::info!(admin = %p.user_id, ended, "reset a password");
            Ok(done("password-reset"))
        }
        Err(e) => Ok(done(code_for(&e)?)),
    }
}

#[derive(Deserialize, ToSchema)]
#[schema(as = AdminRolesForm)]
pub(super) struct RolesForm {
    #[serde(default)]
    csrf: String,
    username: String,
    #[serde(default)]
    roles: String,
}

#[utoipa::path(
    post,
    path = "/admin/users/roles",
    tag = "pages",
    operation_id = "admin_set_roles",
    summary = "Set a user's roles",
    request_body(content = RolesForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Back to `/admin` with a notice naming the outcome; or not signed in: to sign in", headers(("Location" = String, description = "Where to go next"))),
        (status = 400, description = "Error page: the form lacks fields or does not parse", content_type = "text/html", body = String),
        (status = 403, description = "Error page: not an administrator, or the form is cross-site or its CSRF token is wrong", content_type = "text/html", body = String),
        (status = 500, description = "Error page: the change failed", content_type = "text/html", body = String),
        (status = 503, description = "Error page: a store does not answer", content_type = "text/html", body = String),
    ),
    security(("session_cookie" = []), ("access_cookie" = [])),
)]
pub(super) async fn set_roles(
    State(app): State<App>,
    auth: Result<Auth, ApiError>,
    headers: HeaderMap,
    uri: Uri,
    form_data: Result<Form<RolesForm>, FormRejection>,
) -> Result<Response, Response> {
    let (p, f) = checked(&app, auth, &headers, &uri, form_data, |f| &f.csrf).await?;
    match app
        .user_admin()
        .set_roles(&f.username, &parse_roles(&f.roles))
        .await
    {
        Ok(ended) => {
            tracing::info!(admin = %p.user_id, ended, "set a user's roles");
            Ok(done("roles-set"))
        }
        Err(e) => Ok(done(code_for(&e)?)),
    }
}
