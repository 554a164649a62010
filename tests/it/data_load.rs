//! Loading CSV sources: the shipped digits set end to end, label kinds and their encodings,
//! scaling statistics from the training split only, the test file and prediction inputs.

use std::path::Path;

use netc::data::{self, Dataset, ScaleMethod, Splits};
use netc::model::{CsvSource, DataSource, Loss, Scale, Task};

fn source(path: &str, target: &str, scale: Scale, split: f64) -> CsvSource {
    CsvSource {
        path: path.to_string(),
        target: target.to_string(),
        scale,
        split,
        test: None,
        task: None,
        long: None,
    }
}

fn load(csv: CsvSource, base: &str, seed: u64, loss: Loss) -> Splits {
    data::load(&DataSource::Csv(csv), Path::new(base), seed, loss).expect("loads")
}

fn digits(scale: Scale, seed: u64) -> Splits {
    load(
        source("digits.csv", "label", scale, 0.8),
        "examples/data",
        seed,
        Loss::CrossEntropy,
    )
}

/// Per-column mean and population standard deviation of `x` ([n, width]).
fn column_stats(set: &Dataset) -> Vec<(f64, f64)> {
    let (n, width) = (set.len(), set.input_width());
    (0..width)
        .map(|c| {
            let column: Vec<f64> = (0..n)
                .map(|r| f64::from(set.x.data[r * width + c]))
                .collect();
            let mean = column.iter().sum::<f64>() / n as f64;
            let variance = column.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64;
            (mean, variance.sqrt())
        })
        .collect()
}

#[test]
fn digits_has_1797_rows_of_64_features_and_10_classes_split_80_20() {
    let splits = digits(Scale::Standard, 42);
    let (train, valid) = (&splits.train, &splits.valid);
    assert_eq!(train.len() + valid.len(), 1797);
    assert_eq!(train.len(), 1438); // round(0.8 · 1797)
    assert_eq!(valid.len(), 359);
    assert_eq!(train.x.shape, vec![1438, 64]);
    assert_eq!(train.y.shape, vec![1438, 10]);
    assert_eq!(train.task, Task::Classification);
    assert_eq!(train.classes.as_ref().map(Vec::len), Some(10));
    assert_eq!(train.feature_names.first().map(String::as_str), Some("p0"));
    assert!(splits.test.is_none());
    // One-hot rows agree with the labels.
    let labels = train.labels.as_ref().expect("classification has labels");
    for (row, &label) in labels.iter().enumerate() {
        let one_hot = &train.y.data[row * 10..(row + 1) * 10];
        assert_eq!(one_hot.iter().sum::<f32>(), 1.0);
        assert_eq!(one_hot[label], 1.0);
    }
    // Every digit occurs in both splits.
    for class in 0..10 {
        assert!(labels.contains(&class));
        assert!(valid.labels.as_ref().expect("labels").contains(&class));
    }
}

#[test]
fn standardization_uses_training_statistics_only() {
    let splits = digits(Scale::Standard, 42);
    for (column, (mean, std)) in column_stats(&splits.train).into_iter().enumerate() {
        assert!(mean.abs() < 1e-5, "train column {column} mean {mean}");
        // Columns constant over the training rows become all zeros, not NaN.
        assert!(
            (std - 1.0).abs() < 1e-4 || std == 0.0,
            "train column {column} std {std}"
        );
    }
    let valid_stats = column_stats(&splits.valid);
    assert!(valid_stats
        .iter()
        .all(|(m, s)| m.is_finite() && s.is_finite()));
    assert!(
        valid_stats.iter().any(|(mean, _)| mean.abs() > 1e-3),
        "valid split must not be re-centred"
    );

    // The scaler's statistics are those of the raw training rows (same seed ⇒ same split).
    let raw = digits(Scale::None, 42);
    assert!(raw.scaler.is_none());
    let scaler = splits.scaler.expect("standard scaling keeps its scaler");
    assert_eq!(scaler.method, ScaleMethod::Standard);
    for (column, (mean, std)) in column_stats(&raw.train).into_iter().enumerate() {
        assert!((scaler.offset[column] - mean).abs() < 1e-9);
        let expected_divisor = if std == 0.0 { 1.0 } else { std };
        assert!((scaler.divisor[column] - expected_divisor).abs() < 1e-9);
    }
}

