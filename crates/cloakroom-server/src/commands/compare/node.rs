//! One in-process server (a "node") on a port-0 listener, and a client that signs in to it and
//! presents the credential its mode hands out.

use std::net::SocketAddr;

use http::header::{AUTHORIZATION, COOKIE, SET_COOKIE};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::CompareError;
use crate::app::App;
use crate::error::Error;
use crate::settings::{Mode, Settings};

/// A server running in this process until [`stop`](Self::stop).
pub(super) struct Node {
    pub(super) app: App,
    pub(super) url: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), Error>>>,
}

impl Node {
    /// Builds an app from `settings` and serves it on 127.0.0.1, port 0.
    pub(super) async fn start(settings: Settings) -> Result<Self, CompareError> {
        let app = App::builder(settings).build().await?;
        let addr = SocketAddr::from(([127, 0, 0, 1], 0));
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| Error::Bind { addr, source })?;
        let local = listener
            .local_addr()
            .map_err(|source| Error::Bind { addr, source })?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(crate::run(listener, app.clone(), async move {
            let _ = stopped.await;
        }));
        Ok(Self {
            app,
            url: format!("http://{local}"),
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// Shuts the server down and waits for it.
    pub(super) async fn stop(mut self) -> Result<(), CompareError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await
                .map_err(|e| CompareError::Task(e.to_string()))??;
        }
        Ok(())
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // A comparison that failed half-way must not leave a server running.
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// What a signed-in client sends on every request: one header.
#[derive(Debug, Clone)]
pub(super) struct Credential {
    /// `Cookie` or `Authorization`.
    pub(super) header: http::HeaderName,
    /// Its value.
    pub(super) value: String,
    /// The session ID (session mode) or the access token (token modes), alone.
    pub(super) secret: String,
    /// The refresh token (hybrid mode), sent to `/auth/refresh` only.
    pub(super) refresh: Option<String>,
}

impl Credential {
    /// The bytes of the header on the wire: `Name: value`.
    pub(super) fn wire_bytes(&self) -> usize {
        self.header.as_str().len() + 2 + self.value.len()
    }
}

/// Signs `username` in to the node at `url` and returns what its mode hands out.
pub(super) async fn login(
    client: &reqwest::Client,
    url: &str,
    settings: &Settings,
    username: &str,
    password: &str,
) -> Result<Credential, CompareError> {
    let res = client
        .post(format!("{url}/auth/login"))
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await?;
    if !res.status().is_success() {
        return Err(CompareError::Unexpected(format!(
            "login answered {}",
            res.status()
        )));
    }
    if settings.mode == Mode::Session {
        let name = settings.session.cookie_name.as_str();
        let pair = res
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.split(';').next())
            .find(|pair| pair.starts_with(&format!("{name}=")))
            .ok_or_else(|| CompareError::Unexpected("login set no session cookie".into()))?
            .to_owned();
        let secret = pair[name.len() + 1..].to_owned();
        return Ok(Credential {
            header: COOKIE,
            value: pair,
            secret,
            refresh: None,
        });
    }
    let body: Value = res.json().await?;
    let access = body["access_token"]
        .as_str()
        .ok_or_else(|| CompareError::Unexpected("login returned no access_token".into()))?;
    Ok(Credential {
        header: AUTHORIZATION,
        value: format!("Bearer {access}"),
        secret: access.to_owned(),
        refresh: body["refresh_token"].as_str().map(str::to_owned),
    })
}

/// `GET /auth/me` with `credential`: its status.
pub(super) async fn me(
    client: &reqwest::Client,
    url: &str,
    credential: &Credential,
) -> Result<reqwest::StatusCode, CompareError> {
    Ok(client
        .get(format!("{url}/auth/me"))
        .header(&credential.header, &credential.value)
        .send()
        .await?
        .status())
}

/// `POST /auth/logout` with `credential`.
pub(super) async fn logout(
    client: &reqwest::Client,
    url: &str,
    credential: &Credential,
) -> Result<(), CompareError> {
    let res = client
        .post(format!("{url}/auth/logout"))
        .header(&credential.header, &credential.value)
        .send()
        .await?;
    if res.status().is_success() {
        Ok(())
    } else {
        Err(CompareError::Unexpected(format!(
            "logout answered {}",
            res.status()
        )))
    }
}
