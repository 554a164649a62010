//! Activations and initializers as values: from a name with arguments (`leaky_relu(0.2)`,
//! `normal(0, 1)`, `he_normal(mode = fan_out)`) to the model's enums, through their families
//! in [`super::words`].

use super::args::{bind, head, type_error};
use super::words::known;
use crate::diag::Diagnostic;
use crate::model::{Activation, Init};
use crate::span::Span;
use crate::syntax::ast::{Arg, Expr};

/// The parameters an activation layer or value takes, in order (none for an unknown name,
/// which the layer's check reports as `netc::name::unknown_layer`).
pub fn activation_params(name: &str) -> &'static [&'static str] {
    Activation::from_name(name).map_or(&[], |act| act.params())
}

/// An activation given as a value: `relu`, `leaky_relu(alpha = 0.1)`.
pub fn activation_value(diags: &mut Vec<Diagnostic>, expr: &Expr) -> Option<Activation> {
    let Some((name, span, args)) = head(expr) else {
        diags.push(type_error(expr, "an activation", "a name like `relu`"));
        return None;
    };
    activation(diags, name, span, args)
}

/// An activation from its name and arguments (a layer statement or a value). The name picks
/// the variant with its defaults from [`Activation::ALL`]; the family reads the arguments.
pub fn activation(
    diags: &mut Vec<Diagnostic>,
    name: &str,
    span: Span,
    args: &[Arg],
) -> Option<Activation> {
    let code = ("netc::name::unknown_activation", "activation");
    let found = Activation::from_name(name);
    let default = known(diags, found, code, name, span, &Activation::names())?;
    let bound = bind(diags, name, span, args, default.params());
    default.with_args(diags, &bound)
}

/// An initializer given as a value: `he_normal`, `normal(0, 1)`. The name picks the variant
/// with its defaults from [`Init::ALL`]; the family reads the arguments.
pub fn init_value(diags: &mut Vec<Diagnostic>, expr: &Expr) -> Option<Init> {
    let Some((name, span, args)) = head(expr) else {
        diags.push(type_error(
            expr,
            "an initializer",
            "a name like `he_normal`",
        ));
        return None;
    };
    let code = ("netc::name::unknown_init", "initializer");
    let default = known(
        diags,
        Init::from_name(name),
        code,
        name,
        span,
        &Init::names(),
    )?;
    let bound = bind(diags, name, span, args, default.params());
    default.with_args(diags, &bound)
}
