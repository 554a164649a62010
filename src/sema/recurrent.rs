//! `rnn N`, `lstm N` and `gru N`: their arguments, defaults and the sequence shape they need.

use super::args::{bind, bool_arg, float_arg, int_arg, type_error, unknown, Bound, Range};
use super::attrs::{activation_value, init_value};
use super::layers::{Expander, MAX_UNITS};
use super::words::known;
use crate::diag::Diagnostic;
use crate::model::{Activation, Cell, Init, LayerKind, Recurrent, Returns};
use crate::span::Span;
use crate::syntax::ast::{ExprKind, LayerStmt};

/// Activations a plain `rnn` cell may use.
const RNN_ACTIVATIONS: &[&str] = &["tanh", "relu", "sigmoid"];

impl Expander<'_> {
    /// A recurrent layer's kind from its arguments (`kind` names a [`Cell`]).
    pub(super) fn recurrent(&mut self, layer: &LayerStmt, kind: &str) -> Option<LayerKind> {
        let span = layer.kind.span;
        let code = ("netc::name::unknown_layer", "layer");
        let found = Cell::from_name(kind);
        let default = known(self.diags, found, code, kind, span, &Cell::names())?;
        let b = bind(self.diags, kind, span, &layer.args, default.params());
        let units = int_arg(self.diags, &b, "units", None, (1, MAX_UNITS));
        let cell = match default {
            Cell::Rnn { act } => self.rnn_act(&b, act).map(|act| Cell::Rnn { act }),
            Cell::Lstm { forget_bias } => {
                float_arg(self.diags, &b, "forget_bias", Some(forget_bias), Range::Any)
                    .map(|forget_bias| Cell::Lstm { forget_bias })
            }
            Cell::Gru => Some(Cell::Gru),
        };
        let units = units? as usize;
        // PyTorch's default for every recurrent tensor: U(-1/√N, 1/√N).
        let k = 1.0 / (units as f64).sqrt();
        let default = Init::Uniform { low: -k, high: k };
        let init = b
            .get("init")
            .map_or(Some(default), |e| init_value(self.diags, e));
        let init_rec = b
            .get("init_rec")
            .map_or(Some(default), |e| init_value(self.diags, e));
        let radius = match b.get("radius") {
            None => Some(None),
            Some(_) => float_arg(self.diags, &b, "radius", None, Range::Positive).map(Some),
        };
        let bias = bool_arg(self.diags, &b, "bias", true);
        let returns = self.returns(&b);
        Some(LayerKind::Recurrent(Recurrent {
            cell: cell?,
            units,
            bias: bias?,
            init: init?,
            init_rec: init_rec?,
            radius: radius?,
            returns: returns?,
        }))
    }

    fn rnn_act(&mut self, b: &Bound<'_>, default: Activation) -> Option<Activation> {
        let Some(expr) = b.get("act") else {
            return Some(default);
        };
        let act = activation_value(self.diags, expr)?;
        match act {
            Activation::Tanh | Activation::Relu | Activation::Sigmoid => Some(act),
            other => {
                self.diags.push(
                    Diagnostic::error(
                        "netc::arg::unsupported_act",
                        expr.span,
                        format!(
                            "an `rnn` cell supports {}, not `{}`",
                            RNN_ACTIVATIONS.join(", "),
                            other.name()
                        ),
                    )
                    .with_label("not a recurrent activation")
                    .with_help("write `act = tanh` (the default), `relu` or `sigmoid`"),
                );
                None
            }
        }
    }

    fn returns(&mut self, b: &Bound<'_>) -> Option<Returns> {
        let Some(expr) = b.get("return") else {
            return Some(Returns::Last);
        };
        match &expr.kind {
            ExprKind::Name(n) if n == "last" => Some(Returns::Last),
            ExprKind::Name(n) if n == "all" => Some(Returns::All),
            ExprKind::Name(n) => {
                self.diags.push(unknown(
                    "netc::name::unknown_choice",
                    "value for `return`",
                    n,
                    expr.span,
                    &["last", "all"],
                ));
                None
            }
            _ => {
                self.diags.push(type_error(
                    expr,
                    &format!("`return` of `{}`", b.what),
                    "`last` or `all`",
                ));
                None
            }
        }
    }

    /// A recurrent layer reads `[T, d]`; anything else is reported at the layer.
    pub(super) fn check_sequence_input(
        &mut self,
        kind: &str,
        span: Span,
        in_shape: &[usize],
    ) -> bool {
        if in_shape.len() == 2 {
            return true;
        }
        let help = if in_shape.len() == 3 {
            "an image [H, W, C] goes through `conv2d` and pooling, then `flatten` or \
             `global_avgpool`; a sequence is declared `input x: seq(T, d)`"
        } else {
            "declare `input x: seq(T, d)`, and give `return = all` to a recurrent layer \
             that feeds another"
        };
        self.diags.push(
            Diagnostic::error(
                "netc::shape::recurrent_input",
                span,
                format!("`{kind}` reads a sequence [T, d], but its input is {in_shape:?}"),
            )
            .with_label("needs a sequence")
            .with_help(help),
        );
        false
    }
}

/// Trainable parameters of a recurrent layer reading `width` features per step.
pub(super) fn recurrent_param_count(r: &Recurrent, width: u64) -> u64 {
    let rows = (r.cell.gates() * r.units) as u64;
    let units = r.units as u64;
    rows.saturating_mul(width + units) + 2 * rows * u64::from(r.bias)
}

/// `[T, N]` for `return = all`, `[N]` for `return = last`.
pub(super) fn recurrent_out_shape(r: &Recurrent, in_shape: &[usize]) -> Vec<usize> {
    match r.returns {
        Returns::Last => vec![r.units],
        Returns::All => vec![in_shape.first().copied().unwrap_or(1), r.units],
    }
}
