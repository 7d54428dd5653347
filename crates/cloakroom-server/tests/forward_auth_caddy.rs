//! A real Caddy in front of a small app, asking Cloakroom through `forward_auth` with the recipe
//! of docs/GATEWAY.md (docs/gateway/Caddyfile, only the addresses filled in).
//!
//! Needs Debian's `caddy`; fails under `CI=true` without it, and skips loudly otherwise.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, Uri};
use cloakroom_server::settings::Mode;
use common::browser::{Browser, location};
use common::{Server, settings_in};
use reqwest::StatusCode;

const RECIPE: &str = include_str!("../../../docs/gateway/Caddyfile");
const GUIDE: &str = include_str!("../../../docs/GATEWAY.md");

/// Kills Caddy when the test ends, however it ends.
struct Caddy(Child);

impl Drop for Caddy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The app behind Caddy: echoes who Caddy says is signed in.
async fn start_app() -> String {
    async fn echo(headers: HeaderMap, uri: Uri) -> String {
        let h = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-")
                .to_owned()
        };
        format!(
            "user={} roles={} uri={uri}",
            h("x-cloakroom-user"),
            h("x-cloakroom-roles")
        )
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, Router::new().fallback(echo)).await;
    });
    addr.to_string()
}

fn start_caddy(dir: &Path, cloakroom: &str, app: &str, listen: &str) -> Caddy {
    let site = RECIPE
        .replace("CLOAKROOM_ADDR", cloakroom)
        .replace("APP_ADDR", app)
        .replace("LISTEN_ADDR", listen);
    let path = dir.join("Caddyfile");
    std::fs::write(&path, site).unwrap();
    let child = Command::new("caddy")
        .args(["run", "--adapter", "caddyfile", "--config"])
        .arg(&path)
        // Caddy keeps state under these; never in the real home.
        .env("HOME", dir)
        .env("XDG_DATA_HOME", dir)
        .env("XDG_CONFIG_HOME", dir)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("caddy.log")).unwrap())
        .spawn()
        .expect("start caddy");
    Caddy(child)
}

async fn wait_for(addr: &str, caddy: &mut Caddy, dir: &Path) {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return;
        }
        if let Ok(Some(status)) = caddy.0.try_wait() {
            let log = std::fs::read_to_string(dir.join("caddy.log")).unwrap_or_default();
            panic!("caddy exited ({status}):\n{log}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("caddy did not listen on {addr}");
}

#[test]
fn the_guide_shows_the_caddy_recipe_this_test_runs() {
    assert!(
        GUIDE.contains(RECIPE.trim()),
        "docs/GATEWAY.md must quote docs/gateway/Caddyfile verbatim"
    );
}

#[tokio::test]
async fn caddy_forward_auth_protects_an_app() {
    let found = Command::new("caddy")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "caddy is not installed (apt-get install -y caddy)"
        );
        eprintln!("\n\n*** SKIPPED: caddy is not installed (apt-get install -y caddy) ***\n\n");
        return;
    }
    for mode in [Mode::Session, Mode::Hybrid] {
        let dir = tempfile::tempdir().unwrap();
        let server = Server::start(settings_in(dir.path(), mode)).await;
        server.add_user("alice", &["dev"]).await;
        server.add_user("nobody", &[]).await;
        server.add_user("root", &["admin"]).await;
        let app = start_app().await;
        let listen = format!("127.0.0.1:{}", common::cluster::free_port());
        let caddy_dir = tempfile::tempdir().unwrap();
        let mut caddy = start_caddy(caddy_dir.path(), &server.addr.to_string(), &app, &listen);
        wait_for(&listen, &mut caddy, caddy_dir.path()).await;
        let url = format!("http://{listen}");
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();

        // Anonymous: Cloakroom's JSON 401 for an API client, the sign-in redirect for a
        // browser, even with a forged header.
        let res = client
            .get(format!("{url}/hello"))
            .header("accept", "application/json")
            .header("x-cloakroom-user", "root")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{mode:?}");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["error"], "unauthenticated", "{body}");
        let res = client
            .get(format!("{url}/hello?a=1&b=2"))
            .header("accept", "text/html")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::FOUND, "{mode:?}");
        let login = "/login?next=/hello%3Fa%3D1%26b%3D2";
        let anon = Browser::at(&url);
        match mode {
            Mode::Hybrid => {
                let to = location(&res);
                assert_eq!(to, "/auth/refresh/browser?next=/hello%3Fa%3D1%26b%3D2");
                assert_eq!(location(&anon.get(&to).await), login);
            }
            Mode::Session | Mode::Jwt => assert_eq!(location(&res), login),
        }

        // Signed in through Caddy: the app sees who, and only that.
        let alice = Browser::at(&url);
        let res = alice
            .sign_in_with("alice", common::PASSWORD, Some("/hello?a=1&b=2"))
            .await;
        assert_eq!(location(&res), "/hello?a=1&b=2", "{mode:?}");
        let req = client
            .get(format!("{url}/hello"))
            .header("x-cloakroom-user", "root")
            .header("x-cloakroom-roles", "admin");
        let res = alice.send(req, "/hello").await;
        assert_eq!(res.status(), StatusCode::OK, "{mode:?}");
        let body = res.text().await.unwrap();
        assert!(body.starts_with("user=alice roles=dev "), "{body}");

        // A user without roles cannot claim some by sending the header.
        let nobody = Browser::at(&url);
        nobody.sign_in("nobody").await;
        let req = client
            .get(format!("{url}/hello"))
            .header("x-cloakroom-roles", "admin");
        let body = nobody.send(req, "/hello").await.text().await.unwrap();
        assert!(!body.contains("admin"), "{body}");
        assert_eq!(
            nobody.get("/ops/panel").await.status(),
            StatusCode::FORBIDDEN
        );

        // The admin location wants the role.
        assert_eq!(
            alice.get("/ops/panel").await.status(),
            StatusCode::FORBIDDEN
        );
        let root = Browser::at(&url);
        root.sign_in("root").await;
        let res = root.get("/ops/panel").await;
        assert_eq!(res.status(), StatusCode::OK);
        assert!(
            res.text()
                .await
                .unwrap()
                .starts_with("user=root roles=admin")
        );

        // Signed out: 401 again.
        let (token, _) = alice.csrf_of("/account").await;
        let res = alice.post_form("/logout", &[("csrf", &token)]).await;
        assert_eq!(location(&res), "/login");
        assert_eq!(
            alice.get("/hello").await.status(),
            StatusCode::UNAUTHORIZED,
            "{mode:?}"
        );

        drop(caddy);
        server.stop().await;
    }
}
