//! The caller's own sessions: `GET /auth/sessions`, `DELETE /auth/sessions/{id}`. In `hybrid`
//! mode these are the refresh sessions (one per sign-in); `jwt` mode keeps none.

use axum::Router;
use axum::extract::{Path, State};
use axum::response::{AppendHeaders, IntoResponse, Response};
use axum::routing::{delete, get};
use cloakroom::session::{SessionHandle, SessionRecord};
use cloakroom_axum::{ApiError, Auth, SessionCookie, Sessions};
use http::StatusCode;
use http::header::SET_COOKIE;
use serde::Serialize;
use utoipa::ToSchema;

use super::tokens::service;
use crate::App;
use crate::settings::Mode;

pub(crate) fn router(mode: Mode) -> Router<App> {
    let (list_route, revoke_route) = match mode {
        Mode::Session => (get(list), delete(revoke)),
        Mode::Hybrid => (get(list_refresh), delete(revoke_refresh)),
        Mode::Jwt => (get(no_sessions), delete(no_sessions)),
    };
    Router::new()
        .route("/auth/sessions", list_route)
        .route("/auth/sessions/{id}", revoke_route)
}

/// `jwt` mode signs tokens and keeps nothing: there are no sessions to list or end.
async fn no_sessions() -> ApiError {
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
#[derive(Serialize, ToSchema)]
pub(crate) struct SessionView {
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
    fn new(record: &SessionRecord, current: &SessionHandle) -> Self {
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

#[utoipa::path(
    get,
    path = "/auth/sessions",
    tag = "sessions",
    operation_id = "list_sessions",
    summary = "The caller's own sessions",
    description = "`session` mode: the caller's sessions; `hybrid` mode: their refresh sessions \
        (one per sign-in). `jwt` mode keeps no sessions: 404 `not_available_in_mode`. (In \
        `hybrid` mode this is `list_refresh`.)",
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
)]
async fn list(Auth(p): Auth, sessions: Sessions) -> Result<axum::Json<Vec<SessionView>>, ApiError> {
    let records = sessions.manager().list(&p.user_id).await?;
    Ok(axum::Json(
        records
            .iter()
            .map(|r| SessionView::new(r, &p.session))
            .collect(),
    ))
}

/// Ends one of the caller's sessions. Another user's handle gets the same 404 as one that
/// never existed, so handles cannot be probed.
#[utoipa::path(
    delete,
    path = "/auth/sessions/{id}",
    tag = "sessions",
    operation_id = "end_session",
    summary = "End one of the caller's sessions",
    description = "`session` and `hybrid` modes (in `hybrid` mode the refresh session and its \
        access tokens, at once; this is `revoke_refresh`). Another user's handle answers the \
        same 404 as one that never existed. `jwt` mode: 404 `not_available_in_mode`.",
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
)]
async fn revoke(
    Auth(p): Auth,
    sessions: Sessions,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let handle = SessionHandle::parse(&id).map_err(|_| no_such_session())?;
    if !sessions.manager().revoke(&p.user_id, &handle).await? {
        return Err(no_such_session());
    }
    tracing::info!(user_id = %p.user_id, "ended a session");
    if handle == p.session {
        // The caller ended the session it is using: drop the cookie too.
        return Ok((
            StatusCode::NO_CONTENT,
            SessionCookie::clear(sessions.cookies()),
            (),
        )
            .into_response());
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The caller's refresh sessions, the one their token belongs to marked `current`.
async fn list_refresh(
    State(app): State<App>,
    Auth(p): Auth,
) -> Result<axum::Json<Vec<SessionView>>, ApiError> {
    let records = app.sessions().list(&p.user_id).await?;
    Ok(axum::Json(
        records
            .iter()
            .map(|r| SessionView::new(r, &p.session))
            .collect(),
    ))
}

/// Ends one of the caller's refresh sessions and revokes its access tokens at once.
async fn revoke_refresh(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let tokens = service(&app)?;
    let Some(hybrid) = tokens.hybrid() else {
        return Err(no_sessions().await);
    };
    let handle = SessionHandle::parse(&id).map_err(|_| no_such_session())?;
    // Only the owner's: revoking puts the handle on the deny-list before the session is
    // deleted, and another user's handle must not get that far.
    let owned = app
        .sessions()
        .list(&p.user_id)
        .await?
        .iter()
        .any(|r| r.handle == handle);
    if !owned || !hybrid.revoke(&p.user_id, &handle).await? {
        return Err(no_such_session());
    }
    tracing::info!(user_id = %p.user_id, "ended a session");
    if handle == p.session {
        // The caller ended the session it is using: its refresh cookie is worthless now.
        let clear = AppendHeaders([(SET_COOKIE, tokens.refresh_cookie().clear())]);
        return Ok((StatusCode::NO_CONTENT, clear).into_response());
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
