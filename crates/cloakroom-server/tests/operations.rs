//! Running it in production, through the built binary: backups and restores, signing keys
//! encrypted at rest and supplied as PEM files, and the first-hour fixes (the public URL, a
//! missing database, closed pipes, the sample configuration, error messages, metrics on their
//! own listener).

mod common;

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use base64::Engine as _;
use cloakroom::clock::Timestamp;
use cloakroom::token::{Algorithm, StoredKey};
use common::bin::{cloakroom, run_with_stdin, text};
use common::{Http, PASSWORD, jwt_claims, jwt_header};
use reqwest::StatusCode;

const KEK: &str = "8f2d1c0b9a8877665544332211000ffeeddccbbaa99887766554433221100aab";
const OTHER_KEK: &str = "0000000000000000000000000000000000000000000000000000000000000001";

/// `cloakroom serve`, started in `dir` with `args` before `serve` and `envs`, stopped on drop.
struct Serve {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Serve {
    async fn start(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Self {
        Self::start_listening(dir, args, envs, "127.0.0.1:0").await
    }

    async fn start_listening(
        dir: &Path,
        args: &[&str],
        envs: &[(&str, &str)],
        listen: &str,
    ) -> Self {
        let log = dir.join(format!("serve-{}.log", common::cluster::free_port()));
        let mut cmd = cloakroom(dir);
        cmd.args(args).args(["serve", "--listen", listen]);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("spawn cloakroom serve");
        let stdout = child.stdout.take().unwrap();
        let banner = tokio::task::spawn_blocking(move || {
            let mut lines = BufReader::new(stdout).lines();
            let first = lines.next().and_then(Result::ok).unwrap_or_default();
            std::thread::spawn(move || lines.for_each(drop));
            first
        });
        let banner = tokio::time::timeout(Duration::from_secs(60), banner)
            .await
            .expect("serve prints its banner")
            .unwrap();
        let url = banner
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| {
                panic!(
                    "no address in {banner:?}: {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                )
            })
            .to_owned();
        Self { child, url, log }
    }

    fn http(&self) -> Http {
        Http {
            url: self.url.clone(),
            origin: self.url.clone(),
            cookie_name: "cloakroom_session".to_owned(),
            client: reqwest::Client::new(),
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `cloakroom ARGS` in `dir`, with `envs`.
fn run(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = cloakroom(dir);
    cmd.args(args);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    run_with_stdin(cmd, "")
}

fn add_user(dir: &Path, args: &[&str], name: &str) {
    let mut cmd = cloakroom(dir);
    cmd.args(args)
        .args(["user", "add", name, "--password-stdin"]);
    let out = run_with_stdin(cmd, PASSWORD);
    assert!(out.status.success(), "user add: {}", text(&out.stderr));
}

fn write(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

async fn jwks(http: &Http) -> serde_json::Value {
    http.get("/.well-known/jwks.json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_backup_restored_into_a_fresh_directory_serves_the_same_users_keys_and_sessions() {
    let live = tempfile::tempdir().unwrap();
    let fresh = tempfile::tempdir().unwrap();
    // Both servers must be the same issuer: in production they have the same public URL.
    let config = "public_url = \"http://auth.test\"\n";
    let live_config = write(live.path(), "cloakroom.toml", config);
    let fresh_config = write(fresh.path(), "cloakroom.toml", config);
    let live_args = ["--config", live_config.to_str().unwrap()];
    let fresh_args = ["--config", fresh_config.to_str().unwrap()];
    add_user(live.path(), &live_args, "alice");

    let server = Serve::start(live.path(), &live_args, &[]).await;
    let http = server.http();
    let tokens = http.login_tokens("alice").await;
    let jwks_before = jwks(&http).await;
    // Backed up online: the server keeps running and answering.
    let out = run(
        live.path(),
        &[&live_args[..], &["backup", "copy.db"]].concat(),
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(said.contains("1 users, 1 signing keys"), "{said}");
    assert!(said.contains("in clear"), "{said}");
    let copy = live.path().join("copy.db");
    #[cfg(unix)]
    assert_eq!(mode(&copy), 0o600, "the copy holds hashes and keys");
    assert_eq!(http.me_bearer_status(&tokens.access).await, StatusCode::OK);
    // A second backup to the same file is refused rather than overwriting it.
    let again = run(
        live.path(),
        &[&live_args[..], &["backup", "copy.db"]].concat(),
        &[],
    );
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("exists already"),
        "{}",
        text(&again.stderr)
    );
    server.stop();

    let out = run(
        fresh.path(),
        &[&fresh_args[..], &["restore", copy.to_str().unwrap()]].concat(),
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("restored"),
        "{}",
        text(&out.stdout)
    );
    let restored = fresh.path().join("cloakroom.db");
    #[cfg(unix)]
    assert_eq!(mode(&restored), 0o600);

    let server = Serve::start(fresh.path(), &fresh_args, &[]).await;
    let http = server.http();
    assert_eq!(jwks(&http).await, jwks_before, "the same keys");
    assert_eq!(
        http.me_bearer_status(&tokens.access).await,
        StatusCode::OK,
        "a token issued before the backup verifies"
    );
    let res = http.refresh_response(tokens.refresh()).await;
    assert_eq!(res.status(), StatusCode::OK, "the same refresh sessions");
    let again = http.login_tokens("alice").await;
    assert_eq!(
        jwt_header(&again.access)["kid"],
        jwt_header(&tokens.access)["kid"]
    );
    let users = run(
        fresh.path(),
        &[&fresh_args[..], &["user", "list"]].concat(),
        &[],
    );
    assert!(
        text(&users.stdout).starts_with("alice\t"),
        "{}",
        text(&users.stdout)
    );
}

#[tokio::test]
async fn restore_refuses_to_replace_a_database_without_force_and_refuses_what_is_no_backup() {
    let dir = tempfile::tempdir().unwrap();
    add_user(dir.path(), &[], "alice");
    let out = run(dir.path(), &["backup", "copy.db"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    add_user(dir.path(), &[], "bob");

    let out = run(dir.path(), &["restore", "copy.db"], &[]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("--force") && err.contains("cloakroom.db"),
        "{err}"
    );
    assert!(err.contains("stop every server"), "{err}");
    let users = text(&run(dir.path(), &["user", "list"], &[]).stdout);
    assert!(users.contains("bob"), "nothing was replaced: {users}");

    let out = run(dir.path(), &["restore", "--force", "copy.db"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("must be restarted"),
        "{}",
        text(&out.stdout)
    );
    let users = text(&run(dir.path(), &["user", "list"], &[]).stdout);
    assert!(users.contains("alice") && !users.contains("bob"), "{users}");

    write(dir.path(), "garbage.db", "this is not a database");
    let out = run(dir.path(), &["restore", "--force", "garbage.db"], &[]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("not a Cloakroom database"),
        "{}",
        text(&out.stderr)
    );
    let out = run(dir.path(), &["restore", "--force", "missing.db"], &[]);
    assert!(
        text(&out.stderr).contains("no backup at"),
        "{}",
        text(&out.stderr)
    );

    let pg = write(
        dir.path(),
        "pg.toml",
        "database_url = \"postgres://127.0.0.1/test\"\n",
    );
    let out = run(
        dir.path(),
        &["--config", pg.to_str().unwrap(), "backup", "x.db"],
        &[],
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("pg_dump"),
        "{}",
        text(&out.stderr)
    );
}

/// An Ed25519 key as a PKCS#8 PEM file, and its DER bytes.
fn pem_key(dir: &Path) -> (PathBuf, Vec<u8>) {
    let key = StoredKey::generate(Algorithm::EdDSA, Timestamp::from_unix(0)).unwrap();
    let der = key.material.expose_secret().to_vec();
    let body = base64::engine::general_purpose::STANDARD.encode(&der);
    let pem = format!("-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\n");
    (write(dir, "signing-key.pem", &pem), der)
}

/// Whether the database file (or its write-ahead log) holds `secret` anywhere.
fn database_holds(dir: &Path, secret: &[u8]) -> bool {
    ["cloakroom.db", "cloakroom.db-wal"].iter().any(|name| {
        std::fs::read(dir.join(name))
            .map(|bytes| bytes.windows(secret.len()).any(|w| w == secret))
            .unwrap_or(false)
    })
}

#[tokio::test]
async fn signing_keys_are_encrypted_at_rest_once_a_key_encryption_key_is_set() {
    let dir = tempfile::tempdir().unwrap();
    let (pem, der) = pem_key(dir.path());
    // The 32-byte Ed25519 seed is the last part of its PKCS#8 encoding.
    let seed = &der[der.len() - 32..];
    let config = write(
        dir.path(),
        "cloakroom.toml",
        &format!(
            "public_url = \"http://auth.test\"\n[jwt]\nsigning_key_file = {:?}\n",
            pem.to_str().unwrap()
        ),
    );
    let args = ["--config", config.to_str().unwrap()];
    add_user(dir.path(), &args, "alice");

    // No key-encryption key yet: the key from the file signs, and sits in the file in clear
    // (which shows that the search below finds it when it is there).
    let server = Serve::start(dir.path(), &args, &[]).await;
    let before = server.http().login_tokens("alice").await;
    let kid = jwt_header(&before.access)["kid"].clone();
    server.stop();
    assert!(database_holds(dir.path(), seed), "clear before a KEK");

    // The first start with one encrypts the keys in place; the same keys still sign and verify.
    let kek = [(common_kek_env(), KEK)];
    let server = Serve::start(dir.path(), &args, &kek).await;
    assert!(
        server.log().contains("encrypted the signing keys"),
        "{}",
        server.log()
    );
    let http = server.http();
    assert_eq!(http.me_bearer_status(&before.access).await, StatusCode::OK);
    let after = http.login_tokens("alice").await;
    assert_eq!(jwt_header(&after.access)["kid"], kid);
    server.stop();
    assert!(
        !database_holds(dir.path(), seed),
        "the seed is gone from the database"
    );
    assert!(
        !database_holds(dir.path(), &der),
        "and so is its PKCS#8 form"
    );

    // The same key from a file works too; a wrong one, or none, stops start-up clearly.
    let kek_file = write(dir.path(), "kek", &format!("{KEK}\n"));
    let with_file = write(
        dir.path(),
        "with-file.toml",
        &format!(
            "key_encryption_key_file = {:?}\n[jwt]\nsigning_key_file = {:?}\n",
            kek_file.to_str().unwrap(),
            pem.to_str().unwrap()
        ),
    );
    let out = run(
        dir.path(),
        &["--config", with_file.to_str().unwrap(), "keys", "list"],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(kid.as_str().unwrap()),
        "{}",
        text(&out.stdout)
    );

    let wrong = run(
        dir.path(),
        &[&args[..], &["serve"]].concat(),
        &[(common_kek_env(), OTHER_KEK)],
    );
    assert!(!wrong.status.success());
    let err = text(&wrong.stderr);
    assert!(
        err.contains("does not open with this key-encryption key"),
        "{err}"
    );
    let none = run(dir.path(), &[&args[..], &["keys", "list"]].concat(), &[]).concat_out();
    assert!(
        none.contains("no key-encryption key is configured"),
        "{none}"
    );
    let bad = run(
        dir.path(),
        &[&args[..], &["keys", "list"]].concat(),
        &[(common_kek_env(), "short")],
    );
    assert!(
        text(&bad.stderr).contains("openssl rand -hex 32"),
        "{}",
        text(&bad.stderr)
    );

    // The backup keeps them encrypted, and says what restoring needs.
    let out = run(
        dir.path(),
        &[&args[..], &["backup", "copy.db"]].concat(),
        &kek,
    );
    assert!(
        text(&out.stdout).contains("same key-encryption key"),
        "{}",
        text(&out.stdout)
    );

    // A key from a file is not rotated by hand.
    let out = run(dir.path(), &[&args[..], &["keys", "rotate"]].concat(), &kek);
    assert!(
        text(&out.stderr).contains("signing_key_file"),
        "{}",
        text(&out.stderr)
    );
}

fn common_kek_env() -> &'static str {
    "CLOAKROOM_KEY_ENCRYPTION_KEY"
}

trait OutText {
    fn concat_out(&self) -> String;
}

impl OutText for Output {
    fn concat_out(&self) -> String {
        format!("{}{}", text(&self.stdout), text(&self.stderr))
    }
}

#[tokio::test]
async fn a_signing_key_file_of_another_algorithm_is_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (pem, _) = pem_key(dir.path());
    let config = write(
        dir.path(),
        "es.toml",
        &format!(
            "[jwt]\nalgorithm = \"ES256\"\nsigning_key_file = {:?}\n",
            pem.to_str().unwrap()
        ),
    );
    let out = run(
        dir.path(),
        &["config", "check", config.to_str().unwrap()],
        &[],
    );
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("signing-key.pem") && err.contains("jwt.algorithm"),
        "{err}"
    );
}

#[test]
fn commands_other_than_serve_refuse_to_create_a_missing_database() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["user", "list"][..],
        &["keys", "list"],
        &["keys", "rotate"],
        &["token", "inspect", "a.b.c"],
        &["backup", "copy.db"],
    ] {
        let out = run(
            dir.path(),
            &[&["--data-dir", "typo"][..], args].concat(),
            &[],
        );
        assert!(!out.status.success(), "{args:?}");
        let err = text(&out.stderr);
        assert!(
            err.contains("there is no database at typo/cloakroom.db"),
            "{args:?}: {err}"
        );
        assert!(
            !dir.path().join("typo").exists(),
            "{args:?} made the directory"
        );
    }
}

#[cfg(unix)]
/// Runs `cloakroom ARGS` with its standard output a pipe whose reading end is already closed,
/// as in `cloakroom keys list | head -0`.
fn into_closed_pipe(dir: &Path, args: &[&str]) -> Output {
    let (writer, reader) = tokio::net::unix::pipe::pipe().unwrap();
    drop(reader);
    let writer = writer.into_blocking_fd().unwrap();
    let mut cmd: Command = cloakroom(dir);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped());
    cmd.output().unwrap()
}

#[cfg(unix)]
#[tokio::test]
async fn listings_end_quietly_on_a_closed_pipe() {
    let dir = tempfile::tempdir().unwrap();
    add_user(dir.path(), &[], "alice");
    let out = run(dir.path(), &["keys", "rotate"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for args in [
        &["user", "list"][..],
        &["keys", "list"],
        &["config", "example"],
    ] {
        let out = into_closed_pipe(dir.path(), args);
        let code = out.status.code();
        assert!(matches!(code, Some(0 | 141)), "{args:?}: {code:?}");
        let err = text(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn the_example_configuration_is_valid_and_errors_name_each_key_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["config", "example"], &[]);
    assert!(out.status.success());
    let example = text(&out.stdout);
    for key in [
        "mode =",
        "[jwt]",
        "# signing_key_file =",
        "# metrics_listen =",
        "[limits]",
    ] {
        assert!(example.contains(key), "{key} missing");
    }
    let file = write(dir.path(), "example.toml", &example);
    let out = run(
        dir.path(),
        &["config", "check", file.to_str().unwrap()],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("valid"), "{}", text(&out.stdout));

    let typo = write(dir.path(), "typo.toml", "listn = \"127.0.0.1:1\"\n");
    let out = run(
        dir.path(),
        &["config", "check", typo.to_str().unwrap()],
        &[],
    );
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("`listn` (in "), "{err}");
    assert!(!err.contains("listn.listn"), "{err}");

    let nested = write(
        dir.path(),
        "nested.toml",
        "[log]\nforwarded_header = \"x\"\n",
    );
    let err = text(
        &run(
            dir.path(),
            &["config", "check", nested.to_str().unwrap()],
            &[],
        )
        .stderr,
    );
    assert!(err.contains("`log.forwarded_header`"), "{err}");
    assert!(!err.contains("forwarded_header.forwarded_header"), "{err}");

    let out = run(dir.path(), &["user", "list"], &[("CLOAKROOM_BOGUS", "1")]);
    let err = text(&out.stderr);
    assert!(err.contains("(from CLOAKROOM_BOGUS)"), "{err}");
    assert!(!err.contains("BOGUS__BOGUS"), "{err}");
}

#[tokio::test]
async fn tokens_name_the_listen_address_when_no_public_url_is_set() {
    let dir = tempfile::tempdir().unwrap();
    add_user(dir.path(), &[], "alice");
    let server = Serve::start(dir.path(), &[], &[]).await;
    let tokens = server.http().login_tokens("alice").await;
    assert_eq!(jwt_claims(&tokens.access)["iss"], server.url.as_str());
    assert!(
        !server.log().contains("beyond this machine"),
        "{}",
        server.log()
    );
    server.stop();

    let port = common::cluster::free_port();
    let listen = format!("127.0.0.1:{port}");
    let server = Serve::start_listening(dir.path(), &[], &[], &listen).await;
    let tokens = server.http().login_tokens("alice").await;
    assert_eq!(
        jwt_claims(&tokens.access)["iss"],
        format!("http://{listen}")
    );
    server.stop();
}

#[tokio::test]
async fn listening_beyond_loopback_without_https_warns() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Serve::start_listening(dir.path(), &[], &[], "0.0.0.0:0").await;
    server.url = server.url.replace("0.0.0.0", "127.0.0.1");
    let log = server.log();
    assert!(
        log.contains("beyond this machine") && log.contains("https"),
        "{log}"
    );
    server.stop();

    let config = write(
        dir.path(),
        "https.toml",
        "public_url = \"https://auth.example\"\n",
    );
    let server = Serve::start_listening(
        dir.path(),
        &["--config", config.to_str().unwrap()],
        &[],
        "0.0.0.0:0",
    )
    .await;
    assert!(
        !server.log().contains("beyond this machine"),
        "{}",
        server.log()
    );
}

#[tokio::test]
async fn metrics_can_move_to_a_listener_of_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let port = common::cluster::free_port();
    let config = write(
        dir.path(),
        "metrics.toml",
        &format!("metrics_listen = \"127.0.0.1:{port}\"\n"),
    );
    let server = Serve::start(dir.path(), &["--config", config.to_str().unwrap()], &[]).await;
    let http = server.http();
    let main = http.get("/metrics").send().await.unwrap();
    assert_eq!(
        main.status(),
        StatusCode::NOT_FOUND,
        "not on the main listener"
    );
    let own = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap();
    assert_eq!(own.status(), StatusCode::OK);
    let kind = own.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(kind.starts_with("text/plain"), "{kind}");
    let other = reqwest::get(format!("http://127.0.0.1:{port}/auth/me"))
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::NOT_FOUND, "only /metrics there");
    // Without the setting, /metrics stays where it was.
    server.stop();
    let server = Serve::start(dir.path(), &[], &[]).await;
    let res = server.http().get("/metrics").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[test]
fn the_readme_configuration_blocks_pasted_together_are_valid() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let blocks: Vec<&str> = readme
        .split("```toml\n")
        .skip(1)
        .map(|rest| rest.split_once("```").unwrap().0)
        .collect();
    let configuration = blocks
        .iter()
        .find(|b| b.starts_with("mode = "))
        .expect("the configuration block");
    let security = blocks
        .iter()
        .find(|b| b.starts_with("[login]"))
        .expect("the security block starts with a table, not top-level keys");
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "readme.toml",
        &format!("{configuration}\n{security}"),
    );
    let out = run(
        dir.path(),
        &["config", "check", file.to_str().unwrap()],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
}
