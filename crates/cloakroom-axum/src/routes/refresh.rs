//! `POST /auth/refresh` (`hybrid` mode), and the extractor that finds a refresh token.

#[cfg(feature = "jwt")]
pub use self::imp::*;

#[cfg(feature = "jwt")]
mod imp {
    use axum::body::Bytes;
    use axum::extract::{FromRequest, Request, State};
    use axum::response::{AppendHeaders, IntoResponse, Response};
    use cloakroom::auth::AuthError;
    use cloakroom::session::SessionId;
    use http::StatusCode;
    use http::header::SET_COOKIE;
    use serde::Deserialize;

    use super::super::{AuthApi, Client, REFRESHES, optional_json, pair_response};
    use crate::{ApiError, is_cross_site};

    /// The body of `POST /auth/refresh`. Not `Debug`: it holds a secret.
    #[derive(Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct RefreshRequest {
        /// The refresh token to spend.
        pub refresh_token: String,
    }

    impl std::fmt::Debug for RefreshRequest {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("RefreshRequest { refresh_token: [redacted] }")
        }
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

    /// The refresh token a request presents: the JSON body's `refresh_token`, or with an empty
    /// body the refresh cookie (then only from the same site: a cookie makes it a
    /// cookie-authenticated change). Rejects with 400 when there is neither, 403 for the
    /// cookie from another site, and 401 `invalid_refresh_token` for one that is not a refresh
    /// token at all (clearing the cookie it came in).
    #[derive(Debug)]
    pub struct RefreshToken {
        /// The token, parsed.
        pub id: SessionId,
        /// Whether it came in the refresh cookie (a failure then clears the cookie).
        pub from_cookie: bool,
    }

    impl FromRequest<AuthApi> for RefreshToken {
        type Rejection = Response;

        async fn from_request(req: Request, api: &AuthApi) -> Result<Self, Self::Rejection> {
            let (parts, body) = req.into_parts();
            let body = Bytes::from_request(Request::from_parts(parts.clone(), body), api)
                .await
                .map_err(|_| ApiError::payload_too_large().into_response())?;
            let headers = &parts.headers;
            let from_body = optional_json::<RefreshRequest>(headers, &body)
                .map_err(IntoResponse::into_response)?
                .map(|r| r.refresh_token);
            let cookie = api.refresh_cookie();
            let (text, from_cookie) = match from_body {
                Some(text) => (text, false),
                None => match cookie.find_raw(headers) {
                    Some(_) if is_cross_site(headers) => {
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
            match SessionId::parse(&text) {
                Ok(id) => Ok(Self { id, from_cookie }),
                Err(_) => {
                    count_refresh("invalid");
                    Err(failed(api, from_cookie, invalid_refresh()))
                }
            }
        }
    }

    /// A failed refresh; a browser must drop a refresh cookie that no longer works.
    fn failed(api: &AuthApi, from_cookie: bool, e: ApiError) -> Response {
        let clear = from_cookie.then(|| (SET_COOKIE, api.refresh_cookie().clear()));
        (AppendHeaders(clear), e).into_response()
    }

    /// Spends a refresh token (from the body, else the refresh cookie) for a new pair. A spent
    /// one presented again revokes its whole session, access tokens included.
    #[cfg_attr(feature = "openapi", utoipa::path(
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
            description = "Optional (see `OPTIONAL_BODIES` in the server's `openapi.rs`): without \
                a body the refresh cookie is used"),
        responses(
            (status = 200, description = "A new pair", body = super::super::TokenResponse<'_>,
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
    ))]
    pub async fn refresh(
        State(api): State<AuthApi>,
        Client(client): Client,
        req: Request,
    ) -> Result<Response, Response> {
        if api.authority().method() != cloakroom::auth::AuthMethod::Hybrid {
            return Err(api.not_in_mode("refreshing tokens").into_response());
        }
        let token = RefreshToken::from_request(req, &api).await?;
        if let Err(e) = api.limits().refresh(&client, &token.id) {
            count_refresh("rate_limited");
            return Err(e.into_response());
        }
        refresh_with(&api, &token).await
    }

    /// Spends `token` for a new pair and answers as `POST /auth/refresh` does.
    pub async fn refresh_with(api: &AuthApi, token: &RefreshToken) -> Result<Response, Response> {
        match api.authority().refresh(&token.id).await {
            Ok(pair) => {
                count_refresh("success");
                Ok(pair_response(api, &pair))
            }
            Err(AuthError::RefreshReused) => {
                count_refresh("reused");
                Err(failed(
                    api,
                    token.from_cookie,
                    AuthError::RefreshReused.into(),
                ))
            }
            Err(AuthError::UnknownSession | AuthError::SessionExpired) => {
                count_refresh("invalid");
                Err(failed(api, token.from_cookie, invalid_refresh()))
            }
            Err(e) => {
                count_refresh("error");
                Err(ApiError::from(e).into_response())
            }
        }
    }
}

/// Without the `jwt` feature there are no refresh tokens: the route says so.
#[cfg(not(feature = "jwt"))]
pub(super) async fn refresh(
    axum::extract::State(api): axum::extract::State<super::AuthApi>,
) -> crate::ApiError {
    api.not_in_mode("refreshing tokens")
}
