//! The caller's own sessions: `GET /auth/sessions`, `DELETE /auth/sessions/{id}`.

use axum::Router;
use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use cloakroom::session::{SessionHandle, SessionRecord};
use cloakroom_axum::{ApiError, Auth, SessionCookie, Sessions};
use http::StatusCode;
use serde::Serialize;

use crate::App;

pub(crate) fn router() -> Router<App> {
    Router::new()
        .route("/auth/sessions", get(list))
        .route("/auth/sessions/{id}", delete(revoke))
}

/// One session as its owner sees it; `id` is the public handle, never the secret ID.
#[derive(Serialize)]
struct SessionView {
    id: String,
    created_at: String,
    last_seen_at: String,
    expires_at: String,
    user_agent: Option<String>,
    ip: Option<String>,
    current: bool,
}

impl SessionView {
    fn new(record: SessionRecord, current: &SessionHandle) -> Self {
        Self {
            current: record.handle == *current,
            id: record.handle.to_string(),
            // `Timestamp` displays as RFC 3339.
            created_at: record.created_at.to_string(),
            last_seen_at: record.last_seen_at.to_string(),
            expires_at: record.expires_at().to_string(),
            user_agent: record.client.user_agent,
            ip: record.client.ip.map(|ip| ip.to_string()),
        }
    }
}

async fn list(Auth(p): Auth, sessions: Sessions) -> Result<axum::Json<Vec<SessionView>>, ApiError> {
    let records = sessions.manager().list(&p.user_id).await?;
    Ok(axum::Json(
        records
            .into_iter()
            .map(|r| SessionView::new(r, &p.session))
            .collect(),
    ))
}

/// Ends one of the caller's sessions. Another user's handle gets the same 404 as one that
/// never existed, so handles cannot be probed.
async fn revoke(
    Auth(p): Auth,
    sessions: Sessions,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let not_found = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "you have no such session",
        )
    };
    let handle = SessionHandle::parse(&id).map_err(|_| not_found())?;
    if !sessions.manager().revoke(&p.user_id, &handle).await? {
        return Err(not_found());
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
