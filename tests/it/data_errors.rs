//! Every bad-data case gives a clear message naming the file, row and column: snapshots of the
//! rendered errors, one per case, with fixtures under tests/data/data/.

use crate::common;

use std::path::Path;

use common::data::{load_csv, load_csv_error, render};
use netc::data::{self, Dataset};
use netc::model::{CsvSource, DataSource, Loss, Scale, Synthetic, SyntheticKind, Task};

const FIXTURES: &str = "tests/data/data";

fn csv_source(path: &str, target: &str) -> CsvSource {
    CsvSource {
        path: path.to_string(),
        target: target.to_string(),
        scale: Scale::Standard,
        split: 0.5,
        test: None,
        task: None,
        long: None,
    }
}

/// Loads `source` from the fixtures folder and returns the rendered error it must give.
fn load_error(source: CsvSource, loss: Loss) -> String {
    load_csv_error(source, FIXTURES, loss)
}

fn check(path: &str, target: &str, loss: Loss) -> String {
    load_error(csv_source(path, target), loss)
}

fn good() -> Dataset {
    load_csv(
        csv_source("good.csv", "label"),
        FIXTURES,
        Loss::CrossEntropy,
    )
    .expect("good.csv loads")
    .train
}

#[test]
fn missing_file() {
    insta::assert_snapshot!(check("no_such_file.csv", "label", Loss::CrossEntropy));
}

#[test]
fn empty_file() {
    insta::assert_snapshot!(check("empty.csv", "label", Loss::CrossEntropy));
}

#[test]
fn header_without_rows() {
    insta::assert_snapshot!(check("header_only.csv", "label", Loss::CrossEntropy));
}

#[test]
fn ragged_row_counts_blank_lines_like_an_editor() {
    // Line 3 is blank, so the short row `5,6` is on line 5.
    let rendered = check("ragged.csv", "label", Loss::CrossEntropy);
    assert!(rendered.contains("row 5 "), "{rendered}");
    insta::assert_snapshot!(rendered);
}

#[test]
fn non_number() {
    insta::assert_snapshot!(check("not_a_number.csv", "label", Loss::CrossEntropy));
}

#[test]
fn row_numbers_follow_lines_across_quoted_newlines() {
    // Row 2's first field spans lines 2 and 3, so `5,x,0` is on line 5.
    let rendered = check("quoted_newline.csv", "label", Loss::CrossEntropy);
    assert!(rendered.contains("row 5, column 2 `b`"), "{rendered}");
}

#[test]
fn empty_cell() {
    insta::assert_snapshot!(check("empty_cell.csv", "label", Loss::CrossEntropy));
}

#[test]
fn nan_value() {
    insta::assert_snapshot!(check("nan.csv", "label", Loss::CrossEntropy));
}

#[test]
fn value_too_large_for_f32() {
    insta::assert_snapshot!(check("overflow.csv", "label", Loss::CrossEntropy));
}

#[test]
fn unknown_target_suggests_a_near_name() {
    insta::assert_snapshot!(check("good.csv", "lable", Loss::CrossEntropy));
}

#[test]
fn unknown_target_lists_the_columns() {
    insta::assert_snapshot!(check("good.csv", "species", Loss::CrossEntropy));
}

#[test]
fn no_feature_columns() {
    insta::assert_snapshot!(check("no_features.csv", "label", Loss::CrossEntropy));
}

#[test]
fn duplicate_column() {
    insta::assert_snapshot!(check("duplicate_column.csv", "label", Loss::CrossEntropy));
}

#[test]
fn not_utf8() {
    insta::assert_snapshot!(check("not_utf8.csv", "label", Loss::CrossEntropy));
}

#[test]
fn empty_label() {
    insta::assert_snapshot!(check("empty_label.csv", "label", Loss::CrossEntropy));
}

#[test]
fn fractional_label_under_cross_entropy() {
    insta::assert_snapshot!(check("float_labels.csv", "y", Loss::CrossEntropy));
}

#[test]
fn fractional_label_when_classification_is_asked() {
    let source = CsvSource {
        task: Some(Task::Classification),
        long: None,
        ..csv_source("float_labels.csv", "y")
    };
    insta::assert_snapshot!(load_error(source, Loss::Mse));
}

#[test]
fn three_classes_under_binary_cross_entropy() {
    insta::assert_snapshot!(check(
        "three_classes.csv",
        "label",
        Loss::BinaryCrossEntropy
    ));
}

#[test]
fn regression_task_with_a_classification_loss() {
    let source = CsvSource {
        task: Some(Task::Regression),
        long: None,
        ..csv_source("good.csv", "label")
    };
    insta::assert_snapshot!(load_error(source, Loss::CrossEntropy));
}

#[test]
fn separate_test_file_with_an_unseen_class() {
    let source = CsvSource {
        test: Some("fruit_test_unknown_class.csv".to_string()),
        ..csv_source("fruit_train.csv", "fruit")
    };
    insta::assert_snapshot!(load_error(source, Loss::CrossEntropy));
}

#[test]
fn separate_test_file_with_other_columns() {
    let source = CsvSource {
        test: Some("fruit_test_other_header.csv".to_string()),
        ..csv_source("fruit_train.csv", "fruit")
    };
    insta::assert_snapshot!(load_error(source, Loss::CrossEntropy));
}

#[test]
fn split_outside_the_unit_interval() {
    let source = CsvSource {
        split: 1.5,
        ..csv_source("good.csv", "label")
    };
    insta::assert_snapshot!(load_error(source, Loss::CrossEntropy));
}

#[test]
fn width_that_does_not_match_the_model_input() {
    let error = data::check_width(&good(), &[5], "tests/data/data/good.csv").expect_err("2 ≠ 5");
    insta::assert_snapshot!(render(&error));
}

#[test]
fn class_count_that_does_not_match_the_model_output() {
    let error = data::check_classes(&good(), &[3], "tests/data/data/good.csv").expect_err("2 ≠ 3");
    insta::assert_snapshot!(render(&error));
}

#[test]
fn binary_target_with_several_outputs() {
    let binary = load_csv(
        csv_source("good.csv", "label"),
        FIXTURES,
        Loss::BinaryCrossEntropy,
    )
    .expect("good.csv loads")
    .train;
    let error = data::check_classes(&binary, &[2], "tests/data/data/good.csv").expect_err("1 ≠ 2");
    insta::assert_snapshot!(render(&error));
}

#[test]
fn prediction_file_of_the_wrong_width() {
    let error = data::load_features(&Path::new(FIXTURES).join("good.csv"), 5, None, None)
        .expect_err("3 ≠ 5");
    insta::assert_snapshot!(render(&error));
}

#[test]
fn regression_set_with_a_classification_loss() {
    let set = Synthetic {
        kind: SyntheticKind::Sine,
        n: 10,
        noise: 0.0,
        split: 0.8,
    };
    let error = data::load(
        &DataSource::Synthetic(set),
        Path::new("."),
        1,
        Loss::CrossEntropy,
    )
    .expect_err("sine is regression");
    insta::assert_snapshot!(render(&error));
}

#[test]
fn synthetic_parameter_out_of_range() {
    let set = Synthetic {
        kind: SyntheticKind::Circles { factor: 1.5 },
        n: 10,
        noise: 0.0,
        split: 0.8,
    };
    let error = data::load(
        &DataSource::Synthetic(set),
        Path::new("."),
        1,
        Loss::CrossEntropy,
    )
    .expect_err("factor > 1");
    insta::assert_snapshot!(render(&error));
}
