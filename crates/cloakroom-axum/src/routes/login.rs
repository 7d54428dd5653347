//! `POST /auth/login`, and what every door hands a browser or an API client once a sign-in
//! succeeded.

use axum::extract::{FromRequestParts, State};
#[cfg(feature = "jwt")]
use axum::response::AppendHeaders;
use axum::response::{IntoResponse, Response};
use cloakroom::authority::{Credential, SignInError};
use cloakroom::session::SessionKey;
#[cfg(feature = "jwt")]
use cloakroom::token::IssuedToken;
#[cfg(feature = "jwt")]
use cloakroom::token_auth::TokenPair;
use cloakroom::user::{Password, User};
#[cfg(feature = "jwt")]
use http::header::SET_COOKIE;
use http::request::Parts;
use http::{HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};

use super::{AuthApi, Client, Json, count_login};
use crate::{ApiError, SessionCookie, is_cross_site};

/// The body of `POST /auth/login`. Not `Debug`: it holds a password.
#[derive(Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginRequest {
    /// The name the user signs in with.
    pub username: String,
    /// The password.
    pub password: String,
}

impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest")
            .field("username", &self.username)
            .field("password", &"[redacted]")
            .finish()
    }
}

/// What `POST /auth/login` answers in `session` mode.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginResponse {
    user: UserView,
}

/// The user who signed in.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserView {
    id: String,
    username: String,
    roles: Vec<String>,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        Self {
            id: u.id.clone(),
            username: u.username.to_string(),
            roles: u.roles.clone(),
        }
    }
}

/// `{access_token, token_type, expires_in}`, and `refresh_token` in `hybrid` mode.
#[cfg(feature = "jwt")]
#[derive(Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenResponse<'a> {
    /// A JWS compact token (`typ: at+jwt`), for `Authorization: Bearer`.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    access_token: &'a str,
    /// Always `Bearer`.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "Bearer"))]
    token_type: &'static str,
    /// Seconds until the access token expires.
    expires_in: u64,
    /// `hybrid` mode: spent by `POST /auth/refresh` for a new pair.
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
}

#[cfg(feature = "jwt")]
impl std::fmt::Debug for TokenResponse<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "jwt")]
impl<'a> TokenResponse<'a> {
    fn new(access: &'a IssuedToken) -> Self {
        Self {
            access_token: access.token.expose_secret(),
            token_type: "Bearer",
            expires_in: access.expires_in().as_secs(),
            refresh_token: None,
        }
    }
}

/// A new pair for an API client: the tokens in the body, the refresh token also in its
/// cookie (sent only to the refresh path), for as long as its session lasts.
#[cfg(feature = "jwt")]
pub fn pair_response(api: &AuthApi, pair: &TokenPair) -> Response {
    let refresh = pair.refresh.expose_secret();
    let cookie = api
        .refresh_cookie()
        .set_value(&refresh, Some(refresh_lifetime(pair)));
    let body = TokenResponse {
        refresh_token: Some(refresh),
        ..TokenResponse::new(&pair.access)
    };
    (AppendHeaders([(SET_COOKIE, cookie)]), axum::Json(body)).into_response()
}

#[cfg(feature = "jwt")]
fn refresh_lifetime(pair: &TokenPair) -> std::time::Duration {
    pair.session
        .absolute_expires_at
        .since(pair.access.claims.iat)
}

/// The answer to an API client that signed in as `user`: the session cookie and
/// `{"user": …}`, or the tokens (and in `hybrid` mode the refresh cookie).
pub fn credential_response(api: &AuthApi, user: &User, credential: &Credential) -> Response {
    match credential {
        Credential::Session { id, .. } => (
            SessionCookie::set(api.session_cookie(), id),
            axum::Json(LoginResponse {
                user: UserView::from(user),
            }),
        )
            .into_response(),
        #[cfg(feature = "jwt")]
        Credential::Access(access) => axum::Json(TokenResponse::new(access)).into_response(),
        #[cfg(feature = "jwt")]
        Credential::Pair(pair) => pair_response(api, pair),
        #[allow(unreachable_patterns)]
        _ => ApiError::internal().into_response(),
    }
}

/// The cookies that hold `credential` in a browser: the session cookie; or the access-token
/// cookie, living as long as its token, and (`hybrid`) the refresh cookie, living as long as
/// its session.
pub fn credential_cookies(api: &AuthApi, credential: &Credential) -> Vec<HeaderValue> {
    match credential {
        Credential::Session { id, .. } => vec![api.session_cookie().set(id)],
        #[cfg(feature = "jwt")]
        Credential::Access(access) => vec![
            api.access_cookie()
                .set_value(access.token.expose_secret(), Some(access.expires_in())),
        ],
        #[cfg(feature = "jwt")]
        Credential::Pair(pair) => vec![
            api.access_cookie().set_value(
                pair.access.token.expose_secret(),
                Some(pair.access.expires_in()),
            ),
            api.refresh_cookie()
                .set_value(&pair.refresh.expose_secret(), Some(refresh_lifetime(pair))),
        ],
        #[allow(unreachable_patterns)]
        _ => Vec::new(),
    }
}

/// The store key of the session cookie the request presented, valid or not (so that a sign-in can end it).
#[derive(Debug)]
pub struct Presented(pub Option<SessionKey>);

impl<S: Send + Sync> FromRequestParts<S> for Presented {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(
            parts
                .extensions
                .get::<crate::layer::SessionContext>()
                .and_then(|c| c.presented),
        ))
    }
}

/// Checks the password (throttled) and issues the mode's credentials. Any session the
/// request presented is ended first, so a planted cookie is never adopted. Unknown user,
/// wrong password and disabled account answer alike.
#[cfg_attr(feature = "openapi", utoipa::path(
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
        (status = 200, description = "Signed in", body = super::schemas::LoginAnswer,
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
))]
pub async fn login(
    State(api): State<AuthApi>,
    Presented(presented): Presented,
    Client(client): Client,
    headers: HeaderMap,
    Json(body): Json<LoginRequest>,
) -> Result<Response, ApiError> {
    // Login CSRF: another site must not sign the browser in to an account of its choosing.
    // (The layer refuses cross-site requests that carry a cookie; this one may carry none.)
    if is_cross_site(&headers) {
        count_login("cross_site");
        return Err(ApiError::cross_site());
    }
    let password = Password::new(body.password);
    match api
        .authority()
        .sign_in(&body.username, &password, client)
        .await
    {
        Ok(signed_in) => {
            if let (Some(key), Some(sessions)) = (presented, api.authority().sessions()) {
                sessions.end_key(&key).await?;
            }
            count_login("success");
            tracing::info!(user_id = %signed_in.user.id, "signed in");
            Ok(credential_response(
                &api,
                &signed_in.user,
                &signed_in.credential,
            ))
        }
        Err(e) => {
            count_login(e.outcome());
            match &e {
                SignInError::InvalidCredentials => {
                    tracing::info!("sign-in refused: invalid credentials");
                }
                SignInError::TooManyAttempts { .. } => {
                    tracing::info!("sign-in refused: too many failed attempts");
                }
                _ => {}
            }
            Err(e.into())
        }
    }
}
