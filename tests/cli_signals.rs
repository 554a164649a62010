//! `netc train` under the conventions scripts rely on: Ctrl-C exits 130 and says where the
//! checkpoint is, `-q` quiets the terminal but still writes the report, and the JSON forms.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};

mod common;

use common::netc_cli as netc;

fn run(args: &[&str]) -> Output {
    netc().args(args).output().expect("netc runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(unix)]
#[test]
fn ctrl_c_during_training_exits_130_and_says_where_the_checkpoint_is() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("run");
    let mut child = netc()
        .args([
            "train",
            "examples/xor.net",
            "--steps",
            "100000000",
            "--no-report",
        ])
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("netc starts");
    // Wait for the first step line: training (and its Ctrl-C handler) is under way.
    let mut stderr = BufReader::new(child.stderr.take().expect("piped stderr"));
    let mut line = String::new();
    while !line.starts_with("step") {
        line.clear();
        let read = stderr.read_line(&mut line).expect("read stderr");
        assert!(read > 0, "netc ended before training");
    }
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let output = child.wait_with_output().expect("netc ends");
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(130), "{stdout}");
    assert!(
        stdout.contains(&format!("the checkpoint is in {}", out.display())),
        "{stdout}"
    );
    assert!(out.join("checkpoint.safetensors").exists());
}

#[test]
fn quiet_prints_nothing_but_still_writes_the_plots_and_report() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("run");
    let out_text = out.to_str().expect("utf-8 path");
    let o = run(&[
        "train",
        "examples/xor.net",
        "-q",
        "--steps",
        "30",
        "--out",
        out_text,
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "");
    assert!(out.join("report.html").exists());
    assert!(out.join("loss.png").exists());
}

/// Trains xor for a few steps into `dir`, printing JSON; returns the `end` event.
fn json_run(dir: &Path) -> serde_json::Value {
    let out = dir.join("run");
    let out_text = out.to_str().expect("utf-8 path");
    let o = run(&[
        "train",
        "examples/xor.net",
        "--json",
        "--steps",
        "30",
        "--out",
        out_text,
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let last = text(&o.stdout).lines().last().unwrap_or("").to_string();
    serde_json::from_str(&last).expect("the last line is JSON")
}

#[test]
fn json_everywhere_a_script_needs_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let end = json_run(dir.path());
    assert_eq!(end["event"], "end");
    assert!(end["diagnosis"].is_object(), "{end}");
    assert!(dir.path().join("run/report.html").exists());

    let weights = dir.path().join("run/weights.safetensors");
    let weights = weights.to_str().expect("utf-8 path");
    let o = run(&["eval", "examples/xor.net", "--weights", weights, "--json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let eval: serde_json::Value = serde_json::from_slice(&o.stdout).expect("eval JSON");
    assert_eq!(eval["sets"][0]["set"], "valid");
    assert!(eval["sets"][0]["loss"].is_number(), "{eval}");

    let features = dir.path().join("x.csv");
    std::fs::write(&features, "a,b\n0,1\n1,1\n").expect("write features");
    let features = features.to_str().expect("utf-8 path");
    let args = [
        "predict",
        "examples/xor.net",
        "--weights",
        weights,
        "--data",
        features,
        "--json",
    ];
    let o = run(&args);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let rows: Vec<serde_json::Value> = text(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(rows[0]["outputs"].is_array(), "{rows:?}");

    let o = run(&["check", "--json", "examples/xor.net"]);
    let check: serde_json::Value = serde_json::from_slice(&o.stdout).expect("check JSON");
    assert!(check.is_array(), "{check}");
}
