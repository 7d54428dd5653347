//! Logging with `tracing`: text lines by default, JSON objects with `log.format = "json"`,
//! always to standard error (standard output is for what commands print). The access log's
//! lines (one per request) are written by a thread of their own ([`crate::access_log`]), in
//! the same format; [`flush`] writes out what is still queued.

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;

use crate::error::Error;
use crate::settings::{LogFormat, LogSettings};

/// Installs the global subscriber. `RUST_LOG`, when set, replaces `log.filter`.
pub fn init(settings: &LogSettings) -> Result<(), Error> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.trim().is_empty() => {
            EnvFilter::try_new(directives).map_err(|e| Error::Logging(format!("RUST_LOG: {e}")))?
        }
        _ => EnvFilter::try_new(&settings.filter)
            .map_err(|e| Error::Logging(format!("log.filter: {e}")))?,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only where a person reads them, not in files or collectors.
        .with_ansi(std::io::stderr().is_terminal());
    let installed = match settings.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    installed.map_err(|e| Error::Logging(e.to_string()))?;
    crate::access_log::install(settings.format);
    Ok(())
}

/// Writes out the access log lines still queued (waits at most 5 s); called when a command
/// ends, so a graceful shutdown loses none.
pub fn flush() {
    crate::access_log::flush();
}
