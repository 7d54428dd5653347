//! The server's errors: start-up, configuration, stores and the `user` commands. HTTP errors
//! are [`cloakroom_axum::ApiError`]s instead; these never reach a client.

use std::net::SocketAddr;
use std::path::PathBuf;

use cloakroom::auth::AuthError;
use cloakroom::store::StoreError;
use cloakroom::token::KeyError;
use cloakroom::user::{InvalidUsername, PasswordError, PasswordRejected};

/// Everything that can stop a command of the `cloakroom` binary.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The settings could not be read: an unknown key, a value of the wrong type, a file that
    /// does not parse. The message names each key.
    #[error("invalid configuration: {message}")]
    Config {
        /// One line per problem, each naming its key and where the value came from.
        message: String,
        /// Figment's own error, for callers that want the details.
        figment: Box<figment::Error>,
    },
    /// A setting has a value of the right type that cannot work.
    #[error("invalid configuration: `{key}`: {message}")]
    InvalidSetting {
        /// The key, e.g. `session.idle_timeout`.
        key: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// The file given with `--config` does not exist.
    #[error("the configuration file {0} does not exist")]
    ConfigFileMissing(PathBuf),
    /// The data directory could not be created.
    #[error("cannot create the data directory {path}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file could not be created.
    #[error("cannot create {path}")]
    CreateFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A store could not be opened.
    #[error("cannot open the {what} at {location}")]
    OpenStore {
        /// Which store, e.g. `user database`.
        what: &'static str,
        /// Its path or URL.
        location: String,
        /// Why.
        #[source]
        source: StoreError,
    },
    /// A store failed while a command used it.
    #[error("the store failed")]
    Store(#[from] StoreError),
    /// The signing keys could not be loaded, made or rotated.
    #[error("the signing keys failed")]
    Keys(#[from] KeyError),
    /// `cloakroom token inspect` found the token invalid; what is wrong was printed already.
    #[error("the token is not valid ({0})")]
    InvalidToken(&'static str),
    /// Signing in, or ending sessions, failed.
    #[error("session handling failed")]
    Auth(#[from] AuthError),
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP server stopped with an error.
    #[error("the HTTP server failed")]
    Serve(#[source] std::io::Error),
    /// The Prometheus recorder could not be set up.
    #[error("cannot set up the metrics recorder")]
    Metrics(#[source] metrics_exporter_prometheus::BuildError),
    /// Logging could not be set up.
    #[error("cannot set up logging: {0}")]
    Logging(String),
    /// No such user.
    #[error("there is no user called {0:?}")]
    NoSuchUser(String),
    /// The username is taken.
    #[error("a user called {0:?} already exists")]
    UserExists(String),
    /// The username breaks the rules.
    #[error("invalid username")]
    InvalidUsername(#[from] InvalidUsername),
    /// A role is empty or has spaces or control characters.
    #[error("invalid role {0:?}: a role is 1 to 64 of A-Z a-z 0-9 . _ : -")]
    InvalidRole(String),
    /// The new password breaks the password policy.
    #[error("password rejected")]
    PasswordRejected(#[from] PasswordRejected),
    /// A change to a user failed for a reason of its own (e.g. the current password).
    #[error("the change to the user failed")]
    Account(#[source] cloakroom::authority::AccountError),
    /// The two passwords typed at the prompt differ.
    #[error("the passwords do not match")]
    PasswordMismatch,
    /// No password could be read: no terminal to prompt on and no `--password-stdin`.
    #[error("cannot read a password: {0}")]
    PasswordInput(String),
    /// Reading a token from standard input failed.
    #[error("cannot read the token from standard input")]
    TokenRead(#[source] std::io::Error),
    /// Reading the password failed.
    #[error("cannot read the password")]
    PasswordRead(#[source] std::io::Error),
    /// Hashing the password failed.
    #[error("cannot hash the password")]
    Hash(#[from] PasswordError),
    /// The database does not exist, and this command does not make one (only `serve` does).
    #[error(
        "there is no database at {0}: check --data-dir, --config and database_url (only \
         `cloakroom serve` creates a new one)"
    )]
    NoDatabase(PathBuf),
    /// The signing keys in the database do not open (wrong or missing key-encryption key).
    #[error("the signing keys cannot be opened")]
    KeyCustody(#[source] cloakroom::token::CheckError),
    /// The key-encryption key file could not be read.
    #[error("cannot read the key-encryption key file {path}")]
    KekRead {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The key-encryption key is malformed, or given twice.
    #[error("invalid key-encryption key ({from})")]
    Kek {
        /// Where it came from: the file or the environment variable.
        from: String,
        /// What is wrong with it.
        #[source]
        source: cloakroom::token::SealError,
    },
    /// Both a key-encryption key file and the environment variable are set.
    #[error("both key_encryption_key_file and CLOAKROOM_KEY_ENCRYPTION_KEY are set: set only one")]
    KekTwice,
    /// The signing key file (`jwt.signing_key_file`) cannot be used.
    #[error("cannot use the signing key file {path}: {message}")]
    SigningKeyFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// `cloakroom keys rotate` with `jwt.signing_key_file`: the key comes from the file.
    #[error(
        "the signing key comes from jwt.signing_key_file: rotate by putting a new key in that \
         file and restarting"
    )]
    KeyFromFile,
    /// `cloakroom backup` or `restore` refused, or failed.
    #[error("{message}")]
    Backup {
        /// What was refused or failed.
        message: String,
        /// The cause, if any.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// `cloakroom config check` found the file invalid (its problems are the cause).
    #[error("{0} is not a valid configuration")]
    ConfigInvalid(PathBuf, #[source] Box<Error>),
    /// `cloakroom compare` could not finish.
    #[error("the comparison failed")]
    Compare(#[source] Box<crate::commands::compare::CompareError>),
}

impl From<crate::commands::compare::CompareError> for Error {
    fn from(e: crate::commands::compare::CompareError) -> Self {
        Self::Compare(Box::new(e))
    }
}

impl Error {
    /// The message with its causes, one per line: what `main` prints.
    pub fn report(&self) -> String {
        let mut out = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            out.push_str("\n  caused by: ");
            out.push_str(&cause.to_string());
            source = cause.source();
        }
        out
    }
}
