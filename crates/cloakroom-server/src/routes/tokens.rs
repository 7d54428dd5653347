//! Signing in and out in `jwt` and `hybrid` modes: `/auth/login`, `/auth/refresh`,
//! `/auth/logout`, `/auth/logout-all`. Access tokens come back in the body (and are accepted as
//! `Authorization: Bearer` or the access-token cookie); the refresh token of `hybrid` mode comes
//! back in the body and in a cookie sent only to `/auth/refresh`.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, State};
use axum::response::{AppendHeaders, IntoResponse, Response};
use axum::routing::post;
use cloakroom::auth::{AuthError, Principal};
use cloakroom::session::{SessionId, SessionUser};
use cloakroom::token::IssuedToken;
use cloakroom::token_auth::TokenPair;
use cloakroom_axum::{ApiError, Auth, is_cross_site};
use http::header::SET_COOKIE;
use http::request::Parts;
use http::{HeaderMap, HeaderValue, StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::{LoginRequest, check_credentials, count_login};
use super::{Client, not_in_mode};
use crate::App;
use crate::json::{self, Json};
use crate::prometheus::REFRESHES;
use crate::settings::Mode;
use crate::tokens::{TokenMode, TokenService};

pub(crate) fn router() -> Router<App> {
    Router::new()
        .route("/auth/login", post(login))
        .route("/auth/refresh", post(refresh))
        .route("/auth/logout", post(logout))
        .route("/auth/logout-all", post(logout_all))
}

/// The token service; its absence in a token mode is a bug, not the client's fault.
pub(super) fn service(app: &App) -> Result<&TokenService, ApiError> {
    app.tokens().ok_or_else(|| {
        tracing::error!("a token route was served without the token service");
        ApiError::internal()
    })
}

/// `{access_token, token_type, expires_in}`, and `refresh_token` in `hybrid` mode.
#[derive(Serialize, ToSchema)]
pub(crate) struct TokenResponse<'a> {
    /// A JWS compact token (`typ: at+jwt`), for `Authorization: Bearer`.
    #[schema(value_type = String)]
    access_token: &'a str,
    /// Always `Bearer`.
    #[schema(value_type = String, example = "Bearer")]
    token_type: &'static str,
    /// Seconds until the access token expires.
    expires_in: u64,
    /// `hybrid` mode: spent by `POST /auth/refresh` for a new pair.
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
}

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

/// A new pair: the tokens in the body, the refresh token also in its cookie, for as long as
/// its session lasts.
fn pair_response(tokens: &TokenService, pair: &TokenPair) -> Response {
    let refresh = pair.refresh.expose_secret();
    let lasts = pair
        .session
        .absolute_expires_at
        .since(pair.access.claims.iat);
    let cookie = tokens.refresh_cookie().set_value(&refresh, Some(lasts));
    let body = TokenResponse {
        refresh_token: Some(refresh),
        ..TokenResponse::new(&pair.access)
    };
    (AppendHeaders([(SET_COOKIE, cookie)]), axum::Json(body)).into_response()
}

/// Checks the password and issues the mode's credentials. Unknown user, wrong password and
/// disabled account answer alike.
async fn login(
    State(app): State<App>,
    Client(client): Client,
    headers: HeaderMap,
    Json(body): Json<LoginRequest>,
) -> Result<Response, ApiError> {
    let tokens = service(&app)?;
    let user = check_credentials(&app, &headers, &client, body).await?;
    let subject = SessionUser {
        id: user.id.clone(),
        name: user.username.to_string(),
        roles: user.roles.clone(),
    };
    let issued = match tokens.mode() {
        TokenMode::Jwt(jwt) => jwt
            .login(&subject)
            .map(|access| axum::Json(TokenResponse::new(&access)).into_response()),
        TokenMode::Hybrid(hybrid) => hybrid
            .login(subject, client)
            .await
            .map(|pair| pair_response(tokens, &pair)),
    };
    match issued {
        Ok(res) => {
            count_login("success");
            tracing::info!(user_id = %user.id, "signed in");
            Ok(res)
        }
        Err(e) => {
            count_login("error");
            Err(e.into())
        }
    }
}

/// The body of `POST /auth/refresh`. Not `Debug`: it holds a secret.
#[derive(Deserialize, ToSchema)]
pub(crate) struct RefreshRequest {
    refresh_token: String,
}

fn count_refresh(outcome: &'static str) {
    metrics::counter!(REFRESHES, "outcome" => outcome).increment(1);
}

/// 401 `invalid_refresh_token`: unknown, expired, or not a refresh token at all.
fn invalid_refresh() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_refresh_token",
        "the refresh token is unknown or expired; sign in again",
    )
}

