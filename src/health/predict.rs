//! Prediction before training: mean-field variance propagation over the checked model.
//!
//! Forward, each layer's pre-activation variance q follows from the init's second moment
//! σ_w², the fan-in and the second moment of the layer's input (q = σ_w²·fan_in·E[a²] + σ_b²).
//! Backward, the squared norm of the back-propagated gradient ‖∂L/∂a‖² is multiplied at each
//! dense layer by its gain χ = σ_w²·fan_in·E[φ'(z)²], z ~ N(0, q), the expectations estimated
//! by sampling (see [`super::moments`]). Norm layers divide by the variance they remove, dropout
//! multiplies by 1/(1−p), and a residual adds its body's gain to the skip path's
//! (χ = χ_skip + Π χ_body). The product of the gains from the output down to a layer predicts
//! how much smaller (or larger) its gradient is than the last layer's; see
//! docs/gradient-health.md.

use super::moments::{init_second_moment, Gaussian};
use crate::model::{Activation, Init, Layer, LayerKind, Loss, Model};
use crate::span::Span;
use serde::Serialize;

/// Predicted gradients that fall below 1/100 of the last layer's are vanishing.
pub const VANISHING_FACTOR: f64 = 1e-2;
/// Predicted gradients that grow above 100 times the last layer's are exploding.
pub const EXPLODING_FACTOR: f64 = 1e2;
/// A layer whose own norm gain √χ is below this takes part in a vanishing trend.
pub const SHRINKING_GAIN: f64 = 0.8;
/// A layer whose own norm gain √χ is above this takes part in an exploding trend.
pub const GROWING_GAIN: f64 = 1.25;

/// What variance propagation predicts for one layer (in the order the probes record them:
/// a residual's body layers before the residual itself).
#[derive(Debug, Clone, Serialize)]
pub struct LayerPrediction {
    pub name: String,
    pub span: Span,
    /// Variance of the pre-activation a dense layer feeds its activation, if it has one.
    pub pre_var: Option<f64>,
    /// E[a] and E[a²] of the layer's output units.
    pub out_mean: f64,
    pub out_second: f64,
    /// Gain of ‖∂L/∂a‖² from this layer's output (probe point) to its input.
    pub chi: f64,
    /// Predicted ‖∂L/∂a‖ at this layer's probe point, relative to the last layer's (= 1).
    pub grad_a: f64,
}

/// Which way the predicted gradient goes from the output toward the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Trend {
    Healthy,
    Vanishing,
    Exploding,
}

/// The prediction for a whole model.
#[derive(Debug, Clone, Serialize)]
pub struct Prediction {
    pub layers: Vec<LayerPrediction>,
    pub trend: Trend,
    /// ‖∂L/∂a‖ at the first layer relative to the last layer's.
    pub factor: f64,
    /// The layers whose own gains √χ make the trend (indices into `layers`).
    pub involved: Vec<usize>,
    /// How many top-level layers lie above the first: the ones whose gains √χ multiply into
    /// the first layer's ‖∂L/∂a‖ (`factor` is their product).
    pub above: usize,
    /// Geometric mean of those gains: `gain_per_layer ^ above = factor`, so the two numbers
    /// printed side by side follow from each other.
    pub gain_per_layer: f64,
}

impl Prediction {
    /// "dense1–dense10" for the involved layers (empty when none).
    pub fn involved_range(&self) -> String {
        match (self.involved.first(), self.involved.last()) {
            (Some(&a), Some(&b)) if a == b => self.layers[a].name.clone(),
            (Some(&a), Some(&b)) => format!("{}–{}", self.layers[a].name, self.layers[b].name),
            _ => String::new(),
        }
    }
}

/// Predicts the depth profile of the back-propagated gradient of `model` at initialization,
/// for inputs with zero mean and unit variance.
pub fn predict(model: &Model) -> Prediction {
    let gaussian = Gaussian::new();
    let mut walk = Walk {
        gaussian: &gaussian,
        layers: Vec::new(),
        fused_last: fused_last(model),
    };
    let input = Signal {
        mean: 0.0,
        second: 1.0,
    };
    let tree = walk.forward(&model.layers, input, true);
    backward(&tree, &mut walk.layers, 1.0);
    let layers = walk.layers;
    conclude(layers, tree.len().saturating_sub(1))
}

/// The mean and second moment of a layer's output units.
#[derive(Debug, Clone, Copy)]
struct Signal {
    mean: f64,
    second: f64,
}

/// What a layer does to the signal going forward and the gradient going back.
struct Through {
    chi: f64,
    out: Signal,
    pre_var: Option<f64>,
    /// Gain of the skip path and the body (residual layers only).
    skip: f64,
    body: Vec<Node>,
}

