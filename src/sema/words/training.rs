//! The words of the `train` section: losses, learning-rate schedules, clipping rules and
//! `on_nonfinite` policies, each with its names, parameters with their defaults and ranges.

use crate::diag::Diagnostic;
use crate::model::{Clip, Loss, OnNonFinite, Schedule};
use crate::sema::args::{float_arg, int_arg, type_error, Bound, Range};
use crate::syntax::ast::{Expr, ExprKind};

impl Loss {
    /// Every loss.
    pub const ALL: [Loss; 3] = [Loss::Mse, Loss::CrossEntropy, Loss::BinaryCrossEntropy];

    /// The canonical name, as `fmt`, diagnostics and run folders write it.
    pub fn name(&self) -> &'static str {
        match self {
            Loss::Mse => "mse",
            Loss::CrossEntropy => "cross_entropy",
            Loss::BinaryCrossEntropy => "binary_cross_entropy",
        }
    }

    /// Other names that parse to the same loss.
    pub fn aliases(&self) -> &'static [&'static str] {
        match self {
            Loss::BinaryCrossEntropy => &["bce"],
            Loss::Mse | Loss::CrossEntropy => &[],
        }
    }

    /// The loss a name or alias stands for.
    pub fn from_name(name: &str) -> Option<Loss> {
        Loss::ALL
            .into_iter()
            .find(|l| l.name() == name || l.aliases().contains(&name))
    }

    /// The canonical names, in `ALL`'s order (what "did you mean" offers).
    pub fn names() -> Vec<&'static str> {
        Loss::ALL.iter().map(Loss::name).collect()
    }
}

impl Schedule {
    /// Every schedule. `step`'s `every` and `warmup`'s `steps` have no default: these hold
    /// the values docs/language.md's examples use, and [`Schedule::required`] names them.
    pub fn all() -> [Schedule; 4] {
        [
            Schedule::Constant,
            Schedule::Step {
                every: 1000,
                gamma: 0.1,
            },
            Schedule::Cosine { min_factor: 0.0 },
            Schedule::Warmup {
                steps: 200,
                then: Box::new(Schedule::Constant),
            },
        ]
    }

    /// The name in the language.
    pub fn name(&self) -> &'static str {
        match self {
            Schedule::Constant => "constant",
            Schedule::Step { .. } => "step",
            Schedule::Cosine { .. } => "cosine",
            Schedule::Warmup { .. } => "warmup",
        }
    }

    /// The parameters, in positional order.
    pub fn params(&self) -> &'static [&'static str] {
        match self {
            Schedule::Constant => &[],
            Schedule::Step { .. } => &["every", "gamma"],
            Schedule::Cosine { .. } => &["min_factor"],
            Schedule::Warmup { .. } => &["steps", "then"],
        }
    }

    /// The parameters that must be written (they have no default).
    pub fn required(&self) -> &'static [&'static str] {
        match self {
            Schedule::Step { .. } => &["every"],
            Schedule::Warmup { .. } => &["steps"],
            Schedule::Constant | Schedule::Cosine { .. } => &[],
        }
    }

    /// The schedule a name stands for, with default parameters.
    pub fn from_name(name: &str) -> Option<Schedule> {
        Schedule::all().into_iter().find(|s| s.name() == name)
    }

    /// Every name that parses, in `all()`'s order.
    pub fn names() -> Vec<&'static str> {
        Schedule::all().iter().map(Schedule::name).collect()
    }

    /// Reads the arguments bound to this schedule's [`Schedule::params`]; `then` of a warm-up
    /// is another schedule, read by `schedule`.
    pub(in crate::sema) fn with_args(
        self,
        d: &mut Vec<Diagnostic>,
        b: &Bound<'_>,
        schedule: fn(&mut Vec<Diagnostic>, &Expr) -> Option<Schedule>,
    ) -> Option<Schedule> {
        let steps =
            |d: &mut Vec<Diagnostic>, param| int_arg(d, b, param, None, (1, u32::MAX as u64));
        match self {
            Schedule::Constant => Some(Schedule::Constant),
            Schedule::Step { gamma, .. } => {
                let every = steps(d, "every");
                let gamma = float_arg(d, b, "gamma", Some(gamma), Range::Positive);
                Some(Schedule::Step {
                    every: every? as usize,
                    gamma: gamma?,
                })
            }
            Schedule::Cosine { min_factor } => Some(Schedule::Cosine {
                min_factor: float_arg(d, b, "min_factor", Some(min_factor), Range::UnitInterval)?,
            }),
            Schedule::Warmup { then, .. } => {
                let steps = steps(d, "steps");
                let then = b.get("then").map_or(Some(*then), |expr| schedule(d, expr));
                Some(Schedule::Warmup {
                    steps: steps? as usize,
                    then: Box::new(then?),
                })
            }
        }
    }
}

