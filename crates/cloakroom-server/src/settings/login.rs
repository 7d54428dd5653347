//! The `[login]` table (failed sign-ins and lockouts) and the `[password]` table (what new
//! passwords must be).

use std::time::Duration;

use cloakroom::throttle::{PolicyError, ThrottlePolicy};
use cloakroom::user::PasswordPolicy;
use serde::{Deserialize, Serialize};

use super::Settings;
use super::checks::invalid;
use crate::error::Error;

/// Every password of up to this many characters must be accepted (NIST SP 800-63B), so
/// neither bound may get in its way.
const MUST_ALLOW_CHARS: usize = 64;
/// The most bytes `password.max_bytes` may allow: well inside the 16 KiB body limit.
const MAX_PASSWORD_BYTES: usize = 4096;

/// The `[login]` table: failed sign-ins are counted per account and client (which locks the
/// guesser out), per client across accounts (which locks a sprayer out) and per account
/// across clients (which only slows the account down); see docs/SECURITY.md.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoginSettings {
    /// Failures allowed in `window` per account and client address (IPv6: its /64) before
    /// that pair is locked out. Default 5.
    pub max_failures: u32,
    /// How long failures are counted together. Default 15m.
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    /// The first lockout; each further failure doubles it. Default 1m.
    #[serde(with = "humantime_serde")]
    pub lockout: Duration,
    /// The longest lockout. Default 1h.
    #[serde(with = "humantime_serde")]
    pub max_lockout: Duration,
    /// Failures allowed in `window` per client address across all accounts before the
    /// address is locked out (same lockouts). Default 20; raised to `max_failures` if lower.
    pub client_max_failures: u32,
    /// Failures per account in `window`, from all clients together, past which the account
    /// is slowed (never locked). Default 100; raised to `max_failures` if lower.
    pub account_max_failures: u32,
    /// Past that ceiling, the wait before the account's next attempt; each further failure
    /// doubles it. Default 1s.
    #[serde(with = "humantime_serde")]
    pub account_delay: Duration,
    /// The longest such wait. Default 30s.
    #[serde(with = "humantime_serde")]
    pub account_max_delay: Duration,
    /// The most accounts and addresses the in-memory throttle keeps track of. Default 100000.
    pub max_tracked: usize,
}

/// The `[password]` table: length rules only, no composition rules (NIST SP 800-63B).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordSettings {
    /// The fewest characters a new password has. Default 8; 8 to 64.
    pub min_length: usize,
    /// The most bytes a password has, checked before hashing (so a huge one costs nothing).
    /// Default 1024; 256 (64 four-byte characters) to 4096.
    pub max_bytes: usize,
}

impl Default for LoginSettings {
    fn default() -> Self {
        let p = ThrottlePolicy::default();
        Self {
            max_failures: p.max_failures,
            window: p.window,
            lockout: p.lockout,
            max_lockout: p.max_lockout,
            client_max_failures: p.client_max_failures,
            account_max_failures: p.account_max_failures,
            account_delay: p.account_delay,
            account_max_delay: p.account_max_delay,
            max_tracked: 100_000,
        }
    }
}

impl Default for PasswordSettings {
    fn default() -> Self {
        let p = PasswordPolicy::default();
        Self {
            min_length: p.min_chars,
            max_bytes: p.max_bytes,
        }
    }
}

impl Settings {
    /// The sign-in throttle's policy.
    pub fn throttle_policy(&self) -> Result<ThrottlePolicy, Error> {
        let l = &self.login;
        let policy = ThrottlePolicy {
            max_failures: l.max_failures,
            window: l.window,
            lockout: l.lockout,
            max_lockout: l.max_lockout,
            client_max_failures: l.client_max_failures,
            account_max_failures: l.account_max_failures,
            account_delay: l.account_delay,
            account_max_delay: l.account_max_delay,
        };
        policy.validate().map_err(|e| {
            let field = match &e {
                PolicyError::NoFailuresAllowed(f)
                | PolicyError::TooShort(f)
                | PolicyError::CapBelowFirst(f) => *f,
                _ => "",
            };
            invalid(login_key(field), &e.to_string())
        })?;
        Ok(policy)
    }

    /// The rules new passwords follow, and the bound checked at sign-in.
    pub fn password_policy(&self) -> Result<PasswordPolicy, Error> {
        let p = &self.password;
        if !(8..=MUST_ALLOW_CHARS).contains(&p.min_length) {
            return Err(invalid("password.min_length", "must be between 8 and 64"));
        }
        if !(MUST_ALLOW_CHARS * 4..=MAX_PASSWORD_BYTES).contains(&p.max_bytes) {
            return Err(invalid(
                "password.max_bytes",
                "must be between 256 and 4096",
            ));
        }
        Ok(PasswordPolicy {
            min_chars: p.min_length,
            max_bytes: p.max_bytes,
        })
    }

    /// Checks the `[login]` and `[password]` tables.
    pub(super) fn check_login(&self) -> Result<(), Error> {
        self.throttle_policy()?;
        if self.login.max_tracked < 1000 {
            return Err(invalid("login.max_tracked", "must be at least 1000"));
        }
        self.password_policy().map(drop)
    }
}

/// The setting a [`ThrottlePolicy`] field comes from.
fn login_key(field: &str) -> &'static str {
    match field {
        "window" => "login.window",
        "lockout" => "login.lockout",
        "max_lockout" => "login.max_lockout",
        "client_max_failures" => "login.client_max_failures",
        "account_max_failures" => "login.account_max_failures",
        "account_delay" => "login.account_delay",
        "account_max_delay" => "login.account_max_delay",
        _ => "login.max_failures",
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::tests::from_toml;

    #[test]
    fn the_throttle_settings_default_to_the_documented_numbers_and_are_checked() {
        let l = from_toml("").unwrap().login;
        assert_eq!((l.max_failures, l.client_max_failures), (5, 20));
        assert_eq!(l.account_max_failures, 100);
        assert_eq!(l.account_delay, Duration::from_secs(1));
        assert_eq!(l.account_max_delay, Duration::from_secs(30));
        let s = from_toml("[login]\naccount_max_failures = 1000\naccount_delay = \"2s\"").unwrap();
        let p = s.throttle_policy().unwrap();
        assert_eq!(
            (p.account_max_failures, p.account_delay),
            (1000, Duration::from_secs(2))
        );
        for (text, key) in [
            ("account_max_failures = 0", "login.account_max_failures"),
            ("client_max_failures = 0", "login.client_max_failures"),
            ("account_delay = \"100ms\"", "login.account_delay"),
            (
                "account_delay = \"10s\"\naccount_max_delay = \"5s\"",
                "login.account_max_delay",
            ),
        ] {
            let e = from_toml(&format!("[login]\n{text}")).unwrap_err().report();
            assert!(e.contains(key), "{text}: {e}");
        }
    }
}
