//! Keys encrypted at rest: a [`KeyStore`] wrapper that seals each key's material with a
//! key-encryption key (AES-256-GCM) supplied from outside the database, so that a copy of the
//! database alone does not yield a signing key.
//!
//! A sealed value is `MAGIC || nonce (12 bytes) || ciphertext || tag (16 bytes)`, with the key's
//! `kid` and algorithm as associated data: a sealed value moved to another row does not open.
//! Material without the magic prefix is clear (written before a key-encryption key was set, or
//! by a process without one) and is sealed the next time the store is loaded.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use zeroize::Zeroizing;

use super::{KeyMaterial, KeyStore, StoredKey};
use crate::clock::Timestamp;
use crate::store::StoreError;

/// Marks sealed material. PKCS#8 DER always starts with `0x30`, so it never starts with this;
/// a random HMAC secret does with probability 2^-64.
const MAGIC: &[u8; 8] = b"\0crseal1";
/// The AES-GCM tag.
const TAG_LEN: usize = 16;
/// The key-encryption key's length: AES-256.
pub const KEK_LEN: usize = 32;

/// Why a key could not be sealed or opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// The key-encryption key is not 32 bytes, in hex or base64.
    #[error(
        "the key-encryption key must be 32 bytes, written as 64 hexadecimal digits or in \
         base64 (make one with `openssl rand -hex 32`)"
    )]
    BadKek,
    /// A sealed key did not open: the key-encryption key is not the one it was sealed with,
    /// or the stored value was altered.
    #[error(
        "signing key {kid:?} does not open with this key-encryption key: it was sealed with \
         another one (or the stored value was altered)"
    )]
    WrongKek {
        /// The key's ID.
        kid: String,
    },
    /// A sealed key was found, and no key-encryption key is configured.
    #[error(
        "signing key {kid:?} is encrypted, and no key-encryption key is configured: set \
         key_encryption_key_file or CLOAKROOM_KEY_ENCRYPTION_KEY"
    )]
    NoKek {
        /// The key's ID.
        kid: String,
    },
    /// Encryption failed (the random nonce could not be made).
    #[error("sealing signing key {kid:?} failed")]
    Seal {
        /// The key's ID.
        kid: String,
    },
}

/// The key-encryption key: AES-256-GCM. `Debug` never shows it.
pub struct KeyEncryptionKey {
    key: RandomizedNonceKey,
}

impl fmt::Debug for KeyEncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyEncryptionKey([redacted])")
    }
}

impl KeyEncryptionKey {
    /// A key from its 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SealError> {
        if bytes.len() != KEK_LEN {
            return Err(SealError::BadKek);
        }
        let key = RandomizedNonceKey::new(&AES_256_GCM, bytes).map_err(|_| SealError::BadKek)?;
        Ok(Self { key })
    }

    /// A key written as text: 64 hexadecimal digits, or base64 (standard or URL-safe, padded
    /// or not) of 32 bytes. Surrounding whitespace (a file's final newline) is ignored.
    pub fn from_text(text: &str) -> Result<Self, SealError> {
        use base64::Engine as _;
        use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
        let text = text.trim();
        let bytes = Zeroizing::new(if text.len() == 2 * KEK_LEN {
            decode_hex(text).ok_or(SealError::BadKek)?
        } else {
            let lenient = GeneralPurposeConfig::new()
                .with_decode_padding_mode(DecodePaddingMode::Indifferent);
            GeneralPurpose::new(&base64::alphabet::STANDARD, lenient)
                .decode(text)
                .or_else(|_| GeneralPurpose::new(&base64::alphabet::URL_SAFE, lenient).decode(text))
                .map_err(|_| SealError::BadKek)?
        });
        Self::from_bytes(&bytes)
    }

    /// `material` sealed for the key `kid` of `algorithm`.
    fn seal(&self, kid: &str, algorithm: &str, material: &[u8]) -> Result<Vec<u8>, SealError> {
        let failed = || SealError::Seal {
            kid: kid.to_owned(),
        };
        let mut body = material.to_vec();
        let nonce = self
            .key
            .seal_in_place_append_tag(Aad::from(aad(kid, algorithm)), &mut body)
            .map_err(|_| failed())?;
        let mut out = Vec::with_capacity(MAGIC.len() + NONCE_LEN + body.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(nonce.as_ref());
        out.extend_from_slice(&body);
        zeroize::Zeroize::zeroize(&mut body);
        Ok(out)
    }

    /// The clear material of a sealed value.
    fn open(&self, kid: &str, algorithm: &str, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        let wrong = || SealError::WrongKek {
            kid: kid.to_owned(),
        };
        let rest = sealed.strip_prefix(MAGIC.as_slice()).ok_or_else(wrong)?;
        if rest.len() < NONCE_LEN + TAG_LEN {
            return Err(wrong());
        }
        let (nonce, body) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| wrong())?;
        let mut body = body.to_vec();
        let clear_len = self
            .key
            .open_in_place(nonce, Aad::from(aad(kid, algorithm)), &mut body)
            .map_err(|_| wrong())?
            .len();
        body.truncate(clear_len);
        Ok(body)
    }
}