#[test]
fn min_max_maps_the_training_split_into_the_unit_interval() {
    let splits = digits(Scale::MinMax, 3);
    let train = &splits.train;
    assert!(train.x.data.iter().all(|&v| (0.0..=1.0).contains(&v)));
    let width = train.input_width();
    let column_max = |c: usize| {
        (0..train.len())
            .map(|r| train.x.data[r * width + c])
            .fold(f32::MIN, f32::max)
    };
    assert!((0..width).any(|c| column_max(c) == 1.0));
}

#[test]
fn same_seed_same_split_other_seed_other_split() {
    let (a, b, c) = (
        digits(Scale::Standard, 1),
        digits(Scale::Standard, 1),
        digits(Scale::Standard, 2),
    );
    assert_eq!(a, b);
    assert_ne!(a.train.labels, c.train.labels);
}

#[test]
fn string_labels_become_sorted_classes() {
    let splits = load(
        source("fruit_many.csv", "fruit", Scale::None, 0.5),
        "tests/data/data",
        5,
        Loss::CrossEntropy,
    );
    let all = [&splits.train, &splits.valid];
    for set in all {
        assert_eq!(
            set.classes,
            Some(vec!["apple".to_string(), "pear".to_string()])
        );
        assert_eq!(set.y.shape[1], 2);
        // Column `a` is odd-numbered: 1, 5, 9 are pears, 3, 7, 11 apples.
        for (row, &label) in set.labels.as_ref().expect("labels").iter().enumerate() {
            let a = set.x.data[row * 2];
            assert_eq!(label, usize::from((a as usize / 2) % 2 == 0), "a = {a}");
        }
    }
    assert_eq!(splits.train.len() + splits.valid.len(), 6);
}

#[test]
fn binary_cross_entropy_gives_one_zero_one_column() {
    let splits = load(
        source("fruit_many.csv", "fruit", Scale::None, 0.5),
        "tests/data/data",
        5,
        Loss::BinaryCrossEntropy,
    );
    let train = &splits.train;
    assert_eq!(train.y.shape, vec![train.len(), 1]);
    let labels = train.labels.as_ref().expect("labels");
    assert!(train
        .y
        .data
        .iter()
        .zip(labels)
        .all(|(&y, &label)| y == label as f32));
}

#[test]
fn fractional_targets_are_regression_under_mse() {
    let splits = load(
        source("regression.csv", "y", Scale::None, 0.75),
        "tests/data/data",
        1,
        Loss::Mse,
    );
    let train = &splits.train;
    assert_eq!(train.task, Task::Regression);
    assert_eq!((train.labels.clone(), train.classes.clone()), (None, None));
    assert_eq!(train.y.shape, vec![3, 1]);
    assert_eq!(splits.valid.len(), 1);
    // y is carried unchanged next to its x.
    let pairs = [(0.5, 1.25), (1.5, 2.0), (2.0, 3.0), (3.0, 4.5)];
    for (x, y) in train.x.data.iter().zip(&train.y.data) {
        assert!(pairs.contains(&(*x, *y)), "({x}, {y})");
    }
}

#[test]
fn integer_targets_can_be_regression_when_asked() {
    let csv = CsvSource {
        task: Some(Task::Regression),
        long: None,
        ..source("good.csv", "label", Scale::None, 0.5)
    };
    let splits = load(csv, "tests/data/data", 1, Loss::Mse);
    assert_eq!(splits.train.task, Task::Regression);
    assert_eq!(splits.train.target_width(), 1);
}

#[test]
fn test_file_is_scaled_with_training_statistics() {
    let csv = CsvSource {
        test: Some("fruit_test.csv".to_string()),
        ..source("fruit_many.csv", "fruit", Scale::Standard, 0.5)
    };
    let splits = load(csv, "tests/data/data", 9, Loss::CrossEntropy);
    let test = splits.test.expect("test file loaded");
    let scaler = splits.scaler.expect("scaler");
    assert_eq!(test.labels, Some(vec![0, 1]));
    assert_eq!(test.classes, splits.train.classes);
    let raw = [2.0, 3.0, 4.0, 5.0];
    for (i, (&scaled, raw)) in test.x.data.iter().zip(raw).enumerate() {
        let column = i % 2;
        let expected = (raw - scaler.offset[column]) / scaler.divisor[column];
        assert!((f64::from(scaled) - expected).abs() < 1e-6);
    }
}