impl Clip {
    /// Every clipping rule. `norm` is two variants (`per = global` and `per = layer`); the
    /// threshold `max` has no default, and these hold 1, what [`Clip::required`] asks for.
    pub const ALL: [Clip; 4] = [
        Clip::None,
        Clip::GlobalNorm(1.0),
        Clip::LayerNorm(1.0),
        Clip::Value(1.0),
    ];

    /// The name in the language (both norm rules are `norm`, told apart by `per`).
    pub fn name(&self) -> &'static str {
        match self {
            Clip::None => "none",
            Clip::GlobalNorm(_) | Clip::LayerNorm(_) => "norm",
            Clip::Value(_) => "value",
        }
    }

    /// The parameters, in positional order.
    pub fn params(&self) -> &'static [&'static str] {
        match self {
            Clip::None => &[],
            Clip::GlobalNorm(_) | Clip::LayerNorm(_) => &["max", "per"],
            Clip::Value(_) => &["max"],
        }
    }

    /// The parameters that must be written (they have no default).
    pub fn required(&self) -> &'static [&'static str] {
        match self {
            Clip::None => &[],
            Clip::GlobalNorm(_) | Clip::LayerNorm(_) | Clip::Value(_) => &["max"],
        }
    }

    /// The rule a name stands for (`norm` is the global one until `per` says otherwise).
    pub fn from_name(name: &str) -> Option<Clip> {
        Clip::ALL.into_iter().find(|c| c.name() == name)
    }

    /// Every name that parses, once each, in `ALL`'s order.
    pub fn names() -> Vec<&'static str> {
        let mut names: Vec<&'static str> = Clip::ALL.iter().map(Clip::name).collect();
        names.dedup();
        names
    }

    /// Reads the arguments bound to this rule's [`Clip::params`].
    pub(in crate::sema) fn with_args(self, d: &mut Vec<Diagnostic>, b: &Bound<'_>) -> Option<Clip> {
        let max = |d: &mut Vec<Diagnostic>| float_arg(d, b, "max", None, Range::Positive);
        match self {
            Clip::None => Some(Clip::None),
            Clip::GlobalNorm(_) | Clip::LayerNorm(_) => {
                let max = max(d);
                let per_layer = per_layer(d, b.get("per"));
                let max = max?;
                Some(if per_layer? {
                    Clip::LayerNorm(max)
                } else {
                    Clip::GlobalNorm(max)
                })
            }
            Clip::Value(_) => Some(Clip::Value(max(d)?)),
        }
    }
}

/// `per = global` (the default) or `per = layer` of `norm`.
fn per_layer(d: &mut Vec<Diagnostic>, per: Option<&Expr>) -> Option<bool> {
    let Some(expr) = per else {
        return Some(false);
    };
    match &expr.kind {
        ExprKind::Name(n) if n == "global" => Some(false),
        ExprKind::Name(n) if n == "layer" => Some(true),
        ExprKind::Number(_)
        | ExprKind::Str(_)
        | ExprKind::Name(_)
        | ExprKind::List(_)
        | ExprKind::Call { .. } => {
            d.push(type_error(expr, "`per` of `norm`", "`global` or `layer`"));
            None
        }
    }
}

impl OnNonFinite {
    /// Every policy for a NaN or infinite loss or gradient.
    pub const ALL: [OnNonFinite; 3] = [
        OnNonFinite::Stop,
        OnNonFinite::SkipStep,
        OnNonFinite::Continue,
    ];

    /// The name in the language.
    pub fn name(&self) -> &'static str {
        match self {
            OnNonFinite::Stop => "stop",
            OnNonFinite::SkipStep => "skip_step",
            OnNonFinite::Continue => "continue",
        }
    }

    /// The policy a name stands for.
    pub fn from_name(name: &str) -> Option<OnNonFinite> {
        OnNonFinite::ALL.into_iter().find(|p| p.name() == name)
    }

    /// Every name that parses, in `ALL`'s order.
    pub fn names() -> Vec<&'static str> {
        OnNonFinite::ALL.iter().map(OnNonFinite::name).collect()
    }
}
