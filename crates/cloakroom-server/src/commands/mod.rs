//! What each subcommand does.

pub mod compare;
pub mod keys;
pub mod serve;
pub mod token;
pub mod user;

use crate::cli::{Cli, Command};
use crate::error::Error;
use crate::logging;
use crate::settings::Settings;

/// Runs the command `cli` names, with settings from every layer.
pub async fn run(cli: Cli) -> Result<(), Error> {
    let mut settings = Settings::load(cli.config.as_deref(), &cli.overrides())?;
    if matches!(cli.command, Command::Compare(_)) {
        // Its own servers' start-up lines would only break up the progress bar.
        settings.log.filter = "warn".to_owned();
    }
    logging::init(&settings.log)?;
    let result = match &cli.command {
        Command::Serve(_) => serve::serve(&cli, settings).await,
        Command::User(command) => user::run(command, &settings).await,
        Command::Keys(command) => keys::run(command, &settings).await,
        Command::Token(command) => token::run(command, &settings).await,
        Command::Compare(args) => compare::run(args, settings).await,
    };
    logging::flush();
    result
}
