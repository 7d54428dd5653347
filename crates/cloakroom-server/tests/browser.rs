//! Runs the end-to-end browser tests of `e2e/` (node's test runner, playwright-core, the
//! system's Chromium) against the `cloakroom` binary cargo built for this test, so that
//! `cargo test` covers them.
//!
//! Needs `node`/`npm` and `/usr/bin/chromium` (Debian's `chromium`); fails under `CI=true`
//! without them, and skips loudly otherwise. Runs `npm ci` when `e2e/node_modules` is missing.

use std::path::{Path, PathBuf};
use std::process::Command;

const CHROMIUM: &str = "/usr/bin/chromium";

fn e2e_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../e2e")
}

fn has(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Fails under CI, skips loudly elsewhere; `true` when the test should go on.
fn need(ok: bool, what: &str) -> bool {
    if ok {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{what} is missing (see .ci/run)"
    );
    eprintln!("\n\n*** SKIPPED the browser tests: {what} is missing ***\n\n");
    false
}

#[test]
fn pages_work_in_a_real_browser() {
    if !need(
        has("node") && has("npm"),
        "node/npm (apt-get install -y nodejs npm)",
    ) || !need(
        Path::new(CHROMIUM).exists(),
        "chromium (apt-get install -y chromium)",
    ) {
        return;
    }
    let dir = e2e_dir();
    if !dir.join("node_modules").exists() {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .status()
            .expect("run npm ci");
        assert!(status.success(), "npm ci failed in {}", dir.display());
    }
    let out = Command::new("node")
        .args(["--test", "--test-concurrency=1"])
        .current_dir(&dir)
        .env("CLOAKROOM_BIN", env!("CARGO_BIN_EXE_cloakroom"))
        .env("CHROMIUM", CHROMIUM)
        .output()
        .expect("run node --test");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the browser tests failed:\n{stdout}\n{stderr}"
    );
    // node --test passes with no test files at all: make sure they ran.
    assert!(stdout.contains("# pass 2"), "{stdout}");
}
