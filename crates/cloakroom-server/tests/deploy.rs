//! deploy/cloakroom.service: `systemd-analyze verify` accepts it (pointed at the binary cargo
//! built, since verify checks that `ExecStart` exists), and `systemd-analyze security` rates
//! its exposure low. Neither needs systemd running as PID 1.

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_cloakroom");

fn unit() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/cloakroom.service");
    std::fs::read_to_string(path)
        .expect("deploy/cloakroom.service")
        .replace("/usr/local/bin/cloakroom", BIN)
}

fn have_systemd_analyze() -> bool {
    let found = Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var("CI").is_err(),
            "systemd-analyze is missing (apt-get install systemd): .ci/run installs it"
        );
        eprintln!("skipped: no systemd-analyze");
    }
    found
}

fn analyze(dir: &Path, text: &str, args: &[&str]) -> std::process::Output {
    let file = dir.join("cloakroom.service");
    std::fs::write(&file, text).unwrap();
    Command::new("systemd-analyze")
        .args(args)
        .arg(&file)
        .output()
        .expect("run systemd-analyze")
}

#[test]
fn the_systemd_unit_verifies_and_is_hardened() {
    if !have_systemd_analyze() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let text = unit();
    for directive in [
        "DynamicUser=yes",
        "StateDirectory=cloakroom",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=\n",
        "SystemCallFilter=@system-service",
    ] {
        assert!(text.contains(directive), "{directive:?} missing");
    }
    let out = analyze(dir.path(), &text, &["verify"]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && said.trim().is_empty(), "{said}");

    // The check can fail: a misspelt directive is reported.
    let broken = text.replace("ProtectSystem=strict", "ProtectSystme=strict");
    let out = analyze(dir.path(), &broken, &["verify"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("ProtectSystme"),
        "verify did not notice a misspelt directive"
    );

    let out = analyze(dir.path(), &text, &["security", "--offline=yes"]);
    let report = String::from_utf8_lossy(&out.stdout);
    let level = report
        .lines()
        .find_map(|l| {
            l.split("Overall exposure level for cloakroom.service: ")
                .nth(1)
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no exposure level in {report}"));
    assert!(level <= 2.0, "exposure {level}: {report}");
}
