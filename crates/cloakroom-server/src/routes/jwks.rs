//! `GET /.well-known/jwks.json`: the public keys other services verify access tokens with.

use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use cloakroom_axum::ApiError;
use http::{HeaderValue, header};

use super::not_in_mode;
use crate::App;

/// How long other services may cache the key set. A key is in it from the moment it signs
/// (a verifier refetches on an unknown `kid`); a replaced key stays for a token lifetime.
const CACHE_CONTROL: &str = "public, max-age=60";

pub(crate) fn router() -> Router<App> {
    Router::new().route("/.well-known/jwks.json", get(jwks))
}

/// The signing key and the keys not yet retired, public halves only: never an HMAC secret,
/// never a private member.
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    tag = "keys",
    operation_id = "jwks",
    summary = "The public keys access tokens are verified with",
    description = "`jwt` and `hybrid` modes; 404 `not_available_in_mode` in `session` mode. The \
        signing key and the keys that still verify, public halves only (empty with an HMAC \
        algorithm).",
    responses(
        (status = 200, description = "A JWK Set (RFC 7517)", body = crate::openapi::schemas::JwkSet,
            headers(("Cache-Control" = String, description = "`public, max-age=60`"))),
        (status = 404, description = "`not_available_in_mode` (`session` mode)"),
    ),
    security(()),
)]
async fn jwks(State(app): State<App>) -> Result<impl IntoResponse, ApiError> {
    let Some(tokens) = app.tokens() else {
        return Err(not_in_mode(app.settings().mode, "the key set"));
    };
    Ok((
        [(
            header::CACHE_CONTROL,
            HeaderValue::from_static(CACHE_CONTROL),
        )],
        axum::Json(tokens.keys().jwks()),
    ))
}
