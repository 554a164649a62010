//! Weights named by another tool, through the command line: the `nn.Sequential` state dict of
//! tests/data/export (make_sequential.py) loads with `--rename` rules, with a `--name-map`
//! and with the map `netc params --like` proposes, and gives the loss PyTorch recorded in
//! the file's metadata; colliding, unmatched and ambiguous names are errors that say which.
//! None of this needs torch: the fixtures are committed.

use crate::common;

use common::netc_cli;
use netc::ir::Tensor;
use netc::params::ParamStore;
use std::collections::BTreeMap;
use std::path::Path;

const NET: &str = "tests/data/export/sequential.net";
const WEIGHTS: &str = "tests/data/export/sequential.safetensors";

/// (exit success, stdout, stderr) of `netc args`.
fn run(args: &[&str]) -> (bool, String, String) {
    let out = netc_cli().args(args).output().expect("run netc");
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

/// The loss make_sequential.py computed in PyTorch, from the weights file's metadata.
fn pytorch_loss() -> f64 {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(WEIGHTS);
    let (_, metadata) = ParamStore::load_safetensors(&path).expect("fixture");
    metadata["loss"].parse().expect("a number")
}

/// `netc eval --json` with `extra` flags; the loss on the training rows (the fixture's
/// `split = 1` holds nothing out).
fn eval_loss(extra: &[&str]) -> f64 {
    let mut args = vec!["eval", NET, "--weights", WEIGHTS, "--json"];
    args.extend_from_slice(extra);
    let (ok, stdout, stderr) = run(&args);
    assert!(ok, "netc {args:?} failed:\n{stderr}");
    let json: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON object");
    let train = &json["sets"][0];
    assert_eq!(train["set"], "train", "{json}");
    train["loss"].as_f64().expect("a loss")
}

fn assert_pytorchs_loss(ours: f64) {
    let theirs = pytorch_loss();
    assert!(
        (ours - theirs).abs() <= 1e-5 * theirs.abs(),
        "netc {ours} vs PyTorch {theirs}"
    );
}

fn assert_clean_failure(ok: bool, stderr: &str) {
    assert!(!ok, "the command should fail");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn rename_rules_load_a_sequential_state_dict_with_pytorchs_loss() {
    let loss = eval_loss(&[
        "--rename",
        r"^0\.=dense1.",
        "--rename",
        r"^2\.=dense2.",
        "--rename",
        r"^4\.=dense3.",
    ]);
    assert_pytorchs_loss(loss);
}

#[test]
fn a_name_map_loads_it_too() {
    let dir = tempfile::tempdir().expect("tempdir");
    let map = dir.path().join("map.json");
    let pairs: BTreeMap<String, String> = [("0", "dense1"), ("2", "dense2"), ("4", "dense3")]
        .iter()
        .flat_map(|(from, to)| {
            ["weight", "bias"].map(|t| (format!("{from}.{t}"), format!("{to}.{t}")))
        })
        .collect();
    std::fs::write(&map, serde_json::to_string(&pairs).expect("json")).expect("write map");
    assert_pytorchs_loss(eval_loss(&["--name-map", map.to_str().expect("utf-8")]));
}

#[test]
fn the_proposed_map_fed_back_gives_pytorchs_loss() {
    let (ok, json, stderr) = run(&["params", NET, "--like", WEIGHTS, "--json"]);
    assert!(ok, "{stderr}");
    let pairs: BTreeMap<String, String> = serde_json::from_str(&json).expect("a JSON map");
    assert_eq!(pairs["2.weight"], "dense2.weight", "{json}");
    assert_eq!(pairs.len(), 6, "{json}");
    let dir = tempfile::tempdir().expect("tempdir");
    let map = dir.path().join("map.json");
    std::fs::write(&map, &json).expect("write map");
    assert_pytorchs_loss(eval_loss(&["--name-map", map.to_str().expect("utf-8")]));
    // Without --json the same pairs come as a table with the way back.
    let (ok, table, _) = run(&["params", NET, "--like", WEIGHTS]);
    assert!(ok);
    assert!(table.contains("6 of 6 tensors placed"), "{table}");
    assert!(table.contains("--name-map map.json"), "{table}");
}

#[test]
fn rules_that_merge_two_tensors_name_both() {
    let (ok, _, stderr) = run(&[
        "eval",
        NET,
        "--weights",
        WEIGHTS,
        "--rename",
        r"^\d\.=dense.",
    ]);
    assert_clean_failure(ok, &stderr);
    assert!(stderr.contains("netc::params::rename"), "{stderr}");
    assert!(stderr.contains(WEIGHTS), "{stderr}");
    assert!(
        stderr.contains("both `0.bias` and `2.bias` in the file become `dense.bias`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("--like"),
        "the hint names the proposal: {stderr}"
    );
}

#[test]
fn unmatched_names_are_listed_under_the_files_own_names() {
    let (ok, _, stderr) = run(&[
        "eval",
        NET,
        "--weights",
        WEIGHTS,
        "--rename",
        r"^0\.=dense9.",
    ]);
    assert_clean_failure(ok, &stderr);
    assert!(
        stderr.contains("missing:     dense1.weight [8, 4]"),
        "{stderr}"
    );
    assert!(
        stderr.contains("unexpected:  dense9.weight [8, 4] (`0.weight` in the file)"),
        "{stderr}"
    );
    assert!(stderr.contains("unexpected:  2.bias [8]"), "{stderr}");
}

#[test]
fn a_map_entry_for_a_name_the_file_lacks_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let map = dir.path().join("typo.json");
    std::fs::write(&map, r#"{"0.weigth": "dense1.weight"}"#).expect("write map");
    let map = map.to_str().expect("utf-8");
    let (ok, _, stderr) = run(&["eval", NET, "--weights", WEIGHTS, "--name-map", map]);
    assert_clean_failure(ok, &stderr);
    assert!(
        stderr.contains("the name map names tensors the file does not have: 0.weigth"),
        "{stderr}"
    );
    std::fs::write(dir.path().join("bad.json"), "[1, 2]").expect("write");
    let bad = dir.path().join("bad.json");
    let bad = bad.to_str().expect("utf-8");
    let (ok, _, stderr) = run(&["eval", NET, "--weights", WEIGHTS, "--name-map", bad]);
    assert_clean_failure(ok, &stderr);
    assert!(stderr.contains("netc::params::name_map"), "{stderr}");
    assert!(stderr.contains("bad.json"), "{stderr}");
}

#[test]
fn bad_rules_and_renaming_nothing_are_errors() {
    let (ok, _, stderr) = run(&["eval", NET, "--weights", WEIGHTS, "--rename", "0.weight"]);
    assert_clean_failure(ok, &stderr);
    assert!(stderr.contains("PATTERN=REPLACEMENT"), "{stderr}");
    let (ok, _, stderr) = run(&["eval", NET, "--weights", WEIGHTS, "--rename", "(=x"]);
    assert_clean_failure(ok, &stderr);
    assert!(stderr.contains("netc::params::rule"), "{stderr}");
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("g.safetensors");
    let out = out.to_str().expect("utf-8");
    for command in [
        vec!["grad", NET, "--out", out, "--rename", "a=b"],
        vec!["train", NET, "--steps", "1", "-q", "--rename", "a=b"],
    ] {
        let (ok, _, stderr) = run(&command);
        assert_clean_failure(ok, &stderr);
        assert!(stderr.contains("give the file with `--load"), "{stderr}");
    }
}

#[test]
fn a_train_run_starts_from_renamed_weights() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run_dir = dir.path().join("run");
    let grads = dir.path().join("g.safetensors");
    let rules = [
        "--rename",
        r"^0\.=dense1.",
        "--rename",
        r"^2\.=dense2.",
        "--rename",
        r"^4\.=dense3.",
    ];
    let mut args = vec![
        "train",
        NET,
        "--steps",
        "1",
        "-q",
        "--load",
        WEIGHTS,
        "--out",
        run_dir.to_str().expect("utf-8"),
    ];
    args.extend(rules);
    let (ok, _, stderr) = run(&args);
    assert!(ok, "{stderr}");
    assert!(run_dir.join("weights.safetensors").exists());
    // `netc grad` at the loaded weights reports the loss of the first batch, which at
    // `batch = 12` is every row: PyTorch's loss again.
    let mut args = vec![
        "grad",
        NET,
        "--load",
        WEIGHTS,
        "--out",
        grads.to_str().expect("utf-8"),
    ];
    args.extend(rules);
    let (ok, stdout, stderr) = run(&args);
    assert!(ok, "{stderr}");
    let loss: f64 = stdout
        .split_whitespace()
        .nth(1)
        .and_then(|w| w.parse().ok())
        .expect("`loss X` first");
    assert_pytorchs_loss(loss);
}

#[test]
fn twin_layers_with_unordered_names_are_refused_as_ambiguous() {
    // dense2 and dense3 are both 8×8; the file's `mid_a`, `mid_b` carry no number to order them.
    let dir = tempfile::tempdir().expect("tempdir");
    let net = dir.path().join("twins.net");
    let source = std::fs::read_to_string(NET).expect("fixture");
    let source = source.replace(
        "    dense 8, act = tanh\n    dense 3",
        "    dense 8, act = tanh\n    dense 8, act = tanh\n    dense 3",
    );
    std::fs::write(&net, source).expect("write net");
    std::fs::copy(
        "tests/data/export/sequential.csv",
        dir.path().join("sequential.csv"),
    )
    .expect("copy csv");
    let mut file = ParamStore::new();
    for (name, shape) in [
        ("first.weight", vec![8, 4]),
        ("first.bias", vec![8]),
        ("mid_a.weight", vec![8, 8]),
        ("mid_a.bias", vec![8]),
        ("mid_b.weight", vec![8, 8]),
        ("mid_b.bias", vec![8]),
        ("last.weight", vec![3, 8]),
        ("last.bias", vec![3]),
        ("extra.scale", vec![2]),
    ] {
        let n = shape.iter().product();
        file.insert(name, Tensor::new(shape, vec![0.5; n]));
    }
    let weights = dir.path().join("twins.safetensors");
    file.save_safetensors(&weights, &BTreeMap::new())
        .expect("write weights");
    let (net, weights) = (
        net.to_str().expect("utf-8"),
        weights.to_str().expect("utf-8"),
    );
    let (ok, json, stderr) = run(&["params", net, "--like", weights, "--json"]);
    assert_clean_failure(ok, &stderr);
    // The sure pairs are still printed, for the user to complete by hand.
    let pairs: BTreeMap<String, String> = serde_json::from_str(&json).expect("a JSON map");
    assert_eq!(pairs["first.weight"], "dense1.weight", "{json}");
    assert_eq!(pairs["last.bias"], "dense4.bias", "{json}");
    assert_eq!(pairs.len(), 4, "{json}");
    assert!(
        stderr.contains("layer `dense2` (bias [8], weight [8, 8]) could be any of mid_a, mid_b"),
        "{stderr}"
    );
    assert!(
        stderr.contains("the file has tensors no layer of the model takes: extra.scale"),
        "{stderr}"
    );
}

/// `netc predict` on the training file itself: the unscaled fixture has no scaler to find the
/// feature columns by name, so the target column is recognised by the model's `target`, and
/// the predictions equal those on the same rows without it.
#[test]
fn predict_ignores_the_training_files_target_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let csv = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/export/sequential.csv");
    let text = std::fs::read_to_string(&csv).expect("fixture");
    let features: String = text
        .lines()
        .map(|l| l.rsplit_once(',').map_or(l, |(f, _)| f).to_owned() + "\n")
        .collect();
    let bare = dir.path().join("features.csv");
    std::fs::write(&bare, features).expect("write");
    let rename = [
        "--rename",
        r"^0\.=dense1.",
        "--rename",
        r"^2\.=dense2.",
        "--rename",
        r"^4\.=dense3.",
    ];
    let predict = |data: &str| {
        let mut args = vec!["predict", NET, "--weights", WEIGHTS, "--data", data];
        args.extend_from_slice(&rename);
        let (ok, stdout, stderr) = run(&args);
        assert!(ok, "netc {args:?} failed:\n{stderr}");
        stdout
    };
    let with_target = predict(csv.to_str().expect("utf-8"));
    let without = predict(bare.to_str().expect("utf-8"));
    assert_eq!(
        with_target.lines().count(),
        text.lines().count(),
        "{with_target}"
    );
    assert_eq!(with_target, without);
}

/// `train --vary` starts every variant from the renamed `--load` weights: each variant's
/// first step sees all 12 rows (`batch = 12`) at those weights, so its recorded loss is the
/// one PyTorch computed. (The flags were once dropped there, and the variants started from
/// their initializers.)
#[test]
fn every_vary_variant_starts_from_the_renamed_weights() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("vary");
    let mut args = vec![
        "train",
        NET,
        "--steps",
        "1",
        "--load",
        WEIGHTS,
        "--vary",
        "optimizer.lr=0.1,0.2",
        "--out",
        out.to_str().expect("utf-8"),
    ];
    args.extend([
        "--rename",
        r"^0\.=dense1.",
        "--rename",
        r"^2\.=dense2.",
        "--rename",
        r"^4\.=dense3.",
    ]);
    let (ok, _, stderr) = run(&args);
    assert!(ok, "{stderr}");
    let mut variants = 0;
    for entry in std::fs::read_dir(&out).expect("the vary folder") {
        let metrics = entry.expect("an entry").path().join("metrics.jsonl");
        let Ok(text) = std::fs::read_to_string(&metrics) else {
            continue;
        };
        let first: serde_json::Value =
            serde_json::from_str(text.lines().next().expect("a step")).expect("json");
        assert_pytorchs_loss(first["loss"].as_f64().expect("a loss"));
        variants += 1;
    }
    assert_eq!(
        variants,
        2,
        "one run folder per variant under {}",
        out.display()
    );
}
