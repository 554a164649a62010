//! Long-format sequence CSVs (one row per (sequence, time step)): a good file pivots to one
//! example per sequence in step order, and every bad file gives an error naming the file, row
//! and column (snapshots, fixtures under tests/data/data/long/).

use crate::common;

use std::path::Path;

use common::data::{load_csv, load_csv_error, render};
use netc::data::{self, DataError, Splits};
use netc::model::{CsvSource, DataSource, LongFormat, Loss, Scale};

const FIXTURES: &str = "tests/data/data/long";

fn source(path: &str) -> CsvSource {
    CsvSource {
        path: path.to_string(),
        target: "sum".to_string(),
        scale: Scale::None,
        split: 1.0,
        test: None,
        task: None,
        long: Some(LongFormat {
            sequence: "seq".to_string(),
            time: "t".to_string(),
        }),
    }
}

fn load(source: CsvSource) -> Result<Splits, DataError> {
    load_csv(source, FIXTURES, Loss::Mse)
}

fn error_of(path: &str) -> String {
    load_csv_error(source(path), FIXTURES, Loss::Mse)
}

#[test]
fn a_long_file_pivots_to_one_example_per_sequence_in_step_order() {
    let splits = load(source("good.csv")).expect("good.csv loads");
    let set = &splits.train;
    assert_eq!(
        set.x.shape,
        vec![2, 3, 2],
        "2 sequences of 3 steps × 2 features"
    );
    assert_eq!(
        set.feature_names,
        [
            "value[0]",
            "marker[0]",
            "value[1]",
            "marker[1]",
            "value[2]",
            "marker[2]"
        ]
    );
    // rows of b are out of order in the file and its target is only on its last row
    let mut by_target: Vec<(f32, Vec<f32>)> = (0..2)
        .map(|i| (set.y.data[i], set.x.data[i * 6..(i + 1) * 6].to_vec()))
        .collect();
    by_target.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert_eq!(by_target[0], (0.8, vec![0.5, 1.0, 0.1, 0.0, 0.3, 1.0]));
    assert_eq!(by_target[1], (1.1, vec![0.7, 1.0, 0.2, 0.0, 0.4, 1.0]));
    // the declared seq(T, d) must match the sequences, with a long-format message
    let e = data::check_width(set, &[4, 2], "good.csv").expect_err("4 steps declared");
    insta::assert_snapshot!("long_width_mismatch", render(&e));
    data::check_width(set, &[3, 2], "good.csv").expect("3 steps of 2 fit");
}

#[test]
fn duplicate_time_step() {
    insta::assert_snapshot!("long_duplicate_step", error_of("duplicate_step.csv"));
}

#[test]
fn missing_time_step() {
    insta::assert_snapshot!("long_missing_step", error_of("missing_step.csv"));
}

#[test]
fn sequences_of_unequal_length() {
    insta::assert_snapshot!("long_sequence_length", error_of("unequal.csv"));
}

#[test]
fn non_numeric_feature_names_its_own_row() {
    let rendered = error_of("not_a_number.csv");
    assert!(rendered.contains("row 6, column 3 `value`"), "{rendered}");
    insta::assert_snapshot!("long_not_a_number", rendered);
}

#[test]
fn target_disagreeing_across_a_sequence() {
    insta::assert_snapshot!("long_target_disagrees", error_of("target_disagrees.csv"));
}

#[test]
fn fractional_time_step() {
    insta::assert_snapshot!("long_bad_time", error_of("bad_time.csv"));
}

#[test]
fn unknown_sequence_column() {
    let mut s = source("good.csv");
    s.long = Some(LongFormat {
        sequence: "sequ".to_string(),
        time: "t".to_string(),
    });
    let e = load(s).expect_err("no column `sequ`");
    insta::assert_snapshot!("long_unknown_column", render(&e));
}

#[test]
fn the_shipped_adding_example_trains_from_long_format() {
    let dir = tempfile::tempdir().unwrap();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/adding_long.csv");
    let net = dir.path().join("adding_long.net");
    std::fs::write(
        &net,
        format!(
            "model adding_long {{\n    input x: seq(10, 2)\n    lstm 16\n    dense 1\n}}\n\ntrain {{\n    data      = csv({:?}, target = \"target\", sequence = \"sequence\", time = \"t\", scale = none)\n    loss      = mse\n    optimizer = adam(lr = 0.01)\n    batch     = 30\n    epochs    = 2\n}}\n",
            data.display().to_string()
        ),
    )
    .unwrap();
    let out = dir.path().join("run");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_netc"))
        .args([
            "train",
            net.to_str().unwrap(),
            "--quiet",
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .expect("netc runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.join("probes_time.csv").exists());
    let metrics = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    assert_eq!(
        metrics.lines().filter(|l| l.contains("\"loss\"")).count(),
        16,
        "240 rows / 30 per batch × 2 epochs"
    );
}

#[test]
fn the_csv_source_takes_sequence_and_time_and_time_needs_sequence() {
    let src = |args: &str| {
        format!("model m {{\n    input x: seq(3, 2)\n    rnn 4\n    dense 1\n}}\n\ntrain {{\n    data = csv(\"long.csv\", target = \"sum\"{args})\n    loss = mse\n}}\n")
    };
    let checked = netc::sema::check_source("m.net", &src(", sequence = \"seq\""), &[]);
    let model = checked.model.expect("checks");
    let DataSource::Csv(csv) = &model.train.data else {
        panic!("a csv source")
    };
    let expected = LongFormat {
        sequence: "seq".to_string(),
        time: "t".to_string(),
    };
    assert_eq!(csv.long, Some(expected), "time defaults to `t`");
    let text = src(", time = \"step\"");
    let checked = netc::sema::check_source("m.net", &text, &[]);
    assert!(checked.model.is_none());
    insta::assert_snapshot!(
        "long_time_without_sequence",
        netc::diag::render(&checked.diagnostics, "m.net", &text, false)
    );
}
