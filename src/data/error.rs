//! Data errors as values: every message names the file, and the row and column where there is
//! one, so a user can go straight to the bad cell in an editor.
//!
//! Rows count like a text editor's lines: the header is row 1, the first data row is row 2.
//! Columns are given by name and by 1-based number.

use miette::Diagnostic;
use thiserror::Error;

/// Everything that can be wrong with a data source. Never a panic.
#[derive(Debug, Clone, PartialEq, Error, Diagnostic)]
pub enum DataError {
    #[error("cannot read data file `{file}`: {reason}")]
    #[diagnostic(
        code(netc::data::missing_file),
        help("paths in a .net file are relative to the folder of the .net file")
    )]
    MissingFile { file: String, reason: String },

    #[error("data file `{file}` is empty")]
    #[diagnostic(
        code(netc::data::empty_file),
        help("a data file starts with a header row naming its columns, then one row per example")
    )]
    EmptyFile { file: String },

    #[error("data file `{file}` has a header but no data rows")]
    #[diagnostic(
        code(netc::data::no_rows),
        help("add at least one example after the header row")
    )]
    NoRows { file: String },

    #[error("row {row} of `{file}` is not valid UTF-8 text")]
    #[diagnostic(code(netc::data::not_utf8), help("save the file as UTF-8"))]
    NotUtf8 { file: String, row: u64 },

    #[error("`{file}` is not readable as CSV near row {row}: {reason}")]
    #[diagnostic(code(netc::data::malformed))]
    Malformed {
        file: String,
        row: u64,
        reason: String,
    },

    #[error("`{file}` names column {second} `{name}` twice (also column {first})")]
    #[diagnostic(
        code(netc::data::duplicate_column),
        help("give every column its own name")
    )]
    DuplicateColumn {
        file: String,
        name: String,
        first: usize,
        second: usize,
    },

    #[error("row {row} of `{file}` has {found} fields but the header has {expected} columns")]
    #[diagnostic(
        code(netc::data::ragged_row),
        help("every row needs exactly one value per header column; a missing value is an error, not a zero")
    )]
    RaggedRow {
        file: String,
        row: u64,
        found: usize,
        expected: usize,
    },

    #[error("{cell}: `{text}` is not a number")]
    #[diagnostic(
        code(netc::data::not_a_number),
        help("numbers look like `3`, `-0.5` or `1e-3`; only the target column of a classifier may hold names")
    )]
    NotANumber { cell: Cell, text: String },

    #[error("{cell} is empty")]
    #[diagnostic(
        code(netc::data::empty_cell),
        help(
            "every row needs a value in every column; fill or drop rows with missing values first"
        )
    )]
    EmptyCell { cell: Cell },

    #[error("{cell}: `{text}` is not a finite number")]
    #[diagnostic(
        code(netc::data::non_finite),
        help("NaN and infinite values (or values too large for 32-bit floats) cannot be trained on; fill or drop them first")
    )]
    NonFinite { cell: Cell, text: String },

    #[error("`{file}` has no column named `{target}` to use as the target")]
    #[diagnostic(code(netc::data::unknown_target))]
    UnknownTarget {
        file: String,
        target: String,
        #[help]
        help: String,
    },

    #[error("`{file}` has no feature columns besides the target `{target}`")]
    #[diagnostic(
        code(netc::data::no_features),
        help("a data file needs at least one input column")
    )]
    NoFeatures { file: String, target: String },

    #[error("{cell}: `{text}` is not a class label")]
    #[diagnostic(code(netc::data::not_a_class), help("{help}"))]
    NotAClass {
        cell: Cell,
        text: String,
        help: String,
    },

    #[error("{cell}: class `{text}` does not occur in the training data")]
    #[diagnostic(code(netc::data::unknown_class), help("{help}"))]
    UnknownClass {
        cell: Cell,
        text: String,
        help: String,
    },

    #[error("the target `{target}` of `{file}` has {classes} classes, but binary_cross_entropy needs at most 2")]
    #[diagnostic(
        code(netc::data::too_many_classes),
        help("use loss = cross_entropy with one output per class")
    )]
    TooManyClasses {
        file: String,
        target: String,
        classes: usize,
    },

    #[error(
        "loss {loss} needs class labels, but the targets of {source_name} are regression values"
    )]
    #[diagnostic(
        code(netc::data::loss_needs_classes),
        help("use loss = mse for regression")
    )]
    LossNeedsClasses {
        source_name: String,
        loss: &'static str,
    },

    #[error("column {column_number} of `{file}` is `{found}`, but column {column_number} of the training file `{train_file}` is `{expected}`")]
    #[diagnostic(
        code(netc::data::header_mismatch),
        help(
            "the test file needs the same feature columns as the training file, in the same order"
        )
    )]
    HeaderMismatch {
        file: String,
        train_file: String,
        column_number: usize,
        expected: String,
        found: String,
    },

    #[error("{source_name} has {found} input values per example, but the model's input {expected_shape:?} takes {expected}")]
    #[diagnostic(code(netc::data::width_mismatch), help("{help}"))]
    WidthMismatch {
        source_name: String,
        found: usize,
        expected_shape: Vec<usize>,
        expected: usize,
        help: String,
    },

    #[error(
        "{source_name} has {found} {what}, but the model outputs {expected} values per example"
    )]
    #[diagnostic(code(netc::data::class_mismatch), help("{help}"))]
    ClassMismatch {
        source_name: String,
        found: usize,
        what: &'static str,
        expected: usize,
        help: String,
    },

    #[error("`{file}` has no column `{name}` to use as the {role} column")]
    #[diagnostic(code(netc::data::unknown_column))]
    UnknownColumn {
        file: String,
        /// `sequence` or `time`.
        role: &'static str,
        name: String,
        #[help]
        help: String,
    },

    #[error("{cell}: `{text}` is not a time step")]
    #[diagnostic(
        code(netc::data::bad_time),
        help("time steps are whole numbers (0, 1, 2, ... or 1, 2, 3, ...), consecutive within each sequence")
    )]
    BadTime { cell: Cell, text: String },

    #[error(
        "sequence `{sequence}` of `{file}` has {column} = {t} twice: rows {first_row} and {row}"
    )]
    #[diagnostic(
        code(netc::data::duplicate_step),
        help("each (sequence, time step) pair is one row; drop or merge the duplicate")
    )]
    DuplicateStep {
        file: String,
        sequence: String,
        column: String,
        t: i64,
        first_row: u64,
        row: u64,
    },

    #[error("sequence `{sequence}` of `{file}` skips {column} = {t}: it goes from {column} = {before} (row {before_row}) to {column} = {after} (row {after_row})")]
    #[diagnostic(
        code(netc::data::missing_step),
        help("every sequence needs a row for each time step between its first and last; fill the gap or drop the sequence")
    )]
    MissingStep {
        file: String,
        sequence: String,
        column: String,
        t: i64,
        before: i64,
        before_row: u64,
        after: i64,
        after_row: u64,
    },

    #[error("sequence `{sequence}` of `{file}` (from row {row}) has {steps} time steps, but sequence `{first}` (from row {first_row}) has {first_steps}")]
    #[diagnostic(
        code(netc::data::sequence_length),
        help("every sequence of a `seq(T, d)` input has the same T steps; pad or cut the sequences to one length")
    )]
    SequenceLength {
        file: String,
        sequence: String,
        steps: usize,
        row: u64,
        first: String,
        first_steps: usize,
        first_row: u64,
    },

    #[error("the target of sequence `{sequence}` disagrees across its rows: {cell} is {conflict}")]
    #[diagnostic(
        code(netc::data::target_disagrees),
        help("a sequence has one target: repeat it on every row, or give it on one row and leave the others empty")
    )]
    TargetDisagrees {
        sequence: String,
        cell: Cell,
        /// "`0.9`, but row 2 says `0.8`"
        conflict: String,
    },

    #[error("{source_name}: {message}")]
    #[diagnostic(code(netc::data::bad_setting))]
    BadSetting {
        source_name: String,
        message: String,
    },
}

