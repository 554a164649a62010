//! The initializer family: every initializer's name, aliases, parameters with their defaults
//! and ranges. The distributions themselves are drawn in `src/init.rs`.

use crate::diag::Diagnostic;
use crate::model::{FanMode, Init};
use crate::sema::args::{float_arg, type_error, Bound, Range};
use crate::syntax::ast::{Expr, ExprKind};

impl Init {
    /// Every initializer, with its parameters at the language's defaults (`constant`'s
    /// `value` defaults to 1, which is what its alias `ones` means).
    pub const ALL: [Init; 12] = [
        Init::Zeros,
        Init::Constant(1.0),
        Init::Normal {
            mean: 0.0,
            std: 0.05,
        },
        Init::Uniform {
            low: -0.05,
            high: 0.05,
        },
        Init::XavierUniform { gain: 1.0 },
        Init::XavierNormal { gain: 1.0 },
        Init::HeUniform {
            mode: FanMode::FanIn,
        },
        Init::HeNormal {
            mode: FanMode::FanIn,
        },
        Init::LecunNormal,
        Init::LecunUniform,
        Init::Orthogonal { gain: 1.0 },
        Init::Identity { scale: 1.0 },
    ];

    /// The canonical name, as docs/language.md's table lists it.
    pub fn name(&self) -> &'static str {
        match self {
            Init::Zeros => "zeros",
            Init::Constant(_) => "constant",
            Init::Normal { .. } => "normal",
            Init::Uniform { .. } => "uniform",
            Init::XavierUniform { .. } => "xavier_uniform",
            Init::XavierNormal { .. } => "xavier_normal",
            Init::HeUniform { .. } => "he_uniform",
            Init::HeNormal { .. } => "he_normal",
            Init::LecunNormal => "lecun_normal",
            Init::LecunUniform => "lecun_uniform",
            Init::Orthogonal { .. } => "orthogonal",
            Init::Identity { .. } => "identity",
        }
    }

    /// Other names that parse to the same initializer.
    pub fn aliases(&self) -> &'static [&'static str] {
        match self {
            Init::Constant(_) => &["ones"],
            Init::XavierUniform { .. } => &["glorot_uniform"],
            Init::XavierNormal { .. } => &["glorot_normal"],
            Init::HeUniform { .. } => &["kaiming_uniform"],
            Init::HeNormal { .. } => &["kaiming_normal"],
            Init::Zeros
            | Init::Normal { .. }
            | Init::Uniform { .. }
            | Init::LecunNormal
            | Init::LecunUniform
            | Init::Orthogonal { .. }
            | Init::Identity { .. } => &[],
        }
    }

    /// The parameters, in positional order.
    pub fn params(&self) -> &'static [&'static str] {
        match self {
            Init::Constant(_) => &["value"],
            Init::Normal { .. } => &["mean", "std"],
            Init::Uniform { .. } => &["low", "high"],
            Init::XavierUniform { .. } | Init::XavierNormal { .. } | Init::Orthogonal { .. } => {
                &["gain"]
            }
            Init::HeUniform { .. } | Init::HeNormal { .. } => &["mode"],
            Init::Identity { .. } => &["scale"],
            Init::Zeros | Init::LecunNormal | Init::LecunUniform => &[],
        }
    }

    /// The initializer a name or alias stands for, with default parameters.
    pub fn from_name(name: &str) -> Option<Init> {
        Init::ALL
            .into_iter()
            .find(|i| i.name() == name || i.aliases().contains(&name))
    }

    /// Every name that parses, canonical names and aliases, in `ALL`'s order.
    pub fn names() -> Vec<&'static str> {
        let all = Init::ALL.iter();
        all.flat_map(|i| std::iter::once(i.name()).chain(i.aliases().iter().copied()))
            .collect()
    }

    /// Reads the arguments bound to this initializer's [`Init::params`], starting from
    /// `self`'s values as the defaults and checking each one's range.
    pub(in crate::sema) fn with_args(self, d: &mut Vec<Diagnostic>, b: &Bound<'_>) -> Option<Init> {
        let gain = |d: &mut Vec<Diagnostic>, g| float_arg(d, b, "gain", Some(g), Range::Positive);
        let init = match self {
            Init::Constant(value) => {
                Init::Constant(float_arg(d, b, "value", Some(value), Range::Any)?)
            }
            Init::Normal { mean, std } => {
                let mean = float_arg(d, b, "mean", Some(mean), Range::Any);
                let std = float_arg(d, b, "std", Some(std), Range::NonNegative);
                Init::Normal {
                    mean: mean?,
                    std: std?,
                }
            }
            Init::Uniform { low, high } => uniform(d, b, low, high)?,
            Init::XavierUniform { gain: g } => Init::XavierUniform { gain: gain(d, g)? },
            Init::XavierNormal { gain: g } => Init::XavierNormal { gain: gain(d, g)? },
            Init::Orthogonal { gain: g } => Init::Orthogonal { gain: gain(d, g)? },
            Init::HeUniform { mode } => Init::HeUniform {
                mode: fan_mode(d, b.get("mode"), mode)?,
            },
            Init::HeNormal { mode } => Init::HeNormal {
                mode: fan_mode(d, b.get("mode"), mode)?,
            },
            Init::Identity { scale } => Init::Identity {
                scale: float_arg(d, b, "scale", Some(scale), Range::Any)?,
            },
            Init::Zeros | Init::LecunNormal | Init::LecunUniform => self,
        };
        Some(init)
    }
}

/// `uniform(low, high)`, which needs low < high.
fn uniform(d: &mut Vec<Diagnostic>, b: &Bound<'_>, low: f64, high: f64) -> Option<Init> {
    let low = float_arg(d, b, "low", Some(low), Range::Any)?;
    let high = float_arg(d, b, "high", Some(high), Range::Any)?;
    if low >= high {
        d.push(
            Diagnostic::error(
                "netc::range::out_of_range",
                b.span,
                format!("`uniform` needs low < high, but {low} >= {high}"),
            )
            .with_label("empty range"),
        );
        return None;
    }
    Some(Init::Uniform { low, high })
}

fn fan_mode(d: &mut Vec<Diagnostic>, expr: Option<&Expr>, default: FanMode) -> Option<FanMode> {
    let Some(expr) = expr else {
        return Some(default);
    };
    match &expr.kind {
        ExprKind::Name(n) if n == "fan_in" => Some(FanMode::FanIn),
        ExprKind::Name(n) if n == "fan_out" => Some(FanMode::FanOut),
        ExprKind::Number(_)
        | ExprKind::Str(_)
        | ExprKind::Name(_)
        | ExprKind::List(_)
        | ExprKind::Call { .. } => {
            d.push(type_error(expr, "`mode`", "`fan_in` or `fan_out`"));
            None
        }
    }
}
