//! Runs `scripts/schemathesis.sh`: schemathesis against a live `cloakroom serve` in each mode,
//! with every check it has. Needs `schemathesis` (`pip install schemathesis`): under `CI=true`
//! its absence fails the test; elsewhere the test says loudly that it skipped.

use std::path::Path;
use std::process::Command;

#[test]
fn schemathesis_finds_nothing_in_any_mode() {
    let installed = Command::new("schemathesis")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "schemathesis is not installed, and CI must run it (pip install schemathesis)"
        );
        eprintln!(
            "\n*** SKIPPED: schemathesis is not installed (pip install schemathesis); the live \
             API was NOT checked against its OpenAPI document ***\n"
        );
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/schemathesis.sh");
    let out = Command::new("bash")
        .arg(&script)
        .env("CLOAKROOM_BIN", env!("CARGO_BIN_EXE_cloakroom"))
        .output()
        .expect("run scripts/schemathesis.sh");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "schemathesis found problems:\n{text}");
    assert!(text.contains("every mode passed"), "{text}");
}
