//! The data sources: `csv(...)` and every built-in synthetic set, with their names,
//! parameters (with defaults and ranges) and what each set gives an example.

use crate::diag::Diagnostic;
use crate::model::{DataSource, SyntheticKind};
use crate::sema::args::{float_arg, int_arg, Bound, Range};
use crate::sema::data::{DataFacts, Target};

/// The name of the CSV source.
pub const CSV: &str = "csv";

/// `csv`'s parameters, in positional order.
pub const CSV_PARAMS: &[&str] = &[
    "path", "target", "scale", "split", "test", "task", "sequence", "time", "shape",
];

/// Longest sequence a built-in task may generate.
pub const MAX_STEPS: u64 = 100_000;

impl DataSource {
    /// Every name a `data = ...` value may start with: `csv`, then the synthetic sets.
    pub fn names() -> Vec<&'static str> {
        std::iter::once(CSV).chain(SyntheticKind::names()).collect()
    }

    /// The parameters of the source `name`, in positional order; `None` for an unknown name.
    pub fn params_of(name: &str) -> Option<&'static [&'static str]> {
        if name == CSV {
            return Some(CSV_PARAMS);
        }
        SyntheticKind::from_name(name).map(|kind| kind.params())
    }
}

impl SyntheticKind {
    /// Every synthetic set, with its own parameters at the language's defaults.
    pub const ALL: [SyntheticKind; 13] = [
        SyntheticKind::Xor,
        SyntheticKind::Moons,
        SyntheticKind::Circles { factor: 0.5 },
        SyntheticKind::Spirals { arms: 2 },
        SyntheticKind::Blobs { centers: 3, dim: 2 },
        SyntheticKind::Sine,
        SyntheticKind::Polynomial { degree: 3 },
        SyntheticKind::Parity { bits: 4 },
        SyntheticKind::Teacher {
            dim: 8,
            depth: 2,
            width: 32,
            outputs: 1,
        },
        SyntheticKind::Adding { steps: 100 },
        SyntheticKind::Memory {
            steps: 100,
            symbols: 8,
        },
        SyntheticKind::TemporalOrder { steps: 100 },
        SyntheticKind::NoisySine { steps: 100 },
    ];

