//! The target column: deciding between class labels and regression values, and encoding the
//! targets for the loss (one-hot, one 0/1 column, or raw values).

use super::error::DataError;
use super::table::{parse_number, NumberProblem, Row, Table};
use crate::ir::Tensor;
use crate::model::{Loss, Task};

/// Class indices must be below this; a larger integer column is taken for a regression target
/// (or refused when classes are required), so a column of prices never becomes a huge one-hot.
pub const MAX_CLASSES: usize = 10_000;

/// How a target column is read, decided once from the training file and reused for the test file.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scheme {
    /// Numbers, used as they are.
    Regression,
    /// Class indices `0..classes`.
    Indices { classes: usize },
    /// String labels, sorted; a label's class index is its position.
    Names(Vec<String>),
}

impl Scheme {
    /// Class names in index order, or `None` for regression.
    pub fn class_names(&self) -> Option<Vec<String>> {
        match self {
            Scheme::Regression => None,
            Scheme::Indices { classes } => Some((0..*classes).map(|c| c.to_string()).collect()),
            Scheme::Names(names) => Some(names.clone()),
        }
    }
}

/// The targets of one file, before encoding for the loss.
pub(crate) enum Targets {
    Values(Vec<f32>),
    Labels(Vec<usize>),
}

/// Decides how to read the target column: as `task` says, else class indices or string labels
/// become classes and other numbers regression; a classification loss requires classes.
pub(crate) fn decide(
    table: &Table,
    column: usize,
    task: Option<Task>,
    loss: Loss,
) -> Result<Scheme, DataError> {
    let wants_classes = task == Some(Task::Classification) || loss != Loss::Mse;
    if task == Some(Task::Regression) {
        if wants_classes {
            return Err(DataError::LossNeedsClasses {
                source_name: format!("`{}`", table.file),
                loss: loss.name(),
            });
        }
        return Ok(Scheme::Regression);
    }
    let mut numbers = Vec::with_capacity(table.rows.len());
    for row in &table.rows {
        let text = row.fields.get(column).unwrap_or("");
        match parse_number(text) {
            Ok(value) => numbers.push(value),
            Err(NumberProblem::NonFinite) => {
                return Err(table.cell_error(row, column, text, NumberProblem::NonFinite))
            }
            Err(NumberProblem::NotANumber) if text.is_empty() => {
                return Err(table.cell_error(row, column, text, NumberProblem::NotANumber))
            }
            Err(NumberProblem::NotANumber) => {
                return Ok(Scheme::Names(sorted_names(table, column)))
            }
        }
    }
    let first_non_index = numbers.iter().position(|&v| class_index(v).is_none());
    match first_non_index {
        None => {
            let largest = numbers
                .iter()
                .filter_map(|&v| class_index(v))
                .max()
                .unwrap_or(0);
            Ok(Scheme::Indices {
                classes: largest + 1,
            })
        }
        Some(_) if !wants_classes => Ok(Scheme::Regression),
        Some(at) => {
            let row = &table.rows[at];
            Err(not_a_class(table, row, column, loss))
        }
    }
}

/// Reads the target column under `scheme` (decided from `train_file`, which may be this file).
pub(crate) fn read(
    table: &Table,
    column: usize,
    scheme: &Scheme,
    train_file: &str,
) -> Result<Targets, DataError> {
    match scheme {
        Scheme::Regression => {
            let values = table
                .rows
                .iter()
                .map(|row| table.number(row, column))
                .collect::<Result<_, _>>()?;
            Ok(Targets::Values(values))
        }
        Scheme::Indices { classes } => {
            let mut labels = Vec::with_capacity(table.rows.len());
            for row in &table.rows {
                let value = table.number(row, column)?;
                match class_index(value) {
                    Some(label) if label < *classes => labels.push(label),
                    Some(_) => return Err(unknown_class(table, row, column, scheme, train_file)),
                    None => return Err(not_a_class(table, row, column, Loss::CrossEntropy)),
                }
            }
            Ok(Targets::Labels(labels))
        }
        Scheme::Names(names) => {
            let mut labels = Vec::with_capacity(table.rows.len());
            for row in &table.rows {
                let text = row.fields.get(column).unwrap_or("");
                match names.binary_search_by(|name| name.as_str().cmp(text)) {
                    Ok(label) => labels.push(label),
                    Err(_) => return Err(unknown_class(table, row, column, scheme, train_file)),
                }
            }
            Ok(Targets::Labels(labels))
        }
    }
}

