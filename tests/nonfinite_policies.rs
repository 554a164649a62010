//! The three answers to a non-finite step (`on_nonfinite = stop | skip_step | continue`) on a
//! data set with one poisoned row: its value overflows the squared gradient norm, so exactly
//! one batch an epoch is non-finite. `stop` ends the run there with the last good weights,
//! `skip_step` drops that batch's update and trains on, `continue` applies it and is ruined.

mod common;

use netc::params::ParamStore;
use std::path::Path;
use std::process::Command;

const EPOCHS: usize = 6;
const STEPS_PER_EPOCH: usize = 8;

/// A 64-row regression set, y = x0 − x1, whose row 17 has x0 = 3e38 (finite in f32).
fn write_data(dir: &Path) {
    common::data::write_poisoned_csv(dir);
}

fn model(policy: &str) -> String {
    format!(
        "model poisoned {{\n    input x: [2]\n    dense 8, act = relu\n    dense 1\n}}\n\n\
         train {{\n    data = csv(\"poisoned.csv\", target = \"y\", scale = none, split = 1.0)\n    \
         loss = mse\n    optimizer = sgd(lr = 0.05)\n    batch = 8\n    epochs = {EPOCHS}\n    \
         seed = 2\n    on_nonfinite = {policy}\n}}\n"
    )
}

struct Outcome {
    code: i32,
    /// (loss, grad_norm) of every recorded step; `None` where the value was not finite.
    steps: Vec<(Option<f64>, Option<f64>)>,
    /// Epoch records (validation) written.
    epochs: usize,
    weights_finite: Option<bool>,
    checkpoint_finite: bool,
}

fn run(policy: &str) -> Outcome {
    let dir = tempfile::tempdir().expect("a temp dir");
    write_data(dir.path());
    let file = dir.path().join("poisoned.net");
    std::fs::write(&file, model(policy)).expect("the model is written");
    let out = dir.path().join("run");
    let o = Command::new(env!("CARGO_BIN_EXE_netc"))
        .args(["train", file.to_str().expect("UTF-8"), "--quiet", "--out"])
        .arg(&out)
        .output()
        .expect("netc runs");
    let metrics = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap_or_else(|e| {
        panic!("{e}; stderr: {}", String::from_utf8_lossy(&o.stderr));
    });
    let steps = metrics
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON lines"))
        .filter(|v| v.get("loss").is_some())
        .map(|v| (v["loss"].as_f64(), v["grad_norm"].as_f64()))
        .collect();
    let epochs = metrics.lines().filter(|l| l.contains("valid_loss")).count();
    let all_finite = |path: &Path| {
        let (store, _) = ParamStore::load_safetensors(path).expect("a readable safetensors");
        let finite = store
            .iter()
            .all(|(_, t)| t.data.iter().all(|v| v.is_finite()));
        finite
    };
    let weights = out.join("weights.safetensors");
    Outcome {
        code: o.status.code().unwrap_or(-1),
        steps,
        epochs,
        weights_finite: weights.exists().then(|| all_finite(&weights)),
        checkpoint_finite: all_finite(&out.join("checkpoint.safetensors")),
    }
}

fn bad_steps(o: &Outcome) -> usize {
    o.steps
        .iter()
        .filter(|(loss, norm)| loss.is_none() || norm.is_none())
        .count()
}

#[test]
fn stop_ends_the_run_at_the_first_bad_step_with_the_last_good_weights() {
    let o = run("stop");
    assert_ne!(o.code, 0, "a stopped run fails");
    assert_eq!(bad_steps(&o), 1);
    assert!(
        o.steps.len() <= STEPS_PER_EPOCH,
        "stopped in the first epoch"
    );
    assert_eq!(o.weights_finite, None, "no final weights for a stopped run");
    assert!(
        o.checkpoint_finite,
        "the checkpoint holds the last good weights"
    );
}

#[test]
fn skip_step_drops_each_poisoned_batch_and_trains_on() {
    let o = run("skip_step");
    assert_eq!(o.code, 0);
    assert_eq!(
        o.steps.len(),
        EPOCHS * STEPS_PER_EPOCH,
        "every step is recorded"
    );
    assert_eq!(bad_steps(&o), EPOCHS, "one poisoned batch an epoch");
    assert_eq!(
        o.epochs, EPOCHS,
        "every epoch ends with its record, skipped step or not"
    );
    assert_eq!(o.weights_finite, Some(true));
    let last = o
        .steps
        .iter()
        .rev()
        .find_map(|s| s.0)
        .expect("a finite loss");
    let first = o.steps[0].0.expect("the first step is clean or recorded");
    assert!(
        last < first,
        "the clean batches still train: {first} → {last}"
    );
}

#[test]
fn continue_applies_the_poisoned_update_and_ruins_the_weights() {
    let o = run("continue");
    assert_eq!(o.code, 0, "the run goes to its end");
    assert_eq!(o.steps.len(), EPOCHS * STEPS_PER_EPOCH);
    assert!(
        bad_steps(&o) > EPOCHS,
        "once applied, every later step is bad too"
    );
    assert_eq!(o.weights_finite, Some(false));
}
