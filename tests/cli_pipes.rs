//! The command as a script sees it: a closed stdout ends it quietly, and every command reads a
//! `.net` file the same way (invalid UTF-8 is one diagnostic with the byte offset).

use std::io::Read;
use std::process::Stdio;

mod common;

use common::netc_cli as netc;

/// Runs `args` with stdout a pipe whose reading end is closed after `keep` bytes were read.
fn with_closed_stdout(args: &[&str], keep: usize) -> (Option<i32>, String) {
    let mut child = netc()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("netc starts");
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut first = vec![0u8; keep];
    let _ = stdout.read_exact(&mut first);
    drop(stdout);
    let out = child.wait_with_output().expect("netc ends");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_closed_stdout_ends_ir_and_check_quietly() {
    // The pipe is closed before the command writes anything, so its first write fails.
    let runs: [&[&str]; 2] = [
        &["ir", "examples/digits.net", "--grad", "--emit", "clif"],
        &[
            "check",
            "--format",
            "json",
            "tests/data/frontend/err/name.block_too_deep.net",
        ],
    ];
    for args in runs {
        let (code, stderr) = with_closed_stdout(args, 0);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_ne!(code, Some(101), "{args:?}: {stderr}");
    }
}

#[test]
fn invalid_utf8_is_the_same_diagnostic_for_every_command() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bad.net");
    let mut bytes = std::fs::read("examples/xor.net").expect("example");
    let at = bytes.len() - 2;
    bytes.insert(at, 0xFF);
    std::fs::write(&path, &bytes).expect("write");
    let file = path.to_str().expect("utf-8 path");
    for args in [
        vec!["check", file],
        vec!["params", file],
        vec!["ir", file],
        vec!["fmt", file],
    ] {
        let out = netc().args(&args).output().expect("netc runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains("netc::io::utf8"), "{args:?}: {stderr}");
        assert!(
            stderr.contains(&format!("byte {at} is 0xFF")),
            "{args:?}: {stderr}"
        );
    }
}
