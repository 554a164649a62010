//! Batching: full shuffled batches for training (every index at most once per epoch, all of
//! them when the batch divides n), a pure function of (seed, epoch); padded, masked
//! evaluation batches; gather filling preallocated buffers.

use netc::data::{Batcher, Dataset};
use netc::ir::Tensor;
use netc::model::Task;

fn sorted(mut v: Vec<usize>) -> Vec<usize> {
    v.sort_unstable();
    v
}

#[test]
fn every_index_once_per_epoch_when_the_batch_divides_n() {
    let batcher = Batcher::new(120, 8, 42);
    assert_eq!(batcher.steps_per_epoch(), 15);
    for epoch in 0..5 {
        let batches = batcher.epoch(epoch);
        assert_eq!(batches.len(), 15);
        assert!(batches.batches().all(|b| b.len() == 8));
        let seen: Vec<usize> = batches.batches().flatten().copied().collect();
        assert_eq!(sorted(seen), (0..120).collect::<Vec<_>>());
    }
}

#[test]
fn full_batches_only_and_the_skipped_rows_change_each_epoch() {
    let batcher = Batcher::new(10, 4, 7);
    assert_eq!(batcher.steps_per_epoch(), 2);
    let mut skipped = Vec::new();
    for epoch in 0..20 {
        let batches = batcher.epoch(epoch);
        assert!(batches.batches().all(|b| b.len() == 4));
        let seen = sorted(batches.batches().flatten().copied().collect());
        let mut unique = seen.clone();
        unique.dedup();
        assert_eq!(unique.len(), 8, "no row twice in one epoch");
        skipped.push((0..10).filter(|i| !seen.contains(i)).collect::<Vec<_>>());
    }
    skipped.sort();
    skipped.dedup();
    assert!(
        skipped.len() > 1,
        "a fresh shuffle each epoch skips different rows"
    );
}

#[test]
fn fewer_rows_than_a_batch_wrap_around_to_one_full_batch() {
    let batcher = Batcher::new(3, 8, 1);
    let epoch = batcher.epoch(0);
    assert_eq!(epoch.len(), 1);
    let batch = epoch.batch(0).expect("one batch");
    assert_eq!(batch.len(), 8);
    assert_eq!(sorted(batch[..3].to_vec()), vec![0, 1, 2]);
    assert_eq!(&batch[3..6], &batch[..3]);
}

#[test]
fn order_is_a_pure_function_of_seed_and_epoch() {
    let (a, b) = (Batcher::new(50, 5, 9), Batcher::new(50, 5, 9));
    assert_eq!(a.epoch(3), b.epoch(3));
    // Resuming at epoch 3, step 4 sees the same batch as an uninterrupted run.
    assert_eq!(a.epoch(3).batch(4), b.epoch(3).batches().nth(4));
    assert_ne!(a.epoch(3), a.epoch(4));
    assert_ne!(a.epoch(3), Batcher::new(50, 5, 10).epoch(3));
    // The epoch is not simply the identity order.
    assert_ne!(a.permutation(0), (0..50).collect::<Vec<_>>());
}

#[test]
fn evaluation_keeps_order_and_ends_with_a_short_batch() {
    let epoch = Batcher::evaluation(10, 4);
    let batches: Vec<&[usize]> = epoch.batches().collect();
    assert_eq!(
        batches,
        vec![&[0, 1, 2, 3][..], &[4, 5, 6, 7][..], &[8, 9][..]]
    );
    assert_eq!(epoch.len(), 3);
    assert!(Batcher::evaluation(0, 4).is_empty());
}

fn tiny() -> Dataset {
    // Row i has x = [i, 10 + i] and a one-hot y over 3 classes for class i % 3.
    let n = 5;
    let x = (0..n).flat_map(|i| [i as f32, 10.0 + i as f32]).collect();
    let labels: Vec<usize> = (0..n).map(|i| i % 3).collect();
    let y = labels
        .iter()
        .flat_map(|&l| (0..3).map(move |c| if c == l { 1.0 } else { 0.0 }))
        .collect();
    Dataset {
        x: Tensor::new(vec![n, 2], x),
        y: Tensor::new(vec![n, 3], y),
        labels: Some(labels),
        classes: Some(vec!["a".into(), "b".into(), "c".into()]),
        task: Task::Classification,
        feature_names: vec!["u".into(), "v".into()],
    }
}

#[test]
fn gather_fills_the_batch_and_pads_with_mask_zero() {
    let data = tiny();
    let (mut x, mut y, mut mask) = (
        vec![f32::NAN; 4 * 2],
        vec![f32::NAN; 4 * 3],
        vec![f32::NAN; 4],
    );
    data.gather(&[4, 1], &mut x, &mut y, &mut mask);
    assert_eq!(x, vec![4.0, 14.0, 1.0, 11.0, 0.0, 0.0, 0.0, 0.0]);
    assert_eq!(
        y,
        vec![0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    );
    assert_eq!(mask, vec![1.0, 1.0, 0.0, 0.0]);
    // Reusing the buffer for a full batch overwrites everything.
    data.gather(&[0, 1, 2, 3], &mut x, &mut y, &mut mask);
    assert_eq!(x, vec![0.0, 10.0, 1.0, 11.0, 2.0, 12.0, 3.0, 13.0]);
    assert_eq!(mask, vec![1.0; 4]);
}

#[test]
fn subset_picks_rows_in_order() {
    let data = tiny().subset(&[3, 0]);
    assert_eq!(data.x.data, vec![3.0, 13.0, 0.0, 10.0]);
    assert_eq!(data.labels, Some(vec![0, 0]));
    assert_eq!(
        (data.len(), data.input_width(), data.target_width()),
        (2, 2, 3)
    );
}
