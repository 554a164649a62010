//! Arguments: binding positional and named arguments to parameters, and reading each value
//! as the type and range its parameter needs. Every problem becomes a diagnostic.

use super::names::suggest;
use crate::diag::Diagnostic;
use crate::span::Span;
use crate::syntax::ast::{Arg, Expr, ExprKind};

/// The arguments of one call, bound to its parameters by position or name.
pub struct Bound<'a> {
    /// What is being called (`dense`, `adam`, ...), for messages.
    pub what: String,
    /// The call's span, for "missing argument".
    pub span: Span,
    slots: Vec<(String, Option<&'a Expr>)>,
}

impl<'a> Bound<'a> {
    pub fn get(&self, param: &str) -> Option<&'a Expr> {
        self.slots
            .iter()
            .find(|(name, _)| name == param)
            .and_then(|(_, e)| *e)
    }
}

/// Binds `args` to `params` (positional ones in order, then named ones by name).
pub fn bind<'a>(
    diags: &mut Vec<Diagnostic>,
    what: &str,
    span: Span,
    args: &'a [Arg],
    params: &[&str],
) -> Bound<'a> {
    let mut slots: Vec<(String, Option<&'a Expr>)> =
        params.iter().map(|p| (p.to_string(), None)).collect();
    let mut first_span: Vec<Option<Span>> = vec![None; params.len()];
    let mut position = 0;
    for arg in args {
        let index = match &arg.name {
            None => {
                let index = position;
                position += 1;
                if index >= params.len() {
                    diags.push(too_many(what, arg.span, params));
                    continue;
                }
                index
            }
            Some(name) => match params.iter().position(|p| *p == name.text) {
                Some(index) => index,
                None => {
                    diags.push(unknown_argument(what, &name.text, name.span, params));
                    continue;
                }
            },
        };
        if let Some(first) = first_span[index] {
            diags.push(
                Diagnostic::error(
                    "netc::arg::duplicate",
                    arg.span,
                    format!("`{}` of `{what}` is given twice", params[index]),
                )
                .with_label("given again here")
                .with_related(first, "first given here"),
            );
            continue;
        }
        first_span[index] = Some(arg.span);
        slots[index].1 = Some(&arg.value);
    }
    Bound {
        what: what.to_string(),
        span,
        slots,
    }
}

fn too_many(what: &str, span: Span, params: &[&str]) -> Diagnostic {
    let message = if params.is_empty() {
        format!("`{what}` takes no arguments")
    } else {
        format!(
            "`{what}` takes at most {} argument{} ({})",
            params.len(),
            if params.len() == 1 { "" } else { "s" },
            params.join(", ")
        )
    };
    Diagnostic::error("netc::arg::too_many", span, message).with_label("one too many")
}

fn unknown_argument(what: &str, name: &str, span: Span, params: &[&str]) -> Diagnostic {
    let diag = Diagnostic::error(
        "netc::name::unknown_argument",
        span,
        format!("`{what}` has no argument `{name}`"),
    )
    .with_label("unknown argument");
    if params.is_empty() {
        diag.with_help(format!("`{what}` takes no arguments"))
    } else {
        diag.with_help(suggest(name, params))
    }
}

/// The allowed values of a number parameter.
#[derive(Debug, Clone, Copy)]
pub enum Range {
    Any,
    /// > 0
    Positive,
    /// ≥ 0
    NonNegative,
    /// [0, 1)
    ProbabilityBelowOne,
    /// (0, 1]
    Fraction,
    /// [0, 1]
    UnitInterval,
}

impl Range {
    fn contains(self, v: f64) -> bool {
        match self {
            Range::Any => true,
            Range::Positive => v > 0.0,
            Range::NonNegative => v >= 0.0,
            Range::ProbabilityBelowOne => (0.0..1.0).contains(&v),
            Range::Fraction => v > 0.0 && v <= 1.0,
            Range::UnitInterval => (0.0..=1.0).contains(&v),
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Range::Any => "any number",
            Range::Positive => "greater than 0",
            Range::NonNegative => "0 or more",
            Range::ProbabilityBelowOne => "in [0, 1)",
            Range::Fraction => "in (0, 1]",
            Range::UnitInterval => "in [0, 1]",
        }
    }
}

/// A parameter that must be given (no default).
fn missing(diags: &mut Vec<Diagnostic>, bound: &Bound<'_>, param: &str) {
    diags.push(
        Diagnostic::error(
            "netc::arg::missing",
            bound.span,
            format!("`{}` needs `{param}`", bound.what),
        )
        .with_label(format!("`{param}` is missing"))
        .with_help(format!("write `{param} = ...` here")),
    );
}

/// A float parameter with a default and an allowed range.
pub fn float_arg(
    diags: &mut Vec<Diagnostic>,
    bound: &Bound<'_>,
    param: &str,
    default: Option<f64>,
    range: Range,
) -> Option<f64> {
    let Some(expr) = bound.get(param) else {
        if default.is_none() {
            missing(diags, bound, param);
        }
        return default;
    };
    let what = format!("`{param}` of `{}`", bound.what);
    let value = float_value(diags, expr, &what)?;
    in_range(diags, expr.span, &what, value, range)
}

/// Checks a float against its range.
pub fn in_range(
    diags: &mut Vec<Diagnostic>,
    span: Span,
    what: &str,
    value: f64,
    range: Range,
) -> Option<f64> {
    if range.contains(value) {
        return Some(value);
    }
    diags.push(
        Diagnostic::error(
            "netc::range::out_of_range",
            span,
            format!("{what} must be {}, but is {value}", range.describe()),
        )
        .with_label(format!("must be {}", range.describe())),
    );
    None
}