/// Encodes class labels for `loss`: one-hot `[n, classes]` for cross-entropy and mse, one 0/1
/// column `[n, 1]` for binary cross-entropy (which refuses more than two classes).
pub(crate) fn encode_labels(
    labels: &[usize],
    classes: usize,
    loss: Loss,
    source_name: &str,
    target: &str,
) -> Result<Tensor<f32>, DataError> {
    match loss {
        Loss::BinaryCrossEntropy => {
            if classes > 2 {
                return Err(DataError::TooManyClasses {
                    file: source_name.to_string(),
                    target: target.to_string(),
                    classes,
                });
            }
            Ok(binary_column(labels))
        }
        Loss::CrossEntropy | Loss::Mse => Ok(one_hot(labels, classes)),
    }
}

/// `[n, classes]` with a 1 in each row's class column.
pub(crate) fn one_hot(labels: &[usize], classes: usize) -> Tensor<f32> {
    let mut data = vec![0.0; labels.len() * classes];
    for (row, &label) in labels.iter().enumerate() {
        data[row * classes + label] = 1.0;
    }
    Tensor::new(vec![labels.len(), classes], data)
}

/// `[n, 1]` holding each row's label (0 or 1) as a float.
pub(crate) fn binary_column(labels: &[usize]) -> Tensor<f32> {
    Tensor::new(
        vec![labels.len(), 1],
        labels.iter().map(|&l| l as f32).collect(),
    )
}

/// The class index a number stands for: a non-negative integer below [`MAX_CLASSES`].
fn class_index(value: f32) -> Option<usize> {
    let is_index = value >= 0.0 && value.fract() == 0.0 && value < MAX_CLASSES as f32;
    is_index.then_some(value as usize)
}

fn sorted_names(table: &Table, column: usize) -> Vec<String> {
    let mut names: Vec<String> = table
        .rows
        .iter()
        .map(|row| row.fields.get(column).unwrap_or("").to_string())
        .collect();
    names.sort();
    names.dedup();
    names
}

fn not_a_class(table: &Table, row: &Row, column: usize, loss: Loss) -> DataError {
    let help = match loss {
        Loss::Mse => format!(
            "class labels are indices 0, 1, 2, … (below {MAX_CLASSES}) or names; for a regression target say task = regression"
        ),
        Loss::CrossEntropy | Loss::BinaryCrossEntropy => format!(
            "loss {} needs class labels: indices 0, 1, 2, … (below {MAX_CLASSES}) or names; for regression use loss = mse",
            loss.name()
        ),
    };
    DataError::NotAClass {
        cell: table.cell(row, column),
        text: row.fields.get(column).unwrap_or("").to_string(),
        help,
    }
}

fn unknown_class(
    table: &Table,
    row: &Row,
    column: usize,
    scheme: &Scheme,
    train_file: &str,
) -> DataError {
    let names = scheme.class_names().unwrap_or_default();
    let mut known: Vec<String> = names.iter().take(12).map(|n| format!("`{n}`")).collect();
    if names.len() > 12 {
        known.push(format!("… ({} classes)", names.len()));
    }
    DataError::UnknownClass {
        cell: table.cell(row, column),
        text: row.fields.get(column).unwrap_or("").to_string(),
        help: format!(
            "the classes of the training file `{train_file}` are {}",
            known.join(", ")
        ),
    }
}
