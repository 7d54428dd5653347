//! Verifying another issuer's tokens through its JWKS URL: the explainer's microservice case,
//! where a service checks Cloakroom's tokens without sharing its database.
//!
//! [`RemoteJwks`] fetches the key set from the one URL the operator configured, keeps the
//! public keys it can trust, and fetches again when a token names a `kid` it does not know, at
//! most once per cooldown, so a flood of made-up `kid`s cannot turn into a flood of requests.
//! [`RemoteVerifier`] checks tokens against it with the same strict rules as
//! [`TokenVerifier`]; nothing a token names (`jku`, `x5u`) is ever fetched.
//!
//! ```no_run
//! use cloakroom::token::{JwksOptions, RemoteVerifier, Validation};
//!
//! # async fn run(token: &str) -> Result<(), Box<dyn std::error::Error>> {
//! let verifier = RemoteVerifier::connect(
//!     "http://127.0.0.1:8080/.well-known/jwks.json",
//!     Validation::new("http://127.0.0.1:8080", "cloakroom"),
//!     JwksOptions::default(),
//! )
//! .await?;
//! let claims = verifier.verify(token).await?;
//! println!("hello, {}", claims.name);
//! # Ok(())
//! # }
//! ```
//!
//! No TLS stack is chosen here: `https://` URLs work when the final build enables one in
//! reqwest (e.g. its `rustls-tls` feature); plain `http://` is refused except on loopback,
//! unless [`JwksOptions::allow_plain_http`] says otherwise.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use reqwest::{Client, Url, header, redirect};
use serde::Deserialize;

use super::Validation;
use super::error::shorten;
use super::{AccessClaims, Algorithm, Jwk, Key, KeyRing, KeySet, TokenError, TokenVerifier};
use crate::clock::{SharedClock, SystemClock, Timestamp};
use crate::revocation::DenyList;

/// Why a JWKS could not be used. Cheap to clone: the last one is kept to explain later refusals.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum JwksError {
    /// The URL does not parse, or is not `http`/`https`.
    #[error("invalid JWKS URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Plain `http://` to a host other than loopback: anyone on the path could swap the keys.
    #[error("refusing plain http for the JWKS at {url}: use https, or allow plain http explicitly")]
    PlainHttp {
        /// The URL.
        url: String,
    },
    /// The HTTP client could not be built.
    #[error("could not build the HTTP client")]
    Client(#[source] Arc<reqwest::Error>),
    /// No answer: connection refused, timeout, TLS, a body cut short.
    #[error("could not fetch the JWKS from {url}")]
    Request {
        /// The URL.
        url: String,
        /// What failed.
        #[source]
        source: Arc<reqwest::Error>,
    },
    /// An answer other than 2xx (redirects are not followed).
    #[error("the JWKS endpoint {url} answered {status}")]
    Status {
        /// The URL.
        url: String,
        /// The HTTP status.
        status: u16,
    },
    /// The body is larger than [`JwksOptions::max_bytes`].
    #[error("the JWKS from {url} is larger than {max} bytes")]
    TooLarge {
        /// The URL.
        url: String,
        /// The limit, in bytes.
        max: usize,
    },
    /// The body is not `{"keys": [...]}`.
    #[error("the JWKS from {url} is not a JSON key set")]
    Json {
        /// The URL.
        url: String,
        /// Why it does not parse.
        #[source]
        source: Arc<serde_json::Error>,
    },
    /// Not one key in the set can be trusted (see [`RemoteJwks`] for which are skipped).
    #[error("the JWKS from {url} has no usable key ({skipped} skipped)")]
    NoUsableKeys {
        /// The URL.
        url: String,
        /// How many keys were skipped.
        skipped: usize,
    },
}

/// Why [`RemoteVerifier::verify`] refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RemoteError {
    /// The token is refused (401), or a key could not be used (see
    /// [`TokenError::is_server_fault`]).
    #[error(transparent)]
    Token(#[from] TokenError),
    /// No key set has been fetched yet, so nothing can be verified (503, not the token's fault).
    #[error("the issuer's keys are not available yet")]
    Unavailable {
        /// Why the last fetch failed.
        #[source]
        last_error: Option<JwksError>,
    },
}

