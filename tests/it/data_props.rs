//! Property tests: CSV loading never panics, whatever the bytes; it either loads a consistent
//! data set or returns an error.

use std::path::Path;

use netc::data;
use netc::model::{Loss, Task};
use proptest::prelude::*;

fn losses() -> impl Strategy<Value = Loss> {
    prop_oneof![
        Just(Loss::Mse),
        Just(Loss::CrossEntropy),
        Just(Loss::BinaryCrossEntropy)
    ]
}

fn tasks() -> impl Strategy<Value = Option<Task>> {
    prop_oneof![
        Just(None),
        Just(Some(Task::Classification)),
        Just(Some(Task::Regression))
    ]
}

/// Text made of CSV-ish pieces, so that many inputs get past the header.
fn csv_like() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        Just("a".to_string()),
        Just("label".to_string()),
        Just(",".to_string()),
        Just("\n".to_string()),
        Just("\r\n".to_string()),
        Just("\"".to_string()),
        Just(" ".to_string()),
        Just("nan".to_string()),
        Just("inf".to_string()),
        Just("-".to_string()),
        Just("1e39".to_string()),
        Just("99999".to_string()),
        "[0-9]{1,3}(\\.[0-9])?",
        "[a-z]{1,4}",
    ];
    prop::collection::vec(pieces, 0..60).prop_map(|parts| parts.concat())
}

fn check_consistent(result: Result<data::Dataset, data::DataError>) {
    if let Ok(set) = result {
        assert_eq!(set.x.data.len(), set.len() * set.input_width());
        assert_eq!(set.y.data.len(), set.len() * set.target_width());
        assert!(set.x.data.iter().chain(&set.y.data).all(|v| v.is_finite()));
        if let (Some(labels), Some(classes)) = (&set.labels, &set.classes) {
            assert!(labels.iter().all(|&l| l < classes.len()));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400), loss in losses(), task in tasks()) {
        check_consistent(data::parse_csv(&bytes, Path::new("random.csv"), "label", task, loss));
    }

    #[test]
    fn csv_like_text_never_panics(text in csv_like(), loss in losses(), task in tasks()) {
        let result = data::parse_csv(text.as_bytes(), Path::new("random.csv"), "label", task, loss);
        if let Err(error) = &result {
            prop_assert!(error.to_string().contains("random.csv"), "{error}");
        }
        check_consistent(result);
    }
}
