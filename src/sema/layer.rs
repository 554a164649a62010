//! One layer statement to a checked [`Layer`]: its kind from its arguments, its parameter
//! count, and its output shape; and the model's `input` line.

use super::args::{
    bind, bool_arg, float_arg, int_arg, int_in_bounds, int_value, type_error, unknown, Range,
};
use super::attrs::{activation, activation_value, init_value};
use super::layers::{Expander, Scope, MAX_UNITS};
use super::names::layers;
use crate::diag::Diagnostic;
use crate::model::{Activation, Cell, Init, Input, InputKind, Layer, LayerKind, PoolOp};
use crate::syntax::ast::*;

/// The parameters of a built-in layer, in positional order (for tools that edit a layer's
/// arguments with [`crate::syntax::ast::set_arg`]).
pub fn layer_params(kind: &str) -> &'static [&'static str] {
    match kind {
        "dense" | "linear" => &["units", "act", "init", "bias", "bias_init"],
        "batchnorm" => &["momentum", "eps"],
        "layernorm" => &["eps", "affine"],
        "dropout" => &["p"],
        "conv2d" | "maxpool" | "avgpool" | "global_avgpool" | "flatten" => {
            super::spatial::spatial_params(kind)
        }
        other => match Cell::from_name(other) {
            Some(cell) => cell.params(),
            None => super::attrs::activation_params(other),
        },
    }
}

impl Expander<'_> {
    pub(super) fn input(&mut self, input: &InputStmt) -> Option<Input> {
        let kind = match &input.shape.kind {
            ExprKind::List(dims) => {
                let mut shape = Vec::new();
                for dim in dims {
                    let v = int_value(self.diags, dim, "an input width")?;
                    shape.push(int_in_bounds(
                        self.diags,
                        dim.span,
                        "an input width",
                        v,
                        (1, MAX_UNITS),
                    )? as usize);
                }
                if shape.len() != 1 && shape.len() != 3 {
                    self.diags.push(
                        Diagnostic::error(
                            "netc::shape::unsupported_input",
                            input.shape.span,
                            format!("inputs of rank {} are not supported", shape.len()),
                        )
                        .with_label("expected a vector `[64]` or an image `[8, 8, 1]`")
                        .with_help(
                            "give one width (`input x: [width]`), or an image as height, width                              and channels (`input x: [H, W, C]`)",
                        ),
                    );
                    return None;
                }
                InputKind::Tensor { shape }
            }
            ExprKind::Call { name, args } if name.text == "seq" => {
                let b = bind(self.diags, "seq", name.span, args, &["steps", "dim"]);
                let steps = int_arg(self.diags, &b, "steps", None, (1, MAX_UNITS));
                let dim = int_arg(self.diags, &b, "dim", None, (1, MAX_UNITS));
                InputKind::Seq {
                    steps: steps? as usize,
                    dim: dim? as usize,
                }
            }
            _ => {
                self.diags.push(type_error(
                    &input.shape,
                    "an input shape",
                    "a shape like `[64]` or `seq(T, d)`",
                ));
                return None;
            }
        };
        Some(Input {
            name: input.name.text.clone(),
            kind,
            span: input.span,
        })
    }

    pub(super) fn layer(
        &mut self,
        layer: &LayerStmt,
        scope: &Scope,
        shape: &mut Option<Vec<usize>>,
    ) -> Option<Layer> {
        let kind_name = layer.kind.text.as_str();
        let recurrent = Cell::from_name(kind_name).is_some();
        if !layers().contains(&kind_name) && !recurrent {
            let mut known: Vec<&str> = layers();
            known.extend(self.blocks.keys().map(String::as_str));
            self.diags.push(unknown(
                "netc::name::unknown_layer",
                "layer",
                kind_name,
                layer.kind.span,
                &known,
            ));
            *shape = None;
            return None;
        }
        let in_shape = shape.clone();
        let Some((kind, default_name)) = self.layer_kind(layer) else {
            // Layers that change the shape leave it unknown when they fail.
            if matches!(
                kind_name,
                "dense"
                    | "linear"
                    | "rnn"
                    | "lstm"
                    | "gru"
                    | "conv2d"
                    | "maxpool"
                    | "avgpool"
                    | "global_avgpool"
                    | "flatten"
            ) {
                *shape = None;
            }
            return None;
        };
        let name = self.next_name(default_name, &layer.alias, scope);
        let in_shape = in_shape?;
        if recurrent && !self.check_sequence_input(kind_name, layer.kind.span, &in_shape) {
            *shape = None;
            return None;
        }
        let Some(spatial) = self.spatial_out_shape(&kind, layer, &in_shape) else {
            *shape = None;
            return None;
        };
        self.add_params(param_count(&kind, last(&in_shape) as u64), layer.span);
        let out_shape = spatial.unwrap_or_else(|| out_shape(&kind, &in_shape));
        *shape = Some(out_shape.clone());
        Some(Layer {
            name,
            kind,
            span: layer.span,
            in_shape,
            out_shape,
        })
    }

    /// The layer's kind from its arguments, and the word its default name uses.
    fn layer_kind(&mut self, layer: &LayerStmt) -> Option<(LayerKind, &'static str)> {
        let span = layer.kind.span;
        let args = &layer.args;
        match layer.kind.text.as_str() {
            "dense" | "linear" => Some((self.dense(layer)?, "dense")),
            "rnn" => Some((self.recurrent(layer, "rnn")?, "rnn")),
            "lstm" => Some((self.recurrent(layer, "lstm")?, "lstm")),
            "gru" => Some((self.recurrent(layer, "gru")?, "gru")),
            "conv2d" => Some((self.conv2d(layer)?, "conv")),
            "maxpool" => Some((self.pool2d(layer, PoolOp::Max)?, "maxpool")),
            "avgpool" => Some((self.pool2d(layer, PoolOp::Avg)?, "avgpool")),
            "global_avgpool" => Some((
                self.no_arguments(layer, LayerKind::GlobalAvgPool)?,
                "global_avgpool",
            )),
            "flatten" => Some((self.no_arguments(layer, LayerKind::Flatten)?, "flatten")),
            "batchnorm" => {
                let b = bind(
                    self.diags,
                    "batchnorm",
                    span,
                    args,
                    layer_params("batchnorm"),
                );
                let momentum =
                    float_arg(self.diags, &b, "momentum", Some(0.1), Range::UnitInterval);
                let eps = float_arg(self.diags, &b, "eps", Some(1e-5), Range::Positive);
                Some((
                    LayerKind::BatchNorm {
                        momentum: momentum?,
                        eps: eps?,
                    },
                    "batchnorm",
                ))
            }
            "layernorm" => {
                let b = bind(
                    self.diags,
                    "layernorm",
                    span,
                    args,
                    layer_params("layernorm"),
                );
                let eps = float_arg(self.diags, &b, "eps", Some(1e-5), Range::Positive);
                let affine = super::args::bool_arg(self.diags, &b, "affine", true);
                Some((
                    LayerKind::LayerNorm {
                        eps: eps?,
                        affine: affine?,
                    },
                    "layernorm",
                ))
            }
            "dropout" => {
                let b = bind(self.diags, "dropout", span, args, layer_params("dropout"));
                let p = float_arg(self.diags, &b, "p", Some(0.5), Range::ProbabilityBelowOne)?;
                Some((LayerKind::Dropout { p }, "dropout"))
            }
            other => {
                let act = activation(self.diags, other, span, args)?;
                Some((LayerKind::Activation(act), act.name()))
            }
        }
    }

    /// `dense units, act, init, bias, bias_init`.
    fn dense(&mut self, layer: &LayerStmt) -> Option<LayerKind> {
        let params = layer_params("dense");
        let b = bind(
            self.diags,
            &layer.kind.text,
            layer.kind.span,
            &layer.args,
            params,
        );
        let units = int_arg(self.diags, &b, "units", None, (1, MAX_UNITS));
        let act = b.get("act").map_or(Some(Activation::Identity), |e| {
            activation_value(self.diags, e)
        });
        let init = b
            .get("init")
            .map_or(Some(Init::XavierUniform { gain: 1.0 }), |e| {
                init_value(self.diags, e)
            });
        let bias = bool_arg(self.diags, &b, "bias", true);
        let bias_init = b
            .get("bias_init")
            .map_or(Some(Init::Zeros), |e| init_value(self.diags, e));
        Some(LayerKind::Dense {
            units: units? as usize,
            bias: bias?,
            act: act?,
            init: init?,
            bias_init: bias_init?,
        })
    }
}

