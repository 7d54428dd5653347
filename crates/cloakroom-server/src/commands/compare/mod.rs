//! `cloakroom compare`: runs the three modes side by side on this machine and prints the
//! explainer's verdict table (docs: `sessions-vs-jwt`) with measured numbers in place of
//! opinions, and writes the numbers as an SVG chart.
//!
//! For each mode: two in-process servers (nodes A and B) on port-0 listeners share one
//! database (a temporary one, unless `database_url` is configured) and the configured
//! `session_store`; a user made for the run signs in on A. Then, in order: the in-process cost
//! of checking the credential, store calls per request (a counting decorator), `/auth/me`
//! throughput over keep-alive connections, and logout on A until B refuses, `--trials` times.

mod counting;
mod measure;
mod node;
mod report;

use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::Args;
use cloakroom::user::Password;
use indicatif::{ProgressBar, ProgressStyle};

use self::node::Node;
use self::report::{ModeResult, Report};
use crate::error::Error;
use crate::settings::{Mode, Settings};

/// `cloakroom compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// How long to load each mode's `/auth/me` (e.g. `3s`, `500ms`).
    #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// The modes to compare, comma-separated [default: session,jwt,hybrid].
    #[arg(long, value_enum, value_delimiter = ',')]
    pub modes: Vec<Mode>,
    /// Where to write the chart (`compare.svg`).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub out: PathBuf,
    /// Prints the numbers as JSON instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Logouts timed per mode, each from A to B.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub trials: u32,
    /// Concurrent keep-alive connections of the load loop.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub connections: u64,
}

/// What can stop a comparison.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CompareError {
    /// A node could not be built or served.
    #[error("a node failed")]
    Server(#[from] Error),
    /// An HTTP request to a node failed.
    #[error("a request to a node failed")]
    Http(#[from] reqwest::Error),
    /// Checking a session failed.
    #[error("checking a session failed")]
    Auth(#[from] cloakroom::auth::AuthError),
    /// Checking a token failed.
    #[error("checking a token failed")]
    Token(#[from] cloakroom::token::TokenError),
    /// Random bytes for the run's user could not be had.
    #[error(transparent)]
    Random(#[from] cloakroom::random::RandomError),
    /// A file or directory could not be made.
    #[error("cannot write {path}")]
    Write {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The results could not be written as JSON.
    #[error("cannot write the results as JSON")]
    Json(#[from] serde_json::Error),
    /// A measuring task failed.
    #[error("a measuring task failed: {0}")]
    Task(String),
    /// A node answered what it should not have.
    #[error("unexpected: {0}")]
    Unexpected(String),
}

/// Runs the comparison with `settings` (as loaded from `--config` and the environment).
pub async fn run(args: &CompareArgs, settings: Settings) -> Result<(), Error> {
    compare(args, settings).await.map_err(Error::from)
}

async fn compare(args: &CompareArgs, settings: Settings) -> Result<(), CompareError> {
    let modes = if args.modes.is_empty() {
        vec![Mode::Session, Mode::Jwt, Mode::Hybrid]
    } else {
        args.modes.clone()
    };
    let configured_database = settings.database_url != Settings::default().database_url;
    let progress = ProgressBar::new(modes.len() as u64 * STEPS);
    if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}") {
        progress.set_style(style);
    }
    let mut results = Vec::new();
    for mode in modes {
        results.push(compare_mode(mode, &settings, configured_database, args, &progress).await?);
    }
    progress.finish_and_clear();
    let report = Report {
        cores: std::thread::available_parallelism().map_or(1, usize::from),
        session_store: settings.session_store().as_str().to_owned(),
        database: if configured_database {
            settings.database_url.clone()
        } else {
            "a temporary SQLite file".to_owned()
        },
        algorithm: settings.jwt.algorithm.to_string(),
        duration_s: args.duration.as_secs_f64(),
        modes: results,
    };
    let svg = args.out.join("compare.svg");
    let write = |path: &PathBuf, text: &str| {
        std::fs::create_dir_all(&args.out)
            .and_then(|()| std::fs::write(path, text))
            .map_err(|source| CompareError::Write {
                path: path.clone(),
                source,
            })
    };
    write(&svg, &report.svg())?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.table());
        println!("\nChart: {}", svg.display());
    }
    Ok(())
}

/// Progress steps per mode.
const STEPS: u64 = 5;

async fn compare_mode(
    mode: Mode,
    base: &Settings,
    configured_database: bool,
    args: &CompareArgs,
    progress: &ProgressBar,
) -> Result<ModeResult, CompareError> {
    let name = mode.as_str();
    progress.set_message(format!("{name}: starting two nodes"));
    let temp = if configured_database {
        None
    } else {
        Some(tempfile::tempdir().map_err(|source| CompareError::Write {
            path: std::env::temp_dir(),
            source,
        })?)
    };
    let mut settings = base.clone();
    settings.mode = mode;
    if let Some(dir) = &temp {
        settings.data_dir = dir.path().to_owned();
    }
    let a = Node::start(settings.clone()).await?;
    let b = Node::start(settings.clone()).await?;
    let username = format!(
        "compare-{}",
        URL_SAFE_NO_PAD.encode(cloakroom::random::bytes::<6>()?)
    );
    let password = URL_SAFE_NO_PAD.encode(cloakroom::random::bytes::<18>()?);
    a.app
        .user_admin()
        .add(&username, &[], &Password::new(password.clone()))
        .await?;
    let client = reqwest::Client::new();
    let credential = node::login(&client, &a.url, &settings, &username, &password).await?;
    progress.inc(1);

    progress.set_message(format!("{name}: checking requests in-process"));
    let budget = (args.duration / 3).clamp(Duration::from_millis(200), Duration::from_secs(2));
    let verification = measure::verification(&a.app, &credential, budget).await?;
    let store_round_trips = measure::round_trips(&a.app, mode, &credential, 1_000).await?;
    progress.inc(1);

    progress.set_message(format!("{name}: loading /auth/me over HTTP"));
    let connections = usize::try_from(args.connections).unwrap_or(16);
    let throughput = measure::throughput(&a.url, &credential, args.duration, connections).await?;
    progress.inc(1);

    progress.set_message(format!("{name}: logging out on node A, watching node B"));
    // Token modes pick up what another node wrote every `jwt.reload_interval`.
    let wait = settings.jwt.reload_interval + Duration::from_secs(2);
    let logout_propagation =
        measure::propagation(&a, &b, &username, &password, args.trials, wait).await?;
    progress.inc(1);

    progress.set_message(format!("{name}: cleaning up"));
    a.app.user_admin().remove(&username).await?;
    a.stop().await?;
    b.stop().await?;
    drop(temp);
    progress.inc(1);
    Ok(ModeResult {
        mode: name,
        verification,
        throughput,
        store_round_trips,
        logout_propagation,
        credential_bytes: credential.wire_bytes(),
        refresh_token_bytes: credential.refresh.as_ref().map(String::len),
    })
}
