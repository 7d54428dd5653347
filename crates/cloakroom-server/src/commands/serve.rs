//! `cloakroom serve`: opens the stores, listens, and serves until SIGTERM or SIGINT.

use std::ffi::OsString;

use tokio::net::TcpListener;

use crate::app::App;
use crate::cli::Cli;
use crate::error::Error;
use crate::settings::{Mode, Settings};

/// Starts the server with `settings` and prints where it listens and, while there is no user,
/// the command that adds the first one.
pub async fn serve(cli: &Cli, mut settings: Settings) -> Result<(), Error> {
    let addr = settings.listen;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Bind { addr, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| Error::Bind { addr, source })?;
    // A public URL that defaulted to `--listen 127.0.0.1:0` names the port actually bound.
    if addr.port() == 0 && settings.public_url == format!("http://{addr}") {
        settings.public_url = format!("http://{local}");
    }
    warn_if_exposed(&settings);
    let metrics = match settings.metrics_listen {
        Some(addr) => Some((
            TcpListener::bind(addr)
                .await
                .map_err(|source| Error::Bind { addr, source })?,
            addr,
        )),
        None => None,
    };
    let app = App::builder(settings).build().await?;
    let s = app.settings();
    let database = crate::stores::describe_database(s)?;
    // jwt mode keeps no sessions: naming where it would keep them would only mislead.
    let sessions = match s.mode {
        Mode::Jwt => String::new(),
        Mode::Session | Mode::Hybrid => format!("sessions: {}, ", s.session_store().as_str()),
    };
    println!(
        "cloakroom {} listening on http://{local} (mode: {}, {sessions}database: {database})",
        env!("CARGO_PKG_VERSION"),
        s.mode.as_str(),
    );
    if app.user_admin().list().await?.is_empty() {
        println!("No users yet. Add the first one (it asks for a password):");
        println!("  {}", add_user_command(cli));
    }
    let metrics = metrics.map(|(listener, addr)| {
        let local = listener.local_addr().unwrap_or(addr);
        println!("metrics on http://{local}/metrics");
        let router = app.metrics_router();
        let limits = app.settings().limits.clone();
        let proxies = app.proxies().clone();
        tokio::spawn(async move {
            crate::serve::serve(listener, router, &limits, proxies, std::future::pending()).await;
        })
    });
    tracing::info!(%local, "listening");
    let served = crate::run(listener, app, shutdown_signal()).await;
    if let Some(task) = metrics {
        task.abort();
    }
    served?;
    tracing::info!("stopped");
    Ok(())
}

/// Warns when the server listens beyond loopback while its public URL is not https: the
/// cookies are then not `Secure` and passwords cross the network readable.
fn warn_if_exposed(settings: &Settings) {
    let https = settings.public_url_is_https().unwrap_or(false);
    if !settings.listen.ip().is_loopback() && !https {
        tracing::warn!(
            "listening on {} (beyond this machine) with public_url {}: put a TLS proxy in \
             front and set public_url to its https:// URL (docs/PRODUCTION.md)",
            settings.listen,
            settings.public_url
        );
    }
}

/// The exact command that adds an admin to the data this server uses: the same program and
/// the same `--config` and `--data-dir`.
fn add_user_command(cli: &Cli) -> String {
    let program = std::env::args_os()
        .next()
        .unwrap_or_else(|| OsString::from("cloakroom"));
    let mut words = vec![quote(&program.to_string_lossy())];
    if let Some(config) = &cli.config {
        words.push("--config".to_owned());
        words.push(quote(&config.to_string_lossy()));
    }
    if let Some(dir) = &cli.data_dir {
        words.push("--data-dir".to_owned());
        words.push(quote(&dir.to_string_lossy()));
    }
    words.extend(["user", "add", "admin", "--role", "admin"].map(str::to_owned));
    words.join(" ")
}

/// Quotes a word for a POSIX shell when it needs it.
fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Completes at the first SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("shutting down: finishing the requests in flight");
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn quotes_only_what_needs_it() {
        assert_eq!(
            quote("target/release/cloakroom"),
            "target/release/cloakroom"
        );
        assert_eq!(quote("my dir"), "'my dir'");
        assert_eq!(quote("it's"), r"'it'\''s'");
    }
}
