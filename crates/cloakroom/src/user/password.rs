//! Passwords: a secret newtype, the rules for length, and argon2id hashing on a bounded pool of
//! blocking threads.

use std::fmt;
use std::sync::Arc;

use argon2::{Algorithm, Argon2, Params, Version};
use password_hash::rand_core::OsRng;
use password_hash::{PasswordHasher as _, PasswordVerifier as _, SaltString};
use tokio::sync::{OnceCell, Semaphore};
use zeroize::Zeroizing;

/// A password as a client sent it. `Debug` prints `[redacted]`; the text is wiped on drop.
#[derive(Clone)]
pub struct Password(Zeroizing<String>);

impl Password {
    /// Wraps a password.
    pub fn new(text: impl Into<String>) -> Self {
        Self(Zeroizing::new(text.into()))
    }

    /// The password's text. Named so that every place that reads it is easy to find.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([redacted])")
    }
}

impl From<String> for Password {
    fn from(s: String) -> Self {
        Self::new(s)
    }
}

/// An argon2id hash in PHC string format (`$argon2id$v=19$m=…`). `Debug` hides it: a hash is
/// not the password, but it is what an offline attack starts from.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Wraps a PHC string read back from a store.
    pub fn from_phc(phc: impl Into<String>) -> Self {
        Self(phc.into())
    }

    /// The PHC string, for storing.
    pub fn as_phc(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash([redacted])")
    }
}

/// A password that breaks the [`PasswordPolicy`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordRejected {
    /// Fewer characters than the policy's minimum.
    #[error("the password must be at least {min} characters long")]
    TooShort {
        /// The minimum, in characters.
        min: usize,
    },
    /// More bytes than the policy's maximum (checked before hashing, so that a megabyte of
    /// password costs nothing).
    #[error("the password must be at most {max} bytes long")]
    TooLong {
        /// The maximum, in bytes.
        max: usize,
    },
}

/// Rules for new passwords: length only, no composition rules (NIST SP 800-63B).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Minimum length in characters. Default 8.
    pub min_chars: usize,
    /// Maximum length in bytes. Default 1024 (well above the 64 characters everyone must be
    /// allowed, well below what makes hashing a denial of service).
    pub max_bytes: usize,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_chars: 8,
            max_bytes: 1024,
        }
    }
}

impl PasswordPolicy {
    /// Checks a new password against the policy.
    pub fn check(&self, password: &Password) -> Result<(), PasswordRejected> {
        let text = password.expose_secret();
        if text.len() > self.max_bytes {
            return Err(PasswordRejected::TooLong {
                max: self.max_bytes,
            });
        }
        if text.chars().count() < self.min_chars {
            return Err(PasswordRejected::TooShort {
                min: self.min_chars,
            });
        }
        Ok(())
    }
}

