//! Synthetic sets: documented shapes and class balance, deterministic per seed (identical
//! bytes), different across seeds, and the right encoding for each loss.

use std::path::Path;

use netc::data::{self, Dataset};
use netc::model::{DataSource, Loss, Synthetic, SyntheticKind, Task};

fn set(kind: SyntheticKind, n: usize, noise: f64) -> Synthetic {
    Synthetic {
        kind,
        n,
        noise,
        split: 0.8,
    }
}

fn generate(kind: SyntheticKind, n: usize, seed: u64, loss: Loss) -> Dataset {
    data::generate(&set(kind, n, 0.1), seed, loss).expect("generates")
}

fn class_counts(data: &Dataset) -> Vec<usize> {
    let classes = data.classes.as_ref().expect("classification").len();
    let mut counts = vec![0; classes];
    for &label in data.labels.as_ref().expect("labels") {
        counts[label] += 1;
    }
    counts
}

fn bits(data: &Dataset) -> Vec<u32> {
    data.x
        .data
        .iter()
        .chain(&data.y.data)
        .map(|v| v.to_bits())
        .collect()
}

/// Every kind with small parameters, for the properties all sets share.
fn all_kinds() -> Vec<SyntheticKind> {
    vec![
        SyntheticKind::Xor,
        SyntheticKind::Moons,
        SyntheticKind::Circles { factor: 0.5 },
        SyntheticKind::Spirals { arms: 3 },
        SyntheticKind::Blobs { centers: 4, dim: 3 },
        SyntheticKind::Sine,
        SyntheticKind::Polynomial { degree: 3 },
        SyntheticKind::Parity { bits: 5 },
        SyntheticKind::Teacher {
            dim: 4,
            depth: 3,
            width: 16,
            outputs: 2,
        },
    ]
}

fn loss_for(data_kind: &SyntheticKind) -> Loss {
    match data_kind {
        SyntheticKind::Sine | SyntheticKind::Polynomial { .. } | SyntheticKind::Teacher { .. } => {
            Loss::Mse
        }
        _ => Loss::CrossEntropy,
    }
}

#[test]
fn same_seed_gives_identical_bytes_and_other_seeds_differ() {
    for kind in all_kinds() {
        let loss = loss_for(&kind);
        let (a, b, c) = (
            generate(kind.clone(), 120, 1, loss),
            generate(kind.clone(), 120, 1, loss),
            generate(kind.clone(), 120, 2, loss),
        );
        assert_eq!(bits(&a), bits(&b), "{kind:?}");
        assert_ne!(bits(&a), bits(&c), "{kind:?}");
        assert!(
            a.x.data.iter().chain(&a.y.data).all(|v| v.is_finite()),
            "{kind:?}"
        );
    }
}

#[test]
fn shapes_are_as_documented() {
    let n = 120;
    let expected: [(usize, usize); 9] = [
        (2, 2),
        (2, 2),
        (2, 2),
        (2, 3),
        (3, 4),
        (1, 1),
        (1, 1),
        (5, 2),
        (4, 2),
    ];
    for (kind, (inputs, targets)) in all_kinds().into_iter().zip(expected) {
        let data = generate(kind.clone(), n, 3, loss_for(&kind));
        assert_eq!(data.x.shape, vec![n, inputs], "{kind:?}");
        assert_eq!(data.y.shape, vec![n, targets], "{kind:?}");
        assert_eq!(data.feature_names.len(), inputs);
    }
}

#[test]
fn classes_are_balanced() {
    assert_eq!(
        class_counts(&generate(SyntheticKind::Xor, 100, 0, Loss::CrossEntropy)),
        vec![50, 50]
    );
    assert_eq!(
        class_counts(&generate(SyntheticKind::Moons, 101, 0, Loss::CrossEntropy)),
        vec![50, 51]
    );
    assert_eq!(
        class_counts(&generate(
            SyntheticKind::Circles { factor: 0.3 },
            100,
            0,
            Loss::CrossEntropy
        )),
        vec![50, 50]
    );
    assert_eq!(
        class_counts(&generate(
            SyntheticKind::Spirals { arms: 3 },
            301,
            0,
            Loss::CrossEntropy
        )),
        vec![101, 100, 100]
    );
    assert_eq!(
        class_counts(&generate(
            SyntheticKind::Blobs { centers: 4, dim: 2 },
            100,
            0,
            Loss::CrossEntropy
        )),
        vec![25; 4]
    );
    assert_eq!(
        class_counts(&generate(
            SyntheticKind::Parity { bits: 6 },
            100,
            0,
            Loss::CrossEntropy
        )),
        vec![50, 50]
    );
}

