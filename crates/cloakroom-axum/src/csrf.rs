//! The CSRF guard: a state-changing request that a browser authenticated with a cookie must come
//! from the site itself.

use http::header::{HOST, ORIGIN};
use http::{HeaderMap, Method};

/// Whether `method` can change state (and so must pass the CSRF check when authenticated by a
/// cookie).
pub(crate) fn is_unsafe(method: &Method) -> bool {
    !matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// Whether a request came from another site, judged the way browsers let a server judge it:
///
/// - `Sec-Fetch-Site: cross-site` → cross-site, `same-origin` or `none` (typed by the user)
///   → not (every current browser sends it, and pages cannot forge it);
/// - otherwise an `Origin` whose host differs from the request's `Host`, or `Origin: null`
///   (sandboxed frames, some redirects) → cross-site;
/// - no `Origin` and no `Sec-Fetch-Site` (curl, server-to-server) → not cross-site: such a
///   request did not come from a browser that an attacker's page could drive.
///
/// ```
/// use http::{HeaderMap, HeaderValue};
/// use cloakroom_axum::is_cross_site;
///
/// let mut h = HeaderMap::new();
/// h.insert("host", HeaderValue::from_static("auth.example"));
/// h.insert("origin", HeaderValue::from_static("https://auth.example"));
/// assert!(!is_cross_site(&h));
/// h.insert("origin", HeaderValue::from_static("https://evil.example"));
/// assert!(is_cross_site(&h));
/// ```
pub fn is_cross_site(headers: &HeaderMap) -> bool {
    // Browsers set Sec-Fetch-Site themselves and pages cannot forge it, so its word is final,
    // except for `same-site`: a sibling subdomain may be someone else's, so check the origin.
    if let Some(site) = headers.get("sec-fetch-site") {
        match site.as_bytes().to_ascii_lowercase().as_slice() {
            b"cross-site" => return true,
            b"same-origin" | b"none" => return false,
            _ => {}
        }
    }
    let Some(origin) = headers.get(ORIGIN) else {
        return false;
    };
    let Ok(origin) = origin.to_str() else {
        return true;
    };
    let Some(origin_host) = origin_authority(origin) else {
        return true;
    };
    let host = headers.get(HOST).and_then(|h| h.to_str().ok());
    !host.is_some_and(|h| h.eq_ignore_ascii_case(origin_host))
}

/// The `host[:port]` of an `Origin` value (`scheme://host[:port]`), or `None` for `null` and
/// anything malformed.
fn origin_authority(origin: &str) -> Option<&str> {
    let (scheme, rest) = origin.split_once("://")?;
    if scheme.is_empty() || rest.is_empty() || rest.contains(['/', '?', '#', '@']) {
        return None;
    }
    Some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn judges_origin_against_host() {
        let same = headers(&[
            ("host", "a.example:8080"),
            ("origin", "http://a.example:8080"),
        ]);
        assert!(!is_cross_site(&same));
        let other_port = headers(&[
            ("host", "a.example:8080"),
            ("origin", "http://a.example:9090"),
        ]);
        assert!(is_cross_site(&other_port));
        let null = headers(&[("host", "a.example"), ("origin", "null")]);
        assert!(is_cross_site(&null));
        let no_host = headers(&[("origin", "http://a.example")]);
        assert!(is_cross_site(&no_host));
        let tricky = headers(&[("host", "a.example"), ("origin", "http://a.example@evil")]);
        assert!(is_cross_site(&tricky));
    }

    #[test]
    fn sec_fetch_site_cross_site_wins() {
        let h = headers(&[("sec-fetch-site", "cross-site")]);
        assert!(is_cross_site(&h));
        let h = headers(&[("sec-fetch-site", "same-origin")]);
        assert!(!is_cross_site(&h));
        let sibling = headers(&[
            ("sec-fetch-site", "same-site"),
            ("host", "auth.example"),
            ("origin", "https://evil.auth.example"),
        ]);
        assert!(is_cross_site(&sibling));
    }

    #[test]
    fn no_browser_headers_is_not_cross_site() {
        assert!(!is_cross_site(&headers(&[("host", "a.example")])));
    }

    #[test]
    fn unsafe_methods() {
        for m in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            assert!(is_unsafe(&m));
        }
        for m in [Method::GET, Method::HEAD, Method::OPTIONS] {
            assert!(!is_unsafe(&m));
        }
    }
}
