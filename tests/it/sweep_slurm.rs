//! `netc sweep --slurm --submit` through a real Slurm (scripts/slurm-local.sh starts one on
//! localhost): a 6-variant sweep of examples/xor.net as a job array, whose runs `netc compare
//! SWEEP_DIR --json` sees complete, each with the weights of the same variant trained here
//! with `--variant I`. Skipped, saying why, where `sbatch` or a live `sinfo` is missing.

use crate::common::netc_cli;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// 3 learning rates × 2 seeds of examples/xor.net, 5 epochs.
const GRID: [&str; 6] = [
    "--vary",
    "optimizer.lr=0.02,0.05,0.1",
    "--seeds",
    "2",
    "--epochs",
    "5",
];

/// How long the array may take before the test gives up.
const LIMIT: Duration = Duration::from_secs(300);

/// Why Slurm cannot be used here, if it cannot.
fn no_slurm() -> Option<String> {
    let answers = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !answers("sbatch", &["--version"]) {
        return Some("`sbatch` is not on PATH (run scripts/slurm-local.sh as root)".to_owned());
    }
    if !answers("sinfo", &["-h"]) {
        return Some("`sinfo` does not answer: no Slurm controller is running".to_owned());
    }
    None
}

fn grid_command(command: &str, dir: &Path) -> Command {
    let mut c = netc_cli();
    c.args([command, "examples/xor.net"])
        .args(GRID)
        .arg("--out")
        .arg(dir);
    c
}

/// Waits until the job has left the queue (or the limit passes).
fn wait_for(job: &str) {
    let start = Instant::now();
    while start.elapsed() < LIMIT {
        let queued = Command::new("squeue")
            .args(["-h", "-j", job])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
        if matches!(queued.as_deref(), Ok("")) {
            return;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    panic!("job {job} did not finish in {LIMIT:?}");
}

#[test]
fn a_sweep_through_slurm_equals_the_same_variants_trained_here() {
    if let Some(why) = no_slurm() {
        eprintln!("sweep_slurm: skipped: {why}");
        return;
    }
    let tmp = tempfile::tempdir().expect("a temp folder");
    let (array, local) = (tmp.path().join("slurm"), tmp.path().join("local"));
    let o = grid_command("sweep", &array)
        .args(["--slurm", "--submit", "--time", "00:10:00"])
        .output()
        .expect("netc runs");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    let job = String::from_utf8_lossy(&o.stdout).trim().to_owned();
    assert!(
        job.chars().all(|c| c.is_ascii_digit()) && !job.is_empty(),
        "job id `{job}`"
    );
    wait_for(&job);
    let o = netc_cli()
        .arg("compare")
        .arg(&array)
        .arg("--json")
        .output()
        .expect("netc runs");
    let merged: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON object");
    assert_eq!(merged["counts"]["done"], 6, "{merged:#}");
    for i in 0..6 {
        let o = grid_command("train", &local)
            .args(["--variant", &i.to_string()])
            .output()
            .expect("netc runs");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let run = &merged["runs"][i];
        let name = run["name"].as_str().expect("a run folder name");
        let read = |dir: &Path| std::fs::read(dir.join(name).join("weights.safetensors"));
        let (a, b) = (
            read(&array).expect("Slurm's weights"),
            read(&local).expect("weights"),
        );
        assert!(a == b, "variant {i} ({name}) trained otherwise under Slurm");
        assert!(run["dir"]
            .as_str()
            .is_some_and(|d| Path::new(d).starts_with(&array)));
    }
    let log = std::fs::read_to_string(array.join("logs/0.log")).expect("task 0's log");
    assert!(
        log.contains("variant 0 (optimizer.lr=0.02 seed=1): trained into"),
        "{log}"
    );
}
