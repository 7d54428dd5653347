//! `GET /auth/verify` over HTTP in every mode: who is signed in, roles, and where browsers are
//! sent to sign in.

mod common;

use cloakroom_server::settings::Mode;
use common::browser::{Browser, location};
use common::{Server, settings_in};
use reqwest::StatusCode;

async fn server(mode: Mode) -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(settings_in(dir.path(), mode)).await;
    server.add_user("alice", &["ops", "dev"]).await;
    server.add_user("root", &["admin"]).await;
    (dir, server)
}

const MODES: [Mode; 3] = [Mode::Session, Mode::Jwt, Mode::Hybrid];

#[tokio::test]
async fn anonymous_callers_get_401_and_browsers_a_redirect() {
    for mode in MODES {
        let (_dir, server) = server(mode).await;
        let mut http = server.http();
        // Redirects are what is checked here, not followed.
        http.client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let res = http.get("/auth/verify").send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{mode:?}");
        assert!(!res.headers().contains_key("x-cloakroom-user"));
        // Hybrid browsers try their refresh cookie first; it goes on to /login if that fails.
        let sign_in = match mode {
            Mode::Hybrid => "/auth/refresh/browser",
            Mode::Session | Mode::Jwt => "/login",
        };
        assert_eq!(res.headers()["x-cloakroom-sign-in"], sign_in);
        // The same challenge as every other 401 of the token modes (RFC 6750).
        let challenge = res.headers().get("www-authenticate");
        match mode {
            Mode::Session => assert!(challenge.is_none()),
            Mode::Jwt | Mode::Hybrid => assert_eq!(challenge.unwrap(), "Bearer"),
        }

        for header in ["x-original-uri", "x-forwarded-uri"] {
            let res = http
                .get("/auth/verify")
                .header("accept", "text/html,application/xhtml+xml")
                .header(header, "/app/page?x=1&y=2")
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::FOUND, "{mode:?} {header}");
            assert_eq!(
                location(&res),
                format!("{sign_in}?next=/app/page%3Fx%3D1%26y%3D2")
            );
        }
        for evil in [
            "//evil.example/",
            "https://evil.example/",
            "/\\evil.example",
        ] {
            let res = http
                .get("/auth/verify")
                .header("accept", "text/html")
                .header("x-forwarded-uri", evil)
                .send()
                .await
                .unwrap();
            assert_eq!(location(&res), sign_in, "{evil}");
        }
        // A made-up token is no credential either.
        let res = http
            .with_bearer(http.get("/auth/verify"), "not.a.token")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{mode:?}");
    }
}

#[tokio::test]
async fn signed_in_callers_get_their_name_and_roles() {
    for mode in MODES {
        let (_dir, server) = server(mode).await;
        let b = Browser::new(&server);
        b.sign_in("alice").await;
        let res = b.get("/auth/verify").await;
        assert_eq!(res.status(), StatusCode::OK, "{mode:?}");
        assert_eq!(res.headers()["x-cloakroom-user"], "alice");
        assert_eq!(res.headers()["x-cloakroom-roles"], "ops,dev");
        assert_eq!(res.text().await.unwrap(), "", "empty body");
        assert_eq!(
            b.get("/auth/verify?role=ops").await.status(),
            StatusCode::OK
        );
        assert_eq!(
            b.get("/auth/verify?role=admin").await.status(),
            StatusCode::FORBIDDEN,
            "{mode:?}"
        );
        let root = Browser::new(&server);
        root.sign_in("root").await;
        let res = root.get("/auth/verify?role=admin").await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["x-cloakroom-roles"], "admin");

        // The API's credentials work too: a session cookie or a bearer token.
        let http = server.http();
        let req = match mode {
            Mode::Session => http.with_cookie(http.get("/auth/verify"), &http.login("alice").await),
            Mode::Jwt | Mode::Hybrid => {
                let t = http.login_tokens("alice").await;
                http.with_bearer(http.get("/auth/verify"), &t.access)
            }
        };
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{mode:?}");
        assert_eq!(res.headers()["x-cloakroom-user"], "alice");

        // Signed out: refused again at once.
        let (token, _) = b.csrf_of("/account").await;
        let before = b.cookie_header("/auth/verify");
        let res = b.post_form("/logout", &[("csrf", &token)]).await;
        assert_eq!(location(&res), "/login");
        let replay = server
            .http()
            .get("/auth/verify")
            .header("cookie", before)
            .send()
            .await
            .unwrap();
        assert_eq!(
            replay.status(),
            StatusCode::UNAUTHORIZED,
            "{mode:?}: old cookies replayed"
        );
        assert_eq!(
            b.get("/auth/verify").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
}
