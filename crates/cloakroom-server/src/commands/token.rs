//! `cloakroom token inspect TOKEN`: what a token says, and whether this server accepts it.

use std::io::Read as _;
use std::sync::Arc;
use std::time::Duration;

use cloakroom::clock::{Clock as _, SystemClock, Timestamp};
use cloakroom::revocation::Revocations;
use cloakroom::token::{
    Algorithm, Key, KeyRing, KeySet, MAX_TOKEN_BYTES, StoredKey, TokenVerifier,
};
use serde_json::Value;

use crate::cli::TokenCommand;
use crate::error::Error;
use crate::settings::Settings;
use crate::stores::Stores;

/// Runs one `token` subcommand against the keys and deny-list `settings` name.
pub async fn run(command: &TokenCommand, settings: &Settings) -> Result<(), Error> {
    let TokenCommand::Inspect { token } = command;
    let token = if token == "-" {
        read_stdin()?
    } else {
        token.trim().to_owned()
    };
    let stores = Stores::open(settings, Arc::new(SystemClock)).await?;
    let now = SystemClock.now();
    let stored = crate::custody::key_store(settings, &stores.database)
        .await?
        .load_all()
        .await?;
    let set = match super::keys::key_set(&stored, &settings.key_policy(), now)? {
        Some(set) => set,
        None => {
            println!("note: there are no signing keys yet, so no token can be valid");
            // A key of its own that signed nothing: the verifier needs one, and every token is
            // then refused as signed by an unknown key, which is the truth.
            KeySet::new(Key::from_stored(&StoredKey::generate(
                Algorithm::Hs256,
                now,
            )?)?)
        }
    };
    let revocations = Revocations::open(stores.revocations.clone(), Arc::new(SystemClock)).await?;
    let verifier = TokenVerifier::new(KeyRing::new(set), settings.validation())
        .with_deny_list(revocations.deny_list().clone());
    let inspection = verifier.inspect(&token);
    show("header", inspection.header.as_ref());
    show("claims", inspection.claims.as_ref());
    if let Some(claims) = &inspection.claims {
        for (claim, what) in [("iat", "issued"), ("nbf", "valid from"), ("exp", "expires")] {
            if let Some(t) = claims.get(claim).and_then(Value::as_i64) {
                println!("{what:>10}: {}", when(Timestamp::from_unix(t), now));
            }
        }
    }
    match inspection.result {
        Ok(claims) => {
            println!(
                "valid: signature, claims and deny-list pass; user {:?} ({}), session {}",
                claims.name, claims.sub, claims.sid
            );
            Ok(())
        }
        Err(e) => {
            println!("invalid: {e} [{}]", e.code());
            Err(Error::InvalidToken(e.code()))
        }
    }
}

/// The token from standard input: one line, a little past the size limit so that an
/// oversized token is refused by the verifier rather than silently cut.
fn read_stdin() -> Result<String, Error> {
    let mut text = String::new();
    std::io::stdin()
        .lock()
        .take(u64::try_from(MAX_TOKEN_BYTES).unwrap_or(u64::MAX) + 3)
        .read_to_string(&mut text)
        .map_err(Error::TokenRead)?;
    Ok(text.trim().to_owned())
}

fn show(what: &str, json: Option<&Value>) {
    match json.map(serde_json::to_string_pretty) {
        Some(Ok(text)) => println!("{what}:\n{text}"),
        _ => println!("{what}: (does not decode to JSON)"),
    }
}

/// `t` in RFC 3339, and how far from now.
fn when(t: Timestamp, now: Timestamp) -> String {
    let secs = |d: Duration| humantime::format_duration(Duration::from_secs(d.as_secs()));
    match t.cmp(&now) {
        std::cmp::Ordering::Greater => format!("{t} (in {})", secs(t.since(now))),
        std::cmp::Ordering::Less => format!("{t} ({} ago)", secs(now.since(t))),
        std::cmp::Ordering::Equal => format!("{t} (now)"),
    }
}
