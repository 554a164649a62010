//! Activations and initializers: from a name with arguments (`leaky_relu(0.2)`,
//! `normal(0, 1)`, `he_normal(mode = fan_out)`) to the model's enums.

use super::args::{bind, float_arg, head, type_error, unknown, Range};
use super::names::{ACTIVATIONS, INITS};
use crate::diag::Diagnostic;
use crate::model::{Activation, FanMode, Init};
use crate::span::Span;
use crate::syntax::ast::{Arg, Expr, ExprKind};

/// The parameters each activation takes, in order.
pub fn activation_params(name: &str) -> &'static [&'static str] {
    match name {
        "leaky_relu" | "elu" => &["alpha"],
        "prelu" => &["init"],
        _ => &[],
    }
}

/// An activation given as a value: `relu`, `leaky_relu(alpha = 0.1)`.
pub fn activation_value(diags: &mut Vec<Diagnostic>, expr: &Expr) -> Option<Activation> {
    let Some((name, span, args)) = head(expr) else {
        diags.push(type_error(expr, "an activation", "a name like `relu`"));
        return None;
    };
    activation(diags, name, span, args)
}

/// An activation from its name and arguments (a layer statement or a value).
pub fn activation(
    diags: &mut Vec<Diagnostic>,
    name: &str,
    span: Span,
    args: &[Arg],
) -> Option<Activation> {
    if !ACTIVATIONS.contains(&name) {
        diags.push(unknown(
            "netc::name::unknown_activation",
            "activation",
            name,
            span,
            ACTIVATIONS,
        ));
        return None;
    }
    let bound = bind(diags, name, span, args, activation_params(name));
    let act = match name {
        "identity" => Activation::Identity,
        "sigmoid" => Activation::Sigmoid,
        "tanh" => Activation::Tanh,
        "relu" => Activation::Relu,
        "leaky_relu" => Activation::LeakyRelu {
            alpha: float_arg(diags, &bound, "alpha", Some(0.01), Range::NonNegative)?,
        },
        "prelu" => Activation::Prelu {
            init: float_arg(diags, &bound, "init", Some(0.25), Range::Any)?,
        },
        "elu" => Activation::Elu {
            alpha: float_arg(diags, &bound, "alpha", Some(1.0), Range::Positive)?,
        },
        "selu" => Activation::Selu,
        "swish" | "silu" => Activation::Swish,
        "mish" => Activation::Mish,
        "gelu" => Activation::Gelu,
        "softplus" => Activation::Softplus,
        "softsign" => Activation::Softsign,
        "softmax" => Activation::Softmax,
        // A name in ACTIVATIONS that this match forgot must not become another activation.
        other => {
            diags.push(unknown(
                "netc::name::unknown_activation",
                "activation",
                other,
                span,
                ACTIVATIONS,
            ));
            return None;
        }
    };
    Some(act)
}

/// The canonical name of an activation, used for default layer names (`relu1`).
pub fn activation_name(act: &Activation) -> &'static str {
    match act {
        Activation::Identity => "identity",
        Activation::Sigmoid => "sigmoid",
        Activation::Tanh => "tanh",
        Activation::Relu => "relu",
        Activation::LeakyRelu { .. } => "leaky_relu",
        Activation::Prelu { .. } => "prelu",
        Activation::Elu { .. } => "elu",
        Activation::Selu => "selu",
        Activation::Swish => "swish",
        Activation::Mish => "mish",
        Activation::Gelu => "gelu",
        Activation::Softplus => "softplus",
        Activation::Softsign => "softsign",
        Activation::Softmax => "softmax",
    }
}

/// The parameters each initializer takes, in order.
pub fn init_params(name: &str) -> &'static [&'static str] {
    match name {
        "constant" => &["value"],
        "normal" => &["mean", "std"],
        "uniform" => &["low", "high"],
        "xavier_uniform" | "glorot_uniform" | "xavier_normal" | "glorot_normal" | "orthogonal" => {
            &["gain"]
        }
        "he_uniform" | "kaiming_uniform" | "he_normal" | "kaiming_normal" => &["mode"],
        "identity" => &["scale"],
        _ => &[],
    }
}

/// An initializer given as a value: `he_normal`, `normal(0, 1)`.
pub fn init_value(diags: &mut Vec<Diagnostic>, expr: &Expr) -> Option<Init> {
    let Some((name, span, args)) = head(expr) else {
        diags.push(type_error(
            expr,
            "an initializer",
            "a name like `he_normal`",
        ));
        return None;
    };
    if !INITS.contains(&name) {
        diags.push(unknown(
            "netc::name::unknown_init",
            "initializer",
            name,
            span,
            INITS,
        ));
        return None;
    }
    let b = bind(diags, name, span, args, init_params(name));
    let init = match name {
        "zeros" => Init::Zeros,
        "ones" => Init::Constant(1.0),
        "constant" => Init::Constant(float_arg(diags, &b, "value", None, Range::Any)?),
        "normal" => {
            let mean = float_arg(diags, &b, "mean", Some(0.0), Range::Any);
            let std = float_arg(diags, &b, "std", Some(0.05), Range::NonNegative);
            Init::Normal {
                mean: mean?,
                std: std?,
            }
        }
        "uniform" => uniform(diags, &b)?,
        "xavier_uniform" | "glorot_uniform" => Init::XavierUniform {
            gain: float_arg(diags, &b, "gain", Some(1.0), Range::Positive)?,
        },
        "xavier_normal" | "glorot_normal" => Init::XavierNormal {
            gain: float_arg(diags, &b, "gain", Some(1.0), Range::Positive)?,
        },
        "he_uniform" | "kaiming_uniform" => Init::HeUniform {
            mode: fan_mode(diags, b.get("mode"))?,
        },
        "he_normal" | "kaiming_normal" => Init::HeNormal {
            mode: fan_mode(diags, b.get("mode"))?,
        },
        "lecun_normal" => Init::LecunNormal,
        "lecun_uniform" => Init::LecunUniform,
        "orthogonal" => Init::Orthogonal {
            gain: float_arg(diags, &b, "gain", Some(1.0), Range::Positive)?,
        },
        "identity" => Init::Identity {
            scale: float_arg(diags, &b, "scale", Some(1.0), Range::Any)?,
        },
        // A name in INITS that this match forgot must not become another initializer.
        other => {
            diags.push(unknown(
                "netc::name::unknown_init",
                "initializer",
                other,
                span,
                INITS,
            ));
            return None;
        }
    };
    Some(init)
}

fn uniform(diags: &mut Vec<Diagnostic>, b: &super::args::Bound<'_>) -> Option<Init> {
    let low = float_arg(diags, b, "low", Some(-0.05), Range::Any)?;
    let high = float_arg(diags, b, "high", Some(0.05), Range::Any)?;
    if low >= high {
        diags.push(
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

fn fan_mode(diags: &mut Vec<Diagnostic>, expr: Option<&Expr>) -> Option<FanMode> {
    let Some(expr) = expr else {
        return Some(FanMode::FanIn);
    };
    match &expr.kind {
        ExprKind::Name(n) if n == "fan_in" => Some(FanMode::FanIn),
        ExprKind::Name(n) if n == "fan_out" => Some(FanMode::FanOut),
        _ => {
            diags.push(type_error(expr, "`mode`", "`fan_in` or `fan_out`"));
            None
        }
    }
}
