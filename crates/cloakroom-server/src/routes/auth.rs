//! Signing in and out: `/auth/login`, `/auth/me`, `/auth/logout`, `/auth/logout-all`; here for
//! `session` mode, in [`tokens`](super::tokens) for `jwt` and `hybrid`.

use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use cloakroom::auth::AuthMethod;
use cloakroom::session::{ClientInfo, SessionUser};
use cloakroom::user::{Password, User};
use cloakroom_axum::{ApiError, Auth, SessionCookie, Sessions, is_cross_site};
use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Client, not_in_mode};
use crate::App;
use crate::json::Json;
use crate::login::LoginError;
use crate::openapi::schemas::{AuthKind, LoginAnswer};
use crate::prometheus::LOGINS;
use crate::settings::Mode;

pub(crate) fn router(mode: Mode) -> Router<App> {
    let router = Router::new().route("/auth/me", get(me));
    match mode {
        Mode::Session => router
            .route("/auth/login", post(login))
            .route("/auth/logout", post(logout))
            .route("/auth/logout-all", post(logout_all))
            .route("/auth/refresh", post(no_refresh)),
        Mode::Jwt | Mode::Hybrid => router.merge(super::tokens::router()),
    }
}

/// Session mode has no refresh tokens: the session itself lasts.
async fn no_refresh() -> ApiError {
    not_in_mode(Mode::Session, "refreshing tokens")
}

/// The body of `POST /auth/login`. Not `Debug`: it holds a password.
#[derive(Deserialize, ToSchema)]
pub(crate) struct LoginRequest {
    pub(super) username: String,
    pub(super) password: String,
}

/// What `POST /auth/login` answers in `session` mode.
#[derive(Serialize, ToSchema)]
pub(crate) struct LoginResponse {
    user: UserView,
}

/// The user who signed in.
#[derive(Serialize, ToSchema)]
pub(crate) struct UserView {
    id: String,
    username: String,
    roles: Vec<String>,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        Self {
            id: u.id,
            username: u.username.into(),
            roles: u.roles,
        }
    }
}

/// Who is signed in, and by what.
#[derive(Serialize, ToSchema)]
pub(crate) struct MeResponse {
    id: String,
    username: String,
    roles: Vec<String>,
    /// The public handle of the session (or, with a token, of its refresh session or `sid`).
    session: String,
    #[schema(value_type = AuthKind)]
    auth: AuthMethod,
}

pub(super) fn count_login(outcome: &'static str) {
    metrics::counter!(LOGINS, "outcome" => outcome).increment(1);
}

/// Checks the password and starts a new session, ending any the request presented (a planted
/// cookie is never adopted). Unknown user, wrong password and disabled account answer alike.
#[utoipa::path(
    post,
    path = "/auth/login",
    tag = "auth",
    operation_id = "login",
    summary = "Sign in with a username and password",
    description = "All modes. `session` mode answers `{\"user\": {...}}` and sets the session \
        cookie; `jwt` mode answers `{access_token, token_type, expires_in}`; `hybrid` mode adds \
        `refresh_token` and sets the refresh cookie (sent only to `/auth/refresh`). Unknown user, \
        wrong password and disabled account all answer 401 `invalid_credentials`. A cross-site \
        browser request (login CSRF) is refused with 403.",
    request_body(content = LoginRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Signed in", body = LoginAnswer,
            headers(("Set-Cookie" = String, description = "The session cookie (`session` mode) or the refresh cookie (`hybrid` mode)"))),
        (status = 400, description = "`malformed_json`, or `password_too_long` (over the password policy's byte bound)"),
        (status = 401, description = "`invalid_credentials`"),
        (status = 403, description = "`cross_site_request`"),
        (status = 413, description = "`payload_too_large`"),
        (status = 415, description = "`unsupported_media_type`: the body must be JSON"),
        (status = 422, description = "`invalid_request`: JSON of the wrong shape"),
        (status = 429, description = "`too_many_attempts`",
            headers(("Retry-After" = u64, description = "Seconds until another attempt may succeed"))),
        (status = 503, description = "`store_unavailable`"),
    ),
    security(()),
)]
async fn login(
    State(app): State<App>,
    sessions: Sessions,
    Client(client): Client,
    headers: HeaderMap,
    Json(body): Json<LoginRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let user = check_credentials(&app, &headers, &client, body).await?;
    let session_user = SessionUser {
        id: user.id.clone(),
        name: user.username.to_string(),
        roles: user.roles.clone(),
    };
    let cookie = match sessions.login(session_user, client).await {
        Ok(cookie) => cookie,
        Err(e) => {
            count_login("error");
            return Err(e);
        }
    };
    count_login("success");
    tracing::info!(user_id = %user.id, "signed in");
    Ok((
        cookie,
        axum::Json(LoginResponse {
            user: UserView::from(user),
        }),
    ))
}