    /// The name in the language (and in messages: ``synthetic set `moons` ``).
    pub fn name(&self) -> &'static str {
        match self {
            SyntheticKind::Xor => "xor",
            SyntheticKind::Moons => "moons",
            SyntheticKind::Circles { .. } => "circles",
            SyntheticKind::Spirals { .. } => "spirals",
            SyntheticKind::Blobs { .. } => "blobs",
            SyntheticKind::Sine => "sine",
            SyntheticKind::Polynomial { .. } => "polynomial",
            SyntheticKind::Parity { .. } => "parity",
            SyntheticKind::Teacher { .. } => "teacher",
            SyntheticKind::Adding { .. } => "adding",
            SyntheticKind::Memory { .. } => "memory",
            SyntheticKind::TemporalOrder { .. } => "temporal_order",
            SyntheticKind::NoisySine { .. } => "noisy_sine",
        }
    }

    /// The parameters, in positional order: the set's own among `n`, `noise` and `split`.
    pub fn params(&self) -> &'static [&'static str] {
        match self {
            SyntheticKind::Xor | SyntheticKind::Moons | SyntheticKind::Sine => {
                &["n", "noise", "split"]
            }
            SyntheticKind::Circles { .. } => &["n", "noise", "factor", "split"],
            SyntheticKind::Spirals { .. } => &["n", "noise", "arms", "split"],
            SyntheticKind::Blobs { .. } => &["n", "noise", "centers", "dim", "split"],
            SyntheticKind::Polynomial { .. } => &["n", "noise", "degree", "split"],
            SyntheticKind::Parity { .. } => &["n", "noise", "bits", "split"],
            SyntheticKind::Teacher { .. } => {
                &["dim", "depth", "width", "outputs", "n", "noise", "split"]
            }
            SyntheticKind::Adding { .. }
            | SyntheticKind::TemporalOrder { .. }
            | SyntheticKind::NoisySine { .. } => &["steps", "n", "noise", "split"],
            SyntheticKind::Memory { .. } => &["steps", "symbols", "n", "noise", "split"],
        }
    }

    /// The set a name stands for, with default parameters.
    pub fn from_name(name: &str) -> Option<SyntheticKind> {
        SyntheticKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Every name that parses, in `ALL`'s order.
    pub fn names() -> Vec<&'static str> {
        SyntheticKind::ALL.iter().map(SyntheticKind::name).collect()
    }

    /// The number of examples when `n` is not written.
    pub fn default_n(&self) -> u64 {
        match self {
            SyntheticKind::Xor => 200,
            SyntheticKind::Moons
            | SyntheticKind::Circles { .. }
            | SyntheticKind::Spirals { .. }
            | SyntheticKind::Blobs { .. }
            | SyntheticKind::Sine
            | SyntheticKind::Polynomial { .. }
            | SyntheticKind::Parity { .. }
            | SyntheticKind::Teacher { .. }
            | SyntheticKind::Adding { .. }
            | SyntheticKind::Memory { .. }
            | SyntheticKind::TemporalOrder { .. }
            | SyntheticKind::NoisySine { .. } => 1000,
        }
    }

    /// The noise when `noise` is not written.
    pub fn default_noise(&self) -> f64 {
        match self {
            SyntheticKind::Moons | SyntheticKind::Spirals { .. } => 0.1,
            SyntheticKind::Circles { .. } => 0.05,
            SyntheticKind::Blobs { .. } => 1.0,
            SyntheticKind::Xor
            | SyntheticKind::Sine
            | SyntheticKind::Polynomial { .. }
            | SyntheticKind::Parity { .. }
            | SyntheticKind::Teacher { .. }
            | SyntheticKind::Adding { .. }
            | SyntheticKind::Memory { .. }
            | SyntheticKind::TemporalOrder { .. }
            | SyntheticKind::NoisySine { .. } => 0.0,
        }
    }

    /// What one example of the set holds: input features (per step, for the sequence tasks),
    /// steps and targets.
    pub fn facts(&self) -> DataFacts {
        let (features, target) = match *self {
            SyntheticKind::Xor | SyntheticKind::Moons | SyntheticKind::Circles { .. } => {
                (2, Target::Classes(2))
            }
            SyntheticKind::Spirals { arms } => (2, Target::Classes(arms)),
            SyntheticKind::Blobs { centers, dim } => (dim, Target::Classes(centers)),
            SyntheticKind::Sine | SyntheticKind::Polynomial { .. } => (1, Target::Regression(1)),
            SyntheticKind::Parity { bits } => (bits, Target::Classes(2)),
            SyntheticKind::Teacher { dim, outputs, .. } => (dim, Target::Regression(outputs)),
            SyntheticKind::Adding { .. } => (2, Target::Regression(1)),
            SyntheticKind::Memory { symbols, .. } => (symbols + 1, Target::Classes(symbols)),
            SyntheticKind::TemporalOrder { .. } => (6, Target::Classes(4)),
            SyntheticKind::NoisySine { .. } => (1, Target::Regression(1)),
        };
        DataFacts {
            features: Some(features),
            steps: self.steps(),
            image: None,
            target,
        }
    }

    /// Reads the arguments bound to this set's own parameters (not `n`, `noise`, `split`),
    /// starting from `self`'s values as the defaults and checking each one's bounds.
    pub(in crate::sema) fn with_args(
        self,
        d: &mut Vec<Diagnostic>,
        b: &Bound<'_>,
    ) -> Option<SyntheticKind> {
        let count = |d: &mut Vec<Diagnostic>, param, default: usize, bounds| {
            int_arg(d, b, param, Some(default as u64), bounds).map(|v| v as usize)
        };
        let kind = match self {
            SyntheticKind::Xor | SyntheticKind::Moons | SyntheticKind::Sine => self,
            SyntheticKind::Circles { factor } => SyntheticKind::Circles {
                factor: float_arg(d, b, "factor", Some(factor), Range::ProbabilityBelowOne)?,
            },
            SyntheticKind::Spirals { arms } => SyntheticKind::Spirals {
                arms: count(d, "arms", arms, (2, 100))?,
            },
            SyntheticKind::Blobs { centers, dim } => {
                let centers = count(d, "centers", centers, (2, 1000));
                let dim = count(d, "dim", dim, (1, 4096));
                SyntheticKind::Blobs {
                    centers: centers?,
                    dim: dim?,
                }
            }
            SyntheticKind::Polynomial { degree } => SyntheticKind::Polynomial {
                degree: count(d, "degree", degree, (1, 20))?,
            },
            SyntheticKind::Parity { bits } => SyntheticKind::Parity {
                bits: count(d, "bits", bits, (1, 30))?,
            },
            SyntheticKind::Teacher { .. } => self.teacher_with_args(d, b)?,
            SyntheticKind::Adding { .. }
            | SyntheticKind::Memory { .. }
            | SyntheticKind::TemporalOrder { .. }
            | SyntheticKind::NoisySine { .. } => self.sequence_with_args(d, b)?,
        };
        Some(kind)
    }

    fn teacher_with_args(self, d: &mut Vec<Diagnostic>, b: &Bound<'_>) -> Option<SyntheticKind> {
        let SyntheticKind::Teacher {
            dim,
            depth,
            width,
            outputs,
        } = self
        else {
            return Some(self);
        };
        let count = |d: &mut Vec<Diagnostic>, param, default: usize, bounds| {
            int_arg(d, b, param, Some(default as u64), bounds).map(|v| v as usize)
        };
        let dim = count(d, "dim", dim, (1, 4096));
        let depth = count(d, "depth", depth, (1, 64));
        let width = count(d, "width", width, (1, 4096));
        let outputs = count(d, "outputs", outputs, (1, 4096));
        Some(SyntheticKind::Teacher {
            dim: dim?,
            depth: depth?,
            width: width?,
            outputs: outputs?,
        })
    }

    /// The sequence tasks: `steps` first, then the task's own parameters.
    fn sequence_with_args(self, d: &mut Vec<Diagnostic>, b: &Bound<'_>) -> Option<SyntheticKind> {
        let default_steps = self.steps().unwrap_or(100) as u64;
        let steps = int_arg(d, b, "steps", Some(default_steps), (2, MAX_STEPS))? as usize;
        let kind = match self {
            SyntheticKind::Adding { .. } => SyntheticKind::Adding { steps },
            SyntheticKind::Memory { symbols, .. } => SyntheticKind::Memory {
                steps,
                symbols: int_arg(d, b, "symbols", Some(symbols as u64), (2, 1000))? as usize,
            },
            SyntheticKind::TemporalOrder { .. } => SyntheticKind::TemporalOrder { steps },
            SyntheticKind::NoisySine { .. } => SyntheticKind::NoisySine { steps },
            SyntheticKind::Xor
            | SyntheticKind::Moons
            | SyntheticKind::Circles { .. }
            | SyntheticKind::Spirals { .. }
            | SyntheticKind::Blobs { .. }
            | SyntheticKind::Sine
            | SyntheticKind::Polynomial { .. }
            | SyntheticKind::Parity { .. }
            | SyntheticKind::Teacher { .. } => self,
        };
        Some(kind)
    }
}
