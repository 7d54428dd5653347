//! For other services: token introspection (RFC 7662, `POST /auth/introspect`) and token
//! revocation (RFC 7009, `POST /auth/revoke`), in `jwt` and `hybrid` modes. Both take
//! `application/x-www-form-urlencoded` bodies with `token` and an optional `token_type_hint`.

use std::sync::Arc;

use axum::extract::{Form, State};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Json, Router};
use cloakroom::revocation::Revocation;
use cloakroom::session::SessionId;
use cloakroom::token::AccessClaims;
use cloakroom_axum::{ApiError, Auth};
use http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Client, not_in_mode};
use crate::App;
use crate::tokens::TokenService;

/// The roles allowed to introspect: administrators, and service clients (users with the role
/// `service`, e.g. an API gateway that signed in with its own credentials).
const INTROSPECTION_ROLES: [&str; 2] = ["admin", "service"];

pub(crate) fn router() -> Router<App> {
    Router::new()
        .route("/auth/introspect", post(introspect))
        .route("/auth/revoke", post(revoke))
}

/// The body of both requests. Unknown parameters are ignored (RFC 6749 §3.2).
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct TokenRequest {
    /// An access token, or a refresh token (`hybrid` mode).
    token: String,
    /// `access_token` or `refresh_token`: which kind to look for first.
    #[serde(default)]
    token_type_hint: Option<String>,
}

/// RFC 7662 §2.2. Inactive tokens are `{"active": false}` and nothing else, so that a caller
/// learns nothing about why.
#[derive(Debug, Default, Serialize, ToSchema)]
pub(crate) struct Introspection {
    active: bool,
    /// `access_token` or `refresh_token`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    token_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    roles: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    jti: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iat: Option<i64>,
}

impl Introspection {
    fn access(claims: AccessClaims) -> Self {
        Self {
            active: true,
            token_type: Some("access_token"),
            sub: Some(claims.sub),
            username: Some(claims.name),
            roles: Some(claims.roles),
            sid: Some(claims.sid),
            jti: Some(claims.jti),
            iss: Some(claims.iss),
            aud: Some(claims.aud.as_slice().to_vec()),
            exp: Some(claims.exp.unix()),
            iat: Some(claims.iat.unix()),
        }
    }
}

fn token_service<'a>(app: &'a App, what: &str) -> Result<&'a TokenService, ApiError> {
    app.tokens()
        .ok_or_else(|| not_in_mode(app.settings().mode, what))
}

/// `POST /auth/introspect`: whether a token is active, and what it says. Only for callers
/// signed in with the role `admin` or `service`: 401 without a credential, 403 without the
/// role.
#[utoipa::path(
    post,
    path = "/auth/introspect",
    tag = "oauth",
    operation_id = "introspect",
    summary = "Token introspection (RFC 7662)",
    description = "`jwt` and `hybrid` modes; 404 `not_available_in_mode` in `session` mode. For \
        callers signed in with the role `admin` or `service`. An inactive token is \
        `{\"active\": false}` and nothing else.",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Whether the token is active, and what it says", body = Introspection),
        (status = 401, description = "`unauthenticated` or `invalid_token`; in `jwt` and \
            `hybrid` modes with a `WWW-Authenticate: Bearer` challenge"),
        (status = 403, description = "`insufficient_role`, or `cross_site_request`"),
        (status = 404, description = "`not_available_in_mode` (`session` mode)"),
        (status = 413, description = "`payload_too_large`"),
        (status = 415, description = "`unsupported_media_type`: the body must be form-encoded"),
        (status = 422, description = "`invalid_request`: no `token` parameter"),
        (status = 503, description = "`store_unavailable`"),
    ),
    security(("bearer" = []), ("session_cookie" = []), ("access_cookie" = [])),
)]
async fn introspect(
    State(app): State<App>,
    Auth(caller): Auth,
    Form(req): Form<TokenRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let tokens = token_service(&app, "introspection")?;
    if !INTROSPECTION_ROLES.iter().any(|r| caller.has_role(r)) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "insufficient_role",
            "introspection needs the role admin or service",
        ));
    }
    let refresh_first = req.token_type_hint.as_deref() == Some("refresh_token");
    let access = || {
        tokens
            .verifier()
            .verify(&req.token)
            .ok()
            .map(Introspection::access)
    };
    let answer = if refresh_first {
        match refresh(tokens, &req.token).await? {
            Some(found) => Some(found),
            None => access(),
        }
    } else {
        match access() {
            Some(found) => Some(found),
            None => refresh(tokens, &req.token).await?,
        }
    };
    Ok(Json(answer.unwrap_or_default()))
}

