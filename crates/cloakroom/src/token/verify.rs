//! Verifying access tokens, in a fixed order, each step refusing with its own error.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::cache::{DEFAULT_VERIFIED_CACHE_BYTES, Verified, VerifiedCache};
use super::error::shorten;
use super::header::{self, is_access_token_type};
use super::{AccessClaims, Key, KeyRing, TokenError, TokenPart, backend};
use crate::clock::{SharedClock, SystemClock, Timestamp};
use crate::revocation::DenyList;

/// The longest token accepted, in bytes: checked before anything else is read.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// What a token must say to be accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validation {
    /// The expected `iss`: the server's public URL.
    pub issuer: String,
    /// An audience `aud` must include.
    pub audience: String,
    /// The clock skew tolerated for `exp`, `nbf` and `iat` (default 30 s).
    pub leeway: Duration,
}

impl Validation {
    /// Tokens from `issuer` for `audience`, with the default 30 s leeway.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            leeway: Duration::from_secs(30),
        }
    }

    /// The same rules with another leeway.
    pub fn with_leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }
}

/// Verifies access tokens against a [`KeyRing`] and, if given, a [`DenyList`]. Cheap to clone;
/// never touches the network, never takes a lock.
///
/// The order of the checks: size (≤ 8 KiB) → shape (three base64url parts) → header (JSON
/// object; no `none`, `jwk`, `jku`, `x5u`, `x5c`, `crit`) → key by `kid` (a map lookup) →
/// the key's algorithm (the header's `alg` must equal it) → signature → `typ` (`at+jwt`) →
/// claims (types, presence) → `iss` → `aud` → `exp`, `nbf`, `iat` with the leeway →
/// deny-list.
///
/// A token that passed every check is remembered in a [`VerifiedCache`] (on by default,
/// [`DEFAULT_VERIFIED_CACHE_BYTES`] of entries; see
/// [`with_verified_cache_bytes`](Self::with_verified_cache_bytes)):
/// presented again, it skips the shape, header, signature and parsing, but its key must still
/// be in the ring, unretired and unchanged, and `iss`, `aud`, `exp`, `nbf`, `iat` and the
/// deny-list are checked on every request as above.
#[derive(Debug, Clone)]
pub struct TokenVerifier {
    keys: KeyRing,
    validation: Arc<Validation>,
    deny: Option<Arc<DenyList>>,
    clock: SharedClock,
    cache: Option<VerifiedCache>,
}

/// What `cloakroom token inspect` shows: the header and claims as decoded (not trusted), and
/// the verdict.
#[derive(Debug)]
pub struct Inspection {
    /// The header, if it decodes to JSON.
    pub header: Option<serde_json::Value>,
    /// The claims, if they decode to JSON; shown even when the token fails.
    pub claims: Option<serde_json::Value>,
    /// The claims if the token passes, or exactly why it fails.
    pub result: Result<AccessClaims, TokenError>,
}

impl TokenVerifier {
    /// A verifier of tokens signed by the keys in `keys`.
    pub fn new(keys: KeyRing, validation: Validation) -> Self {
        Self {
            keys,
            validation: Arc::new(validation),
            deny: None,
            clock: Arc::new(SystemClock),
            cache: Some(VerifiedCache::with_bytes(DEFAULT_VERIFIED_CACHE_BYTES)),
        }
    }

    /// The same verifier remembering up to `capacity` verified tokens in a cache of its own;
    /// 0 turns the cache off, so that every request pays the full verification.
    pub fn with_verified_cache(mut self, capacity: usize) -> Self {
        self.cache = (capacity > 0).then(|| VerifiedCache::new(capacity));
        self
    }

    /// The same verifier remembering verified tokens in a cache of its own holding at most
    /// `bytes` (as [`entry_bytes`](super::cache::entry_bytes) counts them); 0 turns the cache
    /// off.
    pub fn with_verified_cache_bytes(mut self, bytes: u64) -> Self {
        self.cache = (bytes > 0).then(|| VerifiedCache::with_bytes(bytes));
        self
    }

