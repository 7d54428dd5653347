//! The session form of `/admin`: end anyone's session.

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::response::Response;
use cloakroom::session::SessionHandle;
use cloakroom_axum::{ApiError, Auth};
use http::{HeaderMap, Uri};
use serde::Deserialize;
use utoipa::ToSchema;

use super::super::failed;
use super::{checked, done};
use crate::App;

#[derive(Deserialize, ToSchema)]
#[schema(as = AdminRevokeForm)]
pub(super) struct RevokeForm {
    #[serde(default)]
    csrf: String,
    user_id: String,
    session: String,
}

#[utoipa::path(
    post,
    path = "/admin/sessions/revoke",
    tag = "pages",
    operation_id = "admin_revoke_session",
    summary = "End any user's session",
    request_body(content = RevokeForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Back to `/admin` with a notice naming the outcome; or not signed in: to sign in", headers(("Location" = String, description = "Where to go next"))),
        (status = 400, description = "Error page: the form lacks fields or does not parse", content_type = "text/html", body = String),
        (status = 403, description = "Error page: not an administrator, or the form is cross-site or its CSRF token is wrong", content_type = "text/html", body = String),
        (status = 500, description = "Error page: the change failed", content_type = "text/html", body = String),
        (status = 503, description = "Error page: a store does not answer", content_type = "text/html", body = String),
    ),
    security(("session_cookie" = []), ("access_cookie" = [])),
)]
pub(super) async fn revoke(
    State(app): State<App>,
    auth: Result<Auth, ApiError>,
    headers: HeaderMap,
    uri: Uri,
    form_data: Result<Form<RevokeForm>, FormRejection>,
) -> Result<Response, Response> {
    let (p, f) = checked(&app, auth, &headers, &uri, form_data, |f| &f.csrf).await?;
    let Ok(handle) = SessionHandle::parse(&f.session) else {
        return Ok(done("no-such-session"));
    };
    let revoked = match app.authority().revoke_session(&f.user_id, &handle).await {
        Ok(revoked) => revoked,
        // `jwt` mode keeps no sessions.
        Err(cloakroom::auth::AuthError::NotInMode { .. }) => false,
        Err(e) => return Err(failed(&e.into())),
    };
    if !revoked {
        return Ok(done("no-such-session"));
    }
    tracing::info!(admin = %p.user_id, user_id = %f.user_id, "ended a user's session");
    Ok(done("revoked"))
}