impl RemoteError {
    /// Whether the verifying service, not the token, is at fault.
    pub fn is_server_fault(&self) -> bool {
        match self {
            Self::Token(e) => e.is_server_fault(),
            Self::Unavailable { .. } => true,
        }
    }
}

/// How a [`RemoteJwks`] fetches. The defaults suit a JWKS on the same network.
#[derive(Debug, Clone)]
pub struct JwksOptions {
    cooldown: Duration,
    max_age: Duration,
    timeout: Duration,
    max_bytes: usize,
    allow_plain_http: bool,
    clock: SharedClock,
}

impl Default for JwksOptions {
    fn default() -> Self {
        Self {
            cooldown: Duration::from_secs(30),
            max_age: Duration::from_secs(600),
            timeout: Duration::from_secs(5),
            max_bytes: 256 * 1024,
            allow_plain_http: false,
            clock: Arc::new(SystemClock),
        }
    }
}

impl JwksOptions {
    /// The least time between two fetches, in whole seconds (default 30 s): an unknown `kid`
    /// inside it is refused without asking the URL.
    pub fn cooldown(mut self, cooldown: Duration) -> Self {
        self.cooldown = cooldown;
        self
    }

    /// How old the key set may get before it is fetched again in the background (default
    /// 10 min), so that a key the issuer withdrew stops verifying here too.
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// How long one fetch may take, connecting and reading included (default 5 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The largest body accepted (default 256 KiB).
    pub fn max_bytes(mut self, max_bytes: usize) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// Allows `http://` to hosts other than loopback, e.g. behind a mesh that encrypts for you.
    pub fn allow_plain_http(mut self, allow: bool) -> Self {
        self.allow_plain_http = allow;
        self
    }

    /// Where time is read: cooldowns, the key set's age and the tokens' `exp`, `nbf`, `iat`.
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }
}

/// No fetch yet (in `last_attempt`, `last_success`).
const NEVER: i64 = i64::MIN;

/// The public keys at one JWKS URL, fetched once and then again when needed. Cheap to clone
/// (clones share the cache).
///
/// A key is skipped, never trusted, when it is a shared secret (`kty: "oct"` or an `HS*`
/// `alg`), has no `alg` or one not supported, does not fit its `alg`, is not for `use: "sig"`,
/// is an RSA key under 2048 bits, or shares its `kid` with another key of the set. A failed
/// fetch keeps the last good set.
#[derive(Debug, Clone)]
pub struct RemoteJwks(Arc<Shared>);

#[derive(Debug)]
struct Shared {
    url: Url,
    client: Client,
    options: JwksOptions,
    /// Empty until the first good fetch; replaced whole by each later one.
    ring: OnceLock<KeyRing>,
    /// One fetch at a time; those who waited find the new set or the cooldown.
    fetching: tokio::sync::Mutex<()>,
    last_error: Mutex<Option<JwksError>>,
    last_attempt: AtomicI64,
    last_success: AtomicI64,
    /// Counts good fetches: a change tells a waiter that someone else fetched.
    generation: AtomicU64,
    requests: AtomicU64,
    refreshing: AtomicBool,
}

