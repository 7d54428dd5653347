//! Passwords: a secret newtype, the rules for length, and argon2id hashing on a bounded pool of
//! blocking threads.
//!
//! Each hash needs `m_cost` KiB of working memory (19 MiB with OWASP's parameters). Allocated
//! per hash, those blocks stay with the allocator once freed (glibc raises its mmap threshold
//! after the first free and then serves them from per-thread arenas, one per blocking thread),
//! so a sign-in flood left the server at several times `max_concurrent × m_cost`. The hasher
//! keeps the buffers instead and lends one to each hash: never more than `max_concurrent` of
//! them, since no more hashes run at once (docs/PERFORMANCE.md, "Memory under sign-in load").

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use argon2::{Algorithm, Argon2, Block, Params, Version};
use password_hash::rand_core::OsRng;
use password_hash::{Output, Salt, SaltString};
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
    /// Working memory kept between hashes, `m_cost` blocks each; at most one per permit.
    blocks: Mutex<Vec<Vec<Block>>>,
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
                blocks: Mutex::new(Vec::new()),
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
            let salt = Salt::from(&salt);
            let output = inner
                .compute(
                    &inner.argon2,
                    password.expose_secret().as_bytes(),
                    salt,
                    None,
                )
                .map_err(PasswordError::Hash)?;
            let params = password_hash::ParamsString::try_from(inner.argon2.params())
                .map_err(PasswordError::Hash)?;
            let hash = password_hash::PasswordHash {
                algorithm: argon2::ARGON2ID_IDENT,
                version: Some(Version::V0x13.into()),
                params,
                salt: Some(salt),
                hash: Some(output),
            };
            Ok(PasswordHash(hash.to_string()))
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
                match inner.verify_parsed(password.expose_secret().as_bytes(), &parsed) {
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
    /// What `argon2`'s `PasswordVerifier` does, with working memory from the pool: the hash's
    /// own algorithm, version and parameters, compared in constant time (`Output`'s `==`).
    fn verify_parsed(
        &self,
        password: &[u8],
        parsed: &password_hash::PasswordHash<'_>,
    ) -> Result<(), password_hash::Error> {
        let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
            return Err(password_hash::Error::Password);
        };
        let argon2 = Argon2::new(
            Algorithm::try_from(parsed.algorithm)?,
            parsed
                .version
                .map(Version::try_from)
                .transpose()?
                .unwrap_or_default(),
            Params::try_from(parsed)?,
        );
        let computed = self.compute(&argon2, password, salt, Some(expected.len()))?;
        if computed == expected {
            Ok(())
        } else {
            Err(password_hash::Error::Password)
        }
    }

    /// The argon2 output of `password` with `salt`, `len` bytes long (default: the
    /// parameters'), computed in a buffer from the pool.
    fn compute(
        &self,
        argon2: &Argon2<'_>,
        password: &[u8],
        salt: Salt<'_>,
        len: Option<usize>,
    ) -> Result<Output, password_hash::Error> {
        let mut salt_bytes = [0u8; Salt::MAX_LENGTH];
        let salt = salt.decode_b64(&mut salt_bytes)?;
        let len = len
            .or(argon2.params().output_len())
            .unwrap_or(Params::DEFAULT_OUTPUT_LEN);
        let needed = argon2.params().block_count();
        let own = Params::new(
            self.params.m_cost,
            self.params.t_cost,
            self.params.p_cost,
            None,
        )
        .map_or(0, |p| p.block_count());
        // A hash made with more memory than this hasher's (an old one, about to be rehashed)
        // gets a buffer of its own, freed afterwards; the pool keeps own-sized ones only.
        let pooled = needed <= own;
        let mut blocks = if pooled {
            self.blocks
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop()
                .unwrap_or_else(|| vec![Block::default(); own])
        } else {
            vec![Block::default(); needed]
        };
        let output = Output::init_with(len, |out| {
            Ok(argon2.hash_password_into_with_memory(password, salt, out, &mut blocks[..])?)
        });
        if pooled {
            self.blocks
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(blocks);
        }
        output
    }

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

    /// Hashes made here and by `argon2`'s own `PasswordHasher` are interchangeable: the same
    /// PHC strings, each verifying the other's.
    #[tokio::test]
    async fn hashes_match_the_argon2_crates_own() {
        use password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let hasher = fast();
        let p = HashParams::INSECURE_FAST_FOR_TESTS;
        let stock = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(p.m_cost, p.t_cost, p.p_cost, None).unwrap(),
        );
        let ours = hasher.hash(&Password::new("correct horse")).await.unwrap();
        let parsed = password_hash::PasswordHash::new(ours.as_phc()).unwrap();
        stock.verify_password(b"correct horse", &parsed).unwrap();
        assert!(stock.verify_password(b"wrong horse", &parsed).is_err());
        let salt = SaltString::generate(&mut OsRng);
        let theirs = PasswordHash(stock.hash_password(b"battery", &salt).unwrap().to_string());
        let ok = hasher
            .verify(&Password::new("battery"), Some(&theirs))
            .await;
        assert_eq!(
            ok.unwrap(),
            Verification::Match {
                needs_rehash: false
            }
        );
        let bad = hasher.verify(&Password::new("batter"), Some(&theirs)).await;
        assert_eq!(bad.unwrap(), Verification::Mismatch);
    }

    /// One buffer per hash at once, kept and lent again; a hash needing more memory than this
    /// hasher's parameters (made with other parameters) gets a buffer of its own, not kept.
    #[tokio::test]
    async fn working_memory_is_reused_and_bounded_by_the_concurrency() {
        let hasher = PasswordHasher::new(HashParams::INSECURE_FAST_FOR_TESTS, 2).unwrap();
        let pool = || hasher.inner.blocks.lock().unwrap().len();
        let tasks: Vec<_> = (0..16)
            .map(|n| {
                let hasher = hasher.clone();
                tokio::spawn(async move { hasher.hash(&Password::new(format!("pw{n}"))).await })
            })
            .collect();
        let mut hashes = Vec::new();
        for task in tasks {
            hashes.push(task.await.unwrap().unwrap());
        }
        assert!((1..=2).contains(&pool()), "{} buffers kept", pool());
        for _ in 0..5 {
            hasher.hash(&Password::new("again")).await.unwrap();
        }
        assert!((1..=2).contains(&pool()));
        let bigger = PasswordHasher::new(
            HashParams {
                m_cost: 64,
                ..HashParams::INSECURE_FAST_FOR_TESTS
            },
            1,
        )
        .unwrap();
        let big = bigger.hash(&Password::new("big")).await.unwrap();
        let before = pool();
        let v = hasher
            .verify(&Password::new("big"), Some(&big))
            .await
            .unwrap();
        assert_eq!(v, Verification::Match { needs_rehash: true });
        assert_eq!(pool(), before, "the larger buffer is not kept");
        let own_sized = hasher
            .inner
            .blocks
            .lock()
            .unwrap()
            .iter()
            .all(|b| b.len() == 8);
        assert!(own_sized, "only own-sized buffers");
        for (n, hash) in hashes.iter().enumerate() {
            let v = hasher
                .verify(&Password::new(format!("pw{n}")), Some(hash))
                .await;
            assert_eq!(
                v.unwrap(),
                Verification::Match {
                    needs_rehash: false
                }
            );
        }
    }

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