    /// The verified-token cache, if on.
    pub fn verified_cache(&self) -> Option<&VerifiedCache> {
        self.cache.as_ref()
    }

    /// The same verifier, also refusing what `deny` lists.
    pub fn with_deny_list(mut self, deny: Arc<DenyList>) -> Self {
        self.deny = Some(deny);
        self
    }

    /// The same verifier reading time from `clock`.
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// The public keys it verifies with, for `GET /.well-known/jwks.json`: the signing key and
    /// the keys not yet retired, never an HMAC secret.
    pub fn jwks(&self) -> crate::token::Jwks {
        self.keys.snapshot().jwks(self.clock.now())
    }

    /// The rules it applies.
    pub fn validation(&self) -> &Validation {
        &self.validation
    }

    /// Verifies `token` now. Never panics, whatever the input.
    pub fn verify(&self, token: &str) -> Result<AccessClaims, TokenError> {
        self.verify_at(token, self.clock.now())
    }

    /// Verifies `token` as of `now`.
    pub fn verify_at(&self, token: &str, now: Timestamp) -> Result<AccessClaims, TokenError> {
        self.verify_shared_at(token, now).map(Arc::unwrap_or_clone)
    }

    /// Verifies `token` now, returning claims that may be shared with the verified-token
    /// cache: on a cache hit nothing is copied, which is what a request's hot path wants.
    ///
    pub fn verify_shared(&self, token: &str) -> Result<Arc<AccessClaims>, TokenError> {
        self.verify_shared_at(token, self.clock.now())
    }

    /// [`verify_shared`](Self::verify_shared) as of `now`.
    pub fn verify_shared_at(
        &self,
        token: &str,
        now: Timestamp,
    ) -> Result<Arc<AccessClaims>, TokenError> {
        let Some(cache) = &self.cache else {
            return self
                .verify_uncached(token, now)
                .map(|(claims, _)| Arc::new(claims));
        };
        // Refused before it is hashed: an 8 KiB bound on the work any token costs.
        check_size(token)?;
        let digest = VerifiedCache::digest(token);
        if let Some(hit) = cache.get(&digest) {
            if self.key_still_verifies(&hit, now) {
                self.check_claims(&hit.claims, now)?;
                return Ok(Arc::clone(&hit.claims));
            }
            // The key was retired, removed or replaced: never a hit again. Full verification
            // says why the token fails (or verifies it with the key now under that `kid`).
            cache.remove(&digest);
        }
        let (claims, key) = self.verify_uncached(token, now)?;
        let claims = Arc::new(claims);
        cache.insert(
            digest,
            Verified {
                claims: Arc::clone(&claims),
                kid: key.kid().as_str().into(),
                key: *key.fingerprint(),
            },
        );
        Ok(claims)
    }

    /// Whether the key that verified a cached token still would: in the ring under its `kid`,
    /// with the same material, not retired at `now`.
    fn key_still_verifies(&self, hit: &Verified, now: Timestamp) -> bool {
        self.keys
            .load()
            .get(&hit.kid)
            .is_some_and(|key| key.fingerprint() == &hit.key && !key.is_retired_at(now))
    }

