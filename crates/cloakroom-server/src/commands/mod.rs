//! What each subcommand does.

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
    let settings = Settings::load(cli.config.as_deref(), &cli.overrides())?;
    logging::init(&settings.log)?;
    match &cli.command {
        Command::Serve(_) => serve::serve(&cli, settings).await,
        Command::User(command) => user::run(command, &settings).await,
        Command::Keys(command) => keys::run(command, &settings).await,
        Command::Token(command) => token::run(command, &settings).await,
    }
}
