//! The two sides of a remote verification test: an issuer with keys rotated by hand, and a
//! JWKS endpoint on loopback that counts its requests.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::routing::get;
use cloakroom::clock::{ManualClock, Timestamp};
use cloakroom::token::{
    Algorithm, JwksOptions, Key, KeyRing, KeySet, RemoteVerifier, StoredKey, TokenIssuer,
    TokenSubject, Validation,
};
use serde_json::{Value, json};

use crate::token_support::{AUD, ISS, T0, TTL, forge_with};

pub const COOLDOWN: Duration = Duration::from_secs(30);

/// The issuing side: its keys, rotated by hand, and the JWKS it publishes.
pub struct Issuer {
    pub clock: Arc<ManualClock>,
    pub current: StoredKey,
    pub ring: KeyRing,
    pub issuer: TokenIssuer,
}

impl Issuer {
    pub fn new(clock: Arc<ManualClock>, alg: Algorithm) -> Self {
        let current = StoredKey::generate(alg, clock_now(&clock)).unwrap();
        let ring = KeyRing::new(KeySet::new(Key::from_stored(&current).unwrap()));
        let issuer = TokenIssuer::new(ring.clone(), ISS, AUD, Duration::from_secs(TTL as u64))
            .with_clock(clock.clone());
        Self {
            clock,
            current,
            ring,
            issuer,
        }
    }

    pub fn rotate(&mut self) {
        let now = clock_now(&self.clock);
        self.current = StoredKey::generate(self.current.algorithm, now).unwrap();
        let next = Key::from_stored(&self.current).unwrap();
        let retention = Duration::from_secs(TTL as u64 + 30);
        self.ring
            .replace(self.ring.snapshot().rotate(next, now, retention));
    }

    pub fn jwks(&self) -> Value {
        serde_json::to_value(self.ring.snapshot().jwks(clock_now(&self.clock))).unwrap()
    }

    pub fn token(&self) -> String {
        let subject = TokenSubject {
            user_id: "42".into(),
            name: "Bhaskar".into(),
            roles: vec!["user".into()],
            session: "c2Vzc2lvbiBoYW5kbGUhIQ".into(),
        };
        let issued = self.issuer.issue(&subject).unwrap();
        issued.token.expose_secret().to_owned()
    }

    /// A token signed by the current key, with a header of the test's choosing.
    pub fn forge(&self, header: &Value) -> String {
        let now = clock_now(&self.clock).unix();
        let claims = json!({
            "iss": ISS, "sub": "42", "aud": AUD, "exp": now + TTL, "iat": now,
            "jti": "dGhlIGp0aSBvZiB0aGlzIQ", "sid": "c2Vzc2lvbiBoYW5kbGUhIQ",
            "name": "Bhaskar", "roles": ["user"],
        });
        forge_with(&self.current, header, &claims)
    }

    pub fn kid(&self) -> String {
        self.current.kid.to_string()
    }
}

fn clock_now(clock: &ManualClock) -> Timestamp {
    cloakroom::clock::Clock::now(clock)
}

/// A JWKS endpoint on loopback that answers what the test puts in `reply` and counts requests.
#[derive(Clone)]
pub struct Endpoint {
    pub reply: Arc<Mutex<(StatusCode, String)>>,
    pub fetches: Arc<AtomicUsize>,
    pub addr: SocketAddr,
    stop: Arc<Mutex<Option<tokio::sync::oneshot::Sender<()>>>>,
}

impl Endpoint {
    pub async fn start(jwks: &Value) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let endpoint = Self {
            reply: Arc::new(Mutex::new((StatusCode::OK, jwks.to_string()))),
            fetches: Arc::new(AtomicUsize::new(0)),
            addr: listener.local_addr().unwrap(),
            stop: Arc::new(Mutex::new(Some(stop))),
        };
        let app = Router::new()
            .route("/jwks.json", get(answer))
            .with_state(endpoint.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
        });
        endpoint
    }

    pub fn url(&self) -> String {
        format!("http://{}/jwks.json", self.addr)
    }

    pub fn set(&self, status: StatusCode, body: String) {
        *self.reply.lock().unwrap() = (status, body);
    }

    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    /// Stops listening and closes kept-alive connections: the port refuses from now on.
    pub async fn shut_down(&self) {
        let _ = self.stop.lock().unwrap().take().map(|s| s.send(()));
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(self.addr).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the endpoint did not stop");
    }
}

async fn answer(State(e): State<Endpoint>) -> impl axum::response::IntoResponse {
    e.fetches.fetch_add(1, Ordering::SeqCst);
    let (status, body) = e.reply.lock().unwrap().clone();
    let headers = [
        (header::CONTENT_TYPE, "application/json"),
        (header::LOCATION, "http://127.0.0.1:9/elsewhere"),
    ];
    (status, headers, body)
}

pub fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(Timestamp::from_unix(T0)))
}

pub fn options(clock: &Arc<ManualClock>) -> JwksOptions {
    JwksOptions::default()
        .cooldown(COOLDOWN)
        .clock(clock.clone())
}

pub async fn connect(endpoint: &Endpoint, clock: &Arc<ManualClock>) -> RemoteVerifier {
    RemoteVerifier::connect(&endpoint.url(), Validation::new(ISS, AUD), options(clock))
        .await
        .unwrap()
}

/// A one-connection HTTP server that reads the request, writes `response` and then holds the
/// connection open for a while.
pub async fn raw_server(response: Vec<u8>) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut request = [0u8; 4096];
        let _ = conn.read(&mut request);
        let _ = conn.write_all(&response);
        std::thread::sleep(Duration::from_secs(3));
    });
    url
}
