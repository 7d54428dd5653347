//! The caller's own sessions: `GET /auth/sessions`, `DELETE /auth/sessions/{id}`. In `hybrid`
//! mode these are the refresh sessions (one per sign-in); `jwt` mode keeps none.

use axum::extract::{Path, State};
use axum::response::{AppendHeaders, IntoResponse, Response};
use cloakroom::auth::AuthMethod;
use cloakroom::session::{SessionHandle, SessionRecord};
use http::StatusCode;
use http::header::SET_COOKIE;
use serde::Serialize;

use super::AuthApi;
use crate::{ApiError, Auth};

/// `jwt` mode signs tokens and keeps nothing: there are no sessions to list or end.
fn no_sessions() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_available_in_mode",
        "jwt mode keeps no sessions; tokens are revoked with /auth/logout and /auth/logout-all",
    )
}

fn no_such_session() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "you have no such session",
    )
}

/// One session as its owner sees it; `id` is the public handle, never the secret ID.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionView {
    /// The public handle (never the secret session ID).
    id: String,
    /// RFC 3339.
    created_at: String,
    /// RFC 3339.
    last_seen_at: String,
    /// RFC 3339: when the session ends unless it is used (or at its absolute limit).
    expires_at: String,
    user_agent: Option<String>,
    ip: Option<String>,
    /// Whether this is the session the request was made with.
    current: bool,
}

impl SessionView {
    /// The view of `record` for a caller whose own session is `current`.
    pub fn new(record: &SessionRecord, current: &SessionHandle) -> Self {
        Self {
            current: record.handle == *current,
            id: record.handle.to_string(),
            // `Timestamp` displays as RFC 3339.
            created_at: record.created_at.to_string(),
            last_seen_at: record.last_seen_at.to_string(),
            expires_at: record.expires_at().to_string(),
            user_agent: record.client.user_agent.as_deref().map(str::to_owned),
            ip: record.client.ip.map(|ip| ip.to_string()),
        }
    }
}

/// The caller's sessions, the one the request belongs to marked `current`.
#[cfg_attr(feature = "openapi", utoipa::path(
    get,
    path = "/auth/sessions",
    tag = "sessions",
    operation_id = "list_sessions",
    summary = "The caller's own sessions",
    description = "`session` mode: the caller's sessions; `hybrid` mode: their refresh sessions \
        (one per sign-in). `jwt` mode keeps no sessions: 404 `not_available_in_mode`.",
    responses(
        (status = 200, description = "The sessions", body = Vec<SessionView>,
            links(("end_first" = (
                operation_id = "end_session",
                parameters(("id" = "$response.body#/0/id")),
                description = "End the first session listed"
            )))),
        (status = 401, description = "`unauthenticated` or `invalid_token`; in `hybrid` mode \
            with a `WWW-Authenticate: Bearer` challenge"),
        (status = 404, description = "`not_available_in_mode` (`jwt` mode)"),
        (status = 503, description = "`store_unavailable`"),
    ),
    security(("bearer" = []), ("session_cookie" = []), ("access_cookie" = [])),
))]
pub async fn list(
    State(api): State<AuthApi>,
    Auth(p): Auth,
) -> Result<axum::Json<Vec<SessionView>>, ApiError> {
    if api.authority().method() == AuthMethod::Jwt {
        return Err(no_sessions());
    }
    let records = api.authority().list_sessions(&p.user_id).await?;
    Ok(axum::Json(
        records
            .iter()
            .map(|r| SessionView::new(r, &p.session))
            .collect(),
    ))
}

/// Ends one of the caller's sessions (in `hybrid` mode with its access tokens). Another
/// user's handle gets the same 404 as one that never existed, so handles cannot be probed.
#[cfg_attr(feature = "openapi", utoipa::path(
    delete,
    path = "/auth/sessions/{id}",
    tag = "sessions",
    operation_id = "end_session",
    summary = "End one of the caller's sessions",
    description = "`session` and `hybrid` modes (in `hybrid` mode the refresh session and its \
        access tokens, at once). Another user's handle answers the same 404 as one that never \
        existed. `jwt` mode: 404 `not_available_in_mode`.",
    params(("id" = String, Path, description = "The session's public handle, as listed")),
    responses(
        (status = 204, description = "Ended",
            headers(("Set-Cookie" = String, description = "Clears the cookie when the caller ended its own session"))),
        (status = 400, description = "`bad_request`: a path that is not valid UTF-8"),
        (status = 401, description = "`unauthenticated` or `invalid_token`; in `hybrid` mode \
            with a `WWW-Authenticate: Bearer` challenge"),
        (status = 403, description = "`cross_site_request`: a cookie-authenticated request from another site"),
        (status = 404, description = "`not_found` (no such session of the caller's) or \
            `not_available_in_mode` (`jwt` mode)"),
        (status = 503, description = "`store_unavailable`"),
    ),
    security(("bearer" = []), ("session_cookie" = []), ("access_cookie" = [])),
))]
pub async fn revoke(
    State(api): State<AuthApi>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let method = api.authority().method();
    if method == AuthMethod::Jwt {
        return Err(no_sessions());
    }
    let handle = SessionHandle::parse(&id).map_err(|_| no_such_session())?;
    if !api.authority().revoke_session(&p.user_id, &handle).await? {
        return Err(no_such_session());
    }
    tracing::info!(user_id = %p.user_id, "ended a session");
    if handle != p.session {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    // The caller ended the session it is using: its cookie is worthless now.
    let cookie = match method {
        AuthMethod::Session => api.session_cookie().clear(),
        _ => api.refresh_cookie().clear(),
    };
    Ok((
        StatusCode::NO_CONTENT,
        AppendHeaders([(SET_COOKIE, cookie)]),
    )
        .into_response())
}
