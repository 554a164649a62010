//! `netc check` and `netc fmt` as a user runs them: exit codes, stdout/stderr, JSON.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn netc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_netc"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .output()
        .expect("netc runs")
}

fn scratch(name: &str, contents: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("netc-frontend-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("write scratch file");
    path
}

#[test]
fn check_passes_on_the_examples() {
    let out = netc(&[
        "check",
        "examples/xor.net",
        "examples/digits.net",
        "examples/residual.net",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("examples/xor.net: ok"));
}

#[test]
fn check_fails_with_rendered_diagnostics_and_json() {
    let bad = "tests/data/frontend/err/name.unknown_activation.net";
    let out = netc(&["check", "examples/xor.net", bad]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("netc::name::unknown_activation"),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean `sigmoid`?"), "{stderr}");

    let out = netc(&["check", "--format", "json", bad]);
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    assert_eq!(json[0]["code"], "netc::name::unknown_activation");
    assert_eq!(json[0]["file"], bad);
}

#[test]
fn check_applies_set_overrides() {
    let out = netc(&["check", "--set", "optimizer.lr=-1", "examples/xor.net"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("netc::range::out_of_range"));
    let out = netc(&[
        "check",
        "--set",
        "clip=none",
        "--set",
        "epochs=3",
        "examples/xor.net",
    ]);
    assert!(out.status.success());
}

#[test]
fn garbage_and_missing_files_fail_cleanly() {
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let path = scratch("garbage.net", &garbage);
    let out = netc(&["check", path.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("netc::parse::syntax"));
    let out = netc(&["check", "no/such/file.net"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn fmt_prints_checks_and_writes() {
    let messy = b"model m{\n input x:[2]\n dense 1}\ntrain{data=xor}\n";
    let path = scratch("messy.net", messy);
    let file = path.to_str().expect("utf-8 path");
    let out = netc(&["fmt", "--check", file]);
    assert_eq!(out.status.code(), Some(1));
    let out = netc(&["fmt", file]);
    assert!(out.status.success());
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        printed.starts_with("model m {\n    input x: [2]\n    dense 1\n}\n"),
        "{printed}"
    );
    assert!(netc(&["fmt", "--write", file]).status.success());
    assert_eq!(
        std::fs::read_to_string(Path::new(file)).expect("written"),
        printed
    );
    assert!(netc(&["fmt", "--check", file]).status.success());
    let broken = scratch("broken.net", b"model m {\n    dense = = 3\n}\n");
    assert_eq!(
        netc(&["fmt", broken.to_str().expect("utf-8")])
            .status
            .code(),
        Some(1)
    );
}
