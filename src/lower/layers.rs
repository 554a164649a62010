//! Lowering of each layer kind.

use super::act;
use super::{Forward, InitExtras, LayerValues, LowerOptions, Mode, ParamKind, ParamSpec};
use crate::ir::{Graph, ReduceOp, UnaryOp, ValueId};
use crate::model::{Activation, Cell, Init, Layer, LayerKind, Model};

/// The last layer's value, and its pre-activation when it ends in softmax or sigmoid (so the
/// loss can be computed from logits in the stable fused form).
#[derive(Debug, Clone, Copy)]
pub struct Top {
    pub value: ValueId,
    pub logits: Option<(ValueId, Activation)>,
}

pub struct Lowering<'m> {
    pub graph: Graph,
    pub model: &'m Model,
    pub opts: LowerOptions,
    pub step: Option<ValueId>,
    layers: Vec<LayerValues>,
    params: Vec<ParamSpec>,
    state_updates: Vec<(String, ValueId)>,
    /// Dropout layers seen so far: each gets its own random stream.
    dropout_streams: u32,
    /// `[B, T, N]` outputs of recurrent layers (`return = all`) with their per-step `[B, N]`
    /// values, so a recurrent layer stacked on top reads the steps without slicing.
    pub(super) sequences: std::collections::HashMap<ValueId, Vec<ValueId>>,
}

