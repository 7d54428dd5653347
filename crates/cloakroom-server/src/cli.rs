//! The command line, as API.md describes it (the parts that exist so far).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::settings::{Mode, Overrides};

/// Cloakroom: authentication for web services.
#[derive(Debug, Parser)]
#[command(name = "cloakroom", version, about, propagate_version = true)]
pub struct Cli {
    /// A TOML settings file (environment variables `CLOAKROOM_*` and flags override it).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Where the SQLite file and other data live [default: the current directory].
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Runs the HTTP server.
    Serve(ServeArgs),
    /// Adds, lists and removes users, and changes passwords.
    #[command(subcommand)]
    User(UserCommand),
    /// Lists and rotates the keys that sign access tokens.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Looks into access tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Measures the three modes side by side on this machine and prints the verdict table.
    Compare(crate::commands::compare::CompareArgs),
    /// Copies the SQLite database to FILE, consistently, while the server runs (readable by
    /// its owner only). For PostgreSQL use pg_dump (docs/PRODUCTION.md).
    Backup {
        /// Where to write the copy; must not exist.
        file: PathBuf,
    },
    /// Restores a copy made by `cloakroom backup` as the configured SQLite database. Stop
    /// every server that uses the database first.
    Restore {
        /// The copy to restore.
        file: PathBuf,
        /// Replaces an existing database.
        #[arg(long)]
        force: bool,
    },
    /// Prints a complete sample configuration, or checks one.
    #[command(subcommand)]
    Config(ConfigCommand),
}

/// `cloakroom config …`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Prints every setting with its default value and what it does, as TOML.
    Example,
    /// Checks a configuration file (with the `CLOAKROOM_*` environment variables) and says
    /// what is wrong with it, naming each key.
    Check {
        /// The TOML file.
        file: PathBuf,
    },
}

/// `cloakroom keys …`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Lists the signing keys: ID, algorithm, status and dates (never their material).
    List,
    /// Makes a new signing key; the previous one keeps verifying until its last token expires.
    Rotate,
}

/// `cloakroom token …`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Decodes a token's header and claims, verifies it against the current keys and the
    /// deny-list, and says exactly why it fails (exit status 1 when it does).
    Inspect {
        /// The access token, or `-` to read it from standard input (which keeps it out of the
        /// shell's history).
        token: String,
    },
}

/// `cloakroom serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address to listen on [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,

    /// How the server remembers who is signed in [default: hybrid].
    #[arg(long, value_enum)]
    pub mode: Option<Mode>,
}

/// `cloakroom user …`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Adds a user; asks for the password twice on a terminal.
    Add {
        /// The username.
        name: String,
        /// A role to give the user (repeat for several).
        #[arg(long = "role", value_name = "ROLE")]
        roles: Vec<String>,
        /// Reads the password from standard input instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Lists the users.
    List,
    /// Removes a user and ends their sessions.
    Remove {
        /// The username.
        name: String,
    },
    /// Changes a user's password and ends their sessions.
    Passwd {
        /// The username.
        name: String,
        /// Reads the password from standard input instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
}

impl Cli {
    /// The settings the flags set, the highest layer of [`Settings`](crate::settings::Settings).
    pub fn overrides(&self) -> Overrides {
        let (listen, mode) = match &self.command {
            Command::Serve(args) => (args.listen, args.mode),
            Command::User(_)
            | Command::Keys(_)
            | Command::Token(_)
            | Command::Compare(_)
            | Command::Backup { .. }
            | Command::Restore { .. }
            | Command::Config(_) => (None, None),
        };
        Overrides {
            listen,
            mode,
            data_dir: self.data_dir.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    #[test]
    fn the_cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_the_documented_forms() {
        let cli = Cli::parse_from([
            "cloakroom",
            "serve",
            "--config",
            "c.toml",
            "--listen",
            "127.0.0.1:9",
            "--mode",
            "session",
            "--data-dir",
            "d",
        ]);
        let o = cli.overrides();
        assert_eq!(o.listen.map(|a| a.port()), Some(9));
        assert_eq!(o.mode, Some(Mode::Session));
        assert_eq!(cli.config, Some(PathBuf::from("c.toml")));
        let cli = Cli::parse_from([
            "cloakroom",
            "user",
            "add",
            "alice",
            "--role",
            "admin",
            "--role",
            "ops",
            "--password-stdin",
        ]);
        let Command::User(UserCommand::Add {
            roles,
            password_stdin,
            ..
        }) = cli.command
        else {
            panic!("not user add");
        };
        assert_eq!(roles, ["admin", "ops"]);
        assert!(password_stdin);
        let cli = Cli::parse_from(["cloakroom", "keys", "rotate", "--data-dir", "d"]);
        assert!(matches!(cli.command, Command::Keys(KeysCommand::Rotate)));
        assert_eq!(cli.data_dir, Some(PathBuf::from("d")));
        let cli = Cli::parse_from(["cloakroom", "token", "inspect", "a.b.c"]);
        assert!(
            matches!(cli.command, Command::Token(TokenCommand::Inspect { token }) if token == "a.b.c")
        );
        for mode in ["session", "jwt", "hybrid"] {
            assert!(Cli::try_parse_from(["cloakroom", "serve", "--mode", mode]).is_ok());
        }
        assert!(Cli::try_parse_from(["cloakroom", "serve", "--mode", "passport"]).is_err());
    }
}