impl RemoteJwks {
    /// A cache of the keys at `url`, which the operator chose. Nothing is fetched yet.
    pub fn new(url: &str, options: JwksOptions) -> Result<Self, JwksError> {
        let url = check_url(url, options.allow_plain_http)?;
        let client = Client::builder()
            .timeout(options.timeout)
            .connect_timeout(options.timeout)
            // The operator chose this URL, not wherever it might redirect to.
            .redirect(redirect::Policy::none())
            .user_agent(concat!("cloakroom/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| JwksError::Client(Arc::new(e)))?;
        Ok(Self(Arc::new(Shared {
            url,
            client,
            options,
            ring: OnceLock::new(),
            fetching: tokio::sync::Mutex::new(()),
            last_error: Mutex::new(None),
            last_attempt: AtomicI64::new(NEVER),
            last_success: AtomicI64::new(NEVER),
            generation: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            refreshing: AtomicBool::new(false),
        })))
    }

    /// The URL keys come from.
    pub fn url(&self) -> &Url {
        &self.0.url
    }

    /// The keys, once a fetch has succeeded.
    pub fn ring(&self) -> Option<&KeyRing> {
        self.0.ring.get()
    }

    /// How many requests have been sent to the URL, failed ones included.
    pub fn requests(&self) -> u64 {
        self.0.requests.load(Ordering::Relaxed)
    }

    /// Why the last fetch failed, unless it succeeded.
    pub fn last_error(&self) -> Option<JwksError> {
        self.0
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Fetches the key set now, whatever the cooldown, and returns how many keys it holds. On
    /// failure the previous set stays.
    pub async fn refresh(&self) -> Result<usize, JwksError> {
        let _fetching = self.0.fetching.lock().await;
        self.fetch_and_install(self.now()).await
    }

    fn now(&self) -> Timestamp {
        self.0.options.clock.now()
    }

    fn generation(&self) -> u64 {
        self.0.generation.load(Ordering::Acquire)
    }

    fn cooldown_passed(&self, now: Timestamp) -> bool {
        let last = self.0.last_attempt.load(Ordering::Acquire);
        let cooldown = self.0.options.cooldown;
        let secs = cooldown.as_secs() + u64::from(cooldown.subsec_nanos() > 0);
        // A clock set back must not stop fetches until it catches up.
        last == NEVER
            || now.unix() < last
            || now.since(Timestamp::from_unix(last)).as_secs() >= secs
    }

    /// Fetches again unless someone did since `seen` or the cooldown forbids; returns whether
    /// the key set changed since `seen`.
    async fn refetch(&self, seen: u64) -> bool {
        // Checked before waiting, so that a flood inside the cooldown never queues.
        if self.generation() != seen {
            return true;
        }
        if !self.cooldown_passed(self.now()) {
            return false;
        }
        let _fetching = self.0.fetching.lock().await;
        if self.generation() != seen {
            return true;
        }
        let now = self.now();
        self.cooldown_passed(now) && self.fetch_and_install(now).await.is_ok()
    }

    /// Starts a background fetch if the set is older than `max_age` (and the cooldown allows):
    /// the caller goes on with the keys it has.
    fn refresh_if_stale(&self, now: Timestamp) {
        let last = self.0.last_success.load(Ordering::Acquire);
        let max_age = self.0.options.max_age.as_secs();
        let fresh = last == NEVER || now.since(Timestamp::from_unix(last)).as_secs() < max_age;
        if fresh || !self.cooldown_passed(now) || self.0.refreshing.swap(true, Ordering::AcqRel) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.0.refreshing.store(false, Ordering::Release);
            return;
        };
        let this = self.clone();
        runtime.spawn(async move {
            let seen = this.generation();
            this.refetch(seen).await;
            this.0.refreshing.store(false, Ordering::Release);
        });
    }

    /// Fetches and installs the set; the caller holds `fetching`.
    async fn fetch_and_install(&self, now: Timestamp) -> Result<usize, JwksError> {
        self.0.last_attempt.store(now.unix(), Ordering::Release);
        let result = self.fetch().await;
        let mut last_error = self
            .0
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match result {
            Ok(set) => {
                let len = set.len();
                match self.0.ring.get() {
                    Some(ring) => ring.replace(set),
                    None => {
                        self.0.ring.get_or_init(|| KeyRing::new(set));
                    }
                }
                *last_error = None;
                self.0.last_success.store(now.unix(), Ordering::Release);
                self.0.generation.fetch_add(1, Ordering::AcqRel);
                tracing::debug!(url = %self.0.url, keys = len, "fetched the JWKS");
                Ok(len)
            }
            Err(e) => {
                tracing::warn!(url = %self.0.url, error = %e, "could not fetch the JWKS; keeping the last good keys");
                *last_error = Some(e.clone());
                Err(e)
            }
        }
    }

    async fn fetch(&self) -> Result<KeySet, JwksError> {
        self.0.requests.fetch_add(1, Ordering::Relaxed);
        let url = || self.0.url.to_string();
        let failed = |e| JwksError::Request {
            url: url(),
            source: Arc::new(e),
        };
        let mut response = self
            .0
            .client
            .get(self.0.url.clone())
            .header(header::ACCEPT, "application/jwk-set+json, application/json")
            .send()
            .await
            .map_err(failed)?;
        let status = response.status();
        if !status.is_success() {
            return Err(JwksError::Status {
                url: url(),
                status: status.as_u16(),
            });
        }
        let max = self.0.options.max_bytes;
        let too_large = || JwksError::TooLarge { url: url(), max };
        let declared = response.content_length().unwrap_or(0);
        if declared > u64::try_from(max).unwrap_or(u64::MAX) {
            return Err(too_large());
        }
        // The declared length is only a hint: the limit holds for what actually arrives.
        let mut body = Vec::with_capacity(usize::try_from(declared).unwrap_or(0).min(max));
        while let Some(chunk) = response.chunk().await.map_err(failed)? {
            if body.len().saturating_add(chunk.len()) > max {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        parse_key_set(&body).map_err(|e| match e {
            Parse::Json(source) => JwksError::Json {
                url: url(),
                source: Arc::new(source),
            },
            Parse::Empty { skipped } => JwksError::NoUsableKeys {
                url: url(),
                skipped,
            },
        })
    }
}

enum Parse {
    Json(serde_json::Error),
    Empty { skipped: usize },
}

/// `{"keys": [...]}`, each key read on its own so that one odd key does not hide the others.
#[derive(Deserialize)]
struct RawJwks {
    keys: Vec<serde_json::Value>,
}

/// The verify-only keys of a JWKS body that can be trusted; the others are logged and skipped.
fn parse_key_set(body: &[u8]) -> Result<KeySet, Parse> {
    let raw: RawJwks = serde_json::from_slice(body).map_err(Parse::Json)?;
    let total = raw.keys.len();
    let mut keys = Vec::with_capacity(total);
    for value in raw.keys {
        match usable_key(value) {
            Ok(key) => keys.push(key),
            Err((kid, why)) => tracing::warn!(kid = %shorten(&kid), why, "skipped a JWKS key"),
        }
    }
    // One kid naming two keys would let the set's order decide which is trusted: trust neither.
    let mut seen: HashMap<String, usize> = HashMap::new();
    for key in &keys {
        *seen.entry(key.kid().to_string()).or_default() += 1;
    }
    keys.retain(|k| {
        let unique = seen.get(k.kid().as_str()) == Some(&1);
        if !unique {
            tracing::warn!(kid = %shorten(k.kid().as_str()), "skipped a JWKS key: its kid is listed twice");
        }
        unique
    });
    let mut keys = keys.into_iter();
    let Some(first) = keys.next() else {
        return Err(Parse::Empty { skipped: total });
    };
    // Verify-only keys: which one is "active" does not matter, only the lookup by kid.
    Ok(KeySet::from_keys(first, keys))
}

/// The key `value` describes, or its kid and why it is not trusted.
fn usable_key(value: serde_json::Value) -> Result<Key, (String, String)> {
    let kid = value
        .get("kid")
        .and_then(|k| k.as_str())
        .unwrap_or_default()
        .to_owned();
    let refuse = |why: &str| (kid.clone(), why.to_owned());
    if value.get("kty").and_then(|k| k.as_str()) == Some("oct") {
        return Err(refuse(
            "a shared secret (kty \"oct\") is never taken from a JWKS",
        ));
    }
    let jwk: Jwk = serde_json::from_value(value).map_err(|e| refuse(&e.to_string()))?;
    let Some(alg) = jwk.alg.as_deref() else {
        // Guessing the algorithm from the key type is how algorithm confusion starts.
        return Err(refuse("it names no \"alg\""));
    };
    let alg: Algorithm = alg
        .parse()
        .map_err(|e: super::UnknownAlgorithm| refuse(&e.to_string()))?;
    if alg.is_symmetric() {
        return Err(refuse("an HMAC algorithm is never taken from a JWKS"));
    }
    Key::from_public_jwk(&jwk, None).map_err(|e| refuse(&e.to_string()))
}

fn check_url(text: &str, allow_plain_http: bool) -> Result<Url, JwksError> {
    let invalid = |reason: String| JwksError::InvalidUrl {
        url: text.to_owned(),
        reason,
    };
    let url = Url::parse(text).map_err(|e| invalid(e.to_string()))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if allow_plain_http || is_loopback(&url) => Ok(url),
        "http" => Err(JwksError::PlainHttp { url: url.into() }),
        other => Err(invalid(format!(
            "the scheme {other:?} is not http or https"
        ))),
    }
}

fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Verifies tokens with the keys of a [`RemoteJwks`], by the rules of [`TokenVerifier`]. Cheap
/// to clone.
///
/// A token whose `kid` is unknown makes it fetch the JWKS again (at most once per cooldown) and
/// try once more; nothing else a token says leads to a request.
#[derive(Debug, Clone)]
pub struct RemoteVerifier {
    jwks: RemoteJwks,
    validation: Validation,
    deny: Option<Arc<DenyList>>,
    /// Made on the first good fetch, over the ring that later fetches update.
    verifier: Arc<OnceLock<TokenVerifier>>,
}

impl RemoteVerifier {
    /// A verifier of tokens signed by the keys at `jwks` that meet `validation`. Nothing is
    /// fetched until the first token (or [`RemoteJwks::refresh`]).
    pub fn new(jwks: RemoteJwks, validation: Validation) -> Self {
        Self {
            jwks,
            validation,
            deny: None,
            verifier: Arc::new(OnceLock::new()),
        }
    }

    /// A verifier of the keys at `url`, fetched now: fails if they cannot be.
    pub async fn connect(
        url: &str,
        validation: Validation,
        options: JwksOptions,
    ) -> Result<Self, JwksError> {
        let jwks = RemoteJwks::new(url, options)?;
        jwks.refresh().await?;
        Ok(Self::new(jwks, validation))
    }

    /// The same verifier, also refusing what `deny` lists.
    pub fn with_deny_list(mut self, deny: Arc<DenyList>) -> Self {
        self.deny = Some(deny);
        self.verifier = Arc::new(OnceLock::new());
        self
    }

    /// The key cache.
    pub fn jwks(&self) -> &RemoteJwks {
        &self.jwks
    }

    /// Verifies `token`: with the cached keys, or once more after a fetch if its `kid` is
    /// unknown and the cooldown allows.
    pub async fn verify(&self, token: &str) -> Result<AccessClaims, RemoteError> {
        let now = self.jwks.now();
        self.jwks.refresh_if_stale(now);
        let seen = self.jwks.generation();
        let verifier = match self.verifier() {
            Some(verifier) => verifier,
            None => {
                self.jwks.refetch(seen).await;
                self.verifier().ok_or_else(|| RemoteError::Unavailable {
                    last_error: self.jwks.last_error(),
                })?
            }
        };
        match verifier.verify_at(token, now) {
            Err(TokenError::UnknownKid) if self.jwks.refetch(seen).await => {
                Ok(verifier.verify_at(token, now)?)
            }
            result => Ok(result?),
        }
    }

    fn verifier(&self) -> Option<&TokenVerifier> {
        let ring = self.jwks.ring()?;
        Some(self.verifier.get_or_init(|| {
            let verifier = TokenVerifier::new(ring.clone(), self.validation.clone())
                .with_clock(self.jwks.0.options.clock.clone());
            match &self.deny {
                Some(deny) => verifier.with_deny_list(deny.clone()),
                None => verifier,
            }
        }))
    }
}