/// What hashing or verifying a password can fail with. A wrong password is not an error: it is
/// [`Verification::Mismatch`].
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// The argon2 parameters are out of range.
    #[error("invalid argon2 parameters")]
    Params(#[source] argon2::Error),
    /// Hashing failed.
    #[error("password hashing failed")]
    Hash(#[source] password_hash::Error),
    /// A stored hash is not a PHC string that argon2 understands.
    #[error("a stored password hash is malformed")]
    MalformedHash(#[source] password_hash::Error),
    /// The hashing thread panicked or was cancelled.
    #[error("the password hashing task failed")]
    Task(#[source] tokio::task::JoinError),
    /// The hasher's pool has been shut down.
    #[error("the password hasher is shut down")]
    Closed,
}

/// The outcome of checking a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// The password is right.
    Match {
        /// The hash was made with other parameters than the current ones: store a new one.
        needs_rehash: bool,
    },
    /// The password is wrong, or there was no user to check it against.
    Mismatch,
}

/// argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashParams {
    /// Memory in KiB.
    pub m_cost: u32,
    /// Iterations.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

impl HashParams {
    /// OWASP's recommendation for argon2id: 19 MiB, 2 iterations, 1 lane.
    pub const OWASP: Self = Self {
        m_cost: 19_456,
        t_cost: 2,
        p_cost: 1,
    };

    /// The cheapest parameters argon2 accepts. For tests only: never protect real passwords
    /// with them.
    pub const INSECURE_FAST_FOR_TESTS: Self = Self {
        m_cost: 8,
        t_cost: 1,
        p_cost: 1,
    };
}

impl Default for HashParams {
    fn default() -> Self {
        Self::OWASP
    }
}

/// Hashes and verifies passwords with argon2id, on tokio's blocking threads and never more than
/// `max_concurrent` at once, so a flood of logins cannot starve requests that are already
/// signed in. Clones share the pool.
///
/// ```
/// use cloakroom::user::{HashParams, Password, PasswordHasher, Verification};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), cloakroom::user::PasswordError> {
/// let hasher = PasswordHasher::new(HashParams::OWASP, 2)?;
/// let hash = hasher.hash(&Password::new("correct horse")).await?;
/// assert!(hash.as_phc().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
/// let ok = hasher.verify(&Password::new("correct horse"), Some(&hash)).await?;
/// assert_eq!(ok, Verification::Match { needs_rehash: false });
/// // No user: checked against a dummy hash, so it costs the same and never matches.
/// assert_eq!(hasher.verify(&Password::new("x"), None).await?, Verification::Mismatch);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct PasswordHasher {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    params: HashParams,
    argon2: Argon2<'static>,
    permits: Semaphore,
    dummy: OnceCell<PasswordHash>,
}

impl PasswordHasher {
    /// A hasher with `params`, running at most `max_concurrent` hashes at once (at least 1).
    pub fn new(params: HashParams, max_concurrent: usize) -> Result<Self, PasswordError> {
        let p = Params::new(params.m_cost, params.t_cost, params.p_cost, None)
            .map_err(PasswordError::Params)?;
        Ok(Self {
            inner: Arc::new(Inner {
                params,
                argon2: Argon2::new(Algorithm::Argon2id, Version::V0x13, p),
                permits: Semaphore::new(max_concurrent.max(1)),
                dummy: OnceCell::new(),
            }),
        })
    }

    /// A hasher with OWASP's parameters, as many at once as the machine has cores.
    pub fn owasp() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        // OWASP's parameters are in range, so this cannot fail.
        Self::new(HashParams::OWASP, cores).unwrap_or_else(|_| unreachable!())
    }

    /// The parameters new hashes are made with.
    pub fn params(&self) -> HashParams {
        self.inner.params
    }

    /// Hashes a password with a fresh random salt.
    pub async fn hash(&self, password: &Password) -> Result<PasswordHash, PasswordError> {
        let password = password.clone();
        self.run(move |inner| {
            let salt = SaltString::generate(&mut OsRng);
            inner
                .argon2
                .hash_password(password.expose_secret().as_bytes(), &salt)
                .map(|h| PasswordHash(h.to_string()))
                .map_err(PasswordError::Hash)
        })
        .await
    }

    /// Checks a password against a stored hash. With no hash (no such user), checks it against
    /// a dummy hash instead, so that an unknown user costs the same as a wrong password.
    pub async fn verify(
        &self,
        password: &Password,
        hash: Option<&PasswordHash>,
    ) -> Result<Verification, PasswordError> {
        let (hash, real) = match hash {
            Some(h) => (h.clone(), true),
            None => (self.dummy().await?.clone(), false),
        };
        let password = password.clone();
        let verified = self
            .run(move |inner| {
                let parsed = password_hash::PasswordHash::new(hash.as_phc())
                    .map_err(PasswordError::MalformedHash)?;
                match inner
                    .argon2
                    .verify_password(password.expose_secret().as_bytes(), &parsed)
                {
                    Ok(()) => Ok(Some(inner.is_outdated(&parsed))),
                    Err(password_hash::Error::Password) => Ok(None),
                    Err(e) => Err(PasswordError::MalformedHash(e)),
                }
            })
            .await?;
        Ok(match verified {
            Some(needs_rehash) if real => Verification::Match { needs_rehash },
            _ => Verification::Mismatch,
        })
    }

    async fn dummy(&self) -> Result<&PasswordHash, PasswordError> {
        self.inner
            .dummy
            .get_or_try_init(|| async {
                let random = crate::random::bytes::<32>()
                    .map(|b| b.iter().map(|x| format!("{x:02x}")).collect::<String>())
                    .unwrap_or_else(|_| "cloakroom-dummy-password".to_owned());
                self.hash(&Password::new(random)).await
            })
            .await
    }

    async fn run<T, F>(&self, f: F) -> Result<T, PasswordError>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T, PasswordError> + Send + 'static,
    {
        let _permit = self
            .inner
            .permits
            .acquire()
            .await
            .map_err(|_| PasswordError::Closed)?;
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || f(&inner))
            .await
            .map_err(PasswordError::Task)?
    }
}