impl Through {
    fn simple(chi: f64, out: Signal) -> Through {
        Through {
            chi,
            out,
            pre_var: None,
            skip: 0.0,
            body: Vec::new(),
        }
    }
}

/// A layer's place in `Walk::layers`, with its residual body.
struct Node {
    index: usize,
    /// Gain of the skip path (residual layers only).
    skip: f64,
    body: Vec<Node>,
}

struct Walk<'g> {
    gaussian: &'g Gaussian,
    layers: Vec<LayerPrediction>,
    /// The name of the last layer when its softmax/sigmoid is fused into the loss (its
    /// gradient is probed at the logits, so its own slope does not count).
    fused_last: Option<String>,
}

impl Walk<'_> {
    fn forward(&mut self, layers: &[Layer], mut signal: Signal, top_level: bool) -> Vec<Node> {
        let mut nodes = Vec::new();
        for (i, layer) in layers.iter().enumerate() {
            let is_fused = top_level
                && i + 1 == layers.len()
                && self.fused_last.as_deref() == Some(layer.name.as_str());
            let (node, out) = self.layer(layer, signal, is_fused);
            nodes.push(node);
            signal = out;
        }
        nodes
    }

    fn layer(&mut self, layer: &Layer, input: Signal, fused: bool) -> (Node, Signal) {
        let width = layer.out_shape.iter().product::<usize>().max(1);
        let fan_in = layer.in_shape.iter().product::<usize>().max(1);
        let through = match &layer.kind {
            LayerKind::Dense {
                units,
                bias,
                act,
                init,
                bias_init,
            } => {
                let w2 = init_second_moment(init, fan_in, *units);
                let b2 = if *bias {
                    init_second_moment(bias_init, fan_in, *units)
                } else {
                    0.0
                };
                let q = w2 * fan_in as f64 * input.second + b2;
                let mut t = self.activation(*act, q, width, fused);
                t.chi *= w2 * fan_in as f64;
                t.pre_var = Some(q);
                t
            }
            LayerKind::Activation(act) => self.activation(*act, input.second, width, fused),
            LayerKind::Conv2d(conv) => {
                // As a dense layer whose fans are PyTorch's conv fans.
                let channels = layer.in_shape.last().copied().unwrap_or(1);
                let (fan_in, fan_out) = conv.fans(channels);
                let w2 = init_second_moment(&conv.init, fan_in, fan_out);
                let b2 = if conv.bias {
                    init_second_moment(&conv.bias_init, fan_in, fan_out)
                } else {
                    0.0
                };
                let q = w2 * fan_in as f64 * input.second + b2;
                let mut t = self.activation(conv.act, q, width, fused);
                t.chi *= w2 * fan_in as f64;
                t.pre_var = Some(q);
                t
            }
            // Taken as gain 1: they move no parameters and keep the signal's scale roughly.
            LayerKind::Pool2d(_) | LayerKind::GlobalAvgPool | LayerKind::Flatten => {
                Through::simple(1.0, input)
            }
            LayerKind::Recurrent(r) => {
                // Across depth a recurrent layer maps its input through `weight_ih` and ends
                // in its cell's squashing; its behaviour through time is predicted apart
                // (`health::spectral::predict`).
                let w2 = init_second_moment(&r.init, fan_in, r.units);
                let q = w2 * fan_in as f64 * input.second;
                let act = match r.cell {
                    crate::model::Cell::Rnn { act } => act,
                    crate::model::Cell::Lstm { .. } | crate::model::Cell::Gru => Activation::Tanh,
                };
                let mut t = self.activation(act, q, width, false);
                t.chi *= w2 * fan_in as f64;
                t.pre_var = Some(q);
                t
            }
            LayerKind::BatchNorm { eps, .. } | LayerKind::LayerNorm { eps, .. } => {
                let var = (input.second - input.mean * input.mean).max(0.0);
                Through::simple(
                    1.0 / (var + eps),
                    Signal {
                        mean: 0.0,
                        second: 1.0,
                    },
                )
            }
            LayerKind::Dropout { p } => {
                let keep = (1.0 - p).max(1e-6);
                Through::simple(
                    1.0 / keep,
                    Signal {
                        mean: input.mean,
                        second: input.second / keep,
                    },
                )
            }
            LayerKind::Residual { body, projection } => {
                self.residual(body, *projection, input, fan_in, width)
            }
        };
        let index = self.layers.len();
        self.layers.push(LayerPrediction {
            name: layer.name.clone(),
            span: layer.span,
            pre_var: through.pre_var,
            out_mean: through.out.mean,
            out_second: through.out.second,
            chi: through.chi,
            grad_a: f64::NAN,
        });
        (
            Node {
                index,
                skip: through.skip,
                body: through.body,
            },
            through.out,
        )
    }

    /// φ applied to z ~ N(0, q): the output moments and the gain E[φ'²] (1 when the loss
    /// fuses φ and the gradient is probed before it).
    fn activation(&self, act: Activation, q: f64, width: usize, fused: bool) -> Through {
        let m = self.gaussian.moments(act, q, width);
        let chi = if fused { 1.0 } else { m.slope_sq };
        Through::simple(
            chi,
            Signal {
                mean: m.mean,
                second: m.second,
            },
        )
    }

    /// body(x) + skip(x): the body walked on its own, the skip's gain, the summed moments
    /// (χ is set by the backward walk).
    fn residual(
        &mut self,
        inner: &[Layer],
        projection: Option<Init>,
        input: Signal,
        fan_in: usize,
        width: usize,
    ) -> Through {
        let body = self.forward(inner, input, false);
        let out = body.last().map_or(input, |n| Signal {
            mean: self.layers[n.index].out_mean,
            second: self.layers[n.index].out_second,
        });
        let skip = projection.map_or(1.0, |init| {
            init_second_moment(&init, fan_in, width) * fan_in as f64
        });
        let (mean, second) = match projection {
            // a random projection has zero mean and is independent of the body
            Some(_) => (out.mean, out.second + skip * input.second),
            None => (
                out.mean + input.mean,
                out.second + input.second + 2.0 * out.mean * input.mean,
            ),
        };
        Through {
            chi: f64::NAN,
            out: Signal { mean, second },
            pre_var: None,
            skip,
            body,
        }
    }
}

