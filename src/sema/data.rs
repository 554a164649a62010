//! `data = ...`: a CSV file or a built-in synthetic set, and what can be known statically
//! about it (input width, classes or regression targets) to check the model against.

use super::args::{bind, float_arg, head, int_arg, string_arg, type_error, unknown, Bound, Range};
use super::words::known;
use crate::diag::Diagnostic;
use crate::model::{CsvSource, DataSource, LongFormat, Scale, Synthetic, SyntheticKind, Task};
use crate::syntax::ast::{Expr, ExprKind};

/// What the data gives each example, as far as it is known before loading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataFacts {
    /// The number of input features (per step, for sequence tasks), for synthetic sets.
    pub features: Option<usize>,
    /// Steps per example, for the sequence tasks.
    pub steps: Option<usize>,
    /// The image `[H, W, C]` a CSV's `shape = ...` makes of each row.
    pub image: Option<[usize; 3]>,
    pub target: Target,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Class indices in 0..n.
    Classes(usize),
    /// `n` real-valued targets.
    Regression(usize),
    /// A CSV: known only after loading, unless `task` says.
    Unknown(Option<Task>),
}

/// Most examples a synthetic set may generate.
const MAX_EXAMPLES: u64 = 10_000_000;

pub fn data_source(diags: &mut Vec<Diagnostic>, expr: &Expr) -> Option<(DataSource, DataFacts)> {
    let Some((name, span, args)) = head(expr) else {
        diags.push(type_error(
            expr,
            "`data`",
            "a source like `csv(\"file.csv\")` or `moons(n = 500)`",
        ));
        return None;
    };
    let code = ("netc::name::unknown_data", "data set");
    let found = DataSource::params_of(name);
    let params = known(diags, found, code, name, span, &DataSource::names())?;
    let b = bind(diags, name, span, args, params);
    // `params_of` knows `name`: it is the CSV source or a synthetic set.
    let Some(default) = SyntheticKind::from_name(name) else {
        return csv(diags, &b);
    };
    let (default_n, default_noise) = (default.default_n(), default.default_noise());
    let kind = default.with_args(diags, &b);
    let n = int_arg(diags, &b, "n", Some(default_n), (2, MAX_EXAMPLES));
    let noise = float_arg(diags, &b, "noise", Some(default_noise), Range::NonNegative);
    let split = float_arg(diags, &b, "split", Some(0.8), Range::Fraction);
    let kind = kind?;
    let facts = kind.facts();
    let synthetic = Synthetic {
        kind,
        n: n? as usize,
        noise: noise?,
        split: split?,
    };
    Some((DataSource::Synthetic(synthetic), facts))
}

fn csv(diags: &mut Vec<Diagnostic>, b: &Bound<'_>) -> Option<(DataSource, DataFacts)> {
    let path = match b.get("path") {
        Some(Expr {
            kind: ExprKind::Str(path),
            ..
        }) => Some(path.clone()),
        Some(other) => {
            diags.push(type_error(other, "the path of `csv`", "a string in quotes"));
            None
        }
        None => {
            diags.push(
                Diagnostic::error(
                    "netc::arg::missing",
                    b.span,
                    "`csv` needs the path of the file",
                )
                .with_label("no path")
                .with_help("write `csv(\"data/file.csv\", target = \"label\")`"),
            );
            None
        }
    };
    let target = string_arg(diags, b, "target");
    let scale = choice(
        diags,
        b,
        "scale",
        &[
            ("none", Scale::None),
            ("standard", Scale::Standard),
            ("minmax", Scale::MinMax),
        ],
        Scale::Standard,
    );
    let split = float_arg(diags, b, "split", Some(0.8), Range::Fraction);
    let test = string_arg(diags, b, "test");
    let task = match b.get("task") {
        None => Some(None),
        Some(_) => choice(
            diags,
            b,
            "task",
            &[
                ("classification", Task::Classification),
                ("regression", Task::Regression),
            ],
            Task::Classification,
        )
        .map(Some),
    };
    let long = long_format(diags, b);
    let image = image_shape(diags, b);
    let source = CsvSource {
        path: path?,
        target: target?.unwrap_or_else(|| "label".to_string()),
        scale: scale?,
        split: split?,
        test: test?,
        task: task?,
        long: long?,
    };
    let image = image?;
    let facts = DataFacts {
        features: image.map(|[h, w, c]| h * w * c),
        steps: None,
        image,
        target: Target::Unknown(source.task),
    };
    Some((DataSource::Csv(source), facts))
}

/// `shape = [H, W, C]`: each row's features, row-major (channels fastest), as an image.
fn image_shape(diags: &mut Vec<Diagnostic>, b: &Bound<'_>) -> Option<Option<[usize; 3]>> {
    let Some(expr) = b.get("shape") else {
        return Some(None);
    };
    let what = "a dimension of `shape`";
    match &expr.kind {
        ExprKind::List(dims) if dims.len() == 3 => {
            let mut shape = [0; 3];
            for (slot, dim) in shape.iter_mut().zip(dims) {
                let v = super::args::int_value(diags, dim, what)?;
                *slot =
                    super::args::int_in_bounds(diags, dim.span, what, v, (1, 1 << 20))? as usize;
            }
            Some(Some(shape))
        }
        // The default spelled out, as `test = none` and `task = none` may be.
        ExprKind::Name(name) if name == "none" => Some(None),
        ExprKind::List(_)
        | ExprKind::Number(_)
        | ExprKind::Str(_)
        | ExprKind::Name(_)
        | ExprKind::Call { .. } => {
            diags.push(type_error(
                expr,
                "`shape` of `csv`",
                "an image shape [height, width, channels], like [8, 8, 1]",
            ));
            None
        }
    }
}

/// `sequence = "id"` (and optionally `time = "t"`, the default) read the file in long format.
fn long_format(diags: &mut Vec<Diagnostic>, b: &Bound<'_>) -> Option<Option<LongFormat>> {
    let sequence = string_arg(diags, b, "sequence");
    let time = string_arg(diags, b, "time");
    match (sequence?, time?) {
        (Some(sequence), time) => Some(Some(LongFormat {
            sequence,
            time: time.unwrap_or_else(|| "t".to_string()),
        })),
        (None, Some(_)) => {
            let span = b.get("time").map_or(b.span, |e| e.span);
            diags.push(
                Diagnostic::error(
                    "netc::arg::missing",
                    span,
                    "`time` of `csv` needs `sequence` too",
                )
                .with_label("a time column without a sequence column")
                .with_help("a long-format file names both: `csv(\"data.csv\", target = \"y\", sequence = \"id\", time = \"t\")`"),
            );
            None
        }
        (None, None) => Some(None),
    }
}

fn choice<T: Copy>(
    diags: &mut Vec<Diagnostic>,
    b: &Bound<'_>,
    param: &str,
    options: &[(&str, T)],
    default: T,
) -> Option<T> {
    let Some(expr) = b.get(param) else {
        return Some(default);
    };
    let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
    match &expr.kind {
        ExprKind::Name(n) => match options.iter().find(|(o, _)| o == n) {
            Some((_, v)) => Some(*v),
            None => {
                diags.push(unknown(
                    "netc::name::unknown_choice",
                    &format!("value for `{param}`"),
                    n,
                    expr.span,
                    &names,
                ));
                None
            }
        },
        _ => {
            diags.push(type_error(
                expr,
                &format!("`{param}` of `{}`", b.what),
                &format!("one of {}", names.join(", ")),
            ));
            None
        }
    }
}