/// What every mode's sign-in checks first: a same-site request, then
/// [`App::sign_in`] (password length, throttle, credentials). Counts the failures; the caller
/// counts the outcome of what follows.
pub(super) async fn check_credentials(
    app: &App,
    headers: &HeaderMap,
    client: &ClientInfo,
    body: LoginRequest,
) -> Result<User, ApiError> {
    // Login CSRF: another site must not sign the browser in to an account of its choosing.
    // (The layer refuses cross-site requests that carry a cookie; this one may carry none.)
    if is_cross_site(headers) {
        count_login("cross_site");
        return Err(ApiError::cross_site());
    }
    let password = Password::new(body.password);
    app.sign_in(&body.username, &password, client.ip)
        .await
        .map_err(|e| {
            count_login(e.outcome());
            match &e {
                LoginError::InvalidCredentials => {
                    tracing::info!("sign-in refused: invalid credentials");
                }
                LoginError::TooManyAttempts { .. } => {
                    tracing::info!("sign-in refused: too many failed attempts");
                }
                _ => {}
            }
            ApiError::from(e)
        })
}

#[utoipa::path(
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
)]
async fn me(Auth(p): Auth) -> axum::Json<MeResponse> {
    axum::Json(MeResponse {
        session: p.session.to_string(),
        auth: p.method,
        id: p.user_id,
        username: p.username,
        roles: p.roles,
    })
}

/// Ends the session the request presented, if any, and clears the cookie. Idempotent: without
/// a live session it still answers 204.
#[utoipa::path(
    post,
    path = "/auth/logout",
    tag = "auth",
    operation_id = "logout",
    summary = "Sign out",
    description = "All modes. Ends the session (`session` mode) or revokes the access token \
        (`jwt`) or its refresh session and every access token of it (`hybrid`), on every node at \
        once, and clears the cookies. Idempotent: without a valid credential it still answers \
        204. (In `jwt` and `hybrid` modes this is `routes::tokens::logout`.)",
    responses(
        (status = 204, description = "Signed out",
            headers(("Set-Cookie" = String, description = "Clears the credential cookies"))),
        (status = 403, description = "`cross_site_request`: a cookie-authenticated request from another site"),
        (status = 503, description = "`store_unavailable`"),
    ),
    security((), ("bearer" = []), ("session_cookie" = []), ("access_cookie" = [])),
)]
async fn logout(sessions: Sessions) -> Result<impl IntoResponse, ApiError> {
    let cookie = sessions.logout().await?;
    Ok((StatusCode::NO_CONTENT, cookie, ()))
}

/// Ends every session of the signed-in user.
#[utoipa::path(
    post,
    path = "/auth/logout-all",
    tag = "auth",
    operation_id = "logout_all",
    summary = "Sign out everywhere",
    description = "All modes. Every session and token of the signed-in user stops working. (In \
        `jwt` and `hybrid` modes this is `routes::tokens::logout_all`.)",
    responses(
        (status = 204, description = "Signed out everywhere",
            headers(("Set-Cookie" = String, description = "Clears the credential cookies"))),
        (status = 401, description = "`unauthenticated` or `invalid_token`; in `jwt` and \
            `hybrid` modes with a `WWW-Authenticate: Bearer` challenge"),
        (status = 403, description = "`cross_site_request`: a cookie-authenticated request from another site"),
        (status = 503, description = "`store_unavailable`"),
    ),
    security(("bearer" = []), ("session_cookie" = []), ("access_cookie" = [])),
)]
async fn logout_all(Auth(p): Auth, sessions: Sessions) -> Result<impl IntoResponse, ApiError> {
    let ended = sessions
        .manager()
        .end_all(&p.user_id)
        .await
        .map_err(ApiError::from)?;
    tracing::info!(user_id = %p.user_id, ended, "signed out everywhere");
    Ok((
        StatusCode::NO_CONTENT,
        SessionCookie::clear(sessions.cookies()),
        (),
    ))
}
