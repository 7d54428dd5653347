//! For other services: the public keys (`GET /.well-known/jwks.json`), token introspection
//! (RFC 7662, `POST /auth/introspect`) and token revocation (RFC 7009, `POST /auth/revoke`),
//! in `jwt` and `hybrid` modes. Introspection and revocation take
//! `application/x-www-form-urlencoded` bodies with `token` and an optional `token_type_hint`.

use axum::extract::{Form, State};
#[cfg(feature = "jwt")]
use axum::response::IntoResponse;
use axum::response::Response;
use cloakroom::auth::AuthMethod;
use http::StatusCode;
#[cfg(feature = "jwt")]
use http::{HeaderValue, header};
use serde::{Deserialize, Serialize};

use super::{AuthApi, Client};
use crate::{ApiError, Auth};

/// The roles allowed to introspect: administrators, and service clients (users with the role
/// `service`, e.g. an API gateway that signed in with its own credentials).
pub const INTROSPECTION_ROLES: [&str; 2] = ["admin", "service"];

#[cfg(feature = "jwt")]
/// How long other services may cache the key set. A key is in it from the moment it signs
/// (a verifier refetches on an unknown `kid`); a replaced key stays for a token lifetime.
const JWKS_CACHE_CONTROL: &str = "public, max-age=60";

/// The body of both requests. Unknown parameters are ignored (RFC 6749 §3.2).
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenRequest {
    /// An access token, or a refresh token (`hybrid` mode).
    pub token: String,
    /// `access_token` or `refresh_token`: which kind to look for first.
    #[serde(default)]
    pub token_type_hint: Option<String>,
}

/// RFC 7662 §2.2. Inactive tokens are `{"active": false}` and nothing else, so that a caller
/// learns nothing about why.
#[derive(Debug, Default, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Introspection {
    active: bool,
    /// `access_token` or `refresh_token`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
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

#[cfg(feature = "jwt")]
impl From<cloakroom::authority::Introspected> for Introspection {
    fn from(found: cloakroom::authority::Introspected) -> Self {
        use cloakroom::authority::IntrospectedKind;
        match found.kind {
            IntrospectedKind::Access(claims) => Self {
                active: true,
                token_type: Some("access_token"),
                sub: Some(claims.sub.clone()),
                username: Some(claims.name.clone()),
                roles: Some(claims.roles.clone()),
                sid: Some(claims.sid.clone()),
                jti: Some(claims.jti.clone()),
                iss: Some(claims.iss.clone()),
                aud: Some(claims.aud.as_slice().to_vec()),
                exp: Some(claims.exp.unix()),
                iat: Some(claims.iat.unix()),
            },
            IntrospectedKind::Refresh(record) => Self {
                active: true,
                token_type: Some("refresh_token"),
                sub: Some(record.user.id.clone()),
                username: Some(record.user.name.clone()),
                roles: Some(record.user.roles.clone()),
                sid: Some(record.handle.to_string()),
                exp: Some(record.expires_at().unix()),
                iat: Some(record.created_at.unix()),
                ..Self::default()
            },
            // Kinds added later are reported inactive until this learns them.
            #[allow(unreachable_patterns)]
            _ => Self::default(),
        }
    }
}

/// Whether a token is active, and what it says. Only for callers signed in with the role
/// `admin` or `service`: 401 without a credential, 403 without the role.
#[cfg_attr(feature = "openapi", utoipa::path(
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
))]
pub async fn introspect(
    State(api): State<AuthApi>,
    Auth(caller): Auth,
    Form(req): Form<TokenRequest>,
) -> Result<axum::Json<Introspection>, ApiError> {
    if api.authority().method() == AuthMethod::Session {
        return Err(api.not_in_mode("introspection"));
    }
    if !INTROSPECTION_ROLES.iter().any(|r| caller.has_role(r)) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "insufficient_role",
            "introspection needs the role admin or service",
        ));
    }
    #[cfg(feature = "jwt")]
    {
        let refresh_first = req.token_type_hint.as_deref() == Some("refresh_token");
        let found = api
            .authority()
            .introspect(&req.token, refresh_first)
            .await?;
        Ok(axum::Json(
            found.map(Introspection::from).unwrap_or_default(),
        ))
    }
    #[cfg(not(feature = "jwt"))]
    {
        let _ = req;
        Ok(axum::Json(Introspection::default()))
    }
}

/// Revokes an access token (until nothing can verify it) or a refresh token (its whole
/// session, access tokens included). Holding a token is the right to revoke it, so no other
/// credential is asked for; the answer is 200 whether or not the token was valid (RFC 7009
/// §2.2), so it tells nothing about the token.
#[cfg_attr(feature = "openapi", utoipa::path(
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
))]
pub async fn revoke(
    State(api): State<AuthApi>,
    Client(client): Client,
    Form(req): Form<TokenRequest>,
) -> Result<StatusCode, ApiError> {
    if api.authority().method() == AuthMethod::Session {
        return Err(api.not_in_mode("token revocation"));
    }
    // Each revocation can add a deny-list entry on every node: rated per client, and per user
    // of the token, so that no one grows the list without bound.
    api.limits().revoke_from(&client)?;
    #[cfg(feature = "jwt")]
    {
        if let Some(owner) = api.authority().token_owner(&req.token).await? {
            api.limits().revoke_of(&owner)?;
        }
        api.authority().revoke_token(&req.token).await?;
    }
    #[cfg(not(feature = "jwt"))]
    let _ = req;
    Ok(StatusCode::OK)
}

/// The signing key and the keys not yet retired, public halves only: never an HMAC secret,
/// never a private member.
#[cfg_attr(feature = "openapi", utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    tag = "keys",
    operation_id = "jwks",
    summary = "The public keys access tokens are verified with",
    description = "`jwt` and `hybrid` modes; 404 `not_available_in_mode` in `session` mode. The \
        signing key and the keys that still verify, public halves only (empty with an HMAC \
        algorithm).",
    responses(
        (status = 200, description = "A JWK Set (RFC 7517)", body = super::schemas::JwkSet,
            headers(("Cache-Control" = String, description = "`public, max-age=60`"))),
        (status = 404, description = "`not_available_in_mode` (`session` mode)"),
    ),
    security(()),
))]
pub async fn jwks(State(api): State<AuthApi>) -> Result<Response, ApiError> {
    #[cfg(feature = "jwt")]
    if let Some(verifier) = api.authority().verifier() {
        return Ok((
            [(
                header::CACHE_CONTROL,
                HeaderValue::from_static(JWKS_CACHE_CONTROL),
            )],
            axum::Json(verifier.jwks()),
        )
            .into_response());
    }
    Err(api.not_in_mode("the key set"))
}
