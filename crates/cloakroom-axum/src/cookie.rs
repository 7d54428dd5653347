//! The session cookie: its name and attributes, and reading it back.

use cloakroom::session::{InvalidSessionId, SessionId};
use cookie::{Cookie, SameSite};
use http::header::{CACHE_CONTROL, COOKIE, SET_COOKIE};
use http::{HeaderMap, HeaderValue};

/// The prefix browsers reserve for cookies that are `Secure`, `Path=/` and have no `Domain`.
const HOST_PREFIX: &str = "__Host-";
/// The prefix for `Secure` cookies that cannot take `__Host-` (they have a narrower path).
const SECURE_PREFIX: &str = "__Secure-";

/// How the session cookie is named and sent.
///
/// Always `HttpOnly` (scripts cannot read it), `SameSite=Lax`, `Path=/` and without `Domain`
/// (only the host that set it gets it back). With [`secure`](Self::secure) it is also `Secure`
/// and its name takes the `__Host-` prefix, which browsers refuse to let any other site or
/// subdomain set.
///
/// ```
/// use cloakroom_axum::CookieConfig;
///
/// assert_eq!(CookieConfig::new("sid").name(), "sid");
/// assert_eq!(CookieConfig::new("sid").secure(true).name(), "__Host-sid");
/// ```
#[derive(Debug, Clone)]
pub struct CookieConfig {
    bare: String,
    name: String,
    secure: bool,
    path: String,
}

impl CookieConfig {
    /// A cookie called `name`, not `Secure` (for plain-HTTP development), for every path.
    pub fn new(name: impl Into<String>) -> Self {
        let bare: String = name.into();
        let bare = bare
            .strip_prefix(HOST_PREFIX)
            .or_else(|| bare.strip_prefix(SECURE_PREFIX))
            .unwrap_or(&bare)
            .to_owned();
        Self {
            name: bare.clone(),
            bare,
            secure: false,
            path: "/".to_owned(),
        }
    }

    /// The cookie for a server reached at `public_url`: `Secure`, with the `__Host-` prefix,
    /// exactly when the URL is `https`.
    pub fn for_public_url(name: impl Into<String>, public_url: &str) -> Self {
        let https = public_url
            .get(..8)
            .is_some_and(|s| s.eq_ignore_ascii_case("https://"));
        Self::new(name).secure(https)
    }

    /// Marks the cookie `Secure` and gives it the `__Host-` prefix (`__Secure-` when it is
    /// limited to a path, which `__Host-` forbids), or neither.
    pub fn secure(mut self, secure: bool) -> Self {
        self.secure = secure;
        self.rename();
        self
    }

    /// Limits the cookie to `path` (e.g. the refresh cookie to `/auth/refresh`).
    pub fn with_path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self.rename();
        self
    }

    fn rename(&mut self) {
        self.name = match (self.secure, self.path.as_str()) {
            (false, _) => self.bare.clone(),
            (true, "/") => format!("{HOST_PREFIX}{}", self.bare),
            (true, _) => format!("{SECURE_PREFIX}{}", self.bare),
        };
    }

    /// The cookie's name, prefix included.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the cookie is `Secure`.
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    fn build<'c>(&self, value: String) -> Cookie<'c> {
        Cookie::build((self.name.clone(), value))
            .http_only(true)
            .same_site(SameSite::Lax)
            .path(self.path.clone())
            .secure(self.secure)
            .build()
    }

    /// The `Set-Cookie` value that hands `id` to the client.
    pub fn set(&self, id: &SessionId) -> HeaderValue {
        Self::header(&self.build(id.expose_secret()))
    }

    /// The `Set-Cookie` value that removes the cookie from the client.
    pub fn clear(&self) -> HeaderValue {
        let mut c = self.build(String::new());
        c.make_removal();
        Self::header(&c)
    }

    fn header(cookie: &Cookie<'_>) -> HeaderValue {
        // Names come from configuration and values are base64url, so this is always a valid
        // header; fall back to an empty value rather than panic.
        HeaderValue::from_str(&cookie.encoded().to_string())
            .unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    /// The session cookie in a request's `Cookie` headers: `None` when absent, an error when it
    /// is there but malformed. With several cookies of the name, the first wins.
    pub fn find(&self, headers: &HeaderMap) -> Option<Result<SessionId, InvalidSessionId>> {
        self.find_raw(headers).map(SessionId::parse)
    }

    /// The raw value of this cookie in a request's `Cookie` headers (quotes removed), if any.
    pub fn find_raw<'h>(&self, headers: &'h HeaderMap) -> Option<&'h str> {
        for value in headers.get_all(COOKIE) {
            let Ok(text) = value.to_str() else { continue };
            for pair in text.split(';') {
                let Some((name, value)) = pair.trim().split_once('=') else {
                    continue;
                };
                if name.trim() == self.name {
                    return Some(value.trim().trim_matches('"'));
                }
            }
        }
        None
    }

    /// The `Set-Cookie` value that hands the client an arbitrary credential (e.g. an access
    /// token) under this cookie's name and attributes, for `max_age`.
    pub fn set_value(&self, value: &str, max_age: Option<std::time::Duration>) -> HeaderValue {
        let mut c = self.build(value.to_owned());
        if let Some(age) = max_age {
            let secs = i64::try_from(age.as_secs()).unwrap_or(i64::MAX);
            c.set_max_age(cookie::time::Duration::seconds(secs));
        }
        Self::header(&c)
    }
}

