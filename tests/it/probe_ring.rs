//! The probe ring (`probes = every(N, keep = K)`): the probe files hold exactly the last K
//! recorded steps, are whole CSV files after a pause, a divergence and a resume, a resumed run
//! ends with the same bytes as an uninterrupted one, and `netc report` reads a ringed run and
//! says which steps it covers. Bad `keep` values are diagnostics (snapshots).

use netc::sema::{check_source, Override};
use std::path::Path;
use std::process::{Command, Output};

fn netc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_netc"))
        .args(args)
        .output()
        .expect("netc runs")
}

/// Runs `netc train FILE --out DIR` (or `--resume DIR`) with `extra` flags; returns stdout.
fn train(file: &str, dir: &Path, resume: bool, extra: &[&str]) -> String {
    let d = dir.to_str().expect("utf-8 path");
    let mut args = vec![
        "train",
        file,
        "--quiet",
        if resume { "--resume" } else { "--out" },
        d,
    ];
    args.extend(extra);
    let o = netc(&args);
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The distinct steps of a probe file, in file order, checking that every row has the
/// header's number of cells (the file is whole CSV).
fn steps_of(path: &Path) -> Vec<u64> {
    let text = read(path);
    let mut lines = text.lines();
    let width = lines.next().expect("a header").split(',').count();
    let mut steps: Vec<u64> = Vec::new();
    for line in lines {
        assert_eq!(
            line.split(',').count(),
            width,
            "{}: torn row `{line}`",
            path.display()
        );
        let step = line
            .split(',')
            .next()
            .and_then(|s| s.parse().ok())
            .expect("a step");
        if steps.last() != Some(&step) {
            steps.push(step);
        }
    }
    assert!(text.ends_with('\n'), "{}: no final newline", path.display());
    steps
}

const RING: &str = "probes=every(2, keep = 5)";

#[test]
fn the_ring_holds_exactly_the_last_steps_of_the_full_file() {
    let (full, ring) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let net = "examples/batchnorm.net";
    train(
        net,
        full.path(),
        false,
        &["--steps", "60", "--set", "probes=every(2)"],
    );
    train(net, ring.path(), false, &["--steps", "60", "--set", RING]);
    let file = "probes.csv";
    assert_eq!(steps_of(&ring.path().join(file)), vec![52, 54, 56, 58, 60]);
    assert_eq!(steps_of(&full.path().join(file)).len(), 30);
    // the ring's rows are the full file's rows of those steps, byte for byte
    let full_text = read(&full.path().join(file));
    let (header, rows) = full_text.split_once('\n').unwrap();
    let kept: String = rows
        .lines()
        .filter(|l| l.split(',').next().and_then(|s| s.parse::<u64>().ok()) >= Some(52))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(read(&ring.path().join(file)), format!("{header}\n{kept}"));
    // metrics.jsonl is not ringed: one line per step and per epoch as before
    assert_eq!(
        read(&full.path().join("metrics.jsonl")),
        read(&ring.path().join("metrics.jsonl"))
    );
}

#[test]
fn a_paused_and_resumed_ring_equals_an_uninterrupted_one() {
    let (whole, parts) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let net = "examples/batchnorm.net";
    // checkpoints every 7 steps: the ring is also written then, mid-run
    let flags = [
        "--steps",
        "60",
        "--set",
        RING,
        "--set",
        "checkpoint_every=7",
    ];
    train(net, whole.path(), false, &flags);
    let mut paused = flags.to_vec();
    paused.extend(["--pause-at", "25"]);
    train(net, parts.path(), false, &paused);
    let probes = parts.path().join("probes.csv");
    assert_eq!(
        steps_of(&probes),
        vec![16, 18, 20, 22, 24],
        "after the pause"
    );
    train(net, parts.path(), true, &flags);
    assert_eq!(steps_of(&probes), vec![52, 54, 56, 58, 60]);
    assert_eq!(read(&whole.path().join("probes.csv")), read(&probes));
    assert_eq!(
        read(&whole.path().join("metrics.jsonl")),
        read(&parts.path().join("metrics.jsonl"))
    );
}

#[test]
fn resuming_drops_steps_recorded_after_the_checkpoint() {
    // A crash between checkpoints leaves probe rows newer than the checkpoint; resuming must
    // not keep them. Simulate it by appending a later step to a paused run's ring.
    let (whole, parts) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let net = "examples/batchnorm.net";
    let flags = ["--steps", "40", "--set", RING];
    train(net, whole.path(), false, &flags);
    let mut paused = flags.to_vec();
    paused.extend(["--pause-at", "20"]);
    train(net, parts.path(), false, &paused);
    let probes = parts.path().join("probes.csv");
    let mut text = read(&probes);
    let last_row = text.lines().last().unwrap().to_owned();
    text.push_str(&format!("22{}\n", &last_row[2..]));
    std::fs::write(&probes, text).unwrap();
    train(net, parts.path(), true, &flags);
    assert_eq!(read(&whole.path().join("probes.csv")), read(&probes));
}

#[test]
fn recurrent_through_time_files_are_ringed_too() {
    let (whole, parts) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let net = "examples/rnn_adding_30.net";
    let flags = ["--steps", "12", "--set", "probes=every(keep = 3)"];
    train(net, whole.path(), false, &flags);
    let mut paused = flags.to_vec();
    paused.extend(["--pause-at", "7"]);
    train(net, parts.path(), false, &paused);
    train(net, parts.path(), true, &flags);
    for file in ["probes.csv", "probes_time.csv", "probes_gates.csv"] {
        let path = whole.path().join(file);
        assert_eq!(steps_of(&path), vec![10, 11, 12], "{file}");
        assert_eq!(
            read(&path),
            read(&parts.path().join(file)),
            "{file} after resume"
        );
    }
    // 30 time steps of one rnn layer per kept step
    assert_eq!(
        read(&whole.path().join("probes_time.csv")).lines().count(),
        1 + 3 * 30
    );
}

#[test]
fn a_diverged_run_leaves_a_whole_ring_ending_at_the_bad_step() {
    let dir = tempfile::tempdir().unwrap();
    let out = train(
        "examples/exploding.net",
        dir.path(),
        false,
        &["--set", "probes=every(1, keep = 4)"],
    );
    let steps = steps_of(&dir.path().join("probes.csv"));
    assert_eq!(steps.len(), 4, "{out}");
    let last = *steps.last().unwrap();
    // the bad step is recorded (its non-finite flags locate the layer), and the ones before
    assert_eq!(steps, (last - 3..=last).collect::<Vec<_>>());
    let text = read(&dir.path().join("probes.csv"));
    assert!(
        text.lines()
            .filter(|l| l.starts_with(&format!("{last},")))
            .any(|l| l.ends_with(",1") || l.contains(",1,")),
        "the last kept step flags a non-finite value:\n{text}"
    );
}

#[test]
fn the_report_reads_a_ringed_run_and_names_its_steps() {
    let dir = tempfile::tempdir().unwrap();
    train(
        "examples/batchnorm.net",
        dir.path(),
        false,
        &["--steps", "60", "--set", RING],
    );
    let d = dir.path().to_str().unwrap();
    let o = netc(&["report", d, "--no-plots"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        text.contains("probes cover steps 52–60: 5 recorded steps, the ring keeps the last 5 (steps before 52 were dropped)"),
        "{text}"
    );
    assert!(
        text.contains("measured0 at step 52, the oldest kept"),
        "{text}"
    );
    // and the plots draw from the kept steps
    let o = netc(&["report", d]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(dir.path().join("grad_heatmap.png").exists());
}

/// The diagnostics of a train section with `probes = VALUE`, rendered as `netc check` does.
fn probes_diagnostics(value: &str, sets: &[&str]) -> String {
    let src = format!(
        "model m {{\n    input x: [2]\n    dense 1, act = sigmoid\n}}\n\ntrain {{\n    data   = xor\n    probes = {value}\n}}\n"
    );
    let overrides: Vec<Override> = sets.iter().map(|s| Override::parse(s).unwrap()).collect();
    let checked = check_source("ring.net", &src, &overrides);
    assert!(
        checked.model.is_none(),
        "`probes = {value}` should not check"
    );
    let rendered = netc::diag::render(&checked.diagnostics, "ring.net", &src, false);
    format!("{src}\n---- diagnostics ----\n{rendered}")
}

#[test]
fn bad_keep_values_are_diagnostics_at_their_span() {
    insta::assert_snapshot!("keep_zero", probes_diagnostics("every(10, keep = 0)", &[]));
    insta::assert_snapshot!(
        "keep_not_a_number",
        probes_diagnostics("every(keep = all)", &[])
    );
    insta::assert_snapshot!(
        "keep_too_large",
        probes_diagnostics("every(1, keep = 2000000)", &[])
    );
    insta::assert_snapshot!(
        "keep_unknown_argument",
        probes_diagnostics("every(1, kep = 10)", &[])
    );
    insta::assert_snapshot!(
        "keep_from_set",
        probes_diagnostics("every(2)", &["probes.keep=0"])
    );
}

#[test]
fn keep_is_checked_into_the_model() {
    let src = "model m {\n    input x: [2]\n    dense 1, act = sigmoid\n}\n\ntrain {\n    data   = xor\n    probes = every(3, keep = 100)\n}\n";
    let m = check_source("ring.net", src, &[]).model.expect("checks");
    assert_eq!((m.train.probes.every, m.train.probes.keep), (3, Some(100)));
    // `--set probes.keep=N` works on a file without a `probes` line (every step, ringed)
    let plain = src.replace("    probes = every(3, keep = 100)\n", "");
    let set = [Override::parse("probes.keep=7").unwrap()];
    let m = check_source("ring.net", &plain, &set)
        .model
        .expect("checks");
    assert_eq!((m.train.probes.every, m.train.probes.keep), (1, Some(7)));
}