#[test]
fn prediction_features_match_by_width_or_by_scaler_column_names() {
    let splits = load(
        source("good.csv", "label", Scale::Standard, 0.5),
        "tests/data/data",
        4,
        Loss::CrossEntropy,
    );
    let scaler = splits.scaler.expect("scaler");
    // The training file itself has 3 columns; by name the scaler picks `width` and `height`.
    let features = data::load_features(
        Path::new("tests/data/data/good.csv"),
        2,
        Some(&scaler),
        None,
    )
    .expect("by name");
    assert_eq!(features.shape, vec![4, 2]);
    let expected = |raw: f64, c: usize| ((raw - scaler.offset[c]) / scaler.divisor[c]) as f32;
    assert_eq!(features.data[0], expected(1.0, 0));
    assert_eq!(features.data[1], expected(2.0, 1));
    // Column order in the file does not matter when matching by name.
    let reordered = data::load_features(
        Path::new("tests/data/data/predict_with_target.csv"),
        2,
        Some(&scaler),
        None,
    )
    .expect("by name");
    assert_eq!(reordered.data[0], expected(10.0, 0));
    assert_eq!(reordered.data[1], expected(20.0, 1));
    // Without a scaler, a file of exactly the right width is read as is.
    let raw =
        data::load_features(Path::new("tests/data/data/good.csv"), 3, None, None).expect("width 3");
    assert_eq!(&raw.data[..3], &[1.0, 2.0, 0.0]);
}

#[test]
fn scaler_round_trips_through_json() {
    let scaler = digits(Scale::Standard, 42).scaler.expect("scaler");
    let json = serde_json::to_string(&scaler).expect("serializes");
    let back: data::Scaler = serde_json::from_str(&json).expect("deserializes");
    assert_eq!(
        (back.method, &back.columns),
        (scaler.method, &scaler.columns)
    );
    // serde_json's default float parser may be off by one unit in the last place (its
    // `float_roundtrip` feature makes it exact), harmless for scaling prediction inputs.
    let close = |a: &[f64], b: &[f64]| {
        a.iter()
            .zip(b)
            .all(|(x, y)| (x - y).abs() <= 1e-15 * x.abs().max(1.0))
    };
    assert!(close(&back.offset, &scaler.offset) && close(&back.divisor, &scaler.divisor));
}

#[test]
fn inputs_can_be_viewed_with_the_model_shape() {
    let train = digits(Scale::Standard, 42).train;
    let rows = train.len();
    let images = train
        .with_input_shape(&[8, 8], "examples/data/digits.csv")
        .expect("64 = 8·8");
    assert_eq!(images.x.shape, vec![rows, 8, 8]);
    assert_eq!(images.input_width(), 64);
}

#[test]
fn iris_and_breast_cancer_load() {
    let iris = load(
        source("iris.csv", "label", Scale::Standard, 0.8),
        "examples/data",
        0,
        Loss::CrossEntropy,
    );
    assert_eq!(
        (
            iris.train.len() + iris.valid.len(),
            iris.train.input_width(),
            iris.train.target_width()
        ),
        (150, 4, 3)
    );
    let cancer = load(
        source("breast_cancer.csv", "label", Scale::Standard, 0.8),
        "examples/data",
        0,
        Loss::BinaryCrossEntropy,
    );
    assert_eq!(
        (
            cancer.train.len() + cancer.valid.len(),
            cancer.train.input_width(),
            cancer.train.target_width()
        ),
        (569, 30, 1)
    );
}

#[test]
fn byte_order_mark_blank_lines_and_quotes_are_handled() {
    let splits = load(
        source("bom.csv", "label", Scale::None, 0.5),
        "tests/data/data",
        1,
        Loss::CrossEntropy,
    );
    assert_eq!(splits.train.feature_names, vec!["a".to_string()]);
    // quoted_newline.csv is fine up to its bad row 5; its first field is "1\n" in quotes.
    let bytes = b"a,b,label\n\"1\n\",2,0\n\n\"3\",\" 4 \",1\n";
    let set = data::parse_csv(
        bytes,
        Path::new("inline.csv"),
        "label",
        None,
        Loss::CrossEntropy,
    )
    .expect("parses");
    assert_eq!(set.x.data, vec![1.0, 2.0, 3.0, 4.0]);
    assert_eq!(set.labels, Some(vec![0, 1]));
}
