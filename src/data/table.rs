//! Reading CSV text into a header and rows of fields, with every structural problem (empty file,
//! bad UTF-8, ragged row, duplicate column) turned into a [`DataError`] that names its row.

use super::error::{Cell, DataError};

/// A CSV file split into fields: the header and each data row with its editor line number.
pub(crate) struct Table {
    pub file: String,
    pub header: Vec<String>,
    pub rows: Vec<Row>,
}

pub(crate) struct Row {
    /// 1-based line where the row starts; the header is line 1.
    pub line: u64,
    pub fields: csv::StringRecord,
}

impl Table {
    /// Parses `bytes` (the contents of `file`). Blank lines are skipped; fields are trimmed.
    pub fn parse(bytes: &[u8], file: &str) -> Result<Table, DataError> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(bytes);
        let header: Vec<String> = reader
            .headers()
            .map_err(|e| csv_error(file, e))?
            .iter()
            .map(str::to_string)
            .collect();
        if header.iter().all(String::is_empty) && bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(DataError::EmptyFile {
                file: file.to_string(),
            });
        }
        check_unique(file, &header)?;
        let mut rows = Vec::new();
        for record in reader.records() {
            let fields = record.map_err(|e| csv_error(file, e))?;
            let line = fields.position().map_or(0, |p| p.line());
            if fields.len() != header.len() {
                return Err(DataError::RaggedRow {
                    file: file.to_string(),
                    row: line,
                    found: fields.len(),
                    expected: header.len(),
                });
            }
            rows.push(Row { line, fields });
        }
        if rows.is_empty() {
            return Err(DataError::NoRows {
                file: file.to_string(),
            });
        }
        Ok(Table {
            file: file.to_string(),
            header,
            rows,
        })
    }

    /// The 0-based index of the column called `name`.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }

    /// The number in row `row`, column `column` (0-based), as a finite `f32`.
    pub fn number(&self, row: &Row, column: usize) -> Result<f32, DataError> {
        let text = row.fields.get(column).unwrap_or("");
        parse_number(text).map_err(|problem| self.cell_error(row, column, text, problem))
    }

    /// The error for a cell that is not a finite number.
    pub fn cell_error(
        &self,
        row: &Row,
        column: usize,
        text: &str,
        problem: NumberProblem,
    ) -> DataError {
        let cell = self.cell(row, column);
        match problem {
            NumberProblem::NotANumber if text.is_empty() => DataError::EmptyCell { cell },
            NumberProblem::NotANumber => DataError::NotANumber {
                cell,
                text: text.to_string(),
            },
            NumberProblem::NonFinite => DataError::NonFinite {
                cell,
                text: text.to_string(),
            },
        }
    }

    /// The location of row `row`, column `column` (0-based), for messages.
    pub fn cell(&self, row: &Row, column: usize) -> Cell {
        Cell {
            file: self.file.clone(),
            row: row.line,
            column: self.header.get(column).cloned().unwrap_or_default(),
            column_number: column + 1,
        }
    }
}

/// Why a cell is not a usable number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NumberProblem {
    NotANumber,
    NonFinite,
}

/// A finite `f32` from a trimmed cell; NaN, infinities and overflowing values are refused.
pub(crate) fn parse_number(text: &str) -> Result<f32, NumberProblem> {
    let value: f64 = text.parse().map_err(|_| NumberProblem::NotANumber)?;
    let narrowed = value as f32;
    if value.is_finite() && narrowed.is_finite() {
        Ok(narrowed)
    } else {
        Err(NumberProblem::NonFinite)
    }
}

fn check_unique(file: &str, header: &[String]) -> Result<(), DataError> {
    for (second, name) in header.iter().enumerate() {
        if let Some(first) = header[..second].iter().position(|h| h == name) {
            return Err(DataError::DuplicateColumn {
                file: file.to_string(),
                name: name.clone(),
                first: first + 1,
                second: second + 1,
            });
        }
    }
    Ok(())
}

fn csv_error(file: &str, error: csv::Error) -> DataError {
    let row = error.position().map_or(1, |p| p.line());
    match error.kind() {
        csv::ErrorKind::Utf8 { .. } => DataError::NotUtf8 {
            file: file.to_string(),
            row,
        },
        _ => DataError::Malformed {
            file: file.to_string(),
            row,
            reason: error.to_string(),
        },
    }
}