/// The associated data: binds a sealed value to its row.
fn aad(kid: &str, algorithm: &str) -> Vec<u8> {
    format!("cloakroom signing key\0{kid}\0{algorithm}").into_bytes()
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    let digit = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    text.as_bytes()
        .chunks(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(*pair.get(1)?)?))
        .collect()
}

/// Whether stored material is sealed.
pub fn is_sealed(material: &[u8]) -> bool {
    material.starts_with(MAGIC)
}

/// A [`KeyStore`] that seals material on the way in and opens it on the way out.
///
/// Without a key-encryption key it passes clear keys through and refuses sealed ones with
/// [`SealError::NoKek`]; with one, it seals the clear keys it loads (in the store), so a key
/// written before the key-encryption key was set, or by a process without it, is sealed at
/// the next load.
#[derive(Debug, Clone)]
pub struct SealedKeyStore {
    inner: Arc<dyn KeyStore>,
    kek: Option<Arc<KeyEncryptionKey>>,
}

/// What [`SealedKeyStore::check`] found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SealReport {
    /// Keys that were sealed already.
    pub sealed: usize,
    /// Clear keys it sealed now.
    pub newly_sealed: usize,
    /// Clear keys left clear (there is no key-encryption key).
    pub clear: usize,
}

impl SealedKeyStore {
    /// `inner`, its material sealed with `kek` (none: keys stay clear).
    pub fn new(inner: Arc<dyn KeyStore>, kek: Option<KeyEncryptionKey>) -> Self {
        Self {
            inner,
            kek: kek.map(Arc::new),
        }
    }

    /// Opens every key, sealing the clear ones if there is a key-encryption key: run at start
    /// so that a wrong or missing key-encryption key stops it with a clear error.
    pub async fn check(&self) -> Result<SealReport, CheckError> {
        let mut report = SealReport::default();
        for key in self.inner.load_all().await? {
            let material = key.material.expose_secret();
            match (&self.kek, is_sealed(material)) {
                (_, true) => {
                    self.open(&key)?;
                    report.sealed += 1;
                }
                (Some(_), false) => {
                    self.seal_in_store(&key).await?;
                    report.newly_sealed += 1;
                }
                (None, false) => report.clear += 1,
            }
        }
        Ok(report)
    }

    fn open(&self, key: &StoredKey) -> Result<StoredKey, SealError> {
        let material = key.material.expose_secret();
        if !is_sealed(material) {
            return Ok(key.clone());
        }
        let kid = key.kid.as_str();
        let kek = self.kek.as_ref().ok_or_else(|| SealError::NoKek {
            kid: kid.to_owned(),
        })?;
        let clear = kek.open(kid, key.algorithm.as_str(), material)?;
        Ok(StoredKey {
            material: KeyMaterial::from_bytes(clear),
            ..key.clone()
        })
    }