#[test]
fn parity_labels_are_the_parity_of_the_positive_inputs() {
    let data = data::generate(
        &set(SyntheticKind::Parity { bits: 7 }, 200, 0.0),
        11,
        Loss::CrossEntropy,
    )
    .expect("generates");
    let labels = data.labels.as_ref().expect("labels");
    for (row, &label) in labels.iter().enumerate() {
        let inputs = &data.x.data[row * 7..(row + 1) * 7];
        assert!(inputs.iter().all(|&v| v == 1.0 || v == -1.0));
        assert_eq!(inputs.iter().filter(|&&v| v > 0.0).count() % 2, label);
    }
}

#[test]
fn noiseless_geometry_is_exact() {
    let xor = data::generate(&set(SyntheticKind::Xor, 8, 0.0), 0, Loss::Mse).expect("xor");
    // (0,0)→0, (0,1)→1, (1,0)→1, (1,1)→0, twice; one 0/1 column under mse.
    assert_eq!(
        xor.x.data,
        vec![0., 0., 0., 1., 1., 0., 1., 1., 0., 0., 0., 1., 1., 0., 1., 1.]
    );
    assert_eq!(xor.y.data, vec![0., 1., 1., 0., 0., 1., 1., 0.]);
    let circles = data::generate(
        &set(SyntheticKind::Circles { factor: 0.25 }, 40, 0.0),
        0,
        Loss::CrossEntropy,
    )
    .expect("circles");
    for (row, &label) in circles.labels.as_ref().expect("labels").iter().enumerate() {
        let (x, y) = (circles.x.data[2 * row], circles.x.data[2 * row + 1]);
        let radius = if label == 0 { 1.0 } else { 0.25 };
        assert!(((x * x + y * y).sqrt() - radius).abs() < 1e-6);
    }
    let sine = data::generate(&set(SyntheticKind::Sine, 50, 0.0), 0, Loss::Mse).expect("sine");
    for (x, y) in sine.x.data.iter().zip(&sine.y.data) {
        assert!((-std::f32::consts::PI..=std::f32::consts::PI).contains(x));
        assert!((x.sin() - y).abs() < 1e-6);
    }
    let spirals = data::generate(
        &set(SyntheticKind::Spirals { arms: 4 }, 80, 0.0),
        0,
        Loss::CrossEntropy,
    )
    .expect("spirals");
    assert!(spirals
        .x
        .data
        .chunks(2)
        .all(|p| (p[0] * p[0] + p[1] * p[1]).sqrt() <= 1.0 + 1e-6));
}

#[test]
fn encodings_follow_the_loss() {
    let one_hot = generate(SyntheticKind::Moons, 20, 0, Loss::CrossEntropy);
    assert_eq!(one_hot.y.shape, vec![20, 2]);
    let binary = generate(SyntheticKind::Moons, 20, 0, Loss::BinaryCrossEntropy);
    assert_eq!(binary.y.shape, vec![20, 1]);
    assert_eq!(
        binary.y.data,
        binary
            .labels
            .as_ref()
            .expect("labels")
            .iter()
            .map(|&l| l as f32)
            .collect::<Vec<_>>()
    );
    assert_eq!(
        generate(SyntheticKind::Moons, 20, 0, Loss::Mse).y.shape,
        vec![20, 2]
    );
    assert_eq!(
        generate(SyntheticKind::Xor, 20, 0, Loss::Mse).y.shape,
        vec![20, 1]
    );
    assert_eq!(
        generate(SyntheticKind::Xor, 20, 0, Loss::CrossEntropy)
            .y
            .shape,
        vec![20, 2]
    );
    let spirals = data::generate(
        &set(SyntheticKind::Spirals { arms: 3 }, 30, 0.1),
        0,
        Loss::BinaryCrossEntropy,
    );
    assert!(spirals.is_err(), "three arms cannot be one 0/1 target");
    let teacher = generate(
        SyntheticKind::Teacher {
            dim: 3,
            depth: 5,
            width: 8,
            outputs: 1,
        },
        50,
        0,
        Loss::Mse,
    );
    assert_eq!(
        (teacher.task, teacher.labels.is_none()),
        (Task::Regression, true)
    );
    let spread = teacher.y.data.iter().fold(f32::MIN, |a, &b| a.max(b))
        - teacher.y.data.iter().fold(f32::MAX, |a, &b| a.min(b));
    assert!(spread > 0.1, "a deep teacher still varies with its input");
}

#[test]
fn load_splits_synthetic_sets_by_the_training_fraction() {
    let source = DataSource::Synthetic(set(SyntheticKind::Spirals { arms: 3 }, 300, 0.1));
    let splits = data::load(&source, Path::new("."), 5, Loss::CrossEntropy).expect("loads");
    assert_eq!((splits.train.len(), splits.valid.len()), (240, 60));
    assert!(splits.test.is_none() && splits.scaler.is_none());
    assert_eq!(
        splits,
        data::load(&source, Path::new("."), 5, Loss::CrossEntropy).expect("loads")
    );
}
