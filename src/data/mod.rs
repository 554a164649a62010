//! Training data: CSV files and built-in synthetic sets turned into tensors, split, scaled and
//! served in static-shape mini-batches (see docs/data.md).
//!
//! [`load`] is the door: a [`DataSource`] from the checked model in, [`Splits`] out, or a
//! [`DataError`] naming the file, row and column. This module and checkpoints are the only
//! runtime code that reads files.

mod batch;
mod csv_file;
mod error;
mod long;
mod rng;
mod scale;
mod sequences;
mod synthetic;
mod table;
mod targets;

use std::path::Path;

use crate::ir::{numel, Tensor};
use crate::model::{DataSource, Loss, Task};

pub use batch::{Batcher, Epoch};
pub use csv_file::{load_features, parse_csv};
pub use error::{did_you_mean, Cell, DataError};
pub use scale::{ScaleMethod, Scaler};
pub use synthetic::{generate, synthetic_name};
pub use targets::MAX_CLASSES;

/// Examples as tensors. Row `i` of `x` and of `y` is example `i`.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// `[n, features...]`.
    pub x: Tensor<f32>,
    /// `[n, k]` one-hot for `k` classes, `[n, 1]` 0/1 for binary cross-entropy, `[n, k]` values
    /// for regression.
    pub y: Tensor<f32>,
    /// The class index of each row (classification only), for accuracy.
    pub labels: Option<Vec<usize>>,
    /// Class names in index order (classification only).
    pub classes: Option<Vec<String>>,
    pub task: Task,
    pub feature_names: Vec<String>,
}

/// A loaded data source: training and validation splits, an optional test set, and the scaler
/// fitted on the training split (to save with the weights for `netc predict`).
#[derive(Debug, Clone, PartialEq)]
pub struct Splits {
    pub train: Dataset,
    pub valid: Dataset,
    pub test: Option<Dataset>,
    pub scaler: Option<Scaler>,
}

