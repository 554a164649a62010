//! `netc train` as a user runs it: the examples learn (or visibly fail to), runs are
//! deterministic, a resumed run equals an uninterrupted one, and a diverging run stops with the
//! last good checkpoint kept.

mod common;

use std::path::Path;
use std::process::{Command, Output};

fn netc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_netc"))
        .args(args)
        .output()
        .expect("netc runs")
}

/// Trains `file` into `out` with extra flags; returns the JSON report line.
fn train(file: &str, out: &Path, extra: &[&str]) -> serde_json::Value {
    let out_s = out.to_str().unwrap();
    let mut args = vec!["train", file, "--json"];
    if !extra.contains(&"--resume") {
        args.extend(["--out", out_s]);
    }
    args.extend(extra);
    let o = netc(&args);
    let stdout = String::from_utf8_lossy(&o.stdout);
    let end = stdout
        .lines()
        .rev()
        .find(|l| l.contains("\"event\":\"end\""))
        .unwrap_or_else(|| {
            panic!(
                "no end event; stderr: {}",
                String::from_utf8_lossy(&o.stderr)
            )
        });
    serde_json::from_str(end).expect("JSON")
}

fn valid_accuracy(report: &serde_json::Value) -> f64 {
    report["report"]["last_eval"]["valid_accuracy"]
        .as_f64()
        .expect("an accuracy")
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn xor_converges() {
    let dir = tempfile::tempdir().unwrap();
    let r = train("examples/xor.net", dir.path(), &[]);
    assert_eq!(r["report"]["stop"], "Finished");
    assert_eq!(valid_accuracy(&r), 1.0);
    assert!(r["report"]["last_loss"].as_f64().unwrap() < 0.05, "{r}");
    for f in [
        "config.json",
        "model.net",
        "metrics.jsonl",
        "probes.csv",
        "checkpoint.safetensors",
        "weights.safetensors",
    ] {
        assert!(
            dir.path().join(f).exists(),
            "{f} missing from the run folder"
        );
    }
}

#[test]
fn digits_reaches_95_percent() {
    let dir = tempfile::tempdir().unwrap();
    let r = train("examples/digits.net", dir.path(), &[]);
    assert!(valid_accuracy(&r) >= 0.95, "{r}");
}

#[test]
fn relu_he_learns_where_deep_sigmoid_does_not() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let sigmoid = valid_accuracy(&train("examples/deep_sigmoid.net", a.path(), &[]));
    let relu = valid_accuracy(&train("examples/deep_relu_he.net", b.path(), &[]));
    assert!(
        sigmoid < 0.3,
        "deep sigmoid should barely beat chance, got {sigmoid}"
    );
    assert!(relu > 0.6, "relu + he should learn, got {relu}");
}

#[test]
fn same_seed_same_weights_on_both_backends_runs() {
    for backend in ["jit", "interp"] {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        train(
            "examples/batchnorm.net",
            a.path(),
            &["--steps", "30", "--backend", backend],
        );
        train(
            "examples/batchnorm.net",
            b.path(),
            &["--steps", "30", "--backend", backend],
        );
        let w = "weights.safetensors";
        assert!(
            read(&a.path().join(w)) == read(&b.path().join(w)),
            "{backend}: weights differ between runs"
        );
        assert!(
            read(&a.path().join("metrics.jsonl")) == read(&b.path().join("metrics.jsonl")),
            "{backend}: metrics differ"
        );
    }
}

#[test]
fn resume_equals_an_uninterrupted_run() {
    // batchnorm.net has dropout, batch statistics and Adam state: all must survive the stop.
    let (whole, parts) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    train("examples/batchnorm.net", whole.path(), &["--steps", "60"]);
    let paused = train(
        "examples/batchnorm.net",
        parts.path(),
        &["--steps", "60", "--pause-at", "25"],
    );
    assert_eq!(paused["report"]["stop"], "Interrupted");
    assert_eq!(paused["report"]["steps"], 25);
    let resume = parts.path().to_str().unwrap();
    let r = train(
        "examples/batchnorm.net",
        parts.path(),
        &["--resume", resume, "--steps", "60"],
    );
    assert_eq!(r["report"]["steps"], 60);
    let w = "weights.safetensors";
    assert!(
        read(&whole.path().join(w)) == read(&parts.path().join(w)),
        "resumed weights differ from the uninterrupted run"
    );
    assert!(
        read(&whole.path().join("metrics.jsonl")) == read(&parts.path().join("metrics.jsonl")),
        "resumed metrics differ"
    );
}

