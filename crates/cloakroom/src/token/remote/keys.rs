//! Which keys of a fetched JWKS can be trusted.

use std::collections::HashMap;

use serde::Deserialize;

use crate::token::error::shorten;
use crate::token::{Algorithm, Jwk, Key, KeySet, UnknownAlgorithm};

pub(super) enum Parse {
    Json(serde_json::Error),
    Empty { skipped: usize },
}

/// `{"keys": [...]}`, each key read on its own so that one odd key does not hide the others.
#[derive(Deserialize)]
struct RawJwks {
    keys: Vec<serde_json::Value>,
}

/// The verify-only keys of a JWKS body that can be trusted; the others are logged and skipped.
pub(super) fn parse_key_set(body: &[u8]) -> Result<KeySet, Parse> {
    let raw: RawJwks = serde_json::from_slice(body).map_err(Parse::Json)?;
    let total = raw.keys.len();
    let mut keys = Vec::with_capacity(total);
    for value in raw.keys {
        match usable_key(value) {
            Ok(key) => keys.push(key),
            Err((kid, why)) => tracing::warn!(kid = %shorten(&kid), why, "skipped a JWKS key"),
        }
    }
    // One kid naming two keys would let the set's order decide which is trusted: trust neither.
    let mut seen: HashMap<String, usize> = HashMap::new();
    for key in &keys {
        *seen.entry(key.kid().to_string()).or_default() += 1;
    }
    keys.retain(|k| {
        let unique = seen.get(k.kid().as_str()) == Some(&1);
        if !unique {
            tracing::warn!(kid = %shorten(k.kid().as_str()), "skipped a JWKS key: its kid is listed twice");
        }
        unique
    });
    let mut keys = keys.into_iter();
    let Some(first) = keys.next() else {
        return Err(Parse::Empty { skipped: total });
    };
    // Verify-only keys: which one is "active" does not matter, only the lookup by kid.
    Ok(KeySet::from_keys(first, keys))
}

/// The key `value` describes, or its kid and why it is not trusted.
fn usable_key(value: serde_json::Value) -> Result<Key, (String, String)> {
    let kid = value
        .get("kid")
        .and_then(|k| k.as_str())
        .unwrap_or_default()
        .to_owned();
    let refuse = |why: &str| (kid.clone(), why.to_owned());
    if value.get("kty").and_then(|k| k.as_str()) == Some("oct") {
        return Err(refuse(
            "a shared secret (kty \"oct\") is never taken from a JWKS",
        ));
    }
    let jwk: Jwk = serde_json::from_value(value).map_err(|e| refuse(&e.to_string()))?;
    let Some(alg) = jwk.alg.as_deref() else {
        // Guessing the algorithm from the key type is how algorithm confusion starts.
        return Err(refuse("it names no \"alg\""));
    };
    let alg: Algorithm = alg
        .parse()
        .map_err(|e: UnknownAlgorithm| refuse(&e.to_string()))?;
    if alg.is_symmetric() {
        return Err(refuse("an HMAC algorithm is never taken from a JWKS"));
    }
    Key::from_public_jwk(&jwk, None).map_err(|e| refuse(&e.to_string()))
}
