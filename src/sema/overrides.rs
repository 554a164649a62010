//! `--set key=value` overrides: parsed like a `.net` value and applied to the train section
//! before it is checked, so an override is checked exactly like the line it replaces.

use super::names::{suggest, SETTINGS};
use super::train::{clip_params, optimizer_params, probes_params, schedule_params, PROBES_EVERY};
use crate::diag::Diagnostic;
use crate::model::{Clip, DataSource, Optimizer, Schedule};
use crate::span::Span;
use crate::syntax::ast::{set_arg, Expr, ExprKind, Ident, Setting};
use crate::syntax::parse_expr;

/// One `--set key=value`: `epochs=3`, `optimizer.lr=0.01`, `clip=none`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    pub key: String,
    pub value: String,
}

impl Override {
    /// Splits `key=value` at the first `=`.
    pub fn parse(text: &str) -> Result<Override, String> {
        let Some((key, value)) = text.split_once('=') else {
            return Err(format!("`{text}` is not `key=value`"));
        };
        let (key, value) = (key.trim(), value.trim());
        if key.is_empty() || value.is_empty() {
            return Err(format!("`{text}` needs both a key and a value"));
        }
        Ok(Override {
            key: key.to_string(),
            value: value.to_string(),
        })
    }
}

/// The positional parameters of `name` when it is the value of setting `key`; `None` when
/// the setting takes no call or `name` is unknown. The argument is then set by name, and the
/// check of the setting reports the unknown name as it reports it in the file.
fn params_of(key: &str, name: &str) -> Option<&'static [&'static str]> {
    match key {
        "optimizer" => optimizer_params(name),
        "schedule" => schedule_params(name),
        "clip" => clip_params(name),
        "data" => DataSource::params_of(name),
        "probes" => probes_params(name),
        _ => None,
    }
}

/// The value a setting has when the file does not give one, for `--set optimizer.lr=...`.
fn default_head(key: &str) -> Option<&'static str> {
    match key {
        "optimizer" => Some(Optimizer::DEFAULT.name()),
        "schedule" => Some(Schedule::Constant.name()),
        "clip" => Some(Clip::None.name()),
        "probes" => Some(PROBES_EVERY),
        _ => None,
    }
}

/// Applies every override to `settings`; `anchor` is where their diagnostics point.
pub fn apply(
    diags: &mut Vec<Diagnostic>,
    settings: &mut Vec<Setting>,
    overrides: &[Override],
    anchor: Span,
) {
    for o in overrides {
        if let Err(diag) = apply_one(settings, o, anchor) {
            diags.push(*diag);
        }
    }
}

fn apply_one(
    settings: &mut Vec<Setting>,
    o: &Override,
    anchor: Span,
) -> Result<(), Box<Diagnostic>> {
    let shown = format!("--set {}={}", o.key, o.value);
    let error = |code: &'static str, message: String| {
        Box::new(
            Diagnostic::error(code, anchor, format!("in `{shown}`: {message}"))
                .with_label("overridden from the command line"),
        )
    };
    let unknown_key = |message: String| error("netc::override::unknown_key", message);
    let mut value = parse_expr(&o.value).map_err(|m| {
        error(
            "netc::override::syntax",
            format!("the value does not parse: {m}"),
        )
    })?;
    respan(&mut value, anchor);
    let (top, param) = match o.key.split_once('.') {
        Some((top, param)) => (top, Some(param)),
        None => (o.key.as_str(), None),
    };
    if param.is_some_and(|p| p.contains('.')) {
        return Err(unknown_key(format!("`{}` has too many parts", o.key)));
    }
    if !SETTINGS.contains(&top) {
        let diag = unknown_key(format!("there is no setting `{top}`"));
        return Err(Box::new(diag.with_help(suggest(top, SETTINGS))));
    }
    let existing = settings.iter().position(|s| s.key.text == top);
    let new_value = match param {
        None => value,
        Some(param) => {
            let current = existing
                .map(|i| settings[i].value.clone())
                .or_else(|| {
                    default_head(top).map(|head| Expr {
                        kind: ExprKind::Name(head.to_string()),
                        span: anchor,
                    })
                })
                .ok_or_else(|| unknown_key(format!("the file has no `{top} = ...` to change")))?;
            with_argument(current, top, param, value, anchor)
                .ok_or_else(|| unknown_key(format!("`{top}` is not a call with arguments")))?
        }
    };
    match existing {
        Some(i) => settings[i].value = new_value,
        None => settings.push(Setting {
            key: Ident {
                text: top.to_string(),
                span: anchor,
            },
            value: new_value,
            span: anchor,
        }),
    }
    Ok(())
}

/// `adam(1e-3)` with `lr = 0.01` becomes `adam(0.01)`: the argument is replaced where it was
/// written, or added by name.
fn with_argument(current: Expr, key: &str, param: &str, value: Expr, anchor: Span) -> Option<Expr> {
    let (name, mut args) = match current.kind {
        ExprKind::Name(n) => (
            Ident {
                text: n,
                span: current.span,
            },
            Vec::new(),
        ),
        ExprKind::Call { name, args } => (name, args),
        _ => return None,
    };
    let params = params_of(key, &name.text).unwrap_or_default();
    set_arg(&mut args, params, param, value, anchor);
    Some(Expr {
        kind: ExprKind::Call { name, args },
        span: current.span,
    })
}

/// Points every span of a command-line value at `anchor`.
fn respan(expr: &mut Expr, anchor: Span) {
    expr.span = anchor;
    match &mut expr.kind {
        ExprKind::Call { name, args } => {
            name.span = anchor;
            for arg in args {
                arg.span = anchor;
                if let Some(n) = &mut arg.name {
                    n.span = anchor;
                }
                respan(&mut arg.value, anchor);
            }
        }
        ExprKind::List(items) => items.iter_mut().for_each(|e| respan(e, anchor)),
        ExprKind::Number(_) | ExprKind::Str(_) | ExprKind::Name(_) => {}
    }
}