    fn sealed(&self, key: &StoredKey) -> Result<StoredKey, SealError> {
        match &self.kek {
            Some(kek) => {
                let kid = key.kid.as_str();
                let sealed = kek.seal(kid, key.algorithm.as_str(), key.material.expose_secret())?;
                Ok(StoredKey {
                    material: KeyMaterial::from_bytes(sealed),
                    ..key.clone()
                })
            }
            None => Ok(key.clone()),
        }
    }

    /// Replaces a clear key's material in the store by its sealed form.
    async fn seal_in_store(&self, key: &StoredKey) -> Result<(), CheckError> {
        let sealed = self.sealed(key)?;
        self.inner
            .set_material(key.kid.as_str(), &sealed.material)
            .await?;
        Ok(())
    }
}

/// Why [`SealedKeyStore::check`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// A key did not open or could not be sealed.
    #[error(transparent)]
    Seal(#[from] SealError),
    /// The store failed.
    #[error("the key store failed")]
    Store(#[from] StoreError),
}

#[async_trait]
impl KeyStore for SealedKeyStore {
    async fn load_all(&self) -> Result<Vec<StoredKey>, StoreError> {
        let stored = self.inner.load_all().await?;
        let mut out = Vec::with_capacity(stored.len());
        for key in &stored {
            if self.kek.is_some() && !is_sealed(key.material.expose_secret()) {
                self.seal_in_store(key).await.map_err(|e| match e {
                    CheckError::Store(e) => e,
                    CheckError::Seal(e) => StoreError::Corrupt(Box::new(e)),
                })?;
            }
            out.push(
                self.open(key)
                    .map_err(|e| StoreError::Corrupt(Box::new(e)))?,
            );
        }
        Ok(out)
    }

    async fn insert(&self, key: &StoredKey) -> Result<(), StoreError> {
        let sealed = self
            .sealed(key)
            .map_err(|e| StoreError::Backend(Box::new(e)))?;
        self.inner.insert(&sealed).await
    }

    async fn set_retire_after(&self, kid: &str, at: Timestamp) -> Result<bool, StoreError> {
        self.inner.set_retire_after(kid, at).await
    }

    async fn mark_retired(&self, kid: &str, at: Timestamp) -> Result<bool, StoreError> {
        self.inner.mark_retired(kid, at).await
    }

    async fn delete(&self, kid: &str) -> Result<bool, StoreError> {
        self.inner.delete(kid).await
    }

    async fn set_material(&self, kid: &str, material: &KeyMaterial) -> Result<bool, StoreError> {
        let Some(key) = self
            .inner
            .load_all()
            .await?
            .into_iter()
            .find(|k| k.kid.as_str() == kid)
        else {
            return Ok(false);
        };
        let sealed = self
            .sealed(&StoredKey {
                material: material.clone(),
                ..key
            })
            .map_err(|e| StoreError::Backend(Box::new(e)))?;
        self.inner.set_material(kid, &sealed.material).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::{Algorithm, MemoryKeyStore};

    const HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    fn kek(byte: u8) -> KeyEncryptionKey {
        KeyEncryptionKey::from_bytes(&[byte; KEK_LEN]).unwrap()
    }

    #[test]
    fn keks_are_read_as_hex_or_base64_and_nothing_else() {
        assert!(KeyEncryptionKey::from_text(HEX).is_ok());
        assert!(KeyEncryptionKey::from_text(&format!("{HEX}\n")).is_ok());
        assert!(
            KeyEncryptionKey::from_text("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").is_ok()
        );
        assert!(KeyEncryptionKey::from_text("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8").is_ok());
        for bad in [
            "",
            "short",
            &HEX[..62],
            &format!("{}zz", &HEX[..62]),
            "AAEC",
        ] {
            assert!(
                matches!(KeyEncryptionKey::from_text(bad), Err(SealError::BadKek)),
                "{bad:?}"
            );
        }
        assert!(!format!("{:?}", kek(1)).contains('1'));
    }

    #[test]
    fn sealed_material_opens_only_with_its_kek_kid_and_algorithm() {
        let secret = b"0123456789abcdef0123456789abcdef";
        let sealed = kek(1).seal("k1", "HS256", secret).unwrap();
        assert!(is_sealed(&sealed));
        assert!(!sealed.windows(secret.len()).any(|w| w == secret));
        assert_eq!(kek(1).open("k1", "HS256", &sealed).unwrap(), secret);
        assert!(matches!(
            kek(2).open("k1", "HS256", &sealed),
            Err(SealError::WrongKek { .. })
        ));
        assert!(kek(1).open("k2", "HS256", &sealed).is_err());
        assert!(kek(1).open("k1", "HS384", &sealed).is_err());
        let mut altered = sealed.clone();
        *altered.last_mut().unwrap() ^= 1;
        assert!(kek(1).open("k1", "HS256", &altered).is_err());
        assert!(kek(1).open("k1", "HS256", &sealed[..20]).is_err());
    }

    #[tokio::test]
    async fn clear_keys_are_sealed_in_the_store_and_load_clear() {
        let inner: Arc<dyn KeyStore> = Arc::new(MemoryKeyStore::new());
        let key = StoredKey::generate(Algorithm::EdDSA, Timestamp::from_unix(0)).unwrap();
        inner.insert(&key).await.unwrap();
        let clear = SealedKeyStore::new(inner.clone(), None);
        assert_eq!(clear.check().await.unwrap().clear, 1);
        assert_eq!(clear.load_all().await.unwrap(), vec![key.clone()]);

        let sealed = SealedKeyStore::new(inner.clone(), Some(kek(1)));
        let report = sealed.check().await.unwrap();
        assert_eq!((report.newly_sealed, report.sealed), (1, 0));
        let raw = inner.load_all().await.unwrap();
        assert!(is_sealed(raw[0].material.expose_secret()));
        assert_eq!(sealed.load_all().await.unwrap(), vec![key.clone()]);
        assert_eq!(sealed.check().await.unwrap().sealed, 1);

        // A new key goes in sealed; the wrong KEK and no KEK are refused, naming the key.
        let second = StoredKey::generate(Algorithm::Es256, Timestamp::from_unix(1)).unwrap();
        sealed.insert(&second).await.unwrap();
        assert!(is_sealed(
            inner.load_all().await.unwrap()[1].material.expose_secret()
        ));
        let wrong = SealedKeyStore::new(inner.clone(), Some(kek(2)));
        let err = wrong.check().await.unwrap_err();
        assert!(err.to_string().contains(key.kid.as_str()), "{err}");
        assert!(matches!(err, CheckError::Seal(SealError::WrongKek { .. })));
        assert!(wrong.load_all().await.is_err());
        let none = SealedKeyStore::new(inner, None);
        assert!(matches!(
            none.check().await,
            Err(CheckError::Seal(SealError::NoKek { .. }))
        ));
    }

    #[tokio::test]
    async fn a_clear_key_written_later_is_sealed_at_the_next_load() {
        let inner: Arc<dyn KeyStore> = Arc::new(MemoryKeyStore::new());
        let sealed = SealedKeyStore::new(inner.clone(), Some(kek(7)));
        let key = StoredKey::generate(Algorithm::Hs256, Timestamp::from_unix(0)).unwrap();
        inner.insert(&key).await.unwrap();
        assert_eq!(sealed.load_all().await.unwrap(), vec![key]);
        assert!(is_sealed(
            inner.load_all().await.unwrap()[0].material.expose_secret()
        ));
    }
}
