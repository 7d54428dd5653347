//! Signing keys: generation, the form a store keeps, key sets and rotation, JWKS, and the
//! [`KeyStore`] trait.

mod jwks;
mod key;
mod manager;
mod material;
mod sealed;
mod set;
mod store;

pub use jwks::{Jwk, Jwks};
pub use key::Key;
pub use manager::{KeyInfo, KeyManager, KeyPolicy, KeyStatus, Maintenance};
pub use material::{KeyMaterial, Kid, StoredKey};
pub use sealed::{
    CheckError, KEK_LEN, KeyEncryptionKey, SealError, SealReport, SealedKeyStore, is_sealed,
};
pub use set::{KeyRing, KeySet};
pub use store::{KeyStore, MemoryKeyStore};