/// A response part that sets (or clears) the session cookie and forbids caching the response.
#[derive(Debug, Clone)]
pub struct SessionCookie {
    set_cookie: HeaderValue,
}

impl SessionCookie {
    /// Sets `id` as the session cookie.
    pub fn set(config: &CookieConfig, id: &SessionId) -> Self {
        Self {
            set_cookie: config.set(id),
        }
    }

    /// Clears the session cookie.
    pub fn clear(config: &CookieConfig) -> Self {
        Self {
            set_cookie: config.clear(),
        }
    }

    /// The `Set-Cookie` header value.
    pub fn header_value(&self) -> &HeaderValue {
        &self.set_cookie
    }
}

impl axum::response::IntoResponseParts for SessionCookie {
    type Error = std::convert::Infallible;

    fn into_response_parts(
        self,
        mut res: axum::response::ResponseParts,
    ) -> Result<axum::response::ResponseParts, Self::Error> {
        res.headers_mut().append(SET_COOKIE, self.set_cookie);
        res.headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        Ok(res)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes() {
        let id = SessionId::generate().unwrap();
        let plain = CookieConfig::new("sid").set(&id);
        let plain = plain.to_str().unwrap();
        assert!(plain.starts_with(&format!("sid={}", id.expose_secret())));
        assert!(plain.contains("HttpOnly"));
        assert!(plain.contains("SameSite=Lax"));
        assert!(plain.contains("Path=/"));
        assert!(!plain.contains("Secure"));
        assert!(!plain.contains("Domain"));

        let secure = CookieConfig::for_public_url("sid", "HTTPS://auth.example").set(&id);
        let secure = secure.to_str().unwrap();
        assert!(secure.starts_with("__Host-sid="));
        assert!(secure.contains("Secure"));
    }

    #[test]
    fn secure_toggle_does_not_stack_prefixes() {
        let c = CookieConfig::new("sid").secure(true).secure(true);
        assert_eq!(c.name(), "__Host-sid");
        assert_eq!(c.secure(false).name(), "sid");
    }

    #[test]
    fn a_path_limited_secure_cookie_takes_the_secure_prefix() {
        let c = CookieConfig::new("rt")
            .with_path("/auth/refresh")
            .secure(true);
        assert_eq!(c.name(), "__Secure-rt");
        let v = c.set_value("x", Some(std::time::Duration::from_secs(60)));
        let v = v.to_str().unwrap();
        assert!(v.contains("Path=/auth/refresh"), "{v}");
        assert!(v.contains("Max-Age=60"), "{v}");
    }

    #[test]
    fn clear_expires_the_cookie() {
        let v = CookieConfig::new("sid").clear();
        let v = v.to_str().unwrap();
        assert!(v.starts_with("sid=;"));
        assert!(v.contains("Max-Age=0"));
    }

    #[test]
    fn find_reads_the_named_cookie_only() {
        let id = SessionId::generate().unwrap();
        let mut h = HeaderMap::new();
        h.append(COOKIE, HeaderValue::from_static("other=1; sidx=2"));
        let value = format!("a=b; sid={}", id.expose_secret());
        h.append(COOKIE, HeaderValue::from_str(&value).unwrap());
        let c = CookieConfig::new("sid");
        assert_eq!(c.find(&h), Some(Ok(id)));
        let mut h = HeaderMap::new();
        h.insert(COOKIE, HeaderValue::from_static("sid=garbage"));
        assert_eq!(c.find(&h), Some(Err(InvalidSessionId)));
        assert_eq!(c.find(&HeaderMap::new()), None);
    }
}
