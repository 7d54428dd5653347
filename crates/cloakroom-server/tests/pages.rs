//! The HTML pages over plain HTTP: security headers, CSRF tokens on every form, open redirects,
//! one failure message for every failed sign-in, the admin-only page, escaping.

mod common;

use cloakroom_server::settings::Mode;
use common::PASSWORD;
use common::browser::{Browser, field_value, location, pages_server as server};
use reqwest::StatusCode;

const MODES: [Mode; 3] = [Mode::Session, Mode::Jwt, Mode::Hybrid];

#[tokio::test]
async fn pages_carry_a_strict_csp_and_the_other_headers() {
    let (_dir, server) = server(Mode::Session).await;
    let b = Browser::new(&server);
    let res = b.get("/login").await;
    assert_eq!(res.status(), StatusCode::OK);
    let h = res.headers();
    let csp = h["content-security-policy"].to_str().unwrap();
    for part in [
        "default-src 'none'",
        "style-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ] {
        assert!(csp.contains(part), "{csp}");
    }
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["cache-control"], "no-store");
    assert!(h["content-type"].to_str().unwrap().starts_with("text/html"));
    let body = res.text().await.unwrap();
    assert!(!body.contains("<script"), "no script at all");
    assert!(!body.contains("style="), "no inline style");
    assert!(body.contains(r#"name="username""#) && body.contains(r#"name="password""#));
    assert_eq!(
        body.matches("type=\"submit\"").count(),
        1,
        "one submit button"
    );

    let css = b.get("/assets/style.css").await;
    assert_eq!(css.status(), StatusCode::OK);
    assert!(
        css.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    assert_eq!(css.headers()["x-content-type-options"], "nosniff");

    b.sign_in("alice").await;
    let account = b.get("/account").await;
    assert_eq!(account.status(), StatusCode::OK);
    assert_eq!(account.headers()["cache-control"], "no-store");
    assert!(account.headers().contains_key("content-security-policy"));
}

#[tokio::test]
async fn sign_in_refuses_a_missing_wrong_or_foreign_csrf_token() {
    for mode in MODES {
        let (_dir, server) = server(mode).await;
        let b = Browser::new(&server);
        let (token, _) = b.csrf_of("/login").await;
        let creds = [("username", "alice"), ("password", PASSWORD)];
        // No token.
        let res = b.post_form("/login", &creds).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{mode:?}");
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        // A wrong token.
        let mut wrong = vec![("csrf", "AAAA")];
        wrong.extend_from_slice(&creds);
        assert_eq!(
            b.post_form("/login", &wrong).await.status(),
            StatusCode::FORBIDDEN
        );
        // Another browser's token (another CSRF cookie).
        let other = Browser::new(&server);
        let (foreign, _) = other.csrf_of("/login").await;
        let mut fields = vec![("csrf", foreign.as_str())];
        fields.extend_from_slice(&creds);
        assert_eq!(
            b.post_form("/login", &fields).await.status(),
            StatusCode::FORBIDDEN
        );
        // The right token, but from another site.
        let mut fields = vec![("csrf", token.as_str())];
        fields.extend_from_slice(&creds);
        let res = b
            .post_form_from("/login", &fields, "http://evil.example")
            .await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        // The right token without its cookie.
        let bare = Browser::new(&server);
        assert_eq!(
            bare.post_form("/login", &fields).await.status(),
            StatusCode::FORBIDDEN
        );
        // Nobody got signed in by any of that.
        assert_eq!(b.get("/account").await.status(), StatusCode::SEE_OTHER);
        // And the right one works.
        let res = b.post_form("/login", &fields).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{mode:?}");
        assert_eq!(b.get("/account").await.status(), StatusCode::OK, "{mode:?}");
    }
}

#[tokio::test]
async fn every_signed_in_form_needs_its_own_sessions_token() {
    for mode in MODES {
        let (_dir, server) = server(mode).await;
        let root = Browser::new(&server);
        root.sign_in("root").await;
        let (root_token, _) = root.csrf_of("/account").await;
        // A token from another session of the same browser key is refused: sign in as alice
        // in a second browser that shares root's CSRF cookie.
        let alice = Browser::new(&server);
        let key = root.cookie("cloakroom_csrf").expect("csrf cookie");
        alice.set_cookie("cloakroom_csrf", &key, "/");
        alice.sign_in("alice").await;
        let posts: [(&str, Vec<(&str, &str)>); 7] = [
            ("/logout", vec![]),
            ("/account/logout-all", vec![]),
            (
                "/account/password",
                vec![
                    ("current_password", PASSWORD),
                    ("new_password", "another long password"),
                ],
            ),
            ("/account/sessions/revoke", vec![("session", "x")]),
            (
                "/admin/users/create",
                vec![
                    ("username", "mallory"),
                    ("password", PASSWORD),
                    ("roles", "admin"),
                ],
            ),
            (
                "/admin/users/disable",
                vec![("username", "alice"), ("disabled", "true")],
            ),
            (
                "/admin/users/roles",
                vec![("username", "alice"), ("roles", "admin")],
            ),
        ];
        let (alice_token, _) = alice.csrf_of("/account").await;
        for (path, fields) in &posts {
            // Admin forms are root's, the others alice's; each tries the other's token.
            let (who, foreign) = if path.starts_with("/admin") {
                (&root, alice_token.as_str())
            } else {
                (&alice, root_token.as_str())
            };
            for token in [None, Some("AAAA"), Some(foreign)] {
                let mut all: Vec<(&str, &str)> = token.map(|t| ("csrf", t)).into_iter().collect();
                all.extend_from_slice(fields);
                let res = who.post_form(path, &all).await;
                assert_eq!(
                    res.status(),
                    StatusCode::FORBIDDEN,
                    "{mode:?} {path} {token:?}"
                );
            }
            // Cross-site with the right token.
            let (token, _) = who.csrf_of("/account").await;
            let mut all = vec![("csrf", token.as_str())];
            all.extend_from_slice(fields);
            let res = who.post_form_from(path, &all, "http://evil.example").await;
            assert_eq!(
                res.status(),
                StatusCode::FORBIDDEN,
                "{mode:?} {path} cross-site"
            );
        }
        // Nothing happened.
        assert_eq!(alice.get("/account").await.status(), StatusCode::OK);
        assert_eq!(root.get("/account").await.status(), StatusCode::OK);
        let admin = server.app.user_admin();
        assert!(admin.find("mallory").await.is_err());
        let a = admin.find("alice").await.unwrap();
        assert!(!a.disabled && a.roles.is_empty(), "{mode:?}");
    }
}

#[tokio::test]
async fn next_is_followed_only_to_a_path_on_this_origin() {
    for mode in [Mode::Session, Mode::Hybrid] {
        let (_dir, server) = server(mode).await;
        for bad in [
            "//evil.example/",
            "/\\evil.example",
            "https://evil.example/",
            "javascript:alert(1)",
            "/\t/evil.example",
            "evil.example",
            "http:/evil.example",
        ] {
            let b = Browser::new(&server);
            let (_, html) = b.csrf_of(&format!("/login?next={}", urlencode(bad))).await;
            assert!(
                field_value(&html, "next").is_none(),
                "{bad:?} kept in the form"
            );
            let res = b.sign_in_with("alice", PASSWORD, Some(bad)).await;
            assert_eq!(res.status(), StatusCode::SEE_OTHER);
            assert_eq!(location(&res), "/account", "{mode:?} {bad:?}");
        }
        let b = Browser::new(&server);
        let res = b
            .sign_in_with("alice", PASSWORD, Some("/app/x?y=1&z=2"))
            .await;
        assert_eq!(location(&res), "/app/x?y=1&z=2");
        // A signed-in visit to /login goes on at once, to a safe next only.
        let res = b.get("/login?next=%2F%2Fevil.example").await;
        assert_eq!(location(&res), "/account");
    }
}

fn urlencode(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

#[tokio::test]
async fn every_failed_sign_in_looks_the_same() {
    for mode in MODES {
        let (_dir, server) = server(mode).await;
        server.add_user("dora", &[]).await;
        server
            .app
            .user_admin()
            .set_disabled("dora", true)
            .await
            .unwrap();
        let b = Browser::new(&server);
        let mut bodies = Vec::new();
        for (user, password) in [
            ("nobody", PASSWORD),
            ("alice", "wrong password!"),
            ("dora", PASSWORD),
        ] {
            let res = b.sign_in_with(user, password, None).await;
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{mode:?} {user}");
            let body = res.text().await.unwrap();
            assert!(body.contains("Invalid username or password."), "{body}");
            bodies.push(body);
        }
        assert_eq!(
            bodies[0], bodies[1],
            "{mode:?}: unknown user vs wrong password"
        );
        assert_eq!(bodies[0], bodies[2], "{mode:?}: unknown user vs disabled");
    }
}

#[tokio::test]
async fn admin_is_for_admins_only() {
    for mode in MODES {
        let (_dir, server) = server(mode).await;
        let anon = Browser::new(&server);
        let res = anon.get("/admin").await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let to = location(&res);
        assert!(
            to.starts_with("/login?next=/admin")
                || to.starts_with("/auth/refresh/browser?next=/admin"),
            "{to}"
        );
        // A form post without a sign-in comes back to its page, not to the post's path.
        let res = anon
            .post_form(
                "/admin/users/create",
                &[("csrf", "x"), ("username", "x"), ("password", "x")],
            )
            .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert!(
            location(&res).ends_with("?next=/admin"),
            "{}",
            location(&res)
        );
        let alice = Browser::new(&server);
        alice.sign_in("alice").await;
        let res = alice.get("/admin").await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{mode:?}");
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        assert!(res.text().await.unwrap().contains("administrators only"));
        let root = Browser::new(&server);
        root.sign_in("root").await;
        assert_eq!(root.get("/admin").await.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn a_hostile_username_is_shown_escaped() {
    for mode in [Mode::Session, Mode::Hybrid] {
        let (_dir, server) = server(mode).await;
        let evil = "<script>alert(1)</script>";
        // A role can no longer carry markup (refused at every door: `inputs.rs`); the name can.
        server.add_user(evil, &["ops"]).await;
        let root = Browser::new(&server);
        root.sign_in("root").await;
        let html = root.get("/admin").await.text().await.unwrap();
        assert!(!html.contains(evil), "raw markup in the admin page");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!html.contains("\"><b>"));
        let b = Browser::new(&server);
        b.sign_in(evil).await;
        let html = b.get("/account").await.text().await.unwrap();
        assert!(!html.contains(evil));
        assert!(html.contains("&lt;script&gt;"));
    }
}
