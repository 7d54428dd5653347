//! Request-wide middleware, as one hand-written tower layer: the access log and latency
//! histogram, the request ID, the early refusal of oversized bodies, the time limit,
//! `Cache-Control: no-store`, and the guarantee that every error is JSON.
//!
//! One layer rather than four `from_fn`/`map_response` layers: each of those boxes its future
//! and clones the service under it on every request (docs/PERFORMANCE.md, "Fewer allocations
//! and no boxed middleware").

use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant, SystemTime};

use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath, Request};
use axum::response::{IntoResponse, Response};
use cloakroom_axum::{ApiError, TrustedProxies};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use pin_project_lite::pin_project;
use tokio::time::Timeout;
use tower::{Layer, Service};

use crate::MAX_BODY_BYTES;
use crate::access_log::{self, Entry, Inline, MAX_REQUEST_ID, MAX_USER_AGENT};
use crate::request_metrics::RequestMetrics;

/// The request ID's header, on every response (and read from a trusted proxy's request).
pub(crate) const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// How long one request may take, body included, before it is answered with 408.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The layer every route is wrapped in, outermost. Logs one line per request and records its
/// latency, labelled by the matched route (never the raw path, which may carry IDs, and whose
/// variety would swamp Prometheus); headers, cookies, query strings and bodies are never
/// logged. Answers 413 at once when the declared `Content-Length` is over the limit, and 408
/// when the request takes longer than [`REQUEST_TIMEOUT`]. Marks every response `no-store`
/// unless it says otherwise, and makes every error JSON ([`json_errors`]).
///
/// Every response carries `X-Request-Id`: the one a trusted proxy sent (when it is a short,
/// plain token, [`sane_request_id`]), otherwise a new one; the access log line has it too,
/// with the client's address as `proxies` resolve it and the user agent.
#[derive(Debug, Clone, Default)]
pub(crate) struct EdgeLayer {
    metrics: Arc<RequestMetrics>,
    proxies: Arc<TrustedProxies>,
}

impl EdgeLayer {
    /// The layer, believing the forwarding headers (and request IDs) of `proxies`.
    pub(crate) fn new(proxies: TrustedProxies) -> Self {
        Self {
            metrics: Arc::default(),
            proxies: Arc::new(proxies),
        }
    }
}

impl<S> Layer<S> for EdgeLayer {
    type Service = Edge<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Edge {
            inner,
            metrics: Arc::clone(&self.metrics),
            proxies: Arc::clone(&self.proxies),
        }
    }
}

/// The service [`EdgeLayer`] makes.
#[derive(Debug, Clone)]
pub(crate) struct Edge<S> {
    inner: S,
    metrics: Arc<RequestMetrics>,
    proxies: Arc<TrustedProxies>,
}

/// What the access log line needs from the request, taken before the request is handed on.
struct Seen {
    time: SystemTime,
    client: Option<IpAddr>,
    /// Shared with the request (a reference count), copied out when the line is queued: the
    /// future that carries it stays small, and nothing outlives the request.
    user_agent: Option<HeaderValue>,
}

/// Whether the access log is on: `log.filter` (or `RUST_LOG`) enables
/// `cloakroom_server::access` at `info`. The callsite caches the answer, so this is one load.
fn access_log_enabled() -> bool {
    tracing::enabled!(target: "cloakroom_server::access", tracing::Level::INFO)
}

/// A request ID from a trusted proxy is kept only if it is a plain token of at most
/// [`MAX_REQUEST_ID`] characters: letters, digits and `-_.:=+/` (UUIDs, hex, AWS's
/// `Root=1-…`), nothing that could fake a field or a line in a log.
pub(crate) fn sane_request_id(value: &[u8]) -> bool {
    !value.is_empty()
        && value.len() <= MAX_REQUEST_ID
        && value
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:=+/".contains(b))
}

/// A new request ID: 32 hex digits, a random per-process prefix and a counter, so IDs are
/// unique across restarts and nodes without a random draw per request.
fn new_request_id() -> HeaderValue {
    static PREFIX: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let prefix = *PREFIX.get_or_init(|| {
        getrandom::u64().unwrap_or_else(|_| {
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64)
        })
    });
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut out = [0u8; 32];
    for (i, word) in [prefix, count].into_iter().enumerate() {
        for j in 0..16 {
            out[i * 16 + j] = HEX[((word >> (60 - 4 * j)) & 15) as usize];
        }
    }
    HeaderValue::from_bytes(&out).expect("hex digits are a valid header value")
}

impl<S> Service<Request> for Edge<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = EdgeFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let start = Instant::now();
        let method = method_label(req.method());
        let route = req.extensions().get::<MatchedPath>().cloned();
        // The peer's address only when a request ID or the log line needs it.
        let peer = || {
            req.extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip())
        };
        let request_id = match req.headers().get(&X_REQUEST_ID) {
            Some(id)
                if sane_request_id(id.as_bytes())
                    && peer().is_some_and(|p| self.proxies.trusts(p)) =>
            {
                id.clone()
            }
            _ => new_request_id(),
        };
        let seen = access_log_enabled().then(|| Seen {
            time: SystemTime::now(),
            client: self.proxies.client_addr(req.headers(), peer()),
            user_agent: req.headers().get(header::USER_AGENT).cloned(),
        });
        // Refused before any of it is read: bodies without a length are cut off by
        // `DefaultBodyLimit` when a handler reads them.
        let state = if declared_length(req.headers()).is_some_and(|n| n > MAX_BODY_BYTES as u64) {
            State::Answered {
                response: Some(payload_too_large().into_response()),
            }
        } else {
            // tokio's `timeout` polls the request before its timer, so a request answered
            // at once never touches the timer wheel (tower-http's `TimeoutLayer` polls the
            // timer first, registering one for every request: 5 % of a session request's CPU).
            State::Running {
                future: tokio::time::timeout(REQUEST_TIMEOUT, self.inner.call(req)),
            }
        };
        EdgeFuture {
            state,
            start,
            method,
            route,
            request_id,
            seen,
            metrics: Arc::clone(&self.metrics),
        }
    }
}

