//! `cloakroom compare`: the binary runs every mode, prints the verdict table with a number in
//! every cell, writes the chart, and `--json` carries the same numbers.

mod common;

use common::bin::{cloakroom, text};
use serde_json::Value;

/// The reload interval is the longest a token mode waits for another node's news: keep the
/// logout trials short.
fn compare(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    let mut cmd = cloakroom(dir);
    cmd.env("CLOAKROOM_JWT__RELOAD_INTERVAL", "1s");
    cmd.arg("compare").args(args);
    cmd.output().expect("cloakroom compare runs")
}

#[test]
fn prints_every_row_with_numbers_and_writes_the_chart() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("charts");
    let run = compare(
        dir.path(),
        &[
            "--duration",
            "1s",
            "--trials",
            "2",
            "--connections",
            "4",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    let stdout = text(&run.stdout);
    assert!(run.status.success(), "{stdout}\n{}", text(&run.stderr));
    let header = stdout
        .lines()
        .find(|l| l.starts_with("| criterion"))
        .unwrap_or_else(|| panic!("no table in {stdout}"));
    assert_eq!(
        header,
        "| criterion (the explainer's winner) | session | jwt | hybrid |"
    );
    for row in [
        "Performance (JWT): checking a request in-process",
        "Performance (JWT): `GET /auth/me` over HTTP",
        "Scalability (JWT): store round trips per request",
        "Ease of logout (Session): logout on node A → 401 on node B",
        "Security: credential on the wire, bytes",
    ] {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&format!("| {row}")))
            .unwrap_or_else(|| panic!("no row {row:?} in {stdout}"));
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // "", the criterion, three modes, "".
        assert_eq!(cells.len(), 6, "{line}");
        for cell in &cells[2..5] {
            assert!(cell.chars().any(|c| c.is_ascii_digit()), "{row}: {cell:?}");
        }
    }
    let svg = std::fs::read_to_string(out.join("compare.svg")).expect("the chart");
    assert!(svg.starts_with("<svg"), "{svg}");
    for mode in ["session", "jwt", "hybrid"] {
        assert!(
            svg.contains(&format!(">{mode}</text>")),
            "{mode} in the chart"
        );
    }
    assert!(svg.contains("requests per second"));
}

#[test]
fn json_carries_the_measurements() {
    let dir = tempfile::tempdir().unwrap();
    let run = compare(
        dir.path(),
        &[
            "--json",
            "--modes",
            "session,jwt",
            "--duration",
            "500ms",
            "--trials",
            "3",
            "--connections",
            "2",
            "--out",
            dir.path().to_str().unwrap(),
        ],
    );
    assert!(run.status.success(), "{}", text(&run.stderr));
    let report: Value = serde_json::from_slice(&run.stdout).expect("JSON on stdout");
    let modes = report["modes"].as_array().expect("modes");
    assert_eq!(modes.len(), 2);
    for m in modes {
        let positive = |v: &Value| v.as_f64().is_some_and(|x| x > 0.0);
        assert!(positive(&m["verification"]["repeat_us"]), "{m}");
        assert!(positive(&m["throughput"]["per_second"]), "{m}");
        assert!(m["throughput"]["requests"].as_u64().unwrap() > 0, "{m}");
        assert_eq!(m["throughput"]["errors"], 0, "{m}");
        assert!(m["credential_bytes"].as_u64().unwrap() > 20, "{m}");
    }
    let (session, jwt) = (&modes[0], &modes[1]);
    assert_eq!(session["mode"], "session");
    // One store lookup per request (a touch is at most one per touch interval).
    let trips = session["store_round_trips"].as_f64().unwrap();
    assert!((1.0..1.1).contains(&trips), "{trips}");
    assert_eq!(jwt["store_round_trips"].as_f64(), Some(0.0));
    assert!(jwt["verification"]["first_sight_us"].as_f64().unwrap() > 0.0);
    // Two nodes over one SQLite file: a deleted session is gone for both.
    let p = &session["logout_propagation"];
    assert_eq!(p["samples_ms"].as_array().unwrap().len(), 3, "{p}");
    assert_eq!(p["timed_out"], 0, "{p}");
    // jwt: measured either way; a timeout is reported as one, never as a number.
    let p = &jwt["logout_propagation"];
    let samples = p["samples_ms"].as_array().unwrap().len();
    assert!(samples == 3 || p["timed_out"] == 1, "{p}");
    assert!(dir.path().join("compare.svg").exists());
}
