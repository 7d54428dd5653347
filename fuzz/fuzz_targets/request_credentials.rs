//! Any request headers through `AuthLayer` (session cookie, or bearer token and access-token
//! cookie) and the public parsers it uses: cookie lookup, `client_info`, the CSRF check. Never a
//! panic, never a 5xx, never signed in without a real credential.
#![no_main]

use std::net::SocketAddr;
use std::sync::LazyLock;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::any;
use cloakroom::auth::{AuthMethod, SessionManager};
use cloakroom::clock::{Clock as _, SystemClock};
use cloakroom::session::SessionPolicy;
use cloakroom::store::MemoryStore;
use cloakroom::token::{Algorithm, Key, KeyRing, KeySet, StoredKey, TokenVerifier, Validation};
use cloakroom_axum::{
    ApiError, Auth, AuthLayer, CookieConfig, TokenAuth, client_info, is_cross_site,
};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, header};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt as _;

#[derive(Debug, Arbitrary)]
struct Input {
    tokens: bool,
    method: u8,
    headers: Vec<(u8, Vec<u8>)>,
}

const NAMES: [HeaderName; 7] = [
    header::AUTHORIZATION,
    header::COOKIE,
    header::ORIGIN,
    header::HOST,
    header::USER_AGENT,
    HeaderName::from_static("sec-fetch-site"),
    header::CONTENT_TYPE,
];

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime")
});

async fn handler(auth: Result<Auth, ApiError>) -> Result<StatusCode, ApiError> {
    auth.map(|_| StatusCode::OK)
}

/// A router behind a session layer, and one behind a token layer.
static ROUTERS: LazyLock<(Router, Router)> = LazyLock::new(|| {
    let sessions = SessionManager::new(
        MemoryStore::new(1000),
        SessionPolicy::new(Duration::from_secs(60), Duration::from_secs(3600)).expect("policy"),
    );
    let session_router = Router::new()
        .route("/", any(handler))
        .layer(AuthLayer::new(sessions, CookieConfig::new("sid")));
    let key =
        Key::from_stored(&StoredKey::generate(Algorithm::EdDSA, SystemClock.now()).expect("key"))
            .expect("key");
    let verifier = TokenVerifier::new(
        KeyRing::new(KeySet::new(key)),
        Validation::new("https://auth.example", "cloakroom"),
    );
    let tokens = TokenAuth::new(verifier, AuthMethod::Jwt).with_cookie(CookieConfig::new("at"));
    let token_router = Router::new()
        .route("/", any(handler))
        .layer(AuthLayer::tokens(tokens));
    (session_router, token_router)
});

fuzz_target!(|input: Input| {
    let mut headers = HeaderMap::new();
    for (name, value) in input.headers.iter().take(16) {
        let name = &NAMES[usize::from(*name) % NAMES.len()];
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.append(name.clone(), value);
        }
    }

    // The parsers, directly.
    for config in [CookieConfig::new("sid"), CookieConfig::new("at")] {
        if let Some(raw) = config.find_raw(&headers) {
            let found_in_a_header = headers
                .get_all(header::COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .any(|v| v.contains(raw));
            assert!(found_in_a_header, "{raw:?} is in no Cookie header");
        }
        let _ = config.find(&headers);
    }
    let peer: SocketAddr = ([127, 0, 0, 1], 4242).into();
    let client = client_info(&headers, Some(peer));
    assert_eq!(client.ip, Some(peer.ip()));
    let cross_site = is_cross_site(&headers);
    if headers.get("sec-fetch-site").is_none() && headers.get(header::ORIGIN).is_none() {
        assert!(!cross_site, "no browser headers, yet cross-site");
    }

    // The layer and the extractor, end to end.
    let method = [Method::GET, Method::POST, Method::DELETE, Method::PUT]
        [usize::from(input.method) % 4]
        .clone();
    let mut req = Request::builder()
        .method(method)
        .uri("/")
        .body(Body::empty())
        .expect("request");
    *req.headers_mut() = headers;
    let router = if input.tokens {
        ROUTERS.1.clone()
    } else {
        ROUTERS.0.clone()
    };
    let res = RUNTIME.block_on(router.oneshot(req)).expect("infallible");
    // The session store is empty and the fuzzer holds no key: nobody is signed in.
    assert!(
        matches!(
            res.status(),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
        ),
        "{}",
        res.status()
    );
});
