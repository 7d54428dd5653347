//! The `[login]`, `[password]` and `[limits]` tables and the proxy settings: their defaults,
//! and bad values that stop start-up naming their key.

use std::time::Duration;

use super::ForwardedHeaderName;
use super::tests::from_toml;

#[test]
fn defaults() {
    let s = from_toml("").unwrap();
    assert_eq!(s.login.max_failures, 5);
    assert_eq!(s.login.window, Duration::from_secs(15 * 60));
    assert_eq!(s.login.lockout, Duration::from_secs(60));
    assert_eq!(s.login.max_lockout, Duration::from_secs(3600));
    assert_eq!(s.login.max_tracked, 100_000);
    assert_eq!(s.password.min_length, 8);
    assert_eq!(s.password.max_bytes, 1024);
    assert_eq!(s.limits.max_connections, 2048);
    assert_eq!(s.limits.header_read_timeout, Duration::from_secs(10));
    assert_eq!(s.limits.max_header_bytes, 16 * 1024);
    assert!(s.trusted_proxies.is_empty());
    assert_eq!(s.forwarded_header, ForwardedHeaderName::XForwardedFor);
    assert!(
        !s.trusted_proxies()
            .unwrap()
            .trusts("127.0.0.1".parse().unwrap())
    );
}

#[test]
fn reads_every_key() {
    let s = from_toml(
        r#"
        trusted_proxies = ["10.0.0.0/8", "192.0.2.7", "fd00::/8"]
        forwarded_header = "forwarded"
        [login]
        max_failures = 3
        window = "5m"
        lockout = "30s"
        max_lockout = "2h"
        max_tracked = 5000
        [password]
        min_length = 12
        max_bytes = 512
        [limits]
        max_connections = 100
        header_read_timeout = "2s"
        max_header_bytes = 8192
        "#,
    )
    .unwrap();
    let policy = s.throttle_policy().unwrap();
    assert_eq!(policy.max_failures, 3);
    assert_eq!(policy.lockout_after(4), Some(Duration::from_secs(60)));
    assert_eq!(s.password_policy().unwrap().min_chars, 12);
    assert_eq!(s.limits.header_read_timeout, Duration::from_secs(2));
    assert_eq!(s.forwarded_header, ForwardedHeaderName::Forwarded);
    let proxies = s.trusted_proxies().unwrap();
    assert!(proxies.trusts("10.9.8.7".parse().unwrap()));
    assert!(proxies.trusts("fd12::1".parse().unwrap()));
    assert!(!proxies.trusts("192.0.2.8".parse().unwrap()));
}

#[test]
fn trusted_proxies_may_be_one_comma_separated_string() {
    // As an environment variable gives it: CLOAKROOM_TRUSTED_PROXIES="10.0.0.0/8, fd00::/8".
    let s = from_toml(r#"trusted_proxies = "10.0.0.0/8, fd00::/8""#).unwrap();
    assert_eq!(s.trusted_proxies, ["10.0.0.0/8", "fd00::/8"]);
}

#[test]
fn bad_values_name_their_key() {
    let cases = [
        ("[login]\nmax_failures = 0", "login.max_failures"),
        ("[login]\nwindow = \"0s\"", "login.window"),
        ("[login]\nlockout = \"0s\"", "login.lockout"),
        ("[login]\nlockout = \"2h\"", "login.max_lockout"),
        ("[login]\nmax_tracked = 10", "login.max_tracked"),
        ("[login]\nmax_failures = -1", "login.max_failures"),
        ("[login]\nwindow = \"soon\"", "login.window"),
        ("[login]\nattempts = 3", "login.attempts"),
        ("[password]\nmin_length = 4", "password.min_length"),
        ("[password]\nmin_length = 65", "password.min_length"),
        ("[password]\nmax_bytes = 100", "password.max_bytes"),
        ("[password]\nmax_bytes = 100000", "password.max_bytes"),
        ("[limits]\nmax_connections = 0", "limits.max_connections"),
        (
            "[limits]\nheader_read_timeout = \"10ms\"",
            "limits.header_read_timeout",
        ),
        (
            "[limits]\nheader_read_timeout = \"1h\"",
            "limits.header_read_timeout",
        ),
        (
            "[limits]\nmax_header_bytes = 100",
            "limits.max_header_bytes",
        ),
        ("trusted_proxies = [\"example.com\"]", "trusted_proxies"),
        ("trusted_proxies = [\"10.0.0.0/40\"]", "trusted_proxies"),
        ("forwarded_header = \"via\"", "forwarded_header"),
    ];
    for (text, key) in cases {
        let e = from_toml(text).expect_err(text).to_string();
        assert!(e.contains(key), "{text:?} gave {e}");
    }
}
