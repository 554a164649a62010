//! CSV data sources: a header row, one named target column, every other column a numeric
//! feature; split, scaled on the training rows, with an optional test file read the same way.

use std::path::Path;

use super::error::{unknown_target_help, DataError};
use super::long::pivot;
use super::scale::{ScaleMethod, Scaler};
use super::table::Table;
use super::targets::{self, Scheme, Targets};
use super::{split, Dataset, Splits};
use crate::ir::Tensor;
use crate::model::{CsvSource, Loss, Scale, Task};

/// Loads a CSV source: reads, splits with `seed`, fits the scaler on the training rows.
pub(crate) fn load_csv(
    source: &CsvSource,
    base_dir: &Path,
    seed: u64,
    loss: Loss,
) -> Result<Splits, DataError> {
    let path = base_dir.join(&source.path);
    let file = path.display().to_string();
    let (table, shape) = read_table(&path, source)?;
    let (mut full, scheme) = labeled(&table, &source.target, None, source.task, loss)?;
    if let Some((steps, features)) = shape {
        full.x.shape = vec![full.len(), steps, features];
    }
    let (train_rows, valid_rows) = split(&full, source.split, seed, &format!("`{file}`"))?;
    let mut train = full.subset(&train_rows);
    let mut valid = full.subset(&valid_rows);
    let mut test = match &source.test {
        Some(test_path) => Some(load_test(
            &base_dir.join(test_path),
            (&table, source),
            &scheme,
            loss,
        )?),
        None => None,
    };
    let method = match source.scale {
        Scale::None => None,
        Scale::Standard => Some(ScaleMethod::Standard),
        Scale::MinMax => Some(ScaleMethod::MinMax),
    };
    let scaler = method.map(|m| {
        Scaler::fit(
            m,
            train.feature_names.clone(),
            &train.x.data,
            train.input_width(),
        )
    });
    if let Some(scaler) = &scaler {
        for set in [Some(&mut train), Some(&mut valid), test.as_mut()]
            .into_iter()
            .flatten()
        {
            scaler.apply(&mut set.x.data);
        }
    }
    Ok(Splits {
        train,
        valid,
        test,
        scaler,
    })
}

/// Parses CSV `bytes` (the contents of `file`) into an unsplit, unscaled data set with the
/// target column `target`, read as `task` says (or inferred) and encoded for `loss`.
pub fn parse_csv(
    bytes: &[u8],
    file: &Path,
    target: &str,
    task: Option<Task>,
    loss: Loss,
) -> Result<Dataset, DataError> {
    let table = Table::parse(bytes, &file.display().to_string())?;
    labeled(&table, target, None, task, loss).map(|(data, _)| data)
}

/// Reads the features of a prediction file and scales them with the training `scaler`. The
/// file needs `expected_width` columns; or those plus the training data's `target` column,
/// which is then ignored; or every column the scaler was fitted on (extra columns ignored).
pub fn load_features(
    path: &Path,
    expected_width: usize,
    scaler: Option<&Scaler>,
    target: Option<&str>,
) -> Result<Tensor<f32>, DataError> {
    let file = path.display().to_string();
    let table = Table::parse(&read_file(path)?, &file)?;
    let columns = feature_columns(&table, expected_width, scaler, target)?;
    let mut data = Vec::with_capacity(table.rows.len() * columns.len());
    for row in &table.rows {
        for &column in &columns {
            data.push(table.number(row, column)?);
        }
    }
    if let Some(scaler) = scaler {
        if scaler.width() != expected_width {
            return Err(DataError::BadSetting {
                source_name: format!("`{file}`"),
                message: format!(
                    "the saved scaler has {} columns but the model takes {expected_width} inputs",
                    scaler.width()
                ),
            });
        }
        scaler.apply(&mut data);
    }
    Ok(Tensor::new(vec![table.rows.len(), columns.len()], data))
}

fn feature_columns(
    table: &Table,
    expected_width: usize,
    scaler: Option<&Scaler>,
    target: Option<&str>,
) -> Result<Vec<usize>, DataError> {
    if table.header.len() == expected_width {
        return Ok((0..expected_width).collect());
    }
    // The training file itself, target column included: every other column, in file order.
    if let Some(t) = target.and_then(|name| table.column(name)) {
        if table.header.len() == expected_width + 1 {
            return Ok((0..table.header.len()).filter(|&c| c != t).collect());
        }
    }
    let by_name: Option<Vec<usize>> = scaler
        .filter(|s| s.columns.len() == expected_width)
        .and_then(|s| s.columns.iter().map(|name| table.column(name)).collect());
    by_name.ok_or_else(|| DataError::WidthMismatch {
        source_name: format!("`{}`", table.file),
        found: table.header.len(),
        expected_shape: vec![expected_width],
        expected: expected_width,
        help: format!("a prediction file holds the {expected_width} feature columns of the training data, without the target"),
    })
}

