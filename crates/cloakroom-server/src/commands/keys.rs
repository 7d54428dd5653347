//! `cloakroom keys list | rotate`: the keys that sign access tokens, kept in the database.

use cloakroom::clock::{Clock as _, SystemClock, Timestamp};
use cloakroom::token::{Key, KeyInfo, KeyManager, KeyPolicy, KeySet, KeyStatus, StoredKey};

use crate::cli::KeysCommand;
use crate::error::Error;
use crate::settings::Settings;
use crate::stores::DatabaseStore;

/// Runs one `keys` subcommand against the database `settings` name.
pub async fn run(command: &KeysCommand, settings: &Settings) -> Result<(), Error> {
    let database =
        crate::custody::key_store(settings, &DatabaseStore::open(settings).await?).await?;
    match command {
        KeysCommand::List => {
            let keys = infos(database.load_all().await?, SystemClock.now());
            if keys.is_empty() {
                println!("no keys yet: `cloakroom serve` makes the first one when it starts");
            }
            for k in keys {
                let life = match (k.status, k.retire_after, k.retired_at) {
                    (KeyStatus::Retired, _, Some(at)) | (KeyStatus::Retired, Some(at), None) => {
                        format!("retired {at}")
                    }
                    (KeyStatus::Verifying, Some(at), _) => format!("verifies until {at}"),
                    _ => "signs new tokens".to_owned(),
                };
                let status = match k.status {
                    KeyStatus::Active => "active",
                    KeyStatus::Verifying => "verifying",
                    KeyStatus::Retired => "retired",
                };
                println!(
                    "{}\t{}\t{status}\tcreated {}\tactivated {}\t{life}",
                    k.kid, k.algorithm, k.created_at, k.activated_at,
                );
            }
        }
        KeysCommand::Rotate => {
            if settings.jwt.signing_key_file.is_some() {
                return Err(Error::KeyFromFile);
            }
            let had_keys = !database.load_all().await?.is_empty();
            let policy = settings.key_policy();
            let manager = KeyManager::open_system(database, policy.clone()).await?;
            let before = manager.ring().snapshot().active().kid().clone();
            if !had_keys {
                println!("made the first signing key {before} ({})", policy.algorithm);
                return Ok(());
            }
            let kid = manager.rotate().await?;
            let until = manager
                .list()
                .await?
                .into_iter()
                .find(|k| k.kid == before)
                .and_then(|k| k.retire_after);
            println!("new signing key {kid} ({})", policy.algorithm);
            if let Some(until) = until {
                println!("the previous key {before} keeps verifying its tokens until {until}");
            }
            println!(
                "a running server signs with the new key within {}",
                humantime::format_duration(settings.jwt.reload_interval)
            );
        }
    }
    Ok(())
}

/// The keys as `keys list` shows them, read without changing anything; the active one is
/// chosen as a server chooses it.
fn infos(stored: Vec<StoredKey>, now: Timestamp) -> Vec<KeyInfo> {
    let active = newest_live(&stored).map(|k| k.kid.clone());
    let mut keys: Vec<KeyInfo> = stored
        .into_iter()
        .map(|k| KeyInfo {
            status: if k.retired_at.is_some() || k.retire_after.is_some_and(|t| t <= now) {
                KeyStatus::Retired
            } else if Some(&k.kid) == active.as_ref() {
                KeyStatus::Active
            } else {
                KeyStatus::Verifying
            },
            kid: k.kid.clone(),
            algorithm: k.algorithm,
            created_at: k.created_at,
            activated_at: k.activated_at,
            retire_after: k.retire_after,
            retired_at: k.retired_at,
        })
        .collect();
    // The signing key first, then the ones still verifying, then the retired; the newest
    // first within each (a rotation may land in the same second as the key it replaces).
    let rank = |s: KeyStatus| match s {
        KeyStatus::Active => 0,
        KeyStatus::Verifying => 1,
        KeyStatus::Retired => 2,
    };
    keys.sort_by(|a, b| {
        (rank(a.status), b.activated_at, &a.kid).cmp(&(rank(b.status), a.activated_at, &b.kid))
    });
    keys
}

/// The key that signs, as `KeyManager` chooses it: of the keys not retired, one that no
/// rotation replaced (no `retire_after`), the newest, the greatest `kid` on a tie.
fn newest_live(stored: &[StoredKey]) -> Option<&StoredKey> {
    stored
        .iter()
        .filter(|k| k.retired_at.is_none())
        .max_by_key(|k| (k.retire_after.is_none(), k.activated_at, &k.kid))
}

/// The key set a server would load from `stored` at `now`, built without writing anything
/// back; `None` when there is no live key.
pub(crate) fn key_set(
    stored: &[StoredKey],
    policy: &KeyPolicy,
    now: Timestamp,
) -> Result<Option<KeySet>, Error> {
    let Some(newest) = newest_live(stored) else {
        return Ok(None);
    };
    let mut active = newest.clone();
    active.retire_after = None;
    // A key left without an end by a rotation cut short verifies for one retention period
    // from the active key's activation, as the server would repair it.
    let repair_at = newest.activated_at.saturating_add(policy.retention());
    let mut previous = Vec::new();
    for k in stored
        .iter()
        .filter(|k| k.retired_at.is_none() && k.kid != newest.kid)
    {
        let mut k = k.clone();
        k.retire_after = k.retire_after.or(Some(repair_at));
        previous.push(Key::from_stored(&k)?);
    }
    let set = KeySet::from_keys(Key::from_stored(&active)?, previous);
    Ok(Some(set.without_retired(now).0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cloakroom::token::Algorithm;
    use std::time::Duration;

    #[test]
    fn statuses_follow_the_newest_live_key_and_the_clock() {
        let t = Timestamp::from_unix(1_000);
        let mut old = StoredKey::generate(Algorithm::Hs256, t).unwrap();
        old.retire_after = Some(t.saturating_add(Duration::from_secs(100)));
        let mut new = StoredKey::generate(Algorithm::Hs256, t).unwrap();
        new.activated_at = t.saturating_add(Duration::from_secs(10));
        let stored = vec![old.clone(), new.clone()];
        let statuses = |now| {
            infos(stored.clone(), now)
                .into_iter()
                .map(|k| (k.kid, k.status))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            statuses(t),
            vec![
                (new.kid.clone(), KeyStatus::Active),
                (old.kid, KeyStatus::Verifying)
            ]
        );
        let later = t.saturating_add(Duration::from_secs(100));
        assert_eq!(statuses(later)[1].1, KeyStatus::Retired);
        let policy = KeyPolicy::default();
        assert_eq!(key_set(&stored, &policy, t).unwrap().unwrap().len(), 2);
        let set = key_set(&stored, &policy, later).unwrap().unwrap();
        assert_eq!((set.len(), set.active().kid()), (1, &new.kid));
        assert!(key_set(&[], &policy, t).unwrap().is_none());
    }
}