/// A whole-number parameter with a default and inclusive bounds.
pub fn int_arg(
    diags: &mut Vec<Diagnostic>,
    bound: &Bound<'_>,
    param: &str,
    default: Option<u64>,
    bounds: (u64, u64),
) -> Option<u64> {
    let Some(expr) = bound.get(param) else {
        if default.is_none() {
            missing(diags, bound, param);
        }
        return default;
    };
    let what = format!("`{param}` of `{}`", bound.what);
    let value = int_value(diags, expr, &what)?;
    int_in_bounds(diags, expr.span, &what, value, bounds)
}

/// Checks a whole number against inclusive bounds.
pub fn int_in_bounds(
    diags: &mut Vec<Diagnostic>,
    span: Span,
    what: &str,
    value: u64,
    (min, max): (u64, u64),
) -> Option<u64> {
    if value < min {
        diags.push(
            Diagnostic::error(
                "netc::range::out_of_range",
                span,
                format!("{what} must be at least {min}, but is {value}"),
            )
            .with_label(format!("must be at least {min}")),
        );
        return None;
    }
    if value > max {
        diags.push(
            Diagnostic::error(
                "netc::range::too_large",
                span,
                format!("{what} is {value}, more than netc allows ({max})"),
            )
            .with_label(format!("at most {max}")),
        );
        return None;
    }
    Some(value)
}

/// A bool parameter (`true`/`false`).
pub fn bool_arg(
    diags: &mut Vec<Diagnostic>,
    bound: &Bound<'_>,
    param: &str,
    default: bool,
) -> Option<bool> {
    let Some(expr) = bound.get(param) else {
        return Some(default);
    };
    match &expr.kind {
        ExprKind::Name(n) if n == "true" => Some(true),
        ExprKind::Name(n) if n == "false" => Some(false),
        _ => {
            diags.push(type_error(
                expr,
                &format!("`{param}` of `{}`", bound.what),
                "`true` or `false`",
            ));
            None
        }
    }
}

/// A string parameter.
pub fn string_arg(
    diags: &mut Vec<Diagnostic>,
    bound: &Bound<'_>,
    param: &str,
) -> Option<Option<String>> {
    let Some(expr) = bound.get(param) else {
        return Some(None);
    };
    match &expr.kind {
        ExprKind::Str(s) => Some(Some(s.clone())),
        ExprKind::Name(n) if n == "none" => Some(None),
        _ => {
            diags.push(type_error(
                expr,
                &format!("`{param}` of `{}`", bound.what),
                "a string in quotes",
            ));
            None
        }
    }
}

/// A number literal as f64.
pub fn float_value(diags: &mut Vec<Diagnostic>, expr: &Expr, what: &str) -> Option<f64> {
    if let ExprKind::Number(text) = &expr.kind {
        match text.parse::<f64>() {
            Ok(v) if v.is_finite() => return Some(v),
            _ => {
                diags.push(
                    Diagnostic::error(
                        "netc::range::too_large",
                        expr.span,
                        format!("{what} is not a finite number"),
                    )
                    .with_label("too large for a 64-bit float"),
                );
                return None;
            }
        }
    }
    diags.push(type_error(expr, what, "a number"));
    None
}

/// A whole-number literal as u64.
pub fn int_value(diags: &mut Vec<Diagnostic>, expr: &Expr, what: &str) -> Option<u64> {
    if let ExprKind::Number(text) = &expr.kind {
        if expr.is_integer_literal() {
            if text.starts_with('-') {
                diags.push(
                    Diagnostic::error(
                        "netc::range::out_of_range",
                        expr.span,
                        format!("{what} cannot be negative"),
                    )
                    .with_label("negative"),
                );
                return None;
            }
            return match text.parse::<u64>() {
                Ok(v) => Some(v),
                Err(_) => {
                    diags.push(
                        Diagnostic::error(
                            "netc::range::too_large",
                            expr.span,
                            format!("{what} is far too large"),
                        )
                        .with_label("does not fit in 64 bits"),
                    );
                    None
                }
            };
        }
    }
    diags.push(type_error(expr, what, "a whole number"));
    None
}

/// "`units` of `dense` must be a whole number, not a name".
pub fn type_error(expr: &Expr, what: &str, expected: &str) -> Diagnostic {
    Diagnostic::error(
        "netc::type::expected",
        expr.span,
        format!("{what} must be {expected}, not {}", describe(expr)),
    )
    .with_label(format!("expected {expected}"))
}

fn describe(expr: &Expr) -> String {
    match &expr.kind {
        ExprKind::Number(t) if expr.is_integer_literal() => format!("the whole number `{t}`"),
        ExprKind::Number(t) => format!("the number `{t}`"),
        ExprKind::Str(_) => "a string".to_string(),
        ExprKind::Name(n) => format!("the name `{n}`"),
        ExprKind::Call { name, .. } => format!("the call `{}(...)`", name.text),
        ExprKind::List(_) => "a list".to_string(),
    }
}

/// The name and arguments of a `name` or `name(args)` value.
pub fn head(expr: &Expr) -> Option<(&str, Span, &[Arg])> {
    match &expr.kind {
        ExprKind::Name(n) => Some((n.as_str(), expr.span, &[])),
        ExprKind::Call { name, args } => Some((name.text.as_str(), name.span, args.as_slice())),
        _ => None,
    }
}

/// An unknown word where one of `known` was expected.
pub fn unknown(
    code: &'static str,
    kind: &str,
    word: &str,
    span: Span,
    known: &[&str],
) -> Diagnostic {
    Diagnostic::error(code, span, format!("unknown {kind} `{word}`"))
        .with_label(format!("not a known {kind}"))
        .with_help(suggest(word, known))
}
