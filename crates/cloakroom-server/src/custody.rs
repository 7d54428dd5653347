//! Key custody: the key-encryption key that seals the signing keys in the database (read from
//! `key_encryption_key_file` or `CLOAKROOM_KEY_ENCRYPTION_KEY`, never from the database), and a
//! signing key supplied as a PEM file (`jwt.signing_key_file`) instead of a generated one.

use std::path::Path;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cloakroom::clock::{SharedClock, Timestamp};
use cloakroom::token::{
    Key, KeyEncryptionKey, KeyManager, KeyStore, Kid, SealedKeyStore, StoredKey,
};
use sha2::{Digest as _, Sha256};

use crate::error::Error;
use crate::settings::Settings;
use crate::stores::DatabaseStore;

/// The environment variable that holds the key-encryption key itself.
pub const KEK_ENV: &str = "CLOAKROOM_KEY_ENCRYPTION_KEY";
/// [`KEK_ENV`] as figment sees it (prefix removed): kept out of the settings.
pub(crate) const KEK_ENV_KEY: &str = "key_encryption_key";

/// The configured key-encryption key, if any.
pub fn key_encryption_key(settings: &Settings) -> Result<Option<KeyEncryptionKey>, Error> {
    let from_env = std::env::var(KEK_ENV).ok().filter(|v| !v.trim().is_empty());
    match (&settings.key_encryption_key_file, from_env) {
        (Some(_), Some(_)) => Err(Error::KekTwice),
        (None, None) => Ok(None),
        (None, Some(text)) => KeyEncryptionKey::from_text(&text)
            .map(Some)
            .map_err(|source| Error::Kek {
                from: KEK_ENV.to_owned(),
                source,
            }),
        (Some(path), None) => {
            warn_if_readable_by_others(path);
            let text =
                zeroize::Zeroizing::new(std::fs::read_to_string(path).map_err(|source| {
                    Error::KekRead {
                        path: path.clone(),
                        source,
                    }
                })?);
            KeyEncryptionKey::from_text(&text)
                .map(Some)
                .map_err(|source| Error::Kek {
                    from: path.display().to_string(),
                    source,
                })
        }
    }
}

fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if let Ok(md) = std::fs::metadata(path) {
            if md.permissions().mode() & 0o077 != 0 {
                tracing::warn!(
                    file = %path.display(),
                    "the key-encryption key file is readable by other users: chmod 600 it"
                );
            }
        }
    }
}

/// The signing keys of `database`, sealed with the configured key-encryption key. Checks that
/// every stored key opens (a wrong or missing key-encryption key stops here, naming the key)
/// and seals the keys still in clear; on SQLite the file is then rewritten, so that the clear
/// material does not linger in its free pages or its write-ahead log.
pub async fn key_store(
    settings: &Settings,
    database: &DatabaseStore,
) -> Result<Arc<dyn KeyStore>, Error> {
    let kek = key_encryption_key(settings)?;
    let sealing = kek.is_some();
    let store = SealedKeyStore::new(database.keys(), kek);
    let report = store.check().await.map_err(Error::KeyCustody)?;
    if report.newly_sealed > 0 {
        tracing::info!(
            keys = report.newly_sealed,
            "encrypted the signing keys that were stored in clear"
        );
        database.compact().await?;
    }
    if !sealing && report.clear > 0 {
        tracing::debug!("the signing keys are stored in clear: set key_encryption_key_file");
    }
    Ok(Arc::new(store))
}

/// The key in `jwt.signing_key_file`, if set: a PKCS#8 PEM private key of `jwt.algorithm`, its
/// ID derived from the key, so that every node (and every restart) gives it the same one.
pub fn signing_key_from_file(
    settings: &Settings,
    now: Timestamp,
) -> Result<Option<StoredKey>, Error> {
    let Some(path) = &settings.jwt.signing_key_file else {
        return Ok(None);
    };
    let bad = |message: String| Error::SigningKeyFile {
        path: path.clone(),
        message,
    };
    let pem = zeroize::Zeroizing::new(
        std::fs::read(path).map_err(|e| bad(format!("cannot read it: {e}")))?,
    );
    let (label, der) =
        pem_rfc7468::decode_vec(&pem).map_err(|e| bad(format!("not a PEM file ({e})")))?;
    let der = zeroize::Zeroizing::new(der);
    if label != "PRIVATE KEY" {
        return Err(bad(format!(
            "it holds a {label:?}, not a PKCS#8 \"PRIVATE KEY\" (convert it with `openssl pkcs8 \
             -topk8 -nocrypt`)"
        )));
    }
    let algorithm = settings.jwt.algorithm;
    let mut key = StoredKey::from_pkcs8(algorithm, &der, now).map_err(|e| bad(e.to_string()))?;
    let digest = Sha256::new()
        .chain_update(b"cloakroom signing key file\0")
        .chain_update(der.as_slice())
        .finalize();
    key.kid = Kid::parse(&URL_SAFE_NO_PAD.encode(&digest[..16])).map_err(|e| bad(e.to_string()))?;
    Key::from_stored(&key).map_err(|e| {
        bad(format!(
            "{e} (jwt.algorithm is {algorithm}: set it to the key's algorithm)"
        ))
    })?;
    Ok(Some(key))
}

/// The key manager over `store`: with `jwt.signing_key_file`, its key is made the active one
/// (stored first, so no other key is generated); otherwise keys are generated as needed.
pub async fn open_manager(
    settings: &Settings,
    store: Arc<dyn KeyStore>,
    clock: SharedClock,
) -> Result<KeyManager, Error> {
    let file_key = signing_key_from_file(settings, clock.now())?;
    if let Some(key) = &file_key {
        if store.load_all().await?.is_empty() {
            store.insert(key).await?;
        }
    }
    let manager = KeyManager::open(store.clone(), settings.key_policy(), clock).await?;
    if let Some(key) = file_key {
        if manager.ring().snapshot().active().kid() != &key.kid {
            // Stored but no longer active (a rotation by hand): made the active key again.
            store.delete(key.kid.as_str()).await?;
            let kid = manager.rotate_to(key).await?;
            tracing::info!(%kid, "the key in jwt.signing_key_file is now the signing key");
        }
    }
    Ok(manager)
}
