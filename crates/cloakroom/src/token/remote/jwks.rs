//! The key cache: fetching the JWKS from the operator's URL, bounded, with a cooldown.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use reqwest::{Client, Url, header, redirect};

use super::JwksError;
use super::keys::{Parse, parse_key_set};
use crate::clock::{SharedClock, SystemClock, Timestamp};
use crate::token::{KeyRing, KeySet};

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
/// is an RSA key under 2048 bits or an Ed25519 key of small order, or shares its `kid` with
/// another key of the set. A failed fetch keeps the last good set.
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

    pub(super) fn clock(&self) -> &SharedClock {
        &self.0.options.clock
    }

    pub(super) fn now(&self) -> Timestamp {
        self.0.options.clock.now()
    }

    pub(super) fn generation(&self) -> u64 {
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
    pub(super) async fn refetch(&self, seen: u64) -> bool {
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
    pub(super) fn refresh_if_stale(&self, now: Timestamp) {
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
            // Cleared even if the task is dropped half-way (its runtime shutting down).
            let _done = ClearOnDrop(&this.0.refreshing);
            let seen = this.generation();
            this.refetch(seen).await;
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

struct ClearOnDrop<'a>(&'a AtomicBool);

impl Drop for ClearOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
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