/// Spends a refresh token (from the body, else the refresh cookie) for a new pair. A spent one
/// presented again revokes its whole session, access tokens included.
#[utoipa::path(
    post,
    path = "/auth/refresh",
    tag = "auth",
    operation_id = "refresh",
    summary = "Spend a refresh token for a new pair",
    description = "`hybrid` mode only; 404 `not_available_in_mode` in `session` and `jwt` modes. \
        The refresh token comes from the JSON body or, with an empty body, from the refresh \
        cookie. The old refresh token is spent: presented again, it answers 401 \
        `refresh_token_reused` and revokes its whole session.",
    request_body(content = RefreshRequest, content_type = "application/json",
        description = "Optional (see `OPTIONAL_BODIES` in `openapi.rs`): without a body the \
            refresh cookie is used"),
    responses(
        (status = 200, description = "A new pair", body = TokenResponse<'_>,
            headers(("Set-Cookie" = String, description = "The new refresh cookie"))),
        (status = 400, description = "`malformed_json`, or `invalid_request`: neither a body nor the refresh cookie"),
        (status = 401, description = "`invalid_refresh_token` (unknown or expired) or `refresh_token_reused`"),
        (status = 403, description = "`cross_site_request`: the refresh cookie sent from another site"),
        (status = 404, description = "`not_available_in_mode` (`session` and `jwt` modes)"),
        (status = 413, description = "`payload_too_large`"),
        (status = 415, description = "`unsupported_media_type`: a body that is not JSON"),
        (status = 422, description = "`invalid_request`: JSON of the wrong shape"),
        (status = 429, description = "`too_many_requests`: past the session's or the client's rate (see `Retry-After`)"),
        (status = 503, description = "`store_unavailable`"),
    ),
    security((), ("refresh_cookie" = [])),
)]
async fn refresh(
    State(app): State<App>,
    Client(client): Client,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Response> {
    let tokens = service(&app).map_err(IntoResponse::into_response)?;
    let Some(hybrid) = tokens.hybrid() else {
        return Err(not_in_mode(Mode::Jwt, "refreshing tokens").into_response());
    };
    let from_body = json::optional::<RefreshRequest>(&headers, &body)
        .map_err(IntoResponse::into_response)?
        .map(|r| r.refresh_token);
    let cookie = tokens.refresh_cookie();
    let (text, from_cookie) = match from_body {
        Some(text) => (text, false),
        None => match cookie.find_raw(&headers) {
            // The cookie makes this a cookie-authenticated change: same-site only.
            Some(_) if is_cross_site(&headers) => {
                count_refresh("cross_site");
                return Err(ApiError::cross_site().into_response());
            }
            Some(text) => (text.to_owned(), true),
            None => {
                count_refresh("missing");
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "send {\"refresh_token\": …} or the refresh cookie",
                )
                .into_response());
            }
        },
    };
    // A browser must drop a refresh cookie that no longer works.
    let failed = |e: ApiError| {
        let clear = from_cookie.then(|| (SET_COOKIE, cookie.clear()));
        (AppendHeaders(clear), e).into_response()
    };
    let Ok(id) = SessionId::parse(&text) else {
        count_refresh("invalid");
        return Err(failed(invalid_refresh()));
    };
    if let Err(e) = tokens.limits().refresh(&client, &id) {
        count_refresh("rate_limited");
        return Err(e.into_response());
    }
    match hybrid.refresh(&id).await {
        Ok(pair) => {
            count_refresh("success");
            Ok(pair_response(tokens, &pair))
        }
        Err(AuthError::RefreshReused) => {
            count_refresh("reused");
            Err(failed(AuthError::RefreshReused.into()))
        }
        Err(AuthError::UnknownSession | AuthError::SessionExpired) => {
            count_refresh("invalid");
            Err(failed(invalid_refresh()))
        }
        Err(e) => {
            count_refresh("error");
            Err(ApiError::from(e).into_response())
        }
    }
}

/// The principal when the request presents a valid credential; `None` when it presents none
/// or one that is refused (signing out needs no valid token), an error when a store is down.
struct MaybeAuth(Option<Principal>);

impl<S: Send + Sync> FromRequestParts<S> for MaybeAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Auth::from_request_parts(parts, state).await {
            Ok(Auth(p)) => Ok(Self(Some(p))),
            Err(e) if e.status == StatusCode::UNAUTHORIZED => Ok(Self(None)),
            Err(e) => Err(e),
        }
    }
}

/// Clears both token cookies (a browser that signed in through the HTML pages has them).
fn clear_cookies(tokens: &TokenService) -> AppendHeaders<[(http::HeaderName, HeaderValue); 2]> {
    AppendHeaders([
        (SET_COOKIE, tokens.access_cookie().clear()),
        (SET_COOKIE, tokens.refresh_cookie().clear()),
    ])
}

/// Revokes the credential presented: in `jwt` mode the token, in `hybrid` mode its session and
/// every access token of it. Idempotent: without a valid token it still answers 204.
async fn logout(
    State(app): State<App>,
    MaybeAuth(principal): MaybeAuth,
) -> Result<impl IntoResponse, ApiError> {
    let tokens = service(&app)?;
    if let Some(p) = principal {
        match tokens.mode() {
            TokenMode::Jwt(jwt) => jwt.logout(&p).await?,
            TokenMode::Hybrid(hybrid) => hybrid.logout(&p).await?,
        }
        tracing::info!(user_id = %p.user_id, "signed out");
    }
    Ok((StatusCode::NO_CONTENT, clear_cookies(tokens)))
}

/// Refuses every token of the signed-in user issued so far, and ends their refresh sessions.
async fn logout_all(State(app): State<App>, Auth(p): Auth) -> Result<impl IntoResponse, ApiError> {
    let tokens = service(&app)?;
    match tokens.mode() {
        TokenMode::Jwt(jwt) => jwt.logout_all(&p.user_id).await?,
        TokenMode::Hybrid(hybrid) => hybrid.logout_all(&p.user_id).await?,
    }
    tracing::info!(user_id = %p.user_id, "signed out everywhere");
    Ok((StatusCode::NO_CONTENT, clear_cookies(tokens)))
}