/// Trainable parameters of a layer (a residual's own projection only) given its input width.
pub(super) fn param_count(kind: &LayerKind, width: u64) -> u64 {
    let prelu = |act: &Activation, units: u64| match act {
        Activation::Prelu { .. } => units,
        _ => 0,
    };
    match kind {
        LayerKind::Dense {
            units, bias, act, ..
        } => {
            let units = *units as u64;
            width.saturating_mul(units) + u64::from(*bias) * units + prelu(act, units)
        }
        LayerKind::Activation(act) => prelu(act, width),
        LayerKind::BatchNorm { .. } => 2 * width,
        LayerKind::LayerNorm { affine, .. } => 2 * width * u64::from(*affine),
        LayerKind::Conv2d(conv) => {
            let (fan_in, _) = conv.fans(width as usize);
            let filters = conv.filters as u64;
            (fan_in as u64).saturating_mul(filters)
                + u64::from(conv.bias) * filters
                + prelu(&conv.act, filters)
        }
        LayerKind::Dropout { .. }
        | LayerKind::Residual { .. }
        | LayerKind::Pool2d(_)
        | LayerKind::GlobalAvgPool
        | LayerKind::Flatten => 0,
        LayerKind::Recurrent(r) => super::recurrent::recurrent_param_count(r, width),
    }
}

pub(super) fn last(shape: &[usize]) -> usize {
    shape.last().copied().unwrap_or(0)
}

/// A layer's output shape from its input shape (no batch axis).
fn out_shape(kind: &LayerKind, in_shape: &[usize]) -> Vec<usize> {
    match kind {
        LayerKind::Dense { units, .. } => {
            let mut out = in_shape.to_vec();
            match out.last_mut() {
                Some(last) => *last = *units,
                None => out.push(*units),
            }
            out
        }
        LayerKind::Activation(_)
        | LayerKind::BatchNorm { .. }
        | LayerKind::LayerNorm { .. }
        | LayerKind::Dropout { .. }
        | LayerKind::Residual { .. } => in_shape.to_vec(),
        // Their shapes come from `Expander::spatial_out_shape`, which checks them; these
        // arms only keep the match whole.
        LayerKind::Conv2d(_) | LayerKind::Pool2d(_) | LayerKind::GlobalAvgPool => in_shape.to_vec(),
        LayerKind::Flatten => vec![in_shape.iter().product()],
        LayerKind::Recurrent(r) => super::recurrent::recurrent_out_shape(r, in_shape),
    }
}
