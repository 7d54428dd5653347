//! Shared by the HTTP tests: a server on port 0 with a manual clock and cheap hashing, and a
//! client that handles the session cookie and bearer tokens by hand (so tests can see and
//! plant them).
#![allow(dead_code)] // each test binary uses its own part of this

pub mod bin;
pub mod browser;
pub mod cluster;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use cloakroom::clock::ManualClock;
use cloakroom::user::{HashParams, Password, User};
use cloakroom_server::settings::{Mode, Settings};
use cloakroom_server::{App, Error};
use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::{RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const PASSWORD: &str = "correct horse battery staple";

/// Settings for a `session`-mode server keeping its data in `dir`.
pub fn settings(dir: &Path) -> Settings {
    settings_in(dir, Mode::Session)
}

/// Settings for a server in `mode` keeping its data in `dir`.
pub fn settings_in(dir: &Path, mode: Mode) -> Settings {
    Settings {
        mode,
        data_dir: dir.to_owned(),
        ..Settings::default()
    }
}

/// A server running in this process.
pub struct Server {
    pub addr: SocketAddr,
    pub url: String,
    pub app: App,
    pub clock: ManualClock,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), Error>>>,
}

impl Server {
    pub async fn start(settings: Settings) -> Self {
        Self::start_with_clock(settings, ManualClock::starting_now()).await
    }

    pub async fn start_with_clock(settings: Settings, clock: ManualClock) -> Self {
        Self::start_full(settings, clock, HashParams::INSECURE_FAST_FOR_TESTS).await
    }

    /// A server hashing with `params` (e.g. costly enough for timing to be measurable).
    pub async fn start_full(settings: Settings, clock: ManualClock, params: HashParams) -> Self {
        let app = App::builder(settings)
            .clock(Arc::new(clock.clone()))
            .hash_params(params)
            .build()
            .await
            .expect("app builds");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind port 0");
        let addr = listener.local_addr().expect("local addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(cloakroom_server::run(listener, app.clone(), async move {
            let _ = stopped.await;
        }));
        Self {
            addr,
            url: format!("http://{addr}"),
            app,
            clock,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Shuts the server down gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await
                .expect("server task")
                .expect("server ran cleanly");
        }
    }

    pub async fn add_user(&self, name: &str, roles: &[&str]) -> User {
        let roles: Vec<String> = roles.iter().map(|r| (*r).to_owned()).collect();
        self.app
            .user_admin()
            .add(name, &roles, &Password::new(PASSWORD))
            .await
            .expect("user added")
    }

    pub fn http(&self) -> Http {
        Http {
            url: self.url.clone(),
            origin: self.url.clone(),
            cookie_name: self.app.cookies().name().to_owned(),
            client: reqwest::Client::new(),
        }
    }
}

/// A client that knows the server's URL and cookie name.
#[derive(Clone)]
pub struct Http {
    pub url: String,
    /// The server's own origin, for same-origin requests.
    pub origin: String,
    pub cookie_name: String,
    pub client: reqwest::Client,
}

impl Http {
    pub fn get(&self, path: &str) -> RequestBuilder {
        self.client.get(format!("{}{path}", self.url))
    }

    pub fn post(&self, path: &str) -> RequestBuilder {
        self.client.post(format!("{}{path}", self.url))
    }

    pub fn delete(&self, path: &str) -> RequestBuilder {
        self.client.delete(format!("{}{path}", self.url))
    }

    /// `req` carrying the session cookie `value`.
    pub fn with_cookie(&self, req: RequestBuilder, value: &str) -> RequestBuilder {
        req.header(COOKIE, format!("{}={value}", self.cookie_name))
    }

    pub async fn login_response(&self, username: &str, password: &str) -> Response {
        self.post("/auth/login")
            .json(&json!({ "username": username, "password": password }))
            .send()
            .await
            .expect("login request")
    }

    /// Signs in and returns the session cookie's value.
    pub async fn login(&self, username: &str) -> String {
        let res = self.login_response(username, PASSWORD).await;
        assert_eq!(res.status(), StatusCode::OK, "login of {username}");
        self.session_cookie(&res).expect("a session cookie")
    }

