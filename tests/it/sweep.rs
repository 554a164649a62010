//! `netc sweep` without Slurm: the numbered grid, `train --variant`/`--shard` (the shards
//! together train every variant once, equal to the unsharded sweep), re-runs that skip
//! complete variants and resume interrupted ones, the status counts, the generated sbatch
//! script (a snapshot) and `compare --json`.

use crate::common::netc_cli;
use std::path::{Path, PathBuf};
use std::process::Output;

/// The grid every test sweeps: 3 learning rates × 2 seeds of examples/xor.net, 2 epochs.
const GRID: [&str; 6] = [
    "--vary",
    "optimizer.lr=0.02,0.05,0.1",
    "--seeds",
    "2",
    "--epochs",
    "2",
];

fn netc(args: &[&str]) -> Output {
    netc_cli().args(args).output().expect("netc runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `netc <command> examples/xor.net GRID --out DIR EXTRA...`, which must succeed.
fn on_grid(command: &str, dir: &Path, extra: &[&str]) -> String {
    let out = dir.to_str().expect("a UTF-8 temp path");
    let mut args = vec![command, "examples/xor.net"];
    args.extend(GRID);
    args.extend(["--out", out]);
    args.extend(extra);
    let o = netc(&args);
    assert!(o.status.success(), "{args:?}: {}", text(&o.stderr));
    text(&o.stdout)
}

/// The run folders of a sweep folder, by name, in order.
fn run_folders(dir: &Path) -> Vec<PathBuf> {
    let mut folders: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("the sweep folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir() && p.file_name().is_some_and(|n| n != "logs"))
        .collect();
    folders.sort();
    folders
}

fn weights(run: &Path) -> Vec<u8> {
    std::fs::read(run.join("weights.safetensors")).expect("the final weights")
}

fn status_json(dir: &Path) -> serde_json::Value {
    let o = netc(&["sweep", "--status", dir.to_str().expect("UTF-8"), "--json"]);
    serde_json::from_slice(&o.stdout).expect("one JSON object")
}

#[test]
fn the_shards_train_every_variant_once_and_equal_the_unsharded_sweep() {
    let tmp = tempfile::tempdir().expect("a temp folder");
    let (whole, sharded) = (tmp.path().join("whole"), tmp.path().join("sharded"));
    on_grid("sweep", &whole, &[]);
    let mut trained = Vec::new();
    for shard in ["0/3", "1/3", "2/3"] {
        let out = on_grid("train", &sharded, &["--shard", shard]);
        trained.extend(
            out.lines()
                .filter(|l| l.contains("trained into"))
                .map(|l| l.split_whitespace().nth(1).unwrap_or_default().to_owned()),
        );
    }
    trained.sort();
    assert_eq!(trained, ["0", "1", "2", "3", "4", "5"]);
    let (a, b) = (run_folders(&whole), run_folders(&sharded));
    assert_eq!(a.len(), 6);
    for (a, b) in a.iter().zip(&b) {
        assert_eq!(a.file_name(), b.file_name());
        assert!(weights(a) == weights(b), "{} differs", b.display());
    }
    let sweep = |d: &Path| std::fs::read_to_string(d.join("sweep.json")).expect("sweep.json");
    assert_eq!(sweep(&whole), sweep(&sharded));
    assert_eq!(status_json(&sharded)["counts"]["done"], 6);
}

#[test]
fn a_rerun_skips_complete_variants_and_resumes_an_interrupted_one() {
    let tmp = tempfile::tempdir().expect("a temp folder");
    let dir = tmp.path().join("sweep");
    on_grid("sweep", &dir, &[]);
    let folders = run_folders(&dir);
    let finished = weights(&folders[1]);
    // Variant 1 (lr 0.02, seed 2) again, stopped part-way as a preempted task leaves it.
    std::fs::remove_dir_all(&folders[1]).expect("removes");
    let o = netc(&[
        "train",
        "examples/xor.net",
        "--set",
        "optimizer.lr=0.02",
        "--set",
        "seed=2",
        "--epochs",
        "2",
        "--pause-at",
        "7",
        "-q",
        "--out",
        folders[1].to_str().expect("UTF-8"),
    ]);
    assert!(!o.status.success(), "a paused run exits as interrupted");
    assert_eq!(status_json(&dir)["counts"]["running"], 1);
    let out = on_grid("sweep", &dir, &[]);
    assert_eq!(out.matches("complete, skipped").count(), 5, "{out}");
    assert!(
        out.contains("variant 1 (optimizer.lr=0.02 seed=2): resumed"),
        "{out}"
    );
    assert!(
        weights(&folders[1]) == finished,
        "the resumed run ends where the whole run did"
    );
    assert_eq!(status_json(&dir)["counts"]["done"], 6);
}

#[test]
fn the_status_counts_what_each_variant_left_on_disk() {
    let tmp = tempfile::tempdir().expect("a temp folder");
    let dir = tmp.path().join("sweep");
    on_grid("sweep", &dir, &[]);
    let folders = run_folders(&dir);
    std::fs::remove_dir_all(&folders[2]).expect("removes");
    std::fs::remove_file(folders[3].join("end.json")).expect("removes");
    std::fs::create_dir_all(dir.join("logs")).expect("a logs folder");
    std::fs::remove_file(folders[4].join("end.json")).expect("removes");
    std::fs::write(dir.join("logs/4.log"), "error: netc exited with status 1\n").expect("writes");
    let status = status_json(&dir);
    let counts = &status["counts"];
    assert_eq!(
        [
            &counts["done"],
            &counts["running"],
            &counts["failed"],
            &counts["pending"]
        ],
        [3, 1, 1, 1]
    );
    assert_eq!(status["runs"][2]["state"], "pending");
    assert_eq!(
        status["runs"][4]["message"],
        "error: netc exited with status 1"
    );
    // One group per learning rate with a done run, over the seeds that are done: lr 0.05
    // has none (variant 2 is pending, 3 running), lr 0.1 only seed 2 (4 failed).
    let groups = status["aggregates"].as_array().expect("aggregates");
    let labels: Vec<&str> = groups.iter().filter_map(|g| g["label"].as_str()).collect();
    assert_eq!(labels, ["optimizer.lr=0.02", "optimizer.lr=0.1"]);
    assert_eq!(groups[0]["final_accuracy"]["n"], 2);
    assert_eq!(groups[1]["runs"], 1);
    // Failed variants make the status fail, so a script can tell.
    let o = netc(&["compare", dir.to_str().expect("UTF-8")]);
    assert!(!o.status.success());
    assert!(text(&o.stdout).contains("3 done, 1 running, 0 interrupted, 1 failed, 1 pending"));
}

#[test]
fn bad_variant_and_shard_numbers_are_clear_errors() {
    let tmp = tempfile::tempdir().expect("a temp folder");
    let out = tmp.path().to_str().expect("UTF-8");
    let cases: [(&[&str], &str); 5] = [
        (
            &["--variant", "6", "--out", out],
            "there is no variant 6: the grid has 6 (0 to 5)",
        ),
        (
            &["--shard", "3/3", "--out", out],
            "I = 3 must be below N = 3",
        ),
        (&["--shard", "0/0", "--out", out], "N must be at least 1"),
        (
            &["--shard", "a/2", "--out", out],
            "I `a` is not a whole number",
        ),
        (&["--variant", "1"], "--out"),
    ];
    for (extra, expected) in cases {
        let mut args = vec!["train", "examples/xor.net"];
        args.extend(GRID);
        args.extend(extra);
        let o = netc(&args);
        let err = text(&o.stderr);
        assert!(!o.status.success(), "{extra:?}");
        assert!(err.contains(expected), "{extra:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn the_list_numbers_the_grid_as_sweep_json_does() {
    let tmp = tempfile::tempdir().expect("a temp folder");
    let dir = tmp.path().join("sweep");
    let listed = on_grid("sweep", &dir, &["--list"]);
    let labels: Vec<&str> = listed
        .lines()
        .map(|l| l.split_whitespace().nth(1).unwrap_or(""))
        .collect();
    assert_eq!(
        labels,
        [
            "optimizer.lr=0.02",
            "optimizer.lr=0.02",
            "optimizer.lr=0.05",
            "optimizer.lr=0.05",
            "optimizer.lr=0.1",
            "optimizer.lr=0.1"
        ]
    );
    assert!(listed
        .lines()
        .nth(1)
        .is_some_and(|l| l.ends_with("1-optimizer.lr-0.02-seed-2")));
    assert!(!dir.exists(), "--list writes nothing");
    let json: serde_json::Value =
        serde_json::from_str(&on_grid("sweep", &dir, &["--list", "--json"])).expect("JSON");
    on_grid("sweep", &dir, &["--slurm"]);
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("sweep.json")).expect("sweep.json"))
            .expect("JSON");
    assert_eq!(json, written);
}

/// The job array script, with the machine's paths replaced by their names.
#[test]
fn the_sbatch_script_runs_one_variant_per_array_task() {
    let tmp = tempfile::tempdir().expect("a temp folder");
    let dir = tmp.path().join("sweep");
    on_grid(
        "sweep",
        &dir,
        &[
            "--slurm",
            "--cpus-per-task",
            "2",
            "--time",
            "00:10:00",
            "--mem",
            "1G",
            "--partition",
            "debug",
            "--max-parallel",
            "4",
            "--sbatch-line",
            "--qos=short",
            "--vary",
            "init=normal(0, 0.1),xavier_uniform",
        ],
    );
    let script = std::fs::read_to_string(dir.join("sweep.sbatch")).expect("the script");
    let canonical = |p: &Path| {
        std::fs::canonicalize(p)
            .expect("exists")
            .display()
            .to_string()
    };
    let script = script
        .replace(&canonical(&dir), "SWEEP_DIR")
        .replace(env!("CARGO_BIN_EXE_netc"), "NETC")
        .replace(&canonical(Path::new("examples/xor.net")), "FILE");
    insta::assert_snapshot!(script);
}

#[test]
fn compare_prints_json_for_files_and_for_a_sweep_folder() {
    let tmp = tempfile::tempdir().expect("a temp folder");
    let out = tmp.path().join("files");
    let o = netc(&[
        "compare",
        "examples/xor.net",
        "examples/deep_sigmoid.net",
        "--set",
        "epochs=1",
        "--out",
        out.to_str().expect("UTF-8"),
        "--json",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).expect("only JSON on stdout");
    let runs = json["runs"].as_array().expect("runs");
    assert_eq!(
        (runs[0]["label"].as_str(), runs[1]["label"].as_str()),
        (Some("xor"), Some("deep_sigmoid"))
    );
    assert!(
        runs[1]["findings"]
            .as_array()
            .is_some_and(|f| !f.is_empty()),
        "{json}"
    );
    // `netc sweep --json` trains and prints the merge as the only thing on stdout, as
    // `netc compare SWEEP_DIR --json` does afterwards.
    let dir = tmp.path().join("sweep");
    let swept: serde_json::Value =
        serde_json::from_str(&on_grid("sweep", &dir, &["--json"])).expect("only JSON on stdout");
    let o = netc(&["compare", dir.to_str().expect("UTF-8"), "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).expect("only JSON on stdout");
    assert_eq!(json, swept);
    assert_eq!(json["variants"], 6);
    assert!(json["runs"][5]["valid_accuracy"].is_number(), "{json}");
}

#[test]
fn a_grid_without_values_or_with_two_seed_axes_is_refused() {
    let cases: [(&[&str], &str); 2] = [
        (
            &["--vary", "optimizer.lr="],
            "bad --vary `optimizer.lr=`: no values after `=`",
        ),
        (
            &["--vary", "seed=1,2", "--seeds", "2"],
            "--seeds and --vary `seed=1,2` both vary the seed",
        ),
    ];
    for (grid, expected) in cases {
        let mut args = vec!["sweep", "examples/xor.net", "--list"];
        args.extend(grid);
        let o = netc(&args);
        assert!(!o.status.success(), "{grid:?}");
        assert!(
            text(&o.stderr).contains(expected),
            "{grid:?}: {}",
            text(&o.stderr)
        );
    }
}
