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

use super::{Client, not_in_mode};
use crate::App;
use crate::json::Json;
use crate::login::LoginError;
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
#[derive(Deserialize)]
pub(super) struct LoginRequest {
    pub(super) username: String,
    pub(super) password: String,
}

#[derive(Serialize)]
struct LoginResponse {
    user: UserView,
}

#[derive(Serialize)]
struct UserView {
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

#[derive(Serialize)]
struct MeResponse {
    id: String,
    username: String,
    roles: Vec<String>,
    session: String,
    auth: AuthMethod,
}

pub(super) fn count_login(outcome: &'static str) {
    metrics::counter!(LOGINS, "outcome" => outcome).increment(1);
}

/// Checks the password and starts a new session, ending any the request presented (a planted
/// cookie is never adopted). Unknown user, wrong password and disabled account answer alike.
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
async fn logout(sessions: Sessions) -> Result<impl IntoResponse, ApiError> {
    let cookie = sessions.logout().await?;
    Ok((StatusCode::NO_CONTENT, cookie, ()))
}

/// Ends every session of the signed-in user.
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
