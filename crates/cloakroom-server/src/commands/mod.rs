//! What each subcommand does.

pub mod backup;
pub mod compare;
pub mod config;
pub mod keys;
pub mod serve;
pub mod token;
pub mod user;

use crate::cli::{Cli, Command, UserCommand};
use crate::error::Error;
use crate::logging;
use crate::settings::Settings;

/// Runs the command `cli` names, with settings from every layer.
pub async fn run(cli: Cli) -> Result<(), Error> {
    if let Command::Config(command) = &cli.command {
        return config::run(command, &cli.overrides());
    }
    let mut settings = Settings::load(cli.config.as_deref(), &cli.overrides())?;
    if matches!(cli.command, Command::Compare(_)) {
        // Its own servers' start-up lines would only break up the progress bar.
        settings.log.filter = "warn".to_owned();
    }
    logging::init(&settings.log)?;
    match &cli.command {
        // These make the database: `serve`, and `user add`, the documented first step.
        Command::Serve(_) | Command::Compare(_) | Command::Restore { .. } => {}
        Command::User(UserCommand::Add { .. }) => {
            if let crate::settings::Database::File(path) = settings.database()? {
                if !path.exists() {
                    eprintln!("note: creating a new database at {}", path.display());
                }
            }
        }
        _ => require_database(&settings)?,
    }
    let result = match &cli.command {
        Command::Serve(_) => serve::serve(&cli, settings).await,
        Command::User(command) => user::run(command, &settings).await,
        Command::Keys(command) => keys::run(command, &settings).await,
        Command::Token(command) => token::run(command, &settings).await,
        Command::Compare(args) => compare::run(args, settings).await,
        Command::Backup { file } => backup::backup(&settings, file).await,
        Command::Restore { file, force } => backup::restore(&settings, file, *force).await,
        Command::Config(_) => unreachable!("handled above"),
    };
    logging::flush();
    result
}

/// Fails with a clear error when the database is a SQLite file that does not exist: commands
/// other than `serve`, `user add` and `restore` use an existing database, and a typo in
/// `--data-dir` must not make an empty one.
fn require_database(settings: &Settings) -> Result<(), Error> {
    match settings.database()? {
        crate::settings::Database::File(path) if !path.exists() => Err(Error::NoDatabase(path)),
        _ => Ok(()),
    }
}