    /// Every check, without the cache; also returns the key that verified the signature.
    fn verify_uncached(
        &self,
        token: &str,
        now: Timestamp,
    ) -> Result<(AccessClaims, Arc<Key>), TokenError> {
        let parts = split(token)?;
        let header_json = decode(parts.header, TokenPart::Header)?;
        let header = header::parse(&header_json)?;
        let kid = header.kid.as_deref().ok_or(TokenError::MissingKid)?;
        let keys = self.keys.load();
        let key = keys.get(kid).ok_or(TokenError::UnknownKid)?;
        if key.is_retired_at(now) {
            return Err(TokenError::KeyRetired);
        }
        if header.alg != key.algorithm().as_str() {
            return Err(TokenError::AlgorithmMismatch {
                expected: key.algorithm(),
                found: shorten(&header.alg),
            });
        }
        let signature = decode(parts.signature, TokenPart::Signature)?;
        let valid = backend::verify(
            key.id(),
            key.algorithm(),
            key.decoding(),
            parts.signed.as_bytes(),
            &signature,
        )
        .map_err(TokenError::Crypto)?;
        if !valid {
            return Err(TokenError::BadSignature);
        }
        match header.typ.as_deref() {
            None => return Err(TokenError::MissingType),
            Some(typ) if !is_access_token_type(typ) => return Err(TokenError::WrongType),
            Some(_) => {}
        }
        let claims = AccessClaims::from_json(&decode(parts.payload, TokenPart::Payload)?)?;
        self.check_claims(&claims, now)?;
        Ok((claims, Arc::clone(key)))
    }

    fn check_claims(&self, claims: &AccessClaims, now: Timestamp) -> Result<(), TokenError> {
        let v = &*self.validation;
        if claims.iss != v.issuer {
            return Err(TokenError::WrongIssuer);
        }
        if !claims.aud.contains(&v.audience) {
            return Err(TokenError::WrongAudience);
        }
        let leeway = i64::try_from(v.leeway.as_secs()).unwrap_or(i64::MAX);
        let now = now.unix();
        // RFC 7519 §4.1.4: not accepted on or after `exp`.
        if now >= claims.exp.unix().saturating_add(leeway) {
            return Err(TokenError::Expired { exp: claims.exp });
        }
        if let Some(nbf) = claims.nbf {
            if now.saturating_add(leeway) < nbf.unix() {
                return Err(TokenError::NotYetValid { nbf });
            }
        }
        if claims.iat.unix() > now.saturating_add(leeway) {
            return Err(TokenError::IssuedInFuture { iat: claims.iat });
        }
        if let Some(deny) = &self.deny {
            deny.check(&claims.jti, &claims.sid, &claims.sub, claims.iat)?;
        }
        Ok(())
    }

    /// Decodes `token` for display and verifies it: for `cloakroom token inspect`.
    pub fn inspect(&self, token: &str) -> Inspection {
        let json = |part: &str, which| {
            decode(part, which)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
        };
        let (header, claims) = match split(token) {
            Ok(parts) => (
                json(parts.header, TokenPart::Header),
                json(parts.payload, TokenPart::Payload),
            ),
            Err(_) => (None, None),
        };
        Inspection {
            header,
            claims,
            result: self.verify(token),
        }
    }
}

/// A compact JWS cut at its dots.
struct Parts<'a> {
    header: &'a str,
    payload: &'a str,
    signature: &'a str,
    /// `header.payload`, what the signature covers.
    signed: &'a str,
}

/// Checks the size, then the shape: exactly three parts, the first two non-empty. (An empty
/// signature gets as far as the signature check, so that `alg: none` is named as such.)
fn split(token: &str) -> Result<Parts<'_>, TokenError> {
    check_size(token)?;
    let mut it = token.splitn(4, '.');
    let (Some(header), Some(payload), Some(signature), None) =
        (it.next(), it.next(), it.next(), it.next())
    else {
        return Err(TokenError::Malformed(
            "expected three parts separated by dots",
        ));
    };
    if header.is_empty() || payload.is_empty() {
        return Err(TokenError::Malformed("the header or payload is empty"));
    }
    Ok(Parts {
        header,
        payload,
        signature,
        signed: &token[..header.len() + 1 + payload.len()],
    })
}

fn check_size(token: &str) -> Result<(), TokenError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::TooLarge {
            len: token.len(),
            max: MAX_TOKEN_BYTES,
        });
    }
    Ok(())
}

/// Strict base64url: no padding, no stray characters, canonical trailing bits.
fn decode(part: &str, which: TokenPart) -> Result<Vec<u8>, TokenError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| TokenError::BadEncoding(which))
}