/// The refresh session a hybrid refresh token names, if it is live.
async fn refresh(tokens: &TokenService, token: &str) -> Result<Option<Introspection>, ApiError> {
    let (Some(hybrid), Ok(id)) = (tokens.hybrid(), SessionId::parse(token)) else {
        return Ok(None);
    };
    let sessions = hybrid.sessions();
    let Some(record) = sessions.store().load(&id.key()).await? else {
        return Ok(None);
    };
    if record.is_expired(sessions.now()) {
        return Ok(None);
    }
    let exp = record.expires_at().unix();
    let user = Arc::unwrap_or_clone(record.user);
    Ok(Some(Introspection {
        active: true,
        token_type: Some("refresh_token"),
        sub: Some(user.id),
        username: Some(user.name),
        roles: Some(user.roles),
        sid: Some(record.handle.to_string()),
        exp: Some(exp),
        iat: Some(record.created_at.unix()),
        ..Introspection::default()
    }))
}

/// `POST /auth/revoke`: revokes an access token (its `jti`, until it expires) or a refresh
/// token (its whole session, access tokens included). Holding a token is the right to revoke
/// it, so no other credential is asked for; the answer is 200 whether or not the token was
/// valid (RFC 7009 §2.2), so it tells nothing about the token.
#[utoipa::path(
    post,
    path = "/auth/revoke",
    tag = "oauth",
    operation_id = "revoke",
    summary = "Token revocation (RFC 7009)",
    description = "`jwt` and `hybrid` modes; 404 `not_available_in_mode` in `session` mode. \
        Revokes an access token, or a refresh token's whole session (`hybrid`). Holding the \
        token is the right to revoke it; the answer is 200 whether or not it was valid.",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Revoked, or it was not valid anyway"),
        (status = 403, description = "`cross_site_request`: a cookie-authenticated request from another site"),
        (status = 404, description = "`not_available_in_mode` (`session` mode)"),
        (status = 413, description = "`payload_too_large`"),
        (status = 415, description = "`unsupported_media_type`: the body must be form-encoded"),
        (status = 422, description = "`invalid_request`: no `token` parameter"),
        (status = 429, description = "`too_many_requests`: past the client's or the token's user's rate (see `Retry-After`)"),
        (status = 503, description = "`store_unavailable`"),
    ),
    security(()),
)]
async fn revoke(
    State(app): State<App>,
    Client(client): Client,
    Form(req): Form<TokenRequest>,
) -> Result<StatusCode, ApiError> {
    let tokens = token_service(&app, "token revocation")?;
    tokens.limits().revoke_from(&client)?;
    if let Ok(claims) = tokens.verifier().verify(&req.token) {
        tokens.limits().revoke_of(&claims.sub)?;
        tokens
            .revocations()
            .revoke(Revocation::token(claims.jti, claims.exp))
            .await
            .map_err(ApiError::from)?;
        return Ok(StatusCode::OK);
    }
    if let (Some(hybrid), Ok(id)) = (tokens.hybrid(), SessionId::parse(&req.token)) {
        if let Some(record) = hybrid.sessions().store().load(&id.key()).await? {
            tokens.limits().revoke_of(&record.user.id)?;
            hybrid.revoke(&record.user.id, &record.handle).await?;
        }
    }
    Ok(StatusCode::OK)
}