    /// The status of `GET /auth/me` with `cookie`.
    pub async fn me_status(&self, cookie: &str) -> StatusCode {
        self.with_cookie(self.get("/auth/me"), cookie)
            .send()
            .await
            .expect("me request")
            .status()
    }

    /// `req` carrying `Authorization: Bearer token`.
    pub fn with_bearer(&self, req: RequestBuilder, token: &str) -> RequestBuilder {
        req.header(reqwest::header::AUTHORIZATION, format!("Bearer {token}"))
    }

    /// Signs in (`jwt` or `hybrid` mode) and returns the token response.
    pub async fn login_tokens(&self, username: &str) -> Tokens {
        let res = self.login_response(username, PASSWORD).await;
        assert_eq!(res.status(), StatusCode::OK, "login of {username}");
        Tokens::from_response(res).await
    }

    /// The status of `GET /auth/me` with the bearer `token`.
    pub async fn me_bearer_status(&self, token: &str) -> StatusCode {
        self.with_bearer(self.get("/auth/me"), token)
            .send()
            .await
            .expect("me request")
            .status()
    }

    /// `POST /auth/refresh` with `{"refresh_token": refresh}`.
    pub async fn refresh_response(&self, refresh: &str) -> Response {
        self.post("/auth/refresh")
            .json(&json!({ "refresh_token": refresh }))
            .send()
            .await
            .expect("refresh request")
    }

    /// The value of the session cookie a response sets, if it sets one.
    pub fn session_cookie(&self, res: &Response) -> Option<String> {
        set_cookie(res, &self.cookie_name).map(|header| {
            let pair = header.split(';').next().unwrap_or_default();
            pair.split_once('=')
                .map(|(_, v)| v.to_owned())
                .unwrap_or_default()
        })
    }
}

/// What `/auth/login` and `/auth/refresh` return in the token modes.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access: String,
    pub refresh: Option<String>,
    pub expires_in: u64,
    /// The `Set-Cookie` header of the refresh cookie, if any.
    pub refresh_cookie: Option<String>,
}

impl Tokens {
    pub async fn from_response(res: Response) -> Self {
        assert_eq!(res.headers()["cache-control"], "no-store");
        let refresh_cookie = set_cookie(&res, "cloakroom_refresh");
        let body: Value = res.json().await.expect("a JSON body");
        assert_eq!(body["token_type"], "Bearer", "{body}");
        Self {
            access: body["access_token"]
                .as_str()
                .expect("access_token")
                .to_owned(),
            refresh: body["refresh_token"].as_str().map(str::to_owned),
            expires_in: body["expires_in"].as_u64().expect("expires_in"),
            refresh_cookie,
        }
    }

    pub fn refresh(&self) -> &str {
        self.refresh.as_deref().expect("a refresh token")
    }
}

/// The header of a JWS compact token, decoded.
pub fn jwt_header(token: &str) -> Value {
    jwt_part(token, 0)
}

/// The claims of a JWS compact token, decoded.
pub fn jwt_claims(token: &str) -> Value {
    jwt_part(token, 1)
}

/// `bytes` in base64url without padding, as JWS parts are.
pub fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn jwt_part(token: &str, i: usize) -> Value {
    use base64::Engine as _;
    let part = token.split('.').nth(i).expect("a JWS part");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON")
}

/// The whole `Set-Cookie` header for cookie `name`, if the response has one.
pub fn set_cookie(res: &Response, name: &str) -> Option<String> {
    res.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

/// Asserts that `res` is a JSON error with `status` (and `code`, if given); returns the body.
pub async fn expect_error(res: Response, status: StatusCode, code: Option<&str>) -> Value {
    assert_eq!(res.status(), status, "status");
    let content_type = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "content type {content_type:?}"
    );
    let body: Value = res.json().await.expect("a JSON body");
    assert!(body["error"].is_string(), "error code in {body}");
    assert!(body["message"].is_string(), "message in {body}");
    if let Some(code) = code {
        assert_eq!(body["error"], code, "{body}");
    }
    body
}
