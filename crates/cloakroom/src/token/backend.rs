//! The crypto backend: jsonwebtoken's aws-lc-rs provider (or, with the `jwt-rust-crypto`
//! feature, its RustCrypto one, for comparison). The provider is named explicitly instead of
//! installed process-wide, so nothing else in the process can change what verifies our tokens.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};

use jsonwebtoken::crypto::{CryptoProvider, JwtVerifier};
use jsonwebtoken::errors::Error;
use jsonwebtoken::{DecodingKey, EncodingKey};

use super::Algorithm;

fn provider() -> &'static CryptoProvider {
    #[cfg(feature = "jwt-rust-crypto")]
    {
        &jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER
    }
    #[cfg(not(feature = "jwt-rust-crypto"))]
    {
        &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER
    }
}

/// The name of the crypto backend this build signs and verifies with.
pub fn backend_name() -> &'static str {
    if cfg!(feature = "jwt-rust-crypto") {
        "RustCrypto"
    } else {
        "aws-lc-rs"
    }
}

/// Signs `message` with `key` under `algorithm`.
pub(crate) fn sign(
    algorithm: Algorithm,
    key: &EncodingKey,
    message: &[u8],
) -> Result<Vec<u8>, Error> {
    let signer = (provider().signer_factory)(&algorithm.to_jose(), key)?;
    Ok(signer.try_sign(message)?)
}

/// How many verifiers each thread keeps: the keys of one server (the active one and those
/// still verifying), with room to spare.
const CACHED_VERIFIERS: usize = 8;

thread_local! {
    /// jsonwebtoken builds a verifier per call (for HMAC that is the key schedule, ~0.5 µs, a
    /// quarter of a whole HS256 verification; for RustCrypto's Ed25519 the point decompression,
    /// ~6 µs). Its verifiers are neither `Send` nor `Sync`, so they are kept per thread, by the
    /// process-unique ID of the key they were built from.
    static VERIFIERS: RefCell<Vec<(u64, Box<dyn JwtVerifier>)>> = const { RefCell::new(Vec::new()) };
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
    let build = || (provider().verifier_factory)(&algorithm.to_jose(), key);
    VERIFIERS.with(|cell| {
        let Ok(mut cache) = cell.try_borrow_mut() else {
            // Only reachable if verifying re-entered itself; stay correct, uncached.
            return Ok(build()?.verify(message, signature).is_ok());
        };
        if let Some((_, verifier)) = cache.iter().find(|(id, _)| *id == key_id) {
            return Ok(verifier.verify(message, signature).is_ok());
        }
        let verifier = build()?;
        let valid = verifier.verify(message, signature).is_ok();
        if cache.len() >= CACHED_VERIFIERS {
            cache.remove(0);
        }
        cache.push((key_id, verifier));
        Ok(valid)
    })
}
