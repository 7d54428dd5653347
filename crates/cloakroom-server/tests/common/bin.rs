//! Running the built `cloakroom` binary.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_cloakroom");

/// The binary, run in `dir`, with no inherited `CLOAKROOM_*` variables and cheap hashing (the
/// real parameters take seconds per hash in a debug build).
pub fn cloakroom(dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("CLOAKROOM_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("CLOAKROOM_INSECURE_FAST_HASHING_FOR_TESTS", "true");
    cmd.env_remove("RUST_LOG");
    cmd
}

pub fn run_with_stdin(mut cmd: Command, stdin: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn cloakroom");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("cloakroom finishes")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn user(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut cmd = cloakroom(dir);
    cmd.arg("user").args(args);
    run_with_stdin(cmd, stdin)
}
