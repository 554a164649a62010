//! The `train { ... }` section: every setting read, checked and defaulted into a
//! [`TrainConfig`]. The data source lives in `data.rs`; the loss is settled in `loss.rs`.

use super::args::{
    bind, bool_arg, float_arg, float_value, head, in_range, int_arg, int_in_bounds, int_value,
    type_error, unknown, Range,
};
use super::names::{CLIPS, SCHEDULES};
use crate::diag::Diagnostic;
use crate::model::{Clip, Loss, OnNonFinite, Optimizer, ProbeConfig, Schedule};
use crate::syntax::ast::{Expr, ExprKind};

/// The parameters of an optimizer, in positional order (none for an unknown name).
pub fn optimizer_params(name: &str) -> &'static [&'static str] {
    Optimizer::from_name(name).map_or(&[], |opt| opt.params())
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
    let Some(loss) = Loss::from_name(name) else {
        diags.push(unknown(
            "netc::name::unknown_loss",
            "loss",
            name,
            span,
            &Loss::names(),
        ));
        return None;
    };
    bind(diags, name, span, args, &[]);
    Some(loss)
}

/// An optimizer from its name and arguments. The name picks the variant with its defaults
/// from [`Optimizer::ALL`]; the match fills in the arguments, checking each one's range.
pub fn optimizer(diags: &mut Vec<Diagnostic>, expr: &Expr) -> Option<Optimizer> {
    let Some((name, span, args)) = head(expr) else {
        diags.push(type_error(
            expr,
            "`optimizer`",
            "an optimizer like `adam(lr = 1e-3)`",
        ));
        return None;
    };
    let Some(default) = Optimizer::from_name(name) else {
        diags.push(unknown(
            "netc::name::unknown_optimizer",
            "optimizer",
            name,
            span,
            &Optimizer::names(),
        ));
        return None;
    };
    let b = bind(diags, name, span, args, default.params());
    let d = diags;
    let lr = |d: &mut Vec<Diagnostic>, v| float_arg(d, &b, "lr", Some(v), Range::Positive);
    let eps = |d: &mut Vec<Diagnostic>, v| float_arg(d, &b, "eps", Some(v), Range::Positive);
    let unit = |d: &mut Vec<Diagnostic>, key, v| {
        float_arg(d, &b, key, Some(v), Range::ProbabilityBelowOne)
    };
    let non_negative =
        |d: &mut Vec<Diagnostic>, key, v| float_arg(d, &b, key, Some(v), Range::NonNegative);
    let opt = match default {
        Optimizer::Sgd {
            lr: l,
            momentum,
            nesterov,
        } => {
            let (l, m) = (lr(d, l), unit(d, "momentum", momentum));
            let nesterov = bool_arg(d, &b, "nesterov", nesterov);
            Optimizer::Sgd {
                lr: l?,
                momentum: m?,
                nesterov: nesterov?,
            }
        }
        Optimizer::RmsProp {
            lr: l,
            alpha,
            eps: e,
            momentum,
        } => {
            let (l, a) = (lr(d, l), unit(d, "alpha", alpha));
            let (e, m) = (eps(d, e), unit(d, "momentum", momentum));
            Optimizer::RmsProp {
                lr: l?,
                alpha: a?,
                eps: e?,
                momentum: m?,
            }
        }
        Optimizer::AdaGrad { lr: l, eps: e } => {
            let (l, e) = (lr(d, l), eps(d, e));
            Optimizer::AdaGrad { lr: l?, eps: e? }
        }
        Optimizer::Adam {
            lr: l,
            beta1,
            beta2,
            eps: e,
        } => {
            let (l, b1, b2) = (lr(d, l), unit(d, "beta1", beta1), unit(d, "beta2", beta2));
            let e = eps(d, e);
            Optimizer::Adam {
                lr: l?,
                beta1: b1?,
                beta2: b2?,
                eps: e?,
            }
        }
        Optimizer::AdamW {
            lr: l,
            beta1,
            beta2,
            eps: e,
            weight_decay,
        } => {
            let (l, b1, b2) = (lr(d, l), unit(d, "beta1", beta1), unit(d, "beta2", beta2));
            let (e, wd) = (eps(d, e), non_negative(d, "weight_decay", weight_decay));
            Optimizer::AdamW {
                lr: l?,
                beta1: b1?,
                beta2: b2?,
                eps: e?,
                weight_decay: wd?,
            }
        }
        Optimizer::NAdam {
            lr: l,
            beta1,
            beta2,
            eps: e,
            momentum_decay,
            weight_decay,
        } => {
            let (l, b1, b2) = (lr(d, l), unit(d, "beta1", beta1), unit(d, "beta2", beta2));
            let psi = non_negative(d, "momentum_decay", momentum_decay);
            let (e, wd) = (eps(d, e), non_negative(d, "weight_decay", weight_decay));
            Optimizer::NAdam {
                lr: l?,
                beta1: b1?,
                beta2: b2?,
                eps: e?,
                momentum_decay: psi?,
                weight_decay: wd?,
            }
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
        "warmup" => {
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
        // A name in SCHEDULES that this match forgot must not build another schedule.
        other => {
            diags.push(unknown(
                "netc::name::unknown_schedule",
                "schedule",
                other,
                b.span,
                SCHEDULES,
            ));
            return None;
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
        "value" => Some(Clip::Value(float_arg(
            diags,
            &b,
            "max",
            None,
            Range::Positive,
        )?)),
        // A name in CLIPS that this match forgot must not build another clipping rule.
        other => {
            diags.push(unknown(
                "netc::name::unknown_clip",
                "clipping rule",
                other,
                b.span,
                CLIPS,
            ));
            None
        }
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
