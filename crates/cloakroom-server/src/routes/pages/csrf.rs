//! CSRF tokens for the HTML forms, in addition to the same-origin check.
//!
//! Every form carries a token that is an HMAC-SHA256, keyed by a random 256-bit secret the
//! browser holds in an `HttpOnly` cookie, of what the form is bound to: the session handle of
//! the signed-in user, or a fixed label on the sign-in form. A page that cannot read the
//! cookie (any other site) cannot make a token; a token made for one session is refused in
//! another. No server-side secret is needed, so a token survives a restart and works on every
//! node behind a load balancer. (The "signed double-submit cookie" of the OWASP cheat sheet;
//! the tokens are compared in constant time.) Someone who can plant cookies for this host (a
//! sibling subdomain over plain HTTP; the `__Host-` prefix stops that under https) could plant a
//! key of their own; the same-origin check still refuses their form posts.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cloakroom_axum::CookieConfig;
use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderValue};
use sha2::Sha256;
use subtle::ConstantTimeEq as _;

use crate::App;

/// The CSRF cookie's name (`__Host-` is prefixed when `public_url` is https).
pub(crate) const CSRF_COOKIE: &str = "cloakroom_csrf";
/// The form field that carries the token.
pub(crate) const CSRF_FIELD: &str = "csrf";
/// What the sign-in form (whose user has no session yet) is bound to.
pub(super) const ANONYMOUS: &str = "anonymous";

const KEY_BYTES: usize = 32;

/// The browser's CSRF key, read from its cookie or made for it.
pub(super) struct CsrfKey {
    key: [u8; KEY_BYTES],
    /// `Some` when the key is new: the cookie that hands it to the browser.
    set_cookie: Option<HeaderValue>,
}

fn cookie(app: &App) -> CookieConfig {
    CookieConfig::new(CSRF_COOKIE).secure(app.cookies().is_secure())
}

fn read(app: &App, headers: &HeaderMap) -> Option<[u8; KEY_BYTES]> {
    let raw = cookie(app).find_raw(headers)?;
    let bytes = URL_SAFE_NO_PAD.decode(raw).ok()?;
    bytes.try_into().ok()
}

impl CsrfKey {
    /// The key the request's cookie holds, or a new one (with the cookie to set) when it holds
    /// none or a malformed one.
    pub(super) fn for_request(
        app: &App,
        headers: &HeaderMap,
    ) -> Result<Self, cloakroom::random::RandomError> {
        if let Some(key) = read(app, headers) {
            return Ok(Self {
                key,
                set_cookie: None,
            });
        }
        let key = cloakroom::random::bytes::<KEY_BYTES>()?;
        let set_cookie = Some(cookie(app).set_value(&URL_SAFE_NO_PAD.encode(key), None));
        Ok(Self { key, set_cookie })
    }

    /// The token for forms bound to `binding`.
    pub(super) fn token(&self, binding: &str) -> String {
        URL_SAFE_NO_PAD.encode(mac(&self.key, binding))
    }

    /// The `Set-Cookie` value, when the key is new.
    pub(super) fn set_cookie(&self) -> Option<&HeaderValue> {
        self.set_cookie.as_ref()
    }
}

fn mac(key: &[u8; KEY_BYTES], binding: &str) -> [u8; 32] {
    // HMAC takes keys of any length; a 32-byte key cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return [0; 32];
    };
    mac.update(b"cloakroom-csrf-v1\0");
    mac.update(binding.as_bytes());
    mac.finalize().into_bytes().into()
}

/// Whether `presented` is the token for `binding` under the request's CSRF cookie. False
/// without the cookie, with a malformed token, or for a token of another binding.
pub(super) fn verify(app: &App, headers: &HeaderMap, binding: &str, presented: &str) -> bool {
    let Some(key) = read(app, headers) else {
        return false;
    };
    let Ok(presented) = URL_SAFE_NO_PAD.decode(presented) else {
        return false;
    };
    let expected = mac(&key, binding);
    presented.len() == expected.len() && bool::from(presented.ct_eq(&expected))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_bound_to_key_and_binding() {
        let a = [1u8; KEY_BYTES];
        let b = [2u8; KEY_BYTES];
        assert_eq!(mac(&a, "s1"), mac(&a, "s1"));
        assert_ne!(mac(&a, "s1"), mac(&a, "s2"));
        assert_ne!(mac(&a, "s1"), mac(&b, "s1"));
    }
}