impl<'m> Lowering<'m> {
    pub fn new(model: &'m Model, opts: &LowerOptions) -> Lowering<'m> {
        Lowering {
            graph: Graph::new(),
            model,
            opts: *opts,
            step: None,
            layers: Vec::new(),
            params: Vec::new(),
            state_updates: Vec::new(),
            dropout_streams: 0,
            sequences: std::collections::HashMap::new(),
        }
    }

    pub fn finish(self, output: ValueId, loss: ValueId) -> Forward {
        Forward {
            graph: self.graph,
            output,
            loss,
            layers: self.layers,
            params: self.params,
            state_updates: self.state_updates,
        }
    }

    /// The loss reads the last layer's logits, not its output: probe ∂L/∂z there instead,
    /// since ∂L/∂a is zero off the loss's path.
    pub fn set_last_gradient_point(&mut self, logits: ValueId) {
        if let Some(last) = self.layers.last_mut() {
            last.grad_at = logits;
        }
    }

    pub fn params(&self) -> &[ParamSpec] {
        &self.params
    }

    /// Lowers a sequence of layers. `top_level` marks the model's own list, whose last layer
    /// may hand its logits to the loss.
    pub fn lower_layers(&mut self, layers: &[Layer], mut h: ValueId, top_level: bool) -> Top {
        let mut top = Top {
            value: h,
            logits: None,
        };
        for (i, layer) in layers.iter().enumerate() {
            top = self.lower_layer(layer, h);
            h = top.value;
            if !(top_level && i + 1 == layers.len()) {
                top.logits = None;
            }
        }
        top
    }

    fn lower_layer(&mut self, layer: &Layer, h: ValueId) -> Top {
        self.graph.set_origin(Some(layer.span), Some(&layer.name));
        let mut weight = None;
        let mut bias = None;
        let mut hidden = Vec::new();
        let mut gates = Vec::new();
        let (value, logits, act) = match &layer.kind {
            LayerKind::Dense {
                units,
                bias: has_bias,
                act,
                init,
                bias_init,
            } => {
                let (z, w, b) = self.dense(layer, h, *units, *has_bias, *init, *bias_init);
                weight = Some(w);
                bias = b;
                let slope = self.prelu_slope(layer, *act);
                let a = act::apply(&mut self.graph, *act, z, slope);
                (a, fusable(*act).then_some((z, *act)), Some(*act))
            }
            LayerKind::Conv2d(conv) => {
                let (z, w, b) = self.conv2d(layer, h, conv);
                weight = Some(w);
                bias = b;
                let slope = self.prelu_slope(layer, conv.act);
                let a = act::apply(&mut self.graph, conv.act, z, slope);
                (
                    a,
                    fusable(conv.act).then_some((z, conv.act)),
                    Some(conv.act),
                )
            }
            LayerKind::Pool2d(pool) => (self.pool2d(h, pool), None, None),
            LayerKind::GlobalAvgPool => (self.global_avgpool(h), None, None),
            LayerKind::Flatten => (self.flatten(h), None, None),
            LayerKind::Activation(a) => {
                let slope = self.prelu_slope(layer, *a);
                let out = act::apply(&mut self.graph, *a, h, slope);
                (out, fusable(*a).then_some((h, *a)), Some(*a))
            }
            LayerKind::BatchNorm { momentum, eps } => {
                (self.batchnorm(layer, h, *momentum, *eps), None, None)
            }
            LayerKind::LayerNorm { eps, affine } => {
                (self.layernorm(layer, h, *eps, *affine), None, None)
            }
            LayerKind::Dropout { p } => (self.dropout(h, *p), None, None),
            LayerKind::Residual { body, projection } => {
                let inner = self.lower_layers(body, h, false);
                self.graph.set_origin(Some(layer.span), Some(&layer.name));
                let skip = match projection {
                    Some(init) if layer.in_shape.len() == 3 => {
                        let filters = layer.out_shape.last().copied().unwrap_or(1);
                        let (z, w) = self.projection_1x1(layer, h, filters, *init);
                        weight = Some(w);
                        z
                    }
                    Some(init) => {
                        let units = layer.out_shape.last().copied().unwrap_or(1);
                        let (z, w, _) = self.dense(layer, h, units, false, *init, Init::Zeros);
                        weight = Some(w);
                        z
                    }
                    None => h,
                };
                (self.graph.add(inner.value, skip), None, None)
            }
            LayerKind::Recurrent(r) => {
                let unrolled = self.recurrent(layer, h, r);
                weight = Some(unrolled.weight);
                bias = unrolled.bias;
                hidden = unrolled.hidden;
                gates = unrolled.gates;
                let act = match r.cell {
                    Cell::Rnn { act } => Some(act),
                    Cell::Lstm { .. } | Cell::Gru => None,
                };
                (unrolled.output, None, act)
            }
        };
        self.layers.push(LayerValues {
            name: layer.name.clone(),
            span: layer.span,
            output: value,
            grad_at: value,
            act,
            weight,
            bias,
            hidden,
            gates,
        });
        Top { value, logits }
    }

    /// z = x·Wᵀ + b, with W `[units, in]` (PyTorch's layout). Inputs with more than one
    /// feature axis are flattened first.
    fn dense(
        &mut self,
        layer: &Layer,
        h: ValueId,
        units: usize,
        has_bias: bool,
        init: Init,
        bias_init: Init,
    ) -> (ValueId, String, Option<String>) {
        let shape = self.graph.shape(h).to_vec();
        // Over a sequence [B, T, d] the layer applies to every step: rows are B·T.
        let per_step = shape.len() == 3;
        let (rows, fan_in) = if per_step {
            (shape[0] * shape[1], shape[2])
        } else {
            (shape[0], shape[1..].iter().product())
        };
        let h = self.graph.reshape(h, vec![rows, fan_in]);
        let w_name = format!("{}.weight", layer.name);
        let w = self.new_param(
            &w_name,
            vec![units, fan_in],
            init,
            fan_in,
            units,
            ParamKind::Weight,
            layer,
        );
        let mut z = self.graph.matmul(h, w, false, true);
        let mut b_name = None;
        if has_bias {
            let name = format!("{}.bias", layer.name);
            let b = self.new_param(
                &name,
                vec![units],
                bias_init,
                fan_in,
                units,
                ParamKind::Bias,
                layer,
            );
            z = self.graph.add(z, b);
            b_name = Some(name);
        }
        if per_step {
            z = self.graph.reshape(z, vec![shape[0], shape[1], units]);
        }
        (z, w_name, b_name)
    }

    fn prelu_slope(&mut self, layer: &Layer, act: Activation) -> Option<ValueId> {
        let Activation::Prelu { init } = act else {
            return None;
        };
        let units = layer.out_shape.last().copied().unwrap_or(1);
        let name = format!("{}.slope", layer.name);
        Some(self.new_param(
            &name,
            vec![units],
            Init::Constant(init),
            units,
            units,
            ParamKind::Affine,
            layer,
        ))
    }

    /// Normalizes over the batch axis with batch statistics in training (and updates the
    /// running statistics PyTorch's way: running ← (1 − m)·running + m·batch, with the unbiased
    /// variance), or with the running statistics in evaluation. Over images `[B, H, W, C]`
    /// the statistics are per channel over B, H and W, as BatchNorm2d's.
    fn batchnorm(&mut self, layer: &Layer, h: ValueId, momentum: f64, eps: f64) -> ValueId {
        let shape = self.graph.shape(h).to_vec();
        let axes: &[usize] = if shape.len() == 4 { &[0, 1, 2] } else { &[0] };
        let features = shape[axes.len()..].to_vec();
        let n: usize = shape[..axes.len()].iter().product();
        let [gamma, beta] = self.affine(layer, &features);
        let mean_name = format!("{}.running_mean", layer.name);
        let var_name = format!("{}.running_var", layer.name);
        let running_mean = self.new_param(
            &mean_name,
            features.clone(),
            Init::Zeros,
            1,
            1,
            ParamKind::Running,
            layer,
        );
        let running_var = self.new_param(
            &var_name,
            features.clone(),
            Init::Constant(1.0),
            1,
            1,
            ParamKind::Running,
            layer,
        );
        let g = &mut self.graph;
        let (mean, var) = match self.opts.mode {
            Mode::Train => {
                let mean = g.reduce(ReduceOp::Mean, h, axes, false);
                let centered = g.sub(h, mean);
                let sq = g.unary(UnaryOp::Square, centered);
                let var = g.reduce(ReduceOp::Mean, sq, axes, false);
                let unbiased = g.scale(var, n as f64 / (n.max(2) - 1) as f64);
                let new_mean = blend(g, running_mean, mean, momentum);
                let new_var = blend(g, running_var, unbiased, momentum);
                self.state_updates.push((mean_name, new_mean));
                self.state_updates.push((var_name, new_var));
                (mean, var)
            }
            Mode::Eval => (running_mean, running_var),
        };
        let g = &mut self.graph;
        let centered = g.sub(h, mean);
        let var_eps = g.offset(var, eps);
        let inv_std = g.unary(UnaryOp::Rsqrt, var_eps);
        let normed = g.mul(centered, inv_std);
        let scaled = g.mul(normed, gamma);
        g.add(scaled, beta)
    }

    /// Normalizes each example over its last axis.
    fn layernorm(&mut self, layer: &Layer, h: ValueId, eps: f64, affine: bool) -> ValueId {
        let shape = self.graph.shape(h).to_vec();
        let last = shape.len() - 1;
        let affine = affine.then(|| self.affine(layer, &shape[last..]));
        let g = &mut self.graph;
        let mean = g.reduce(ReduceOp::Mean, h, &[last], true);
        let centered = g.sub(h, mean);
        let sq = g.unary(UnaryOp::Square, centered);
        let var = g.reduce(ReduceOp::Mean, sq, &[last], true);
        let var_eps = g.offset(var, eps);
        let inv_std = g.unary(UnaryOp::Rsqrt, var_eps);
        let normed = g.mul(centered, inv_std);
        match affine {
            Some([gamma, beta]) => {
                let scaled = g.mul(normed, gamma);
                g.add(scaled, beta)
            }
            None => normed,
        }
    }

    /// Inverted dropout in training; the identity in evaluation.
    fn dropout(&mut self, h: ValueId, p: f64) -> ValueId {
        let stream = self.dropout_streams;
        self.dropout_streams += 1;
        let (Mode::Train, true, Some(step)) = (self.opts.mode, self.opts.dropout, self.step) else {
            return h;
        };
        if p == 0.0 {
            return h;
        }
        let shape = self.graph.shape(h).to_vec();
        let mask = self
            .graph
            .random_mask(p, self.model.train.seed, stream, step, shape);
        self.graph.mul(h, mask)
    }

    /// A norm layer's scale (ones) and shift (zeros).
    fn affine(&mut self, layer: &Layer, shape: &[usize]) -> [ValueId; 2] {
        let n = shape.iter().product();
        let gamma = self.new_param(
            &format!("{}.weight", layer.name),
            shape.to_vec(),
            Init::Constant(1.0),
            n,
            n,
            ParamKind::Affine,
            layer,
        );
        let beta = self.new_param(
            &format!("{}.bias", layer.name),
            shape.to_vec(),
            Init::Zeros,
            n,
            n,
            ParamKind::Affine,
            layer,
        );
        [gamma, beta]
    }

    /// Gives the parameter added last its initialization extras.
    pub(super) fn set_extras(&mut self, extras: InitExtras) {
        if let Some(last) = self.params.last_mut() {
            last.extras = extras;
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn new_param(
        &mut self,
        name: &str,
        shape: Vec<usize>,
        init: Init,
        fan_in: usize,
        fan_out: usize,
        kind: ParamKind,
        layer: &Layer,
    ) -> ValueId {
        let value = self.graph.param(name, shape.clone());
        self.params.push(ParamSpec {
            name: name.to_owned(),
            shape,
            init,
            fan_in,
            fan_out,
            kind,
            layer: layer.name.clone(),
            value,
            extras: InitExtras::default(),
        });
        value
    }
}

/// (1 − m)·old + m·new.
fn blend(g: &mut Graph, old: ValueId, new: ValueId, m: f64) -> ValueId {
    let a = g.scale(old, 1.0 - m);
    let b = g.scale(new, m);
    g.add(a, b)
}

/// Activations whose loss can be computed from the logits in a fused, stable form.
fn fusable(act: Activation) -> bool {
    matches!(act, Activation::Softmax | Activation::Sigmoid)
}