impl Inner {
    fn is_outdated(&self, parsed: &password_hash::PasswordHash<'_>) -> bool {
        if parsed.algorithm != argon2::ARGON2ID_IDENT {
            return true;
        }
        match Params::try_from(parsed) {
            Ok(p) => {
                p.m_cost() != self.params.m_cost
                    || p.t_cost() != self.params.t_cost
                    || p.p_cost() != self.params.p_cost
            }
            Err(_) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast() -> PasswordHasher {
        PasswordHasher::new(HashParams::INSECURE_FAST_FOR_TESTS, 2).unwrap()
    }

    #[tokio::test]
    async fn wrong_password_is_a_mismatch() {
        let h = fast();
        let hash = h.hash(&Password::new("right password")).await.unwrap();
        assert_eq!(
            h.verify(&Password::new("wrong password"), Some(&hash))
                .await
                .unwrap(),
            Verification::Mismatch
        );
    }

    #[tokio::test]
    async fn changed_parameters_ask_for_a_rehash() {
        let old = fast();
        let hash = old.hash(&Password::new("pw123456")).await.unwrap();
        let new = PasswordHasher::new(
            HashParams {
                m_cost: 16,
                ..HashParams::INSECURE_FAST_FOR_TESTS
            },
            1,
        )
        .unwrap();
        assert_eq!(
            new.verify(&Password::new("pw123456"), Some(&hash))
                .await
                .unwrap(),
            Verification::Match { needs_rehash: true }
        );
    }

    #[tokio::test]
    async fn malformed_hash_is_an_error_not_a_match() {
        let h = fast();
        let bad = PasswordHash::from_phc("not a hash");
        assert!(matches!(
            h.verify(&Password::new("x"), Some(&bad)).await,
            Err(PasswordError::MalformedHash(_))
        ));
    }

    #[test]
    fn policy_checks_length_in_chars_and_bytes() {
        let p = PasswordPolicy::default();
        assert_eq!(
            p.check(&Password::new("short")),
            Err(PasswordRejected::TooShort { min: 8 })
        );
        assert!(p.check(&Password::new("x".repeat(64))).is_ok());
        assert_eq!(
            p.check(&Password::new("x".repeat(1025))),
            Err(PasswordRejected::TooLong { max: 1024 })
        );
        // Eight characters of two bytes each: long enough.
        assert!(p.check(&Password::new("é".repeat(8))).is_ok());
    }

    #[test]
    fn secrets_are_redacted() {
        assert_eq!(
            format!("{:?}", Password::new("hunter2")),
            "Password([redacted])"
        );
        assert!(!format!("{:?}", PasswordHash::from_phc("$argon2id$x")).contains("argon2"));
    }
}
