//! The crypto backend: jsonwebtoken's aws-lc-rs provider (or, with the `jwt-rust-crypto`
//! feature, its RustCrypto one, for comparison). The provider is named explicitly instead of
//! installed process-wide, so nothing else in the process can change what verifies our tokens.

use jsonwebtoken::crypto::CryptoProvider;
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

/// Whether `signature` is `key`'s signature of `message` under `algorithm`. An error means the
/// key itself could not be used.
pub(crate) fn verify(
    algorithm: Algorithm,
    key: &DecodingKey,
    message: &[u8],
    signature: &Vec<u8>,
) -> Result<bool, Error> {
    let verifier = (provider().verifier_factory)(&algorithm.to_jose(), key)?;
    Ok(verifier.verify(message, signature).is_ok())
}
