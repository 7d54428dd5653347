//! Schemas of bodies that the handlers build from the core crate's types, described here so
//! that the core crate needs no OpenAPI dependency.
// Described for the document, never built.
#![allow(dead_code)]

use serde::Serialize;
use utoipa::ToSchema;

/// How the request was authenticated: `session` (a session cookie), `jwt` or `hybrid` (an
/// access token).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AuthKind {
    /// A server-side session.
    Session,
    /// An access token of `jwt` mode.
    Jwt,
    /// An access token of `hybrid` mode.
    Hybrid,
}

/// A JWK Set (RFC 7517): the public keys access tokens are verified with. Empty with an HMAC
/// algorithm, whose key is secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct JwkSet {
    /// The signing key first, then the keys that still verify.
    keys: Vec<PublicJwk>,
}

/// One public key. Members that do not apply to the key type are left out; there is never a
/// private member.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicJwk {
    /// `RSA`, `EC` or `OKP`.
    kty: String,
    /// Always `sig`.
    #[serde(rename = "use")]
    key_use: String,
    /// The one algorithm the key is for, e.g. `EdDSA`.
    alg: String,
    /// The key ID tokens name in their header.
    kid: String,
    /// The curve, for `EC` and `OKP` keys.
    #[serde(skip_serializing_if = "Option::is_none")]
    crv: Option<String>,
    /// RSA modulus, base64url.
    #[serde(skip_serializing_if = "Option::is_none")]
    n: Option<String>,
    /// RSA public exponent, base64url.
    #[serde(skip_serializing_if = "Option::is_none")]
    e: Option<String>,
    /// x coordinate (`EC`) or public key (`OKP`), base64url.
    #[serde(skip_serializing_if = "Option::is_none")]
    x: Option<String>,
    /// y coordinate (`EC`), base64url.
    #[serde(skip_serializing_if = "Option::is_none")]
    y: Option<String>,
}

/// What `POST /auth/login` answers: `{"user"}` in `session` mode, the tokens in `jwt` and
/// `hybrid` modes.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum LoginAnswer {
    /// `session` mode.
    Session(super::login::LoginResponse),
    /// `jwt` and `hybrid` modes.
    Tokens(super::login::TokenResponse<'static>),
}