/// The test file: same feature columns as the training file, targets read with its scheme.
fn load_test(
    path: &Path,
    (train, source): (&Table, &CsvSource),
    scheme: &Scheme,
    loss: Loss,
) -> Result<Dataset, DataError> {
    let target = &source.target;
    let (table, shape) = read_table(path, source)?;
    let file = table.file.clone();
    let longest = train.header.len().max(table.header.len());
    for column in 0..longest {
        let (expected, found) = (train.header.get(column), table.header.get(column));
        if expected != found {
            return Err(DataError::HeaderMismatch {
                file,
                train_file: train.file.clone(),
                column_number: column + 1,
                expected: expected
                    .cloned()
                    .unwrap_or_else(|| "(no column)".to_string()),
                found: found.cloned().unwrap_or_else(|| "(no column)".to_string()),
            });
        }
    }
    let (mut data, _) = labeled(&table, target, Some((scheme, &train.file)), None, loss)?;
    if let Some((steps, features)) = shape {
        data.x.shape = vec![data.len(), steps, features];
    }
    Ok(data)
}

/// Reads a source's file as a table with one row per example: pivoted from long format when
/// the source says so, with the (steps, features) of its sequences.
fn read_table(
    path: &Path,
    source: &CsvSource,
) -> Result<(Table, Option<(usize, usize)>), DataError> {
    let file = path.display().to_string();
    let table = Table::parse(&read_file(path)?, &file)?;
    match &source.long {
        None => Ok((table, None)),
        Some(long) => {
            let p = pivot(&table, long, &source.target)?;
            Ok((p.table, Some((p.steps, p.features))))
        }
    }
}

/// Turns a table into a data set. With `given`, the target scheme (and the file it came from)
/// is reused; otherwise it is decided from this table.
fn labeled(
    table: &Table,
    target: &str,
    given: Option<(&Scheme, &str)>,
    task: Option<Task>,
    loss: Loss,
) -> Result<(Dataset, Scheme), DataError> {
    let target_column = target_column(table, target)?;
    if table.header.len() < 2 {
        return Err(DataError::NoFeatures {
            file: table.file.clone(),
            target: target.to_string(),
        });
    }
    let features: Vec<usize> = (0..table.header.len())
        .filter(|&c| c != target_column)
        .collect();
    let mut x = Vec::with_capacity(table.rows.len() * features.len());
    for row in &table.rows {
        for &column in &features {
            x.push(table.number(row, column)?);
        }
    }
    let (scheme, train_file) = match given {
        Some((scheme, train_file)) => (scheme.clone(), train_file),
        None => (
            targets::decide(table, target_column, task, loss)?,
            table.file.as_str(),
        ),
    };
    let n = table.rows.len();
    let (y, labels, task) = match targets::read(table, target_column, &scheme, train_file)? {
        Targets::Values(values) => (Tensor::new(vec![n, 1], values), None, Task::Regression),
        Targets::Labels(labels) => {
            let classes = scheme.class_names().map_or(0, |c| c.len());
            let y = targets::encode_labels(&labels, classes, loss, &table.file, target)?;
            (y, Some(labels), Task::Classification)
        }
    };
    let data = Dataset {
        x: Tensor::new(vec![n, features.len()], x),
        y,
        labels,
        classes: scheme.class_names(),
        task,
        feature_names: features.iter().map(|&c| table.header[c].clone()).collect(),
    };
    Ok((data, scheme))
}

fn read_file(path: &Path) -> Result<Vec<u8>, DataError> {
    std::fs::read(path).map_err(|error| DataError::MissingFile {
        file: path.display().to_string(),
        reason: match error.kind() {
            std::io::ErrorKind::NotFound => "the file does not exist".to_string(),
            std::io::ErrorKind::IsADirectory => "it is a folder, not a file".to_string(),
            std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
            _ => error.to_string(),
        },
    })
}

/// The index of the target column, or an error naming the file and the nearest header.
pub(super) fn target_column(table: &Table, target: &str) -> Result<usize, DataError> {
    table
        .column(target)
        .ok_or_else(|| DataError::UnknownTarget {
            file: table.file.clone(),
            target: target.to_string(),
            help: unknown_target_help(target, &table.header),
        })
}
