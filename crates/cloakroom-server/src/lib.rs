//! # cloakroom-server
//!
//! The `cloakroom` binary as a library: [`settings`] (defaults, TOML, environment, flags), the
//! HTTP [`App`] (state and router), the [`commands`] of the CLI, and [`run`], which serves an
//! app on a listener until a shutdown signal.
//!
//! Tests and embedders start a server on port 0 like this:
//!
//! ```no_run
//! use cloakroom_server::{App, settings::Settings};
//!
//! # async fn example() -> Result<(), cloakroom_server::Error> {
//! let settings = Settings { data_dir: "/tmp/cloakroom".into(), ..Settings::default() };
//! let app = App::builder(settings).build().await?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await
//!     .map_err(|source| cloakroom_server::Error::Bind { addr: ([127, 0, 0, 1], 0).into(), source })?;
//! cloakroom_server::run(listener, app, std::future::pending()).await
//! # }
//! ```
#![deny(missing_docs)]

mod access_log;
mod app;
mod bus_state;
pub mod cli;
pub mod commands;
pub mod custody;
mod error;
mod key_tasks;
pub mod logging;
pub mod login;
mod middleware;
mod openapi;
pub mod prometheus;
mod purge;
mod request_metrics;
mod routes;
mod serve;
pub mod settings;
mod stores;
pub mod tokens;
pub mod users;

use std::future::Future;

pub use app::{App, AppBuilder, MAX_BODY_BYTES};
pub use error::Error;

/// Serves `app` on `listener` until `shutdown` completes, then finishes the requests in flight
/// and returns. Connections are bounded by the `[limits]` settings: how many at once, how long
/// a request's head may take to arrive, how large it may be. Meanwhile, in the background:
/// ended sessions and expired revocations are purged, and in the token modes the keys are
/// maintained and reloaded.
pub async fn run(
    listener: tokio::net::TcpListener,
    app: App,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let purge = tokio::spawn(purge::every_interval(app.clone()));
    let keys = tokio::spawn(key_tasks::every_interval(app.clone()));
    serve::serve(
        listener,
        app.router(),
        &app.settings().limits,
        app.proxies().clone(),
        shutdown,
    )
    .await;
    purge.abort();
    keys.abort();
    Ok(())
}
