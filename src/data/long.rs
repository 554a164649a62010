//! Long-format sequence files: one row per (sequence, time step), pivoted into one row per
//! sequence (the `d` features of step 0, then of step 1, ...) so the rest of the CSV path reads
//! them like a wide file. Every problem names the file, the row and the column (docs/data.md).

use std::collections::HashMap;

use super::error::{unknown_target_help, DataError};
use super::table::{Row, Table};
use crate::model::LongFormat;

/// What a pivot produced: the wide table, and the (steps, features) of each sequence.
pub(crate) struct Pivoted {
    pub table: Table,
    pub steps: usize,
    pub features: usize,
}

/// One sequence's rows, as (time step, row index) in file order, then sorted by time.
struct Sequence {
    id: String,
    rows: Vec<(i64, usize)>,
}

/// Pivots a long-format `table` into one row per sequence, in order of first appearance.
/// Columns: `<feature>[k]` for each step k (0-based, step-major), then the target column.
pub(crate) fn pivot(table: &Table, long: &LongFormat, target: &str) -> Result<Pivoted, DataError> {
    let find = |role: &'static str, name: &str| {
        table.column(name).ok_or_else(|| DataError::UnknownColumn {
            file: table.file.clone(),
            role,
            name: name.to_string(),
            help: unknown_target_help(name, &table.header),
        })
    };
    let id_column = find("sequence", &long.sequence)?;
    let time_column = find("time", &long.time)?;
    let target_column = super::csv_file::target_column(table, target)?;
    let features: Vec<usize> = (0..table.header.len())
        .filter(|c| ![id_column, time_column, target_column].contains(c))
        .collect();
    if features.is_empty() {
        return Err(DataError::NoFeatures {
            file: table.file.clone(),
            target: target.to_string(),
        });
    }
    let sequences = group(table, id_column, time_column)?;
    let steps = check_steps(table, &sequences, &long.time)?;
    let mut header: Vec<String> = (0..steps)
        .flat_map(|k| features.iter().map(move |&c| (k, c)))
        .map(|(k, c)| format!("{}[{k}]", table.header[c]))
        .collect();
    header.push(table.header[target_column].clone());
    let mut rows = Vec::with_capacity(sequences.len());
    for sequence in &sequences {
        let mut fields: Vec<String> = Vec::with_capacity(header.len());
        for &(_, r) in &sequence.rows {
            let row = &table.rows[r];
            for &c in &features {
                // checked here, where the error can name the cell's own row
                table.number(row, c)?;
                fields.push(row.fields.get(c).unwrap_or("").to_string());
            }
        }
        let (line, text) = sequence_target(table, sequence, target_column)?;
        fields.push(text);
        rows.push(Row {
            line,
            fields: csv::StringRecord::from(fields),
        });
    }
    Ok(Pivoted {
        table: Table {
            file: table.file.clone(),
            header,
            rows,
        },
        steps,
        features: features.len(),
    })
}

/// The rows of each sequence, sorted by time step (a time step must be a whole number).
fn group(table: &Table, id_column: usize, time_column: usize) -> Result<Vec<Sequence>, DataError> {
    let mut sequences: Vec<Sequence> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (r, row) in table.rows.iter().enumerate() {
        let text = row.fields.get(time_column).unwrap_or("");
        let t = parse_step(text).ok_or_else(|| DataError::BadTime {
            cell: table.cell(row, time_column),
            text: text.to_string(),
        })?;
        let id = row.fields.get(id_column).unwrap_or("");
        if id.is_empty() {
            return Err(DataError::EmptyCell {
                cell: table.cell(row, id_column),
            });
        }
        let i = *index.entry(id.to_string()).or_insert_with(|| {
            sequences.push(Sequence {
                id: id.to_string(),
                rows: Vec::new(),
            });
            sequences.len() - 1
        });
        sequences[i].rows.push((t, r));
    }
    for sequence in &mut sequences {
        // stable: duplicates keep their file order, so the first row is named first
        sequence.rows.sort_by_key(|&(t, _)| t);
    }
    Ok(sequences)
}

/// A whole-number time step (`3`, `3.0`), or `None`.
fn parse_step(text: &str) -> Option<i64> {
    if let Ok(t) = text.parse::<i64>() {
        return Some(t);
    }
    let value: f64 = text.parse().ok()?;
    (value.is_finite() && value.fract() == 0.0 && value.abs() < 1e15).then_some(value as i64)
}

/// Checks that every sequence's steps are consecutive, without repeats, and as many as the
/// first sequence's; returns that number.
fn check_steps(table: &Table, sequences: &[Sequence], time: &str) -> Result<usize, DataError> {
    let line = |r: usize| table.rows[r].line;
    for s in sequences {
        for pair in s.rows.windows(2) {
            let ((t0, r0), (t1, r1)) = (pair[0], pair[1]);
            if t1 == t0 {
                return Err(DataError::DuplicateStep {
                    file: table.file.clone(),
                    sequence: s.id.clone(),
                    column: time.to_string(),
                    t: t1,
                    first_row: line(r0),
                    row: line(r1),
                });
            }
            if t1 > t0 + 1 {
                return Err(DataError::MissingStep {
                    file: table.file.clone(),
                    sequence: s.id.clone(),
                    column: time.to_string(),
                    t: t0 + 1,
                    before: t0,
                    before_row: line(r0),
                    after: t1,
                    after_row: line(r1),
                });
            }
        }
    }
    let first_line = |s: &Sequence| s.rows.iter().map(|&(_, r)| line(r)).min().unwrap_or(0);
    let Some(first) = sequences.first() else {
        return Ok(0);
    };
    for s in sequences {
        if s.rows.len() != first.rows.len() {
            return Err(DataError::SequenceLength {
                file: table.file.clone(),
                sequence: s.id.clone(),
                steps: s.rows.len(),
                row: first_line(s),
                first: first.id.clone(),
                first_steps: first.rows.len(),
                first_row: first_line(first),
            });
        }
    }
    Ok(first.rows.len())
}

/// The target of a sequence: the one text its non-empty target cells agree on, with the row
/// it was first given on (in time order).
fn sequence_target(
    table: &Table,
    sequence: &Sequence,
    column: usize,
) -> Result<(u64, String), DataError> {
    let mut given: Option<(u64, &str)> = None;
    for &(_, r) in &sequence.rows {
        let row = &table.rows[r];
        let text = row.fields.get(column).unwrap_or("");
        match given {
            _ if text.is_empty() => {}
            None => given = Some((row.line, text)),
            Some((_, first)) if first == text => {}
            Some((first_row, first)) => {
                return Err(DataError::TargetDisagrees {
                    sequence: sequence.id.clone(),
                    cell: table.cell(row, column),
                    conflict: format!("`{text}`, but row {first_row} says `{first}`"),
                })
            }
        }
    }
    match given {
        Some((line, text)) => Ok((line, text.to_string())),
        None => {
            let last = sequence.rows.last().map_or(0, |&(_, r)| r);
            Err(DataError::EmptyCell {
                cell: table.cell(&table.rows[last], column),
            })
        }
    }
}
