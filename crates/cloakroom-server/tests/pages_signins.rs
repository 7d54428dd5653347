//! The HTML pages over plain HTTP, signing in and out: a password change keeps this browser
//! and ends the others, disabling a user signs them out at once, and hybrid browsers refresh
//! their tokens without JavaScript.

mod common;

use cloakroom_server::settings::Mode;
use common::PASSWORD;
use common::browser::{Browser, location, pages_server as server};
use reqwest::StatusCode;

const MODES: [Mode; 3] = [Mode::Session, Mode::Jwt, Mode::Hybrid];

#[tokio::test]
async fn a_password_change_keeps_this_browser_and_ends_the_others() {
    for mode in [Mode::Session, Mode::Hybrid, Mode::Jwt] {
        let (_dir, server) = server(mode).await;
        let here = Browser::new(&server);
        here.sign_in("alice").await;
        let there = Browser::new(&server);
        there.sign_in("alice").await;
        // A wrong current password changes nothing.
        let res = here
            .submit(
                "/account",
                "/account/password",
                &[
                    ("current_password", "nope nope"),
                    ("new_password", "a brand new password"),
                ],
            )
            .await;
        assert_eq!(location(&res), "/account?msg=wrong-password");
        assert_eq!(there.get("/account").await.status(), StatusCode::OK);
        let res = here
            .submit(
                "/account",
                "/account/password",
                &[
                    ("current_password", PASSWORD),
                    ("new_password", "a brand new password"),
                ],
            )
            .await;
        assert_eq!(location(&res), "/account?msg=password-changed", "{mode:?}");
        assert_eq!(
            here.get("/account").await.status(),
            StatusCode::OK,
            "{mode:?}: this browser stays"
        );
        assert_eq!(
            there.get("/account").await.status(),
            StatusCode::SEE_OTHER,
            "{mode:?}: the other one is out"
        );
        assert_eq!(
            Browser::new(&server)
                .sign_in_with("alice", "a brand new password", None)
                .await
                .status(),
            StatusCode::SEE_OTHER
        );
    }
}

#[tokio::test]
async fn disabling_a_user_signs_them_out_at_once() {
    for mode in MODES {
        let (_dir, server) = server(mode).await;
        let alice = Browser::new(&server);
        alice.sign_in("alice").await;
        let root = Browser::new(&server);
        root.sign_in("root").await;
        let res = root
            .submit(
                "/admin",
                "/admin/users/disable",
                &[("username", "alice"), ("disabled", "true")],
            )
            .await;
        assert_eq!(location(&res), "/admin?msg=disabled", "{mode:?}");
        assert_eq!(
            alice.get("/account").await.status(),
            StatusCode::SEE_OTHER,
            "{mode:?}"
        );
        let res = alice.sign_in_with("alice", PASSWORD, None).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        // An admin cannot lock themselves out.
        let res = root
            .submit(
                "/admin",
                "/admin/users/disable",
                &[("username", "root"), ("disabled", "true")],
            )
            .await;
        assert_eq!(location(&res), "/admin?msg=self");
        let res = root
            .submit(
                "/admin",
                "/admin/users/disable",
                &[("username", "alice"), ("disabled", "false")],
            )
            .await;
        assert_eq!(location(&res), "/admin?msg=enabled");
        alice.sign_in("alice").await;
    }
}

#[tokio::test]
async fn hybrid_browsers_refresh_without_javascript() {
    let (_dir, server) = server(Mode::Hybrid).await;
    let b = Browser::new(&server);
    b.sign_in("alice").await;
    let first_refresh = b.cookie("cloakroom_refresh").expect("a refresh cookie");
    assert!(b.cookie_header("/account").contains("cloakroom_access="));
    assert!(
        !b.cookie_header("/account").contains("cloakroom_refresh="),
        "refresh cookie only for /auth/refresh"
    );
    // The access token expires; the browser still holds it.
    server
        .clock
        .advance(std::time::Duration::from_secs(16 * 60));
    let res = b.get("/account").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let to = location(&res);
    assert_eq!(to, "/auth/refresh/browser?next=/account");
    // Not a navigation: refused.
    let req = reqwest::Client::new()
        .get(format!("{}{to}", server.url))
        .header("sec-fetch-mode", "no-cors")
        .header("cookie", b.cookie_header(&to));
    assert_eq!(req.send().await.unwrap().status(), StatusCode::FORBIDDEN);
    let res = b.get(&to).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/account");
    assert_ne!(
        b.cookie("cloakroom_refresh").unwrap(),
        first_refresh,
        "rotated"
    );
    assert_eq!(b.get("/account").await.status(), StatusCode::OK);
    // The spent refresh token, presented again after the reuse interval, ends the session.
    server.clock.advance(std::time::Duration::from_secs(5));
    let thief = Browser::new(&server);
    thief.set_cookie("cloakroom_refresh", &first_refresh, "/auth/refresh");
    let res = thief.get(&to).await;
    assert_eq!(location(&res), "/login");
    assert_eq!(b.get("/account").await.status(), StatusCode::SEE_OTHER);
    // Without a refresh cookie: to the sign-in page, keeping next.
    let anon = Browser::new(&server);
    let res = anon.get("/auth/refresh/browser?next=/app%3Fx%3D1").await;
    assert_eq!(location(&res), "/login?next=/app%3Fx%3D1");
}