pin_project! {
    /// The response future of [`Edge`].
    pub(crate) struct EdgeFuture<F> {
        #[pin]
        state: State<F>,
        start: Instant,
        method: &'static str,
        route: Option<MatchedPath>,
        request_id: HeaderValue,
        seen: Option<Seen>,
        metrics: Arc<RequestMetrics>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Running { #[pin] future: Timeout<F> },
        Answered { response: Option<Response> },
    }
}

impl<F> Future for EdgeFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = match this.state.project() {
            StateProj::Running { future } => match ready!(future.poll(cx)) {
                Ok(Ok(response)) => response,
                Ok(Err(never)) => match never {},
                Err(_elapsed) => StatusCode::REQUEST_TIMEOUT.into_response(),
            },
            // Taken once; a future polled again after it finished gets an empty 500 rather
            // than a panic.
            StateProj::Answered { response } => response
                .take()
                .unwrap_or_else(|| StatusCode::INTERNAL_SERVER_ERROR.into_response()),
        };
        let elapsed = this.start.elapsed();
        let route = this.route.as_ref().map_or("unmatched", MatchedPath::as_str);
        let status = response.status().as_u16();
        this.metrics
            .record(this.method, route, status, elapsed.as_secs_f64());
        if let Some(seen) = this.seen.take() {
            let latency_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
            match access_log::global() {
                Some(log) => log.push(Entry {
                    time: seen.time,
                    method: this.method,
                    route: this.route.take(),
                    status,
                    latency_us,
                    client: seen.client,
                    request_id: Inline::new(this.request_id.as_bytes()),
                    user_agent: seen
                        .user_agent
                        .map(|v| Inline::<MAX_USER_AGENT>::new(v.as_bytes())),
                }),
                // Embedded without `logging::init`: the embedder's subscriber gets an event.
                None => tracing::info!(
                    target: "cloakroom_server::access",
                    method = *this.method,
                    route = %route,
                    status,
                    latency_us,
                    client = ?seen.client,
                    request_id = ?this.request_id,
                    user_agent = ?seen.user_agent,
                    "request"
                ),
            }
        }
        let mut response = json_errors(response);
        response
            .headers_mut()
            .insert(X_REQUEST_ID, this.request_id.clone());
        // Responses of an authentication server carry credentials or say who is signed in:
        // no cache may keep any of them.
        if !response.headers().contains_key(header::CACHE_CONTROL) {
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
        Poll::Ready(Ok(response))
    }
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
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
pub(crate) fn json_errors(res: Response) -> Response {
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
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tower::ServiceExt as _;

    use super::*;

    /// The edge layer over a handler that waits `delay`, then answers `status`, counting calls.
    async fn through_edge(
        req: Request,
        delay: Duration,
        response: fn() -> Response,
    ) -> (Response, usize) {
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&calls);
        let inner = tower::service_fn(move |_req: Request| {
            counted.fetch_add(1, Ordering::SeqCst);
            async move {
                tokio::time::sleep(delay).await;
                Ok::<_, Infallible>(response())
            }
        });
        let res = EdgeLayer::default()
            .layer(inner)
            .oneshot(req)
            .await
            .unwrap();
        (res, calls.load(Ordering::SeqCst))
    }

    fn get() -> Request {
        Request::new(Body::empty())
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_that_takes_too_long_is_answered_408_in_json() {
        let (res, _) = through_edge(get(), REQUEST_TIMEOUT * 2, || {
            StatusCode::OK.into_response()
        })
        .await;
        assert_eq!(res.status(), StatusCode::REQUEST_TIMEOUT);
        assert!(is_json(res.headers()));
        assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_within_the_limit_keeps_its_response() {
        let almost = REQUEST_TIMEOUT - Duration::from_millis(1);
        let (res, _) = through_edge(get(), almost, || StatusCode::NO_CONTENT.into_response()).await;
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
        let (res, _) = through_edge(get(), Duration::ZERO, || StatusCode::OK.into_response()).await;
        assert_eq!(res.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn a_declared_oversized_body_is_refused_before_the_handler_runs() {
        let mut req = get();
        req.headers_mut().insert(
            header::CONTENT_LENGTH,
            HeaderValue::from(MAX_BODY_BYTES as u64 + 1),
        );
        let (res, calls) =
            through_edge(req, Duration::ZERO, || StatusCode::OK.into_response()).await;
        assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert!(is_json(res.headers()));
        assert_eq!(calls, 0);
    }

    #[tokio::test]
    async fn errors_become_json_and_a_cache_header_of_the_handler_is_kept() {
        let (res, _) = through_edge(get(), Duration::ZERO, || {
            StatusCode::METHOD_NOT_ALLOWED.into_response()
        })
        .await;
        assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert!(is_json(res.headers()));
        let (res, _) = through_edge(get(), Duration::ZERO, || {
            ([(header::CACHE_CONTROL, "public, max-age=60")], "jwks").into_response()
        })
        .await;
        assert_eq!(res.headers()[header::CACHE_CONTROL], "public, max-age=60");
    }
}
