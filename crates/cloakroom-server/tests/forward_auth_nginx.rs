//! A real nginx in front of a small app, asking Cloakroom through `auth_request` with the
//! recipe of docs/GATEWAY.md (docs/gateway/nginx.conf, only the addresses filled in).
//!
//! Needs nginx with the auth_request module (Debian's `nginx-light`); fails under `CI=true`
//! without it, and skips loudly otherwise.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, Uri};
use cloakroom_server::settings::Mode;
use common::browser::{Browser, location};
use common::{Server, settings_in};
use reqwest::StatusCode;

const RECIPE: &str = include_str!("../../../docs/gateway/nginx.conf");
const GUIDE: &str = include_str!("../../../docs/GATEWAY.md");

fn nginx_binary() -> Option<PathBuf> {
    ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// Kills nginx when the test ends, however it ends.
struct Nginx(Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// The app behind nginx: echoes who nginx says is signed in.
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

fn start_nginx(bin: &Path, dir: &Path, cloakroom: &str, app: &str, listen: &str) -> Nginx {
    let site = RECIPE
        .replace("CLOAKROOM_ADDR", cloakroom)
        .replace("APP_ADDR", app)
        .replace("LISTEN_ADDR", listen);
    let d = dir.display();
    // Run as the current user; as root, nginx would otherwise switch its workers to nobody.
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    let user = if root { "user root;" } else { "" };
    let conf = format!(
        "{user}\ndaemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log info;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n  access_log {d}/access.log;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  \
         fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n{site}\n}}\n"
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf).expect("write nginx.conf");
    let child = Command::new(bin)
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(&path)
        .arg("-e")
        .arg(dir.join("error.log"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start nginx");
    Nginx(child)
}

async fn wait_for(addr: &str, nginx: &mut Nginx, dir: &Path) {
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return;
        }
        if let Ok(Some(status)) = nginx.0.try_wait() {
            let log = std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
            panic!("nginx exited ({status}):\n{log}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("nginx did not listen on {addr}");
}

#[test]
fn the_guide_shows_the_recipe_this_test_runs() {
    assert!(
        GUIDE.contains(RECIPE.trim()),
        "docs/GATEWAY.md must quote docs/gateway/nginx.conf verbatim"
    );
}

#[tokio::test]
async fn nginx_auth_request_protects_an_app() {
    let Some(bin) = nginx_binary() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "nginx is not installed (apt-get install -y nginx-light)"
        );
        eprintln!(
            "\n\n*** SKIPPED: nginx is not installed (apt-get install -y nginx-light) ***\n\n"
        );
        return;
    };
    for mode in [Mode::Session, Mode::Hybrid] {
        let dir = tempfile::tempdir().unwrap();
        let server = Server::start(settings_in(dir.path(), mode)).await;
        server.add_user("alice", &["dev"]).await;
        server.add_user("root", &["admin"]).await;
        let app = start_app().await;
        let listen = format!("127.0.0.1:{}", free_port());
        let nginx_dir = tempfile::tempdir().unwrap();
        let mut nginx = start_nginx(
            &bin,
            nginx_dir.path(),
            &server.addr.to_string(),
            &app,
            &listen,
        );
        wait_for(&listen, &mut nginx, nginx_dir.path()).await;
        let url = format!("http://{listen}");
        let anon = Browser::at(&url);

        // Anonymous: 401 for a program, the sign-in page for a browser, even with a forged
        // header.
        let res = anon.get("/hello").await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{mode:?}");
        // An API client gets Cloakroom's JSON error, not nginx's HTML page.
        let res = reqwest::Client::new()
            .get(format!("{url}/hello"))
            .header("accept", "application/json")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(res.headers()["content-type"], "application/json");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["error"], "unauthenticated", "{body}");
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let res = client
            .get(format!("{url}/hello?a=1&b=2"))
            .header("accept", "text/html")
            .header("x-cloakroom-user", "root")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::FOUND, "{mode:?}");
        let login = "/login?next=/hello%3Fa%3D1%26b%3D2";
        match mode {
            // Through the refresh first, which finds no refresh cookie here.
            Mode::Hybrid => {
                let to = location(&res);
                assert_eq!(to, "/auth/refresh/browser?next=/hello%3Fa%3D1%26b%3D2");
                assert_eq!(location(&anon.get(&to).await), login);
            }
            Mode::Session | Mode::Jwt => assert_eq!(location(&res), login),
        }

        // Signed in through nginx: the app sees who, and only that.
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

        if mode == Mode::Hybrid {
            // The access token expires: a browser is refreshed through nginx and comes back.
            server.clock.advance(Duration::from_secs(16 * 60));
            let req = client
                .get(format!("{url}/hello"))
                .header("accept", "text/html");
            let res = alice.send(req, "/hello").await;
            assert_eq!(res.status(), StatusCode::FOUND);
            let to = location(&res);
            assert_eq!(to, "/auth/refresh/browser?next=/hello");
            let res = alice.get(&to).await;
            assert_eq!(location(&res), "/hello");
            let res = alice.get("/hello").await;
            assert_eq!(res.status(), StatusCode::OK);
            assert!(res.text().await.unwrap().starts_with("user=alice "));
        }

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

        drop(nginx);
        server.stop().await;
    }
}
