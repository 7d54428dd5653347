//! `cloakroom user add | list | remove | passwd`.

use std::io::{IsTerminal as _, Read as _};

use cloakroom::user::{Password, PasswordPolicy};

use crate::cli::UserCommand;
use crate::error::Error;
use crate::settings::Settings;
use crate::users::UserAdmin;

/// Runs one `user` subcommand against the data `settings` name.
pub async fn run(command: &UserCommand, settings: &Settings) -> Result<(), Error> {
    let admin = UserAdmin::open(settings).await?;
    match command {
        UserCommand::Add {
            name,
            roles,
            password_stdin,
        } => {
            let password = read_password(*password_stdin, admin.password_policy())?;
            let user = admin.add(name, roles, &password).await?;
            println!("added user {} ({})", user.username, user.id);
        }
        UserCommand::List => {
            let users = admin.list().await?;
            if users.is_empty() {
                println!("no users");
            }
            for u in users {
                println!(
                    "{}\t{}\troles={}\t{}\tcreated {}",
                    u.username,
                    u.id,
                    u.roles.join(","),
                    if u.disabled { "disabled" } else { "enabled" },
                    u.created_at,
                );
            }
        }
        UserCommand::Remove { name } => {
            let ended = admin.remove(name).await?;
            println!("removed user {name}; {}", ended_message(&admin, ended));
        }
        UserCommand::Passwd {
            name,
            password_stdin,
        } => {
            // Fail on an unknown name before asking for a password.
            admin.find(name).await?;
            let password = read_password(*password_stdin, admin.password_policy())?;
            let ended = admin.set_password(name, &password).await?;
            println!(
                "changed the password of {name}; {}",
                ended_message(&admin, ended)
            );
        }
    }
    Ok(())
}

fn ended_message(admin: &UserAdmin, ended: u64) -> String {
    if admin.ends_sessions() {
        format!("ended {ended} session(s)")
    } else {
        "sessions in a running server's memory store last until it restarts or they expire"
            .to_owned()
    }
}

/// The password from standard input (`--password-stdin`: everything up to EOF, less one
/// trailing newline), or typed twice at a terminal prompt.
fn read_password(from_stdin: bool, policy: &PasswordPolicy) -> Result<Password, Error> {
    if from_stdin {
        // Read a little past the limit, so that an over-long password is refused by the
        // policy rather than silently cut.
        let limit = u64::try_from(policy.max_bytes)
            .unwrap_or(u64::MAX)
            .saturating_add(3);
        let mut text = String::new();
        std::io::stdin()
            .lock()
            .take(limit)
            .read_to_string(&mut text)
            .map_err(Error::PasswordRead)?;
        let password = Password::new(text);
        let trimmed = password
            .expose_secret()
            .strip_suffix('\n')
            .map(|p| p.strip_suffix('\r').unwrap_or(p));
        return Ok(match trimmed {
            Some(p) => Password::new(p),
            None => password,
        });
    }
    if !std::io::stdin().is_terminal() {
        return Err(Error::PasswordInput(
            "standard input is not a terminal; pipe the password in with --password-stdin"
                .to_owned(),
        ));
    }
    let first =
        Password::new(rpassword::prompt_password("Password: ").map_err(Error::PasswordRead)?);
    policy.check(&first)?;
    let again = Password::new(
        rpassword::prompt_password("Password (again): ").map_err(Error::PasswordRead)?,
    );
    if first.expose_secret() != again.expose_secret() {
        return Err(Error::PasswordMismatch);
    }
    Ok(first)
}
