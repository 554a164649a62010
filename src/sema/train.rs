//! The `train { ... }` section: every setting read, checked and defaulted into a
//! [`TrainConfig`]. The data source lives in `data.rs`; the loss is settled in `loss.rs`.

use super::args::{
    bind, bool_arg, float_arg, float_value, head, in_range, int_arg, int_in_bounds, int_value,
    type_error, unknown, Range,
};
use super::names::{CLIPS, LOSSES, OPTIMIZERS, SCHEDULES};
use crate::diag::Diagnostic;
use crate::model::{Clip, Loss, OnNonFinite, Optimizer, ProbeConfig, Schedule};
use crate::syntax::ast::{Expr, ExprKind};

/// The parameters of each optimizer, in positional order.
pub fn optimizer_params(name: &str) -> &'static [&'static str] {
    match name {
        "sgd" => &["lr", "momentum", "nesterov"],
        "rmsprop" => &["lr", "alpha", "eps", "momentum"],
        "adagrad" => &["lr", "eps"],
        "adam" => &["lr", "beta1", "beta2", "eps"],
        "adamw" => &["lr", "beta1", "beta2", "eps", "weight_decay"],
        "nadam" => &[
            "lr",
            "beta1",
            "beta2",
            "eps",
            "momentum_decay",
            "weight_decay",
        ],
        _ => &[],
    }
}

/// The parameters of each schedule and clip rule, in positional order.
pub fn schedule_params(name: &str) -> &'static [&'static str] {
    match name {
        "step" => &["every", "gamma"],
        "cosine" => &["min_factor"],
        "warmup" => &["steps", "then"],
        _ => &[],
    }
}

pub fn clip_params(name: &str) -> &'static [&'static str] {
    match name {
        "norm" => &["max", "per"],
        "value" => &["max"],
        _ => &[],
    }
}

pub const DEFAULT_OPTIMIZER: Optimizer = Optimizer::Adam {
    lr: 1e-3,
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
};

pub fn loss(diags: &mut Vec<Diagnostic>, expr: &Expr) -> Option<Loss> {
    let Some((name, span, args)) = head(expr) else {
        diags.push(type_error(expr, "`loss`", "a loss name like `mse`"));
        return None;
    };
    let loss = match name {
        "mse" => Loss::Mse,
        "cross_entropy" => Loss::CrossEntropy,
        "binary_cross_entropy" | "bce" => Loss::BinaryCrossEntropy,
        _ => {
            diags.push(unknown(
                "netc::name::unknown_loss",
                "loss",
                name,
                span,
                LOSSES,
            ));
            return None;
        }
    };
    bind(diags, name, span, args, &[]);
    Some(loss)
}

