//! Where to send a browser after signing in: only ever a path on this origin.

/// The longest `next` followed.
const MAX_NEXT: usize = 2048;

/// `raw` if it is a path on this origin, else `None`.
///
/// Only `/` followed by printable ASCII without a backslash, and never `//` at the start: a
/// scheme (`https:`, `javascript:`), a protocol-relative `//evil`, the `/\evil` that browsers
/// read as `//evil`, and tabs or newlines (which URL parsers drop, so `/\t/evil` turns into
/// `//evil`) are all refused. Anything else must be percent-encoded by whoever made the link.
pub(crate) fn safe_next(raw: &str) -> Option<&str> {
    let ok = raw.len() <= MAX_NEXT
        && raw.starts_with('/')
        && !raw.starts_with("//")
        && raw.bytes().all(|b| b.is_ascii_graphic() && b != b'\\');
    ok.then_some(raw)
}

/// `text` percent-encoded for a query value (everything but RFC 3986's unreserved
/// characters and `/`).
pub(crate) fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `/login`, with `?next=` when `next` is a safe path other than the default.
pub(crate) fn login_url(next: Option<&str>) -> String {
    match next.and_then(safe_next) {
        Some(next) if next != "/account" => format!("/login?next={}", encode(next)),
        _ => "/login".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_same_origin_paths_pass() {
        for good in ["/", "/account", "/app/x?y=1&z=%2F", "/a#frag"] {
            assert_eq!(safe_next(good), Some(good), "{good}");
        }
        for bad in [
            "",
            "//evil.example",
            "/\\evil.example",
            "\\/evil.example",
            "https://evil.example",
            "javascript:alert(1)",
            "evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/ /x",
            "/caf\u{e9}",
            "/a\\b",
        ] {
            assert_eq!(safe_next(bad), None, "{bad:?}");
        }
        assert_eq!(safe_next(&format!("/{}", "a".repeat(MAX_NEXT))), None);
    }

    #[test]
    fn encodes_query_values() {
        assert_eq!(encode("/a?b=c&d"), "/a%3Fb%3Dc%26d");
        assert_eq!(login_url(Some("/x?y=1")), "/login?next=/x%3Fy%3D1");
        assert_eq!(login_url(Some("//evil")), "/login");
        assert_eq!(login_url(None), "/login");
    }
}
