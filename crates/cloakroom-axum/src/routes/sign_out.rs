//! `GET /auth/me`, `POST /auth/logout`, `POST /auth/logout-all`.

use axum::extract::State;
use axum::response::{AppendHeaders, IntoResponse};
use cloakroom::auth::AuthMethod;
use http::StatusCode;
use http::header::SET_COOKIE;
use serde::Serialize;

use super::AuthApi;
use crate::{ApiError, Auth};

/// Who is signed in, and by what.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MeResponse {
    id: String,
    username: String,
    roles: Vec<String>,
    /// The public handle of the session (or, with a token, of its refresh session or `sid`).
    session: String,
    #[cfg_attr(feature = "openapi", schema(value_type = super::schemas::AuthKind))]
    auth: AuthMethod,
}

/// Who is signed in.
#[cfg_attr(feature = "openapi", utoipa::path(
    get,
    path = "/auth/me",
    tag = "auth",
    operation_id = "me",
    summary = "Who is signed in",
    description = "All modes. Accepts the session cookie (`session` mode), or a bearer access \
        token or the access-token cookie (`jwt`, `hybrid`).",
    responses(
        (status = 200, description = "The signed-in user", body = MeResponse),
        (status = 401, description = "`unauthenticated` (no credential) or `invalid_token`; in \
            `jwt` and `hybrid` modes with a `WWW-Authenticate: Bearer` challenge (RFC 6750)"),
        (status = 503, description = "`store_unavailable`"),
    ),
    security(("bearer" = []), ("session_cookie" = []), ("access_cookie" = [])),
))]
pub async fn me(Auth(p): Auth) -> axum::Json<MeResponse> {
    axum::Json(MeResponse {
        session: p.session.to_string(),
        auth: p.method,
        id: p.user_id,
        username: p.username,
        roles: p.roles,
    })
}

/// The `Set-Cookie` headers that clear the mode's credential cookies.
fn clear(api: &AuthApi) -> AppendHeaders<Vec<(http::HeaderName, http::HeaderValue)>> {
    AppendHeaders(
        api.clear_cookies()
            .into_iter()
            .map(|c| (SET_COOKIE, c))
            .collect(),
    )
}

/// Ends the sign-in the request presented, if any, and clears the cookies. Idempotent:
/// without a valid credential it still answers 204.
#[cfg_attr(feature = "openapi", utoipa::path(
    post,
    path = "/auth/logout",
    tag = "auth",
    operation_id = "logout",
    summary = "Sign out",
    description = "All modes. Ends the session (`session` mode) or revokes the access token \
        (`jwt`) or its refresh session and every access token of it (`hybrid`), on every node at \
        once, and clears the cookies. Idempotent: without a valid credential it still answers \
        204.",
    responses(
        (status = 204, description = "Signed out",
            headers(("Set-Cookie" = String, description = "Clears the credential cookies"))),
        (status = 403, description = "`cross_site_request`: a cookie-authenticated request from another site"),
        (status = 503, description = "`store_unavailable`"),
    ),
    security((), ("bearer" = []), ("session_cookie" = []), ("access_cookie" = [])),
))]
pub async fn logout(
    State(api): State<AuthApi>,
    principal: Option<Auth>,
) -> Result<impl IntoResponse, ApiError> {
    if let Some(Auth(p)) = principal {
        api.authority().sign_out(&p).await?;
        tracing::info!(user_id = %p.user_id, "signed out");
    }
    Ok((StatusCode::NO_CONTENT, clear(&api)))
}

/// Ends every session of the signed-in user and refuses every token issued to them so far.
#[cfg_attr(feature = "openapi", utoipa::path(
    post,
    path = "/auth/logout-all",
    tag = "auth",
    operation_id = "logout_all",
    summary = "Sign out everywhere",
    description = "All modes. Every session and token of the signed-in user stops working.",
    responses(
        (status = 204, description = "Signed out everywhere",
            headers(("Set-Cookie" = String, description = "Clears the credential cookies"))),
        (status = 401, description = "`unauthenticated` or `invalid_token`; in `jwt` and \
            `hybrid` modes with a `WWW-Authenticate: Bearer` challenge"),
        (status = 403, description = "`cross_site_request`: a cookie-authenticated request from another site"),
        (status = 503, description = "`store_unavailable`"),
    ),
    security(("bearer" = []), ("session_cookie" = []), ("access_cookie" = [])),
))]
pub async fn logout_all(
    State(api): State<AuthApi>,
    Auth(p): Auth,
) -> Result<impl IntoResponse, ApiError> {
    let ended = api.authority().sign_out_everywhere(&p.user_id).await?;
    tracing::info!(user_id = %p.user_id, ended, "signed out everywhere");
    Ok((StatusCode::NO_CONTENT, clear(&api)))
}