pub fn optimizer(diags: &mut Vec<Diagnostic>, expr: &Expr) -> Option<Optimizer> {
    let Some((name, span, args)) = head(expr) else {
        diags.push(type_error(
            expr,
            "`optimizer`",
            "an optimizer like `adam(lr = 1e-3)`",
        ));
        return None;
    };
    if !OPTIMIZERS.contains(&name) {
        diags.push(unknown(
            "netc::name::unknown_optimizer",
            "optimizer",
            name,
            span,
            OPTIMIZERS,
        ));
        return None;
    }
    let b = bind(diags, name, span, args, optimizer_params(name));
    let d = diags;
    let opt = match name {
        "sgd" => {
            let lr = float_arg(d, &b, "lr", Some(0.01), Range::Positive);
            let momentum = float_arg(d, &b, "momentum", Some(0.0), Range::ProbabilityBelowOne);
            let nesterov = bool_arg(d, &b, "nesterov", false);
            Optimizer::Sgd {
                lr: lr?,
                momentum: momentum?,
                nesterov: nesterov?,
            }
        }
        "rmsprop" => {
            let lr = float_arg(d, &b, "lr", Some(1e-3), Range::Positive);
            let alpha = float_arg(d, &b, "alpha", Some(0.99), Range::ProbabilityBelowOne);
            let eps = float_arg(d, &b, "eps", Some(1e-8), Range::Positive);
            let momentum = float_arg(d, &b, "momentum", Some(0.0), Range::ProbabilityBelowOne);
            Optimizer::RmsProp {
                lr: lr?,
                alpha: alpha?,
                eps: eps?,
                momentum: momentum?,
            }
        }
        "adagrad" => {
            let lr = float_arg(d, &b, "lr", Some(1e-2), Range::Positive);
            let eps = float_arg(d, &b, "eps", Some(1e-10), Range::Positive);
            Optimizer::AdaGrad { lr: lr?, eps: eps? }
        }
        "adam" => {
            let lr = float_arg(d, &b, "lr", Some(1e-3), Range::Positive);
            let beta1 = float_arg(d, &b, "beta1", Some(0.9), Range::ProbabilityBelowOne);
            let beta2 = float_arg(d, &b, "beta2", Some(0.999), Range::ProbabilityBelowOne);
            let eps = float_arg(d, &b, "eps", Some(1e-8), Range::Positive);
            Optimizer::Adam {
                lr: lr?,
                beta1: beta1?,
                beta2: beta2?,
                eps: eps?,
            }
        }
        "nadam" => {
            let lr = float_arg(d, &b, "lr", Some(2e-3), Range::Positive);
            let beta1 = float_arg(d, &b, "beta1", Some(0.9), Range::ProbabilityBelowOne);
            let beta2 = float_arg(d, &b, "beta2", Some(0.999), Range::ProbabilityBelowOne);
            let eps = float_arg(d, &b, "eps", Some(1e-8), Range::Positive);
            let psi = float_arg(d, &b, "momentum_decay", Some(4e-3), Range::NonNegative);
            let wd = float_arg(d, &b, "weight_decay", Some(0.0), Range::NonNegative);
            Optimizer::NAdam {
                lr: lr?,
                beta1: beta1?,
                beta2: beta2?,
                eps: eps?,
                momentum_decay: psi?,
                weight_decay: wd?,
            }
        }
        "adamw" => {
            let lr = float_arg(d, &b, "lr", Some(1e-3), Range::Positive);
            let beta1 = float_arg(d, &b, "beta1", Some(0.9), Range::ProbabilityBelowOne);
            let beta2 = float_arg(d, &b, "beta2", Some(0.999), Range::ProbabilityBelowOne);
            let eps = float_arg(d, &b, "eps", Some(1e-8), Range::Positive);
            let wd = float_arg(d, &b, "weight_decay", Some(1e-2), Range::NonNegative);
            Optimizer::AdamW {
                lr: lr?,
                beta1: beta1?,
                beta2: beta2?,
                eps: eps?,
                weight_decay: wd?,
            }
        }
        // A name in OPTIMIZERS that this match forgot must not build another optimizer.
        other => {
            d.push(unknown(
                "netc::name::unknown_optimizer",
                "optimizer",
                other,
                span,
                OPTIMIZERS,
            ));
            return None;
        }
    };
    Some(opt)
}

pub fn schedule(diags: &mut Vec<Diagnostic>, expr: &Expr) -> Option<Schedule> {
    let Some((name, span, args)) = head(expr) else {
        diags.push(type_error(expr, "`schedule`", "a schedule like `cosine`"));
        return None;
    };
    if !SCHEDULES.contains(&name) {
        diags.push(unknown(
            "netc::name::unknown_schedule",
            "schedule",
            name,
            span,
            SCHEDULES,
        ));
        return None;
    }
    let b = bind(diags, name, span, args, schedule_params(name));
    let schedule = match name {
        "constant" => Schedule::Constant,
        "step" => {
            let every = int_arg(diags, &b, "every", None, (1, u32::MAX as u64));
            let gamma = float_arg(diags, &b, "gamma", Some(0.1), Range::Positive);
            Schedule::Step {
                every: every? as usize,
                gamma: gamma?,
            }
        }
        "cosine" => Schedule::Cosine {
            min_factor: float_arg(diags, &b, "min_factor", Some(0.0), Range::UnitInterval)?,
        },
        _ => {
            let steps = int_arg(diags, &b, "steps", None, (1, u32::MAX as u64));
            let then = match b.get("then") {
                Some(expr) => schedule(diags, expr),
                None => Some(Schedule::Constant),
            };
            Schedule::Warmup {
                steps: steps? as usize,
                then: Box::new(then?),
            }
        }
    };
    Some(schedule)
}