/// Where a bad value sits: shown as ``row 4, column 3 `p2` of `file.csv` ``.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    pub file: String,
    /// 1-based line; the header is row 1.
    pub row: u64,
    /// The column's header name and its 1-based number.
    pub column: String,
    pub column_number: usize,
}

impl std::fmt::Display for Cell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "row {}, column {} `{}` of `{}`",
            self.row, self.column_number, self.column, self.file
        )
    }
}

/// The name among `candidates` closest to `wanted`, if one is close enough to be a likely typo.
pub fn did_you_mean<'a>(wanted: &str, candidates: &'a [String]) -> Option<&'a str> {
    let wanted_lower = wanted.to_lowercase();
    if let Some(same) = candidates.iter().find(|c| c.to_lowercase() == wanted_lower) {
        return Some(same);
    }
    let limit = (wanted.chars().count() / 3).max(1);
    candidates
        .iter()
        .map(|c| (edit_distance(&wanted_lower, &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.as_str())
}

/// Edit distance over characters, counting a swap of two neighbours as one edit (optimal
/// string alignment), since `lable` for `label` is the commonest typo.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut table = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    table[0] = (0..=b.len()).collect();
    for (i, row) in table.iter_mut().enumerate() {
        row[0] = i;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let substitution = table[i - 1][j - 1] + usize::from(a[i - 1] != b[j - 1]);
            let mut best = substitution
                .min(table[i - 1][j] + 1)
                .min(table[i][j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(table[i - 2][j - 2] + 1);
            }
            table[i][j] = best;
        }
    }
    table[a.len()][b.len()]
}

/// The help line for a missing target column: a did-you-mean, or the list of columns.
pub(crate) fn unknown_target_help(target: &str, header: &[String]) -> String {
    if let Some(near) = did_you_mean(target, header) {
        return format!("did you mean `{near}`?");
    }
    const SHOWN: usize = 8;
    let mut names: Vec<String> = header
        .iter()
        .take(SHOWN)
        .map(|h| format!("`{h}`"))
        .collect();
    if header.len() > SHOWN {
        names.push(format!("… ({} columns in all)", header.len()));
    }
    format!("the columns are {}", names.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("label", "label"), 0);
        assert_eq!(edit_distance("lable", "label"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("labels", "label"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn did_you_mean_prefers_case_insensitive_matches_then_near_names() {
        let header: Vec<String> = ["p0", "p1", "label"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(did_you_mean("LABEL", &header), Some("label"));
        assert_eq!(did_you_mean("labl", &header), Some("label"));
        assert_eq!(did_you_mean("lable", &header), Some("label"));
        assert_eq!(did_you_mean("species", &header), None);
    }
}
