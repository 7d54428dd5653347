//! The crypto backend: jsonwebtoken's aws-lc-rs provider, and with the `jwt-rust-crypto`
//! feature its RustCrypto one too, selectable at run time for comparison. The provider is named
//! explicitly instead of installed process-wide in jsonwebtoken, so nothing else in the process
//! can change what verifies our tokens; and enabling every feature (as CI does) still verifies
//! with aws-lc-rs.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use jsonwebtoken::crypto::{CryptoProvider, JwtVerifier};
use jsonwebtoken::errors::Error;
use jsonwebtoken::{DecodingKey, EncodingKey};

use super::Algorithm;

/// A crypto backend of jsonwebtoken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Backend {
    /// aws-lc-rs: the default, and the faster overall (see docs/PERFORMANCE.md).
    AwsLcRs,
    /// RustCrypto (feature `jwt-rust-crypto`): only for comparing the two.
    #[cfg(feature = "jwt-rust-crypto")]
    RustCrypto,
}

impl Backend {
    /// The backend's name, for reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::AwsLcRs => "aws-lc-rs",
            #[cfg(feature = "jwt-rust-crypto")]
            Self::RustCrypto => "RustCrypto",
        }
    }
}

/// Which backend signs and verifies: 0 for aws-lc-rs, 1 for RustCrypto.
static SELECTED: AtomicU8 = AtomicU8::new(0);

/// The backend this process signs and verifies with.
pub fn backend() -> Backend {
    match SELECTED.load(Ordering::Relaxed) {
        #[cfg(feature = "jwt-rust-crypto")]
        1 => Backend::RustCrypto,
        _ => Backend::AwsLcRs,
    }
}

/// Makes `backend` sign and verify for the whole process, from now on. For benchmarks: both
/// backends accept and refuse exactly the same tokens, but a server has no reason to switch.
#[cfg(feature = "jwt-rust-crypto")]
pub fn set_backend(backend: Backend) {
    let id = match backend {
        Backend::AwsLcRs => 0,
        Backend::RustCrypto => 1,
    };
    SELECTED.store(id, Ordering::Relaxed);
}

fn provider(backend: Backend) -> &'static CryptoProvider {
    match backend {
        Backend::AwsLcRs => &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER,
        #[cfg(feature = "jwt-rust-crypto")]
        Backend::RustCrypto => &jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER,
    }
}

/// Signs `message` with `key` under `algorithm`.
pub(crate) fn sign(
    algorithm: Algorithm,
    key: &EncodingKey,
    message: &[u8],
) -> Result<Vec<u8>, Error> {
    let signer = (provider(backend()).signer_factory)(&algorithm.to_jose(), key)?;
    Ok(signer.try_sign(message)?)
}

/// How many verifiers each thread keeps: the keys of one server (the active one and those
/// still verifying), with room to spare.
const CACHED_VERIFIERS: usize = 8;

/// A verifier, by the key and the backend it was built from.
type Cached = ((u64, Backend), Box<dyn JwtVerifier>);

thread_local! {
    /// jsonwebtoken builds a verifier per call (for HMAC that is the key schedule, ~0.5 µs, a
    /// quarter of a whole HS256 verification; for RustCrypto's Ed25519 the point decompression,
    /// ~6 µs). Its verifiers are neither `Send` nor `Sync`, so they are kept per thread, by the
    /// process-unique ID of the key they were built from (and the backend that built them).
    static VERIFIERS: RefCell<Vec<Cached>> = const { RefCell::new(Vec::new()) };
}

/// A process-unique ID for a key loaded into memory, naming its cached verifiers.
pub(crate) fn next_key_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Whether `signature` is `key`'s signature of `message` under `algorithm`. `key_id` names
/// the key (see [`next_key_id`]). An error means the key itself could not be used.
pub(crate) fn verify(
    key_id: u64,
    algorithm: Algorithm,
    key: &DecodingKey,
    message: &[u8],
    signature: &Vec<u8>,
) -> Result<bool, Error> {
    let backend = backend();
    let id = (key_id, backend);
    let build = || (provider(backend).verifier_factory)(&algorithm.to_jose(), key);
    VERIFIERS.with(|cell| {
        let Ok(mut cache) = cell.try_borrow_mut() else {
            // Only reachable if verifying re-entered itself; stay correct, uncached.
            return Ok(build()?.verify(message, signature).is_ok());
        };
        if let Some((_, verifier)) = cache.iter().find(|(cached, _)| *cached == id) {
            return Ok(verifier.verify(message, signature).is_ok());
        }
        let verifier = build()?;
        let valid = verifier.verify(message, signature).is_ok();
        if cache.len() >= CACHED_VERIFIERS {
            cache.remove(0);
        }
        cache.push((id, verifier));
        Ok(valid)
    })
}

#[cfg(all(test, feature = "jwt-rust-crypto"))]
mod tests {
    use super::*;
    use crate::clock::Timestamp;
    use crate::token::{Key, StoredKey};

    #[test]
    fn both_backends_agree_and_keep_separate_verifiers() {
        let msg = b"header.payload";
        for alg in Algorithm::ALL {
            let key = Key::from_stored(&StoredKey::generate(alg, Timestamp::from_unix(0)).unwrap())
                .unwrap();
            for signer in [Backend::AwsLcRs, Backend::RustCrypto] {
                set_backend(signer);
                let sig = sign(alg, key.encoding().unwrap(), msg).unwrap();
                for verifier in [Backend::AwsLcRs, Backend::RustCrypto] {
                    set_backend(verifier);
                    assert!(
                        key.verify_signature(msg, &sig).is_ok(),
                        "{alg} {signer:?} {verifier:?}"
                    );
                    assert!(key.verify_signature(b"other", &sig).is_err());
                }
            }
        }
        set_backend(Backend::AwsLcRs);
        assert_eq!(backend(), Backend::AwsLcRs);
    }
}