pub fn clip(diags: &mut Vec<Diagnostic>, expr: &Expr) -> Option<Clip> {
    let Some((name, span, args)) = head(expr) else {
        diags.push(type_error(
            expr,
            "`clip`",
            "`none`, `norm(1.0)` or `value(0.5)`",
        ));
        return None;
    };
    if !CLIPS.contains(&name) {
        diags.push(unknown(
            "netc::name::unknown_clip",
            "clipping rule",
            name,
            span,
            CLIPS,
        ));
        return None;
    }
    let b = bind(diags, name, span, args, clip_params(name));
    match name {
        "none" => Some(Clip::None),
        "norm" => {
            let max = float_arg(diags, &b, "max", None, Range::Positive);
            let per_layer = match b.get("per") {
                None => Some(false),
                Some(Expr {
                    kind: ExprKind::Name(n),
                    ..
                }) if n == "global" => Some(false),
                Some(Expr {
                    kind: ExprKind::Name(n),
                    ..
                }) if n == "layer" => Some(true),
                Some(other) => {
                    diags.push(type_error(other, "`per` of `norm`", "`global` or `layer`"));
                    None
                }
            };
            let max = max?;
            Some(if per_layer? {
                Clip::LayerNorm(max)
            } else {
                Clip::GlobalNorm(max)
            })
        }
        _ => Some(Clip::Value(float_arg(
            diags,
            &b,
            "max",
            None,
            Range::Positive,
        )?)),
    }
}

/// The parameters of `every(...)` in `probes = every(...)`, for `--set probes.keep=N`.
pub fn probes_params(name: &str) -> &'static [&'static str] {
    match name {
        "every" => &["steps", "keep"],
        _ => &[],
    }
}

/// The most recorded steps a probe ring may keep (it holds them in memory).
pub const MAX_PROBE_KEEP: u64 = 1_000_000;

/// `probes = on | off | every(steps = 1, keep = N)`: the stride and the optional ring size.
pub fn probes(diags: &mut Vec<Diagnostic>, expr: &Expr) -> Option<ProbeConfig> {
    match &expr.kind {
        ExprKind::Name(n) if n == "on" => Some(ProbeConfig {
            enabled: true,
            every: 1,
            keep: None,
        }),
        ExprKind::Name(n) if n == "off" => Some(ProbeConfig {
            enabled: false,
            every: 1,
            keep: None,
        }),
        ExprKind::Call { name, args } if name.text == "every" => {
            let b = bind(diags, "every", name.span, args, probes_params("every"));
            let every = int_arg(diags, &b, "steps", Some(1), (1, u32::MAX as u64));
            let keep = match b.get("keep") {
                Some(_) => int_arg(diags, &b, "keep", None, (1, MAX_PROBE_KEEP)).map(Some),
                None => Some(None),
            };
            Some(ProbeConfig {
                enabled: true,
                every: every? as usize,
                keep: keep?.map(|k| k as usize),
            })
        }
        _ => {
            diags.push(type_error(
                expr,
                "`probes`",
                "`on`, `off` or `every(N)` (optionally `every(N, keep = K)`)",
            ));
            None
        }
    }
}

pub fn on_nonfinite(diags: &mut Vec<Diagnostic>, expr: &Expr) -> Option<OnNonFinite> {
    const CHOICES: &[&str] = &["stop", "skip_step", "continue"];
    match &expr.kind {
        ExprKind::Name(n) if n == "stop" => Some(OnNonFinite::Stop),
        ExprKind::Name(n) if n == "skip_step" => Some(OnNonFinite::SkipStep),
        ExprKind::Name(n) if n == "continue" => Some(OnNonFinite::Continue),
        ExprKind::Name(n) => {
            diags.push(unknown(
                "netc::name::unknown_choice",
                "choice",
                n,
                expr.span,
                CHOICES,
            ));
            None
        }
        _ => {
            diags.push(type_error(
                expr,
                "`on_nonfinite`",
                "`stop`, `skip_step` or `continue`",
            ));
            None
        }
    }
}

/// A whole-number setting such as `batch = 32`.
pub fn count(
    diags: &mut Vec<Diagnostic>,
    expr: &Expr,
    key: &str,
    bounds: (u64, u64),
) -> Option<u64> {
    let what = format!("`{key}`");
    let v = int_value(diags, expr, &what)?;
    int_in_bounds(diags, expr.span, &what, v, bounds)
}

/// A number setting such as `l2 = 1e-4`.
pub fn number(diags: &mut Vec<Diagnostic>, expr: &Expr, key: &str, range: Range) -> Option<f64> {
    let what = format!("`{key}`");
    let v = float_value(diags, expr, &what)?;
    in_range(diags, expr.span, &what, v, range)
}