/// Walks from the output down, setting each layer's predicted ‖∂L/∂a‖² (relative) and the
/// residuals' χ; returns the squared gradient norm at the input of `nodes`.
fn backward(nodes: &[Node], layers: &mut [LayerPrediction], mut g_sq: f64) -> f64 {
    for node in nodes.iter().rev() {
        layers[node.index].grad_a = g_sq;
        if node.body.is_empty() && layers[node.index].chi.is_finite() {
            g_sq *= layers[node.index].chi;
        } else {
            let through_body = backward(&node.body, layers, g_sq);
            let g_in = g_sq * node.skip + through_body;
            layers[node.index].chi = if g_sq > 0.0 { g_in / g_sq } else { 1.0 };
            g_sq = g_in;
        }
    }
    g_sq
}

/// The name of the last layer if the loss fuses its softmax or sigmoid.
pub fn fused_last(model: &Model) -> Option<String> {
    let last = model.layers.last()?;
    let act = match &last.kind {
        LayerKind::Dense { act, .. } | LayerKind::Activation(act) => *act,
        LayerKind::Conv2d(conv) => conv.act,
        LayerKind::Pool2d(_) | LayerKind::GlobalAvgPool | LayerKind::Flatten => return None,
        LayerKind::BatchNorm { .. }
        | LayerKind::LayerNorm { .. }
        | LayerKind::Dropout { .. }
        | LayerKind::Recurrent(_)
        | LayerKind::Residual { .. } => return None,
    };
    let fuses = matches!(
        (model.train.loss, act),
        (Loss::CrossEntropy, Activation::Softmax) | (Loss::BinaryCrossEntropy, Activation::Sigmoid)
    );
    fuses.then(|| last.name.clone())
}

/// Turns squared relative norms into norms and finds the trend and the layers that make it.
fn conclude(mut layers: Vec<LayerPrediction>, above: usize) -> Prediction {
    for l in &mut layers {
        l.grad_a = l.grad_a.max(0.0).sqrt();
    }
    let factor = layers.first().map_or(1.0, |l| l.grad_a);
    let trend = if factor < VANISHING_FACTOR {
        Trend::Vanishing
    } else if factor > EXPLODING_FACTOR {
        Trend::Exploding
    } else {
        Trend::Healthy
    };
    let involved: Vec<usize> = (0..layers.len())
        .filter(|&i| {
            let gain = layers[i].chi.sqrt();
            match trend {
                Trend::Vanishing => gain < SHRINKING_GAIN,
                Trend::Exploding => gain > GROWING_GAIN,
                Trend::Healthy => false,
            }
        })
        .collect();
    let gain_per_layer = if above == 0 {
        1.0
    } else {
        factor.powf(1.0 / above as f64)
    };
    Prediction {
        layers,
        trend,
        factor,
        involved,
        above,
        gain_per_layer,
    }
}
