//! Request-wide middleware: the access log and latency histogram, the early refusal of
//! oversized bodies, the time limit, and the guarantee that every error is JSON.

use std::future::Future;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use cloakroom_axum::ApiError;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};

use crate::prometheus::REQUEST_DURATION;
use crate::{App, MAX_BODY_BYTES};

/// How long one request may take, body included, before it is answered with 408.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Logs one line per request and records its latency, labelled by the matched route (never
/// the raw path, which may carry IDs, and whose variety would swamp Prometheus). Headers,
/// cookies, query strings and bodies are never logged. Runs the rest through [`guard`]: one
/// middleware rather than three, as each `from_fn` layer clones what is inside it per request.
pub(crate) async fn observe(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = method_label(req.method());
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let res = guard(req, next).await;
    let elapsed = start.elapsed();
    let status = res.status().as_u16();
    metrics::histogram!(
        REQUEST_DURATION,
        "method" => method,
        "route" => route.clone(),
        "status" => status.to_string(),
    )
    .record(elapsed.as_secs_f64());
    tracing::info!(
        target: "cloakroom_server::access",
        method,
        route = %route,
        status,
        latency_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
        "request"
    );
    res
}

/// The method as a label; made-up methods share one label so that they cannot grow the
/// metric without bound.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// In the token modes, loads the keys again before a token whose `kid` this process does not
/// know is verified (see [`TokenService::reload_if_unknown_kid`](crate::tokens::TokenService)).
pub(crate) async fn reload_keys_for_unknown_kid(
    State(app): State<App>,
    req: Request,
    next: Next,
) -> Response {
    if let Some(tokens) = app.tokens() {
        tokens.reload_if_unknown_kid(req.headers()).await;
    }
    next.run(req).await
}

/// Answers 413 at once when the declared `Content-Length` is over the limit, whatever the
/// route, instead of reading the body (bodies without a length are cut off by
/// `DefaultBodyLimit` when a handler reads them); and 408 when the request, body included,
/// takes longer than [`REQUEST_TIMEOUT`].
async fn guard(req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return payload_too_large().into_response();
    }
    within(REQUEST_TIMEOUT, next.run(req)).await
}

/// `response`, or an empty 408 (made JSON by [`json_errors`]) once `limit` has passed.
/// tokio's `timeout` polls the request before its timer, so a request answered at once never
/// touches the timer wheel; tower-http's `TimeoutLayer` polls the timer first and so registers
/// one for every request (5 % of a session request's CPU time, docs/PERFORMANCE.md).
async fn within(limit: Duration, response: impl Future<Output = Response>) -> Response {
    match tokio::time::timeout(limit, response).await {
        Ok(res) => res,
        Err(_) => StatusCode::REQUEST_TIMEOUT.into_response(),
    }
}

/// 413 `payload_too_large`.
pub(crate) fn payload_too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("the request body may not exceed {MAX_BODY_BYTES} bytes"),
    )
}

/// Turns any error response that is not JSON yet (axum's own 405, a path that is not UTF-8,
/// a timeout, …) into `{"error", "message"}` with the same status and headers. The HTML
/// pages' own error pages (`text/html`) stay as they are.
pub(crate) async fn json_errors(res: Response) -> Response {
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error())
        || is_json(res.headers())
        || is_html(res.headers())
    {
        return res;
    }
    let (mut parts, _) = res.into_parts();
    let body = serde_json::json!({
        "error": code_for(status),
        "message": status.canonical_reason().unwrap_or("the request failed"),
    });
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(body.to_string()))
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

fn is_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"))
}

fn code_for(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNAUTHORIZED => "unauthenticated",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::REQUEST_TIMEOUT => "request_timeout",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid_request",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        s if s.is_server_error() => "internal",
        _ => "request_failed",
    }
}

#[cfg(test)]
mod tests {
    use std::future::{pending, ready};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_request_that_takes_too_long_is_answered_408() {
        let res = within(REQUEST_TIMEOUT, pending::<Response>()).await;
        assert_eq!(res.status(), StatusCode::REQUEST_TIMEOUT);
        // And json_errors gives it the JSON body every error has.
        let res = json_errors(res).await;
        assert!(is_json(res.headers()));
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_within_the_limit_keeps_its_response() {
        let slow = async {
            tokio::time::sleep(REQUEST_TIMEOUT - Duration::from_millis(1)).await;
            StatusCode::NO_CONTENT.into_response()
        };
        assert_eq!(
            within(REQUEST_TIMEOUT, slow).await.status(),
            StatusCode::NO_CONTENT
        );
        let now = ready(StatusCode::OK.into_response());
        assert_eq!(within(REQUEST_TIMEOUT, now).await.status(), StatusCode::OK);
    }
}
