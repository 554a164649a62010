//! The `train { ... }` section: every setting read, checked and defaulted into a
//! [`TrainConfig`]. The data source lives in `data.rs`; the loss is settled in `loss.rs`.

use super::args::{
    bind, float_value, head, in_range, int_arg, int_in_bounds, int_value, type_error, Range,
};
use super::words::known;
use crate::diag::Diagnostic;
use crate::model::{Clip, Loss, OnNonFinite, Optimizer, ProbeConfig, Schedule};
use crate::syntax::ast::{Expr, ExprKind};

/// The parameters of an optimizer, in positional order; `None` for an unknown name.
pub fn optimizer_params(name: &str) -> Option<&'static [&'static str]> {
    Optimizer::from_name(name).map(|opt| opt.params())
}

/// The parameters of a schedule, in positional order; `None` for an unknown name.
pub fn schedule_params(name: &str) -> Option<&'static [&'static str]> {
    Schedule::from_name(name).map(|s| s.params())
}

/// The parameters of a clipping rule, in positional order; `None` for an unknown name.
pub fn clip_params(name: &str) -> Option<&'static [&'static str]> {
    Clip::from_name(name).map(|c| c.params())
}

pub fn loss(diags: &mut Vec<Diagnostic>, expr: &Expr) -> Option<Loss> {
    let Some((name, span, args)) = head(expr) else {
        diags.push(type_error(expr, "`loss`", "a loss name like `mse`"));
        return None;
    };
    let code = ("netc::name::unknown_loss", "loss");
    let loss = known(
        diags,
        Loss::from_name(name),
        code,
        name,
        span,
        &Loss::names(),
    )?;
    bind(diags, name, span, args, &[]);
    Some(loss)
}

/// An optimizer from its name and arguments. The name picks the variant with its defaults
/// from [`Optimizer::ALL`]; the family reads the arguments, checking each one's range.
pub fn optimizer(diags: &mut Vec<Diagnostic>, expr: &Expr) -> Option<Optimizer> {
    let Some((name, span, args)) = head(expr) else {
        diags.push(type_error(
            expr,
            "`optimizer`",
            "an optimizer like `adam(lr = 1e-3)`",
        ));
        return None;
    };
    let code = ("netc::name::unknown_optimizer", "optimizer");
    let found = Optimizer::from_name(name);
    let default = known(diags, found, code, name, span, &Optimizer::names())?;
    let b = bind(diags, name, span, args, default.params());
    default.with_args(diags, &b)
}

pub fn schedule(diags: &mut Vec<Diagnostic>, expr: &Expr) -> Option<Schedule> {
    let Some((name, span, args)) = head(expr) else {
        diags.push(type_error(expr, "`schedule`", "a schedule like `cosine`"));
        return None;
    };
    let code = ("netc::name::unknown_schedule", "schedule");
    let found = Schedule::from_name(name);
    let default = known(diags, found, code, name, span, &Schedule::names())?;
    let b = bind(diags, name, span, args, default.params());
    default.with_args(diags, &b, schedule)
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
    let code = ("netc::name::unknown_clip", "clipping rule");
    let default = known(
        diags,
        Clip::from_name(name),
        code,
        name,
        span,
        &Clip::names(),
    )?;
    let b = bind(diags, name, span, args, default.params());
    default.with_args(diags, &b)
}

/// The parameters of `every(...)` in `probes = every(...)`, for `--set probes.keep=N`.
pub fn probes_params(name: &str) -> Option<&'static [&'static str]> {
    (name == PROBES_EVERY).then_some(PROBES_EVERY_PARAMS)
}

/// The one call `probes` takes, and its parameters.
pub(super) const PROBES_EVERY: &str = "every";
const PROBES_EVERY_PARAMS: &[&str] = &["steps", "keep"];

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
        ExprKind::Call { name, args } if name.text == PROBES_EVERY => {
            let b = bind(diags, PROBES_EVERY, name.span, args, PROBES_EVERY_PARAMS);
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
    let ExprKind::Name(name) = &expr.kind else {
        diags.push(type_error(
            expr,
            "`on_nonfinite`",
            "`stop`, `skip_step` or `continue`",
        ));
        return None;
    };
    let code = ("netc::name::unknown_choice", "choice");
    let names = OnNonFinite::names();
    known(
        diags,
        OnNonFinite::from_name(name),
        code,
        name,
        expr.span,
        &names,
    )
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
