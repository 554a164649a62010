//! `data = ...`: a CSV file or a built-in synthetic set, and what can be known statically
//! about it (input width, classes or regression targets) to check the model against.

use super::args::{bind, float_arg, head, int_arg, string_arg, type_error, unknown, Bound, Range};
use super::names::DATA;
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

/// The parameters of each data source, in positional order.
pub fn data_params(name: &str) -> &'static [&'static str] {
    match name {
        "csv" => &[
            "path", "target", "scale", "split", "test", "task", "sequence", "time", "shape",
        ],
        "circles" => &["n", "noise", "factor", "split"],
        "spirals" => &["n", "noise", "arms", "split"],
        "blobs" => &["n", "noise", "centers", "dim", "split"],
        "polynomial" => &["n", "noise", "degree", "split"],
        "parity" => &["n", "noise", "bits", "split"],
        "teacher" => &["dim", "depth", "width", "outputs", "n", "noise", "split"],
        "adding" | "temporal_order" | "noisy_sine" => &["steps", "n", "noise", "split"],
        "memory" => &["steps", "symbols", "n", "noise", "split"],
        _ => &["n", "noise", "split"],
    }
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
    if !DATA.contains(&name) {
        diags.push(unknown(
            "netc::name::unknown_data",
            "data set",
            name,
            span,
            DATA,
        ));
        return None;
    }
    let b = bind(diags, name, span, args, data_params(name));
    if name == "csv" {
        return csv(diags, &b);
    }
    let (kind, facts) = synthetic_kind(diags, name, &b)?;
    let n = int_arg(
        diags,
        &b,
        "n",
        Some(if name == "xor" { 200 } else { 1000 }),
        (2, MAX_EXAMPLES),
    );
    let default_noise = match name {
        "moons" | "spirals" => 0.1,
        "circles" => 0.05,
        "blobs" => 1.0,
        _ => 0.0,
    };
    let noise = float_arg(diags, &b, "noise", Some(default_noise), Range::NonNegative);
    let split = float_arg(diags, &b, "split", Some(0.8), Range::Fraction);
    let synthetic = Synthetic {
        kind,
        n: n? as usize,
        noise: noise?,
        split: split?,
    };
    Some((DataSource::Synthetic(synthetic), facts))
}

fn synthetic_kind(
    diags: &mut Vec<Diagnostic>,
    name: &str,
    b: &Bound<'_>,
) -> Option<(SyntheticKind, DataFacts)> {
    let facts = |features: usize, target: Target| DataFacts {
        features: Some(features),
        steps: None,
        image: None,
        target,
    };
    let kind = match name {
        "xor" => (SyntheticKind::Xor, facts(2, Target::Classes(2))),
        "moons" => (SyntheticKind::Moons, facts(2, Target::Classes(2))),
        "circles" => {
            let factor = float_arg(diags, b, "factor", Some(0.5), Range::ProbabilityBelowOne)?;
            (
                SyntheticKind::Circles { factor },
                facts(2, Target::Classes(2)),
            )
        }
        "spirals" => {
            let arms = int_arg(diags, b, "arms", Some(2), (2, 100))? as usize;
            (
                SyntheticKind::Spirals { arms },
                facts(2, Target::Classes(arms)),
            )
        }
        "blobs" => {
            let centers = int_arg(diags, b, "centers", Some(3), (2, 1000));
            let dim = int_arg(diags, b, "dim", Some(2), (1, 4096));
            let (centers, dim) = (centers? as usize, dim? as usize);
            (
                SyntheticKind::Blobs { centers, dim },
                facts(dim, Target::Classes(centers)),
            )
        }
        "sine" => (SyntheticKind::Sine, facts(1, Target::Regression(1))),
        "polynomial" => {
            let degree = int_arg(diags, b, "degree", Some(3), (1, 20))? as usize;
            (
                SyntheticKind::Polynomial { degree },
                facts(1, Target::Regression(1)),
            )
        }
        "adding" | "memory" | "temporal_order" | "noisy_sine" => {
            return sequence_kind(diags, name, b)
        }
        "parity" => {
            let bits = int_arg(diags, b, "bits", Some(4), (1, 30))? as usize;
            (
                SyntheticKind::Parity { bits },
                facts(bits, Target::Classes(2)),
            )
        }
        "teacher" => {
            let dim = int_arg(diags, b, "dim", Some(8), (1, 4096));
            let depth = int_arg(diags, b, "depth", Some(2), (1, 64));
            let width = int_arg(diags, b, "width", Some(32), (1, 4096));
            let outputs = int_arg(diags, b, "outputs", Some(1), (1, 4096));
            let (dim, depth, width, outputs) = (
                dim? as usize,
                depth? as usize,
                width? as usize,
                outputs? as usize,
            );
            let kind = SyntheticKind::Teacher {
                dim,
                depth,
                width,
                outputs,
            };
            (kind, facts(dim, Target::Regression(outputs)))
        }
        // A name in DATA that this match forgot must not build another data set.
        other => {
            diags.push(unknown(
                "netc::name::unknown_data",
                "data set",
                other,
                b.span,
                DATA,
            ));
            return None;
        }
    };
    Some(kind)
}

/// The sequence tasks: `steps` per example, and the per-step width as `features`.
fn sequence_kind(
    diags: &mut Vec<Diagnostic>,
    name: &str,
    b: &Bound<'_>,
) -> Option<(SyntheticKind, DataFacts)> {
    let steps = int_arg(diags, b, "steps", Some(100), (2, MAX_STEPS))? as usize;
    let (kind, features, target) = match name {
        "adding" => (SyntheticKind::Adding { steps }, 2, Target::Regression(1)),
        "memory" => {
            let symbols = int_arg(diags, b, "symbols", Some(8), (2, 1000))? as usize;
            (
                SyntheticKind::Memory { steps, symbols },
                symbols + 1,
                Target::Classes(symbols),
            )
        }
        "temporal_order" => (
            SyntheticKind::TemporalOrder { steps },
            6,
            Target::Classes(4),
        ),
        "noisy_sine" => (SyntheticKind::NoisySine { steps }, 1, Target::Regression(1)),
        // A name in DATA that this match forgot must not build another data set.
        other => {
            diags.push(unknown(
                "netc::name::unknown_data",
                "data set",
                other,
                b.span,
                DATA,
            ));
            return None;
        }
    };
    let facts = DataFacts {
        features: Some(features),
        steps: Some(steps),
        image: None,
        target,
    };
    Some((kind, facts))
}

/// Longest sequence a built-in task may generate.
const MAX_STEPS: u64 = 100_000;

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
