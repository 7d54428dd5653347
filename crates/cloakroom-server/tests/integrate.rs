//! docs/INTEGRATE.md's verifiers, extracted from the document and run against a live server:
//! the Python one (PyJWT) and the Node one (jose, installed in integrate/ by `npm ci`). A valid
//! access token passes; tokens for another audience or issuer, expired, tampered, or signed by
//! the same key without the `at+jwt` type are refused.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use base64::Engine as _;
use cloakroom::clock::Timestamp;
use cloakroom::token::{Algorithm, StoredKey, TokenIssuer, TokenSubject};
use cloakroom_server::settings::Mode;
use common::{Server, jwt_claims, jwt_header, settings_in};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// The code block that follows `<!-- snippet: NAME -->` in docs/INTEGRATE.md.
fn snippet(name: &str) -> String {
    let doc = std::fs::read_to_string(format!("{ROOT}/docs/INTEGRATE.md")).unwrap();
    let marker = format!("<!-- snippet: {name} -->");
    let after = doc
        .split_once(&marker)
        .unwrap_or_else(|| panic!("no {marker}"))
        .1;
    let block = after.split_once("```").unwrap().1;
    let block = block.split_once('\n').unwrap().1;
    block.split_once("```").unwrap().0.to_owned()
}

fn tool(name: &str, probe: &[&str]) -> bool {
    let ok = Command::new(name)
        .args(probe)
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("CI").is_err(),
            "{name} {probe:?} fails: .ci/run installs what tests/integrate.rs needs"
        );
        eprintln!("skipped: {name} {probe:?} fails");
    }
    ok
}

struct Verifier {
    program: &'static str,
    script: PathBuf,
}

impl Verifier {
    fn run(&self, server: &Server, token: &str) -> Output {
        Command::new(self.program)
            .arg(&self.script)
            .arg(token)
            .env(
                "CLOAKROOM_JWKS_URL",
                format!("{}/.well-known/jwks.json", server.url),
            )
            .env("CLOAKROOM_ISSUER", &server.app.settings().public_url)
            .env("CLOAKROOM_AUDIENCE", &server.app.settings().jwt.audience)
            .output()
            .expect("run the verifier")
    }
}

fn write_pem(dir: &Path) -> PathBuf {
    let key = StoredKey::generate(Algorithm::EdDSA, Timestamp::from_unix(0)).unwrap();
    let body = base64::engine::general_purpose::STANDARD.encode(key.material.expose_secret());
    let path = dir.join("signing-key.pem");
    std::fs::write(
        &path,
        format!("-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\n"),
    )
    .unwrap();
    path
}

/// A token with the right claims and the server's own key, but `typ` "JWT": signed by PyJWT
/// with the PEM file the server signs with.
fn token_without_access_type(pem: &Path, valid: &str) -> String {
    let claims = jwt_claims(valid);
    let kid = jwt_header(valid)["kid"].as_str().unwrap().to_owned();
    let code = "import jwt, json, sys\n\
                claims = json.loads(sys.argv[2])\n\
                key = open(sys.argv[1]).read()\n\
                print(jwt.encode(claims, key, algorithm='EdDSA', headers={'kid': sys.argv[3], 'typ': 'JWT'}))";
    let out = Command::new("python3")
        .args(["-c", code])
        .arg(pem)
        .arg(claims.to_string())
        .arg(kid)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

// Several threads: the verifiers run as blocking child processes while the server answers
// their JWKS requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_verifiers_accept_cloakroom_tokens_and_refuse_the_rest() {
    let python = tool("python3", &["-c", "import jwt, cryptography"]);
    let node = tool(
        "node",
        &[
            "-e",
            &format!("require.resolve('jose', {{paths: ['{ROOT}/integrate']}})"),
        ],
    );
    if !python && !node {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pem = write_pem(dir.path());
    let mut settings = settings_in(dir.path(), Mode::Hybrid);
    settings.jwt.signing_key_file = Some(pem.clone());
    let server = Server::start(settings).await;
    let user = server.add_user("alice", &["ops"]).await;
    let valid = server.http().login_tokens("alice").await.access;

    let ring = server.app.tokens().unwrap().keys().ring().clone();
    let s = server.app.settings();
    let subject = TokenSubject {
        user_id: user.id.to_string(),
        name: "alice".to_owned(),
        roles: vec![],
        session: "s".to_owned(),
    };
    let ttl = Duration::from_secs(900);
    let issue = |iss: &str, aud: &str, at: Timestamp| {
        TokenIssuer::new(ring.clone(), iss.to_owned(), aud.to_owned(), ttl)
            .issue_at(&subject, at)
            .unwrap()
            .token
            .expose_secret()
            .to_owned()
    };
    let now = Timestamp::from_unix(jwt_claims(&valid)["iat"].as_i64().unwrap());
    let mut tampered = valid.clone();
    let dot = tampered.rfind('.').unwrap();
    tampered.replace_range(
        dot - 3..dot - 2,
        if &tampered[dot - 3..dot - 2] == "A" {
            "B"
        } else {
            "A"
        },
    );
    let refused = [
        (
            "another audience",
            issue(&s.public_url, "someone-else", now),
        ),
        (
            "another issuer",
            issue("https://evil.example", &s.jwt.audience, now),
        ),
        (
            "expired",
            issue(
                &s.public_url,
                &s.jwt.audience,
                Timestamp::from_unix(now.unix() - 3600),
            ),
        ),
        ("tampered", tampered),
        ("typ JWT", token_without_access_type(&pem, &valid)),
    ];

    let scripts = tempfile::tempdir().unwrap();
    let mut verifiers = Vec::new();
    if python {
        let script = scripts.path().join("verify.py");
        std::fs::write(&script, snippet("verify.py")).unwrap();
        verifiers.push(Verifier {
            program: "python3",
            script,
        });
    }
    if node {
        // Resolved from the script's directory upwards: integrate/'s node_modules, linked.
        #[cfg(unix)]
        std::os::unix::fs::symlink(
            format!("{ROOT}/integrate/node_modules"),
            scripts.path().join("node_modules"),
        )
        .unwrap();
        let script = scripts.path().join("verify.mjs");
        std::fs::write(&script, snippet("verify.mjs")).unwrap();
        verifiers.push(Verifier {
            program: "node",
            script,
        });
    }
    for v in &verifiers {
        let out = v.run(&server, &valid);
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}: {}",
            v.program,
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            said.contains(&format!("sub={}", user.id)),
            "{}: {said}",
            v.program
        );
        for (what, token) in &refused {
            let out = v.run(&server, token);
            assert_eq!(
                out.status.code(),
                Some(1),
                "{} accepted a token: {what}: {}{}",
                v.program,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                String::from_utf8_lossy(&out.stderr).contains("refused"),
                "{}: {what}",
                v.program
            );
        }
    }
    server.stop().await;
}