#[test]
fn divergence_stops_and_keeps_the_last_good_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let o = netc(&[
        "train",
        "examples/exploding.net",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert!(!o.status.success(), "a diverging run exits with failure");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("exploded") || stdout.contains("NaN"),
        "{stdout}"
    );
    assert!(
        stdout.contains("line "),
        "the report names a line: {stdout}"
    );
    let ck = netc::runtime::checkpoint::load(dir.path()).expect("the last good checkpoint loads");
    for (name, t) in ck.params.iter() {
        assert!(
            t.data.iter().all(|v| v.is_finite()),
            "{name} holds non-finite values"
        );
    }
    // and the clipped twin trains to the end
    let clipped = tempfile::tempdir().unwrap();
    let r = train("examples/exploding_clipped.net", clipped.path(), &[]);
    assert_eq!(r["report"]["stop"], "Finished", "{r}");
}

#[test]
fn eval_predict_and_grad_use_the_trained_weights() {
    let dir = tempfile::tempdir().unwrap();
    train("examples/digits.net", dir.path(), &["--epochs", "3"]);
    let w = dir.path().join("weights.safetensors");
    let w = w.to_str().unwrap();
    let o = netc(&["eval", "examples/digits.net", "--weights", w]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() && text.contains("valid: loss") && text.contains("accuracy"),
        "{text}"
    );

    let o = netc(&[
        "predict",
        "examples/digits.net",
        "--weights",
        w,
        "--data",
        "examples/data/digits.csv",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1 + 1797, "a header and one row per example");
    assert!(lines[0].starts_with("output0,") && lines[0].ends_with(",class"));
    let row: Vec<f64> = lines[1]
        .split(',')
        .take(10)
        .map(|c| c.parse().unwrap())
        .collect();
    assert!(
        (row.iter().sum::<f64>() - 1.0).abs() < 1e-4,
        "probabilities sum to one: {row:?}"
    );

    let g = dir.path().join("grads.safetensors");
    let o = netc(&[
        "grad",
        "examples/digits.net",
        "--load",
        w,
        "--out",
        g.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (grads, meta) = netc::params::ParamStore::load_safetensors(&g).unwrap();
    assert!(meta["loss"].parse::<f64>().unwrap() > 0.0);
    for name in [
        "hidden.weight",
        "hidden.bias",
        "logits.weight",
        "logits.bias",
        "input.x",
        "input.y",
    ] {
        assert!(grads.get(name).is_some(), "{name} missing");
    }
    assert_eq!(grads.get("hidden.weight").unwrap().shape, vec![128, 64]);
}

#[test]
fn ctrl_c_stops_cleanly_with_a_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    // A run long enough to be interrupted: the interpreter on a deep net.
    let child = Command::new(env!("CARGO_BIN_EXE_netc"))
        .args([
            "train",
            "examples/deep_relu_he.net",
            "--backend",
            "interp",
            "--steps",
            "1000000",
            "--quiet",
            "--out",
        ])
        .arg(dir.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("netc starts");
    // Wait until it has trained some steps, then send SIGINT as a terminal's Ctrl-C would.
    let metrics = dir.path().join("metrics.jsonl");
    let started = std::time::Instant::now();
    while std::fs::metadata(&metrics).map_or(0, |m| m.len()) == 0 {
        assert!(
            started.elapsed().as_secs() < 60,
            "no step recorded within a minute"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(kill.success());
    let out = child.wait_with_output().expect("netc ends");
    assert_eq!(
        out.status.code(),
        Some(130),
        "an interrupted run exits 130 (issue 15)"
    );
    let ck = netc::runtime::checkpoint::load(dir.path()).expect("a checkpoint was saved");
    assert!(
        ck.step > 0 && ck.step < 1_000_000,
        "stopped part way, at step {}",
        ck.step
    );
    assert!(dir.path().join("weights.safetensors").exists());
}

#[test]
fn a_converging_run_is_diagnosed_healthy() {
    // Large gradients early and tiny ones once converged are not an explosion, and a confident
    // output sigmoid fused into the loss is not saturation.
    let dir = tempfile::tempdir().unwrap();
    let o = netc(&[
        "train",
        "examples/xor.net",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("diagnosis: healthy"), "{out}");
}

#[test]
fn two_threads_train_the_same_weights_as_one() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let file = "examples/digits.net";
    train(file, a.path(), &["--epochs", "2", "--threads", "1"]);
    train(file, b.path(), &["--epochs", "2", "--threads", "2"]);
    let w = "weights.safetensors";
    assert!(
        read(&a.path().join(w)) == read(&b.path().join(w)),
        "weights differ between --threads 1 and --threads 2"
    );
    let zero = netc(&["train", file, "--threads", "0"]);
    assert!(!zero.status.success());
    let stderr = String::from_utf8_lossy(&zero.stderr);
    assert!(stderr.contains("--threads"), "{stderr}");
}

/// A 64-row regression set, y = x0 − x1, whose row 17 has x0 = 3e38: its batch overflows the
/// squared gradient norm once an epoch, so `on_nonfinite` has work to do.
const POISONED: &str =
    "model poisoned {\n    input x: [2]\n    dense 8, act = relu\n    dense 1\n}\n\n\
    train {\n    data = csv(\"poisoned.csv\", target = \"y\", scale = none, split = 1.0)\n    \
    loss = mse\n    optimizer = sgd(lr = 0.05)\n    schedule = cosine(min_factor = 0.1)\n    \
    batch = 8\n    epochs = 6\n    seed = 2\n    on_nonfinite = skip_step\n}\n";

fn write_poisoned(dir: &Path) -> std::path::PathBuf {
    common::data::write_poisoned_csv(dir);
    let file = dir.join("poisoned.net");
    std::fs::write(&file, POISONED).unwrap();
    file
}

struct Unwatched;
impl netc::repl::engine::Watch for Unwatched {
    fn ready(&mut self, _: Option<std::time::Duration>, _: Option<u64>) {}
    fn step(&mut self, _: &netc::runtime::record::StepRecord, _: u64) {}
}

/// The REPL trains with `netc train`'s loop: a run split over two `:train` commands skips the
/// same non-finite steps, follows the same cosine schedule over the whole run, and ends with
/// the same weights, bit for bit, and the same step records.
#[test]
fn the_repl_and_netc_train_run_the_same_loop() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_poisoned(dir.path());
    let out = dir.path().join("run");
    let o = netc(&[
        "train",
        file.to_str().unwrap(),
        "--json",
        "--no-report",
        "--out",
        out.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    let cli_records: Vec<serde_json::Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["event"] == "step")
        .map(|v| v["record"].clone())
        .collect();
    assert_eq!(
        cli_records.len(),
        48,
        "stderr: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let skipped = cli_records
        .iter()
        .filter(|r| r["loss"].is_null() || r["grad_norm"].is_null());
    assert!(skipped.count() >= 1, "no step was non-finite");

    let checked = netc::sema::check_source("poisoned.net", POISONED, &[]);
    let snap = netc::repl::workspace::Snapshot {
        src: POISONED.to_owned(),
        model: checked.model.expect("the model checks"),
        name: "poisoned.net".to_owned(),
        base_dir: dir.path().to_path_buf(),
    };
    let mut engine = netc::repl::engine::Engine::new(netc::runtime::exec::Backend::Jit);
    let interrupt = std::sync::atomic::AtomicBool::new(false);
    let mut repl_records = Vec::new();
    for (number, steps) in [(1, 20), (2, 28)] {
        let mut run = netc::repl::engine::Run {
            number,
            label: String::new(),
            layers: Vec::new(),
            records: Vec::new(),
            eval: None,
            stopped: None,
        };
        let amount = netc::repl::command::Amount::Steps(steps);
        engine
            .train(&snap, amount, &interrupt, &mut run, &mut Unwatched)
            .expect("the REPL trains");
        assert_eq!(run.stopped, None, "run {number}");
        repl_records.extend(run.records.iter().map(|r| serde_json::to_value(r).unwrap()));
    }
    assert_eq!(repl_records, cli_records);

    let (cli, _) = netc::params::ParamStore::load_safetensors(&out.join("weights.safetensors"))
        .expect("netc train wrote its weights");
    let repl = engine.params().expect("the REPL holds weights");
    let bits = |s: &netc::params::ParamStore| -> Vec<(String, Vec<u32>)> {
        s.iter()
            .map(|(n, t)| (n.to_owned(), t.data.iter().map(|v| v.to_bits()).collect()))
            .collect()
    };
    assert_eq!(bits(&repl), bits(&cli));
}