impl Dataset {
    /// Number of examples.
    pub fn len(&self) -> usize {
        self.x.shape.first().copied().unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Values per example in `x`.
    pub fn input_width(&self) -> usize {
        numel(self.x.shape.get(1..).unwrap_or(&[]))
    }

    /// Values per example in `y`.
    pub fn target_width(&self) -> usize {
        numel(self.y.shape.get(1..).unwrap_or(&[]))
    }

    /// Number of classes (classification only).
    pub fn class_count(&self) -> Option<usize> {
        self.classes.as_ref().map(Vec::len)
    }

    /// The rows `indices`, in that order, as a new data set.
    pub fn subset(&self, indices: &[usize]) -> Dataset {
        let pick = |tensor: &Tensor<f32>, width: usize| {
            let mut shape = tensor.shape.clone();
            if let Some(rows) = shape.first_mut() {
                *rows = indices.len();
            }
            let data = indices
                .iter()
                .flat_map(|&i| tensor.data[i * width..(i + 1) * width].iter().copied())
                .collect();
            Tensor::new(shape, data)
        };
        Dataset {
            x: pick(&self.x, self.input_width()),
            y: pick(&self.y, self.target_width()),
            labels: self
                .labels
                .as_ref()
                .map(|labels| indices.iter().map(|&i| labels[i]).collect()),
            classes: self.classes.clone(),
            task: self.task,
            feature_names: self.feature_names.clone(),
        }
    }

    /// The same examples with `x` viewed as `[n, shape...]` (e.g. `[n, T, d]` for a sequence
    /// input), after [`check_width`].
    pub fn with_input_shape(
        mut self,
        shape: &[usize],
        file: impl AsRef<Path>,
    ) -> Result<Dataset, DataError> {
        check_width(&self, shape, file)?;
        self.x.shape = std::iter::once(self.len())
            .chain(shape.iter().copied())
            .collect();
        Ok(self)
    }
}

/// Loads `source` (relative paths resolve against `base_dir`, the `.net` file's folder), shuffles
/// it with `seed`, splits it and scales it; targets are encoded for `loss`.
pub fn load(
    source: &DataSource,
    base_dir: &Path,
    seed: u64,
    loss: Loss,
) -> Result<Splits, DataError> {
    match source {
        DataSource::Csv(csv) => csv_file::load_csv(csv, base_dir, seed, loss),
        DataSource::Synthetic(set) => {
            let full = generate(set, seed, loss)?;
            let name = synthetic_name(&set.kind);
            let (train, valid) = split(&full, set.split, seed, &name)?;
            Ok(Splits {
                train: full.subset(&train),
                valid: full.subset(&valid),
                test: None,
                scaler: None,
            })
        }
    }
}

/// How `source` is named in messages: the resolved file path, or `synthetic set \`moons\``.
pub fn source_name(source: &DataSource, base_dir: &Path) -> String {
    match source {
        DataSource::Csv(csv) => base_dir.join(&csv.path).display().to_string(),
        DataSource::Synthetic(set) => synthetic_name(&set.kind),
    }
}

/// Checks that each example of `data` has as many values as the model's input `expected`.
pub fn check_width(
    data: &Dataset,
    expected: &[usize],
    file: impl AsRef<Path>,
) -> Result<(), DataError> {
    let (found, wanted) = (data.input_width(), numel(expected));
    if found == wanted {
        return Ok(());
    }
    Err(DataError::WidthMismatch {
        source_name: quoted(file.as_ref()),
        found,
        expected_shape: expected.to_vec(),
        expected: wanted,
        help: match (expected, data.x.shape.as_slice()) {
            // a long-format file knows its sequences' shape
            ([steps, dim], [_, found_steps, found_dim]) => format!(
                "the file's sequences have {found_steps} time steps of {found_dim} features \
                 (long format), but the model's input is seq({steps}, {dim}); change `seq(T, d)` \
                 to seq({found_steps}, {found_dim}), or give every sequence {steps} steps of \
                 {dim} feature columns"
            ),
            _ => match expected {
                [steps, dim] => format!(
                "a sequence input seq({steps}, {dim}) reads one row per sequence with {wanted} = \
                 {steps}·{dim} feature columns, step by step (the {dim} values of step 0, then \
                 of step 1, ...); change `seq(T, d)` so that T·d = {found}, or reshape the data"
            ),
                _ => format!(
                "make the model's input take {found} values (`input x: [{found}]`), or give the \
                 data {wanted} feature columns"
            ),
            },
        },
    })
}

/// Checks that the targets of `data` fit a model whose output per example is `output_shape`:
/// one output per class (one in all for binary cross-entropy), one per regression target.
pub fn check_classes(
    data: &Dataset,
    output_shape: &[usize],
    file: impl AsRef<Path>,
) -> Result<(), DataError> {
    let (found, expected) = (data.target_width(), numel(output_shape));
    if found == expected {
        return Ok(());
    }
    let classes = data.class_count().unwrap_or(0);
    let (what, count, help) = match data.task {
        Task::Classification if found == classes => {
            ("classes", classes, format!("a classifier over {classes} classes ends in a layer of {classes} units (`dense {classes}`)"))
        }
        Task::Classification => (
            "classes, encoded as one 0/1 target",
            classes,
            "binary_cross_entropy takes one output unit (`dense 1`); use cross_entropy for one unit per class".to_string(),
        ),
        Task::Regression => ("target columns", found, format!("the last layer needs one unit per target (`dense {found}`)")),
    };
    Err(DataError::ClassMismatch {
        source_name: quoted(file.as_ref()),
        found: count,
        what,
        expected,
        help,
    })
}

/// Shuffles `0..len` with `seed` and cuts it at the training fraction `split`: `(train, valid)`;
/// at `split = 1` every row trains, in file order.
/// At least one training row; at least one validation row when `split < 1` and there are two
/// rows or more.
pub(crate) fn split(
    data: &Dataset,
    split: f64,
    seed: u64,
    source_name: &str,
) -> Result<(Vec<usize>, Vec<usize>), DataError> {
    if !(split > 0.0 && split <= 1.0) {
        return Err(DataError::BadSetting {
            source_name: source_name.to_string(),
            message: format!("split = {split} must be a training fraction in (0, 1]"),
        });
    }
    let n = data.len();
    if split == 1.0 {
        // Nothing is held out, so nothing needs shuffling: the training split keeps the file's
        // order (training still shuffles every epoch), and `netc grad` differentiates the
        // file's first rows, as a reference implementation reading the same file would.
        return Ok(((0..n).collect(), Vec::new()));
    }
    let mut order = rng::permutation(n, &mut rng::stream(seed, rng::Purpose::Split, 0));
    let mut train = ((n as f64 * split).round() as usize).clamp(1.min(n), n);
    if split < 1.0 && n >= 2 && train == n {
        train = n - 1;
    }
    let valid = order.split_off(train);
    Ok((order, valid))
}

/// A path as it appears in messages; synthetic sets are named in words and pass through as is.
fn quoted(file: &Path) -> String {
    let text = file.display().to_string();
    if text.starts_with("synthetic set") {
        text
    } else {
        format!("`{text}`")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(n: usize) -> Dataset {
        Dataset {
            x: Tensor::new(vec![n, 1], (0..n).map(|i| i as f32).collect()),
            y: Tensor::new(vec![n, 1], vec![0.0; n]),
            labels: None,
            classes: None,
            task: Task::Regression,
            feature_names: vec!["x".to_string()],
        }
    }

    fn sizes(n: usize, fraction: f64) -> (usize, usize) {
        let (train, valid) = split(&rows(n), fraction, 3, "test").expect("valid split");
        (train.len(), valid.len())
    }

    #[test]
    fn split_keeps_a_row_on_each_side_when_it_can() {
        assert_eq!(sizes(10, 0.8), (8, 2));
        assert_eq!(sizes(10, 0.99), (9, 1));
        assert_eq!(sizes(10, 0.01), (1, 9));
        assert_eq!(sizes(10, 1.0), (10, 0));
        assert_eq!(sizes(1, 0.5), (1, 0));
    }

    #[test]
    fn split_refuses_fractions_outside_the_unit_interval() {
        for bad in [0.0, -0.5, 1.5, f64::NAN] {
            assert!(split(&rows(4), bad, 0, "test").is_err(), "{bad}");
        }
    }

    #[test]
    fn split_partitions_the_rows() {
        let (mut train, valid) = split(&rows(50), 0.7, 11, "test").expect("valid split");
        train.extend(valid);
        train.sort_unstable();
        assert_eq!(train, (0..50).collect::<Vec<_>>());
    }

    #[test]
    fn split_one_keeps_the_file_order() {
        let (train, valid) = split(&rows(50), 1.0, 11, "test").expect("valid split");
        assert_eq!(train, (0..50).collect::<Vec<_>>());
        assert!(valid.is_empty());
    }
}
