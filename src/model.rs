//! The checked model: what `sema` produces from a `.net` file and `lower` consumes.
//!
//! Everything here is resolved: blocks are inlined, `repeat` is expanded, every layer has its
//! final name and its input and output shapes, every default is filled in. Spans point back to
//! the `.net` construct each item came from, so run-time findings can name a line.

mod image;

pub use image::{Conv2d, Padding, Pool2d, PoolOp};

use crate::span::Span;
use serde::{Deserialize, Serialize};

/// A whole checked `.net` file: one model and how to train it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    pub name: String,
    pub span: Span,
    pub input: Input,
    /// The layers in order; `residual` layers nest theirs.
    pub layers: Vec<Layer>,
    /// Shape of one example's output (no batch axis).
    pub output_shape: Vec<usize>,
    pub train: TrainConfig,
}

/// The model's input. Shapes never include the batch axis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Input {
    pub name: String,
    pub kind: InputKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum InputKind {
    /// `input x: [64]`: a feature vector (or any static shape).
    Tensor { shape: Vec<usize> },
    /// `input x: seq(T, d)`: a sequence of `steps` vectors of width `dim` (recurrent nets).
    Seq { steps: usize, dim: usize },
}

impl InputKind {
    /// Shape of one example: `[d...]` or `[T, d]`.
    pub fn shape(&self) -> Vec<usize> {
        match self {
            InputKind::Tensor { shape } => shape.clone(),
            InputKind::Seq { steps, dim } => vec![*steps, *dim],
        }
    }
}

/// One resolved layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Layer {
    /// Unique name: the user's `as name`, or the documented default (`dense1`, `relu2`, ...).
    pub name: String,
    pub kind: LayerKind,
    /// The construct in the source (for an expanded `repeat` or block, the layer's own line).
    pub span: Span,
    /// Shape of one example going in and coming out (no batch axis).
    pub in_shape: Vec<usize>,
    pub out_shape: Vec<usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum LayerKind {
    /// `dense N`: y = act(x·Wᵀ + b) with W of shape [N, in] (PyTorch's layout).
    Dense {
        units: usize,
        bias: bool,
        act: Activation,
        init: Init,
        bias_init: Init,
    },
    /// A standalone activation layer.
    Activation(Activation),
    /// Batch normalization over the batch axis, with learned scale and shift.
    BatchNorm { momentum: f64, eps: f64 },
    /// Layer normalization over the feature axis, with learned scale and shift when `affine`.
    LayerNorm { eps: f64, affine: bool },
    /// Inverted dropout: zero each unit with probability `p` in training, identity in eval.
    Dropout { p: f64 },
    /// y = body(x) + skip(x); skip is the identity, or a dense projection (no activation) when
    /// the shapes differ and one was asked for.
    Residual {
        body: Vec<Layer>,
        projection: Option<Init>,
    },
    /// `conv2d F` over a channels-last `[H, W, C]` image: y = act(conv(x, W) + b) with W of
    /// shape `[F, C, KH, KW]` and b `[F]` (PyTorch's `nn.Conv2d` layout), output `[OH, OW, F]`.
    Conv2d(Conv2d),
    /// `maxpool K` or `avgpool K` over each channel of an `[H, W, C]` image; no parameters.
    Pool2d(Pool2d),
    /// `global_avgpool`: the mean over H and W of each channel, `[H, W, C]` → `[C]`.
    GlobalAvgPool,
    /// `flatten`: `[H, W, C]` → `[H·W·C]`, row-major (channels fastest), no parameters.
    Flatten,
    /// `rnn N`, `lstm N`, `gru N` over a `[T, d]` sequence, unrolled through time. Parameters
    /// follow PyTorch: `weight_ih` `[G·N, d]`, `weight_hh` `[G·N, N]`, `bias_ih`, `bias_hh`
    /// `[G·N]`, G = 1 (rnn), 4 (lstm, gates i, f, g, o) or 3 (gru, gates r, z, n).
    Recurrent(Recurrent),
}

/// A recurrent layer's settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Recurrent {
    pub cell: Cell,
    pub units: usize,
    pub bias: bool,
    /// Init of the input weights `weight_ih`.
    pub init: Init,
    /// Init of each gate's `[N, N]` block of the recurrent weights `weight_hh`.
    pub init_rec: Init,
    /// Rescale each recurrent block after init so its largest singular value is this.
    pub radius: Option<f64>,
    pub returns: Returns,
}

/// The recurrent cell.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Cell {
    /// h' = act(W_ih·x + b_ih + W_hh·h + b_hh).
    Rnn { act: Activation },
    /// PyTorch's LSTM; `forget_bias` initialises the forget gate's slice of `bias_ih`.
    Lstm { forget_bias: f64 },
    /// PyTorch's GRU (n = tanh(W_in·x + b_in + r ⊙ (W_hn·h + b_hn))).
    Gru,
}

impl Cell {
    /// Gate blocks stacked in the weights: 1, 4 or 3.
    pub fn gates(&self) -> usize {
        match self {
            Cell::Rnn { .. } => 1,
            Cell::Lstm { .. } => 4,
            Cell::Gru => 3,
        }
    }

    /// The gate names in PyTorch's order (`h` for a plain rnn's single block).
    pub fn gate_names(&self) -> &'static [&'static str] {
        match self {
            Cell::Rnn { .. } => &["h"],
            Cell::Lstm { .. } => &["i", "f", "g", "o"],
            Cell::Gru => &["r", "z", "n"],
        }
    }
}

/// What a recurrent layer outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Returns {
    /// The last hidden state `[N]`.
    Last,
    /// Every hidden state `[T, N]`.
    All,
}

/// Activation functions, as layer attributes (`act = relu`) or standalone layers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Activation {
    Identity,
    Sigmoid,
    Tanh,
    Relu,
    LeakyRelu {
        alpha: f64,
    },
    /// Learned per-unit slope for negative inputs, initialised to `init`.
    Prelu {
        init: f64,
    },
    Elu {
        alpha: f64,
    },
    Selu,
    /// swish/silu: x·sigmoid(x).
    Swish,
    Mish,
    /// The exact (erf) form, as PyTorch's default.
    Gelu,
    Softplus,
    Softsign,
    /// PyTorch's hardswish: x·relu6(x + 3)/6.
    Hardswish,
    /// Over the last axis.
    Softmax,
}

/// Which fan a variance-scaling init uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FanMode {
    FanIn,
    FanOut,
}

/// Weight initializers. Fans follow PyTorch: for a dense W of shape [out, in], fan_in = in,
/// fan_out = out; for a conv W of shape [F, C, KH, KW], fan_in = C·KH·KW, fan_out = F·KH·KW.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Init {
    Zeros,
    Constant(f64),
    Normal {
        mean: f64,
        std: f64,
    },
    Uniform {
        low: f64,
        high: f64,
    },
    /// U(-a, a), a = gain·sqrt(6 / (fan_in + fan_out)).
    XavierUniform {
        gain: f64,
    },
    /// N(0, gain²·2 / (fan_in + fan_out)).
    XavierNormal {
        gain: f64,
    },
    /// U(-b, b), b = sqrt(6 / fan).
    HeUniform {
        mode: FanMode,
    },
    /// N(0, 2 / fan).
    HeNormal {
        mode: FanMode,
    },
    /// N(0, 1 / fan_in).
    LecunNormal,
    /// U(-b, b), b = sqrt(3 / fan_in).
    LecunUniform,
    /// A (semi-)orthogonal matrix scaled by gain.
    Orthogonal {
        gain: f64,
    },
    /// scale·I (recurrent weights).
    Identity {
        scale: f64,
    },
}

/// The `train { ... }` section, every default filled in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub data: DataSource,
    pub loss: Loss,
    pub optimizer: Optimizer,
    pub schedule: Schedule,
    pub clip: Clip,
    /// L2 penalty coefficient λ: the loss gains λ/2·Σ‖W‖² over weights (not biases or norms).
    pub l2: f64,
    pub batch: usize,
    /// Stop after this many epochs, or after `steps` steps, whichever is set (steps wins).
    pub epochs: usize,
    pub steps: Option<usize>,
    pub seed: u64,
    pub probes: ProbeConfig,
    pub on_nonfinite: OnNonFinite,
    /// Write a checkpoint every N steps (and at the end).
    pub checkpoint_every: usize,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum DataSource {
    Csv(CsvSource),
    Synthetic(Synthetic),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CsvSource {
    /// As written; relative paths resolve against the `.net` file's folder.
    pub path: String,
    pub target: String,
    pub scale: Scale,
    /// Fraction of rows used for training; the rest is validation.
    pub split: f64,
    pub test: Option<String>,
    /// Classification (class index or string labels) or regression; `None` = infer.
    pub task: Option<Task>,
    /// Long format for sequences: one row per (sequence, time step); `None` = one row per
    /// example. See docs/data.md.
    pub long: Option<LongFormat>,
}

/// The columns that lay out a long-format sequence file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LongFormat {
    /// The column naming each row's sequence (any text).
    pub sequence: String,
    /// The column holding each row's time step (whole numbers, consecutive per sequence).
    pub time: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Task {
    Classification,
    Regression,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Scale {
    None,
    /// Zero mean, unit variance, statistics from the training split only.
    Standard,
    /// To [0, 1], statistics from the training split only.
    MinMax,
}

/// Built-in synthetic data sets, generated from the training seed. `n` is the number of
/// examples; `split` the training fraction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Synthetic {
    pub kind: SyntheticKind,
    pub n: usize,
    pub noise: f64,
    pub split: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SyntheticKind {
    /// The four-point XOR truth table (repeated to `n`), 2 inputs, 1 binary target.
    Xor,
    /// Two interleaved half circles, 2 inputs, 2 classes.
    Moons,
    /// Two concentric circles (inner radius `factor`), 2 inputs, 2 classes.
    Circles { factor: f64 },
    /// `arms` interleaved spirals, 2 inputs, `arms` classes.
    Spirals { arms: usize },
    /// `centers` gaussian blobs in `dim` dimensions, `centers` classes.
    Blobs { centers: usize, dim: usize },
    /// y = sin(x) on [-π, π], 1 input, 1 regression target.
    Sine,
    /// y = a random polynomial of `degree` on [-1, 1], 1 input, regression.
    Polynomial { degree: usize },
    /// Parity of `bits` random bits (inputs ±1), 2 classes.
    Parity { bits: usize },
    /// Targets from a fixed random tanh net of `depth` layers of `width`: regression in `dim`
    /// inputs, `outputs` targets.
    Teacher {
        dim: usize,
        depth: usize,
        width: usize,
        outputs: usize,
    },
    /// The adding problem: `steps` × 2 inputs (a value in U(0,1), a 0/1 marker on two steps, one
    /// in each half); the target is the sum of the two marked values (regression).
    Adding { steps: usize },
    /// The memory (copy) task: one of `symbols` one-hot symbols at step 0, blanks after; the
    /// class to recall at the end is that symbol. Inputs `steps` × (`symbols` + 1).
    Memory { steps: usize, symbols: usize },
    /// Hochreiter & Schmidhuber's temporal-order task: distractors a–d everywhere but two
    /// steps, which hold X or Y (the first in the first half, the second in the second half);
    /// 4 classes for the order XX, XY, YX, YY. Inputs `steps` × 6 one-hot.
    TemporalOrder { steps: usize },
    /// Next-step prediction on a noisy sine: `steps` values of sin(ω·t + φ) + noise (ω, φ
    /// random per sequence); the target is the clean next value.
    NoisySine { steps: usize },
}

impl SyntheticKind {
    /// Steps per example for the sequence tasks, `None` for the vector sets.
    pub fn steps(&self) -> Option<usize> {
        match *self {
            SyntheticKind::Adding { steps }
            | SyntheticKind::Memory { steps, .. }
            | SyntheticKind::TemporalOrder { steps }
            | SyntheticKind::NoisySine { steps } => Some(steps),
            SyntheticKind::Xor
            | SyntheticKind::Moons
            | SyntheticKind::Circles { .. }
            | SyntheticKind::Spirals { .. }
            | SyntheticKind::Blobs { .. }
            | SyntheticKind::Sine
            | SyntheticKind::Polynomial { .. }
            | SyntheticKind::Parity { .. }
            | SyntheticKind::Teacher { .. } => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Loss {
    Mse,
    /// Softmax cross-entropy on logits over the last axis, targets are class indices; fused
    /// with a final softmax layer if the model has one.
    CrossEntropy,
    /// Sigmoid binary cross-entropy on logits; fused with a final sigmoid if present.
    BinaryCrossEntropy,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Optimizer {
    Sgd {
        lr: f64,
        momentum: f64,
        nesterov: bool,
    },
    RmsProp {
        lr: f64,
        alpha: f64,
        eps: f64,
        momentum: f64,
    },
    AdaGrad {
        lr: f64,
        eps: f64,
    },
    Adam {
        lr: f64,
        beta1: f64,
        beta2: f64,
        eps: f64,
    },
    /// Adam with decoupled weight decay.
    AdamW {
        lr: f64,
        beta1: f64,
        beta2: f64,
        eps: f64,
        weight_decay: f64,
    },
    /// Adam with Nesterov momentum and Dozat's momentum schedule (PyTorch's NAdam);
    /// `weight_decay` is added to the gradient (L2), not decoupled.
    NAdam {
        lr: f64,
        beta1: f64,
        beta2: f64,
        eps: f64,
        momentum_decay: f64,
        weight_decay: f64,
    },
}

impl Optimizer {
    pub fn lr(&self) -> f64 {
        match *self {
            Optimizer::Sgd { lr, .. }
            | Optimizer::RmsProp { lr, .. }
            | Optimizer::AdaGrad { lr, .. }
            | Optimizer::Adam { lr, .. }
            | Optimizer::AdamW { lr, .. }
            | Optimizer::NAdam { lr, .. } => lr,
        }
    }
}

/// Learning-rate schedules: the factor applied to the optimizer's lr at a step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Schedule {
    Constant,
    /// lr·gamma^(step / every).
    Step {
        every: usize,
        gamma: f64,
    },
    /// Cosine decay from lr to lr·min_factor over the run.
    Cosine {
        min_factor: f64,
    },
    /// Linear warm-up over `steps`, then `then`.
    Warmup {
        steps: usize,
        then: Box<Schedule>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Clip {
    None,
    /// Rescale all gradients together when their global L2 norm exceeds the threshold.
    GlobalNorm(f64),
    /// Rescale each layer's gradients when that layer's L2 norm exceeds the threshold.
    LayerNorm(f64),
    /// Clamp every gradient element to [-v, v].
    Value(f64),
}

/// Probe settings: how often per-layer statistics are recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeConfig {
    pub enabled: bool,
    /// Record every N steps.
    pub every: usize,
    /// Keep only the last N recorded steps in the probe files (a ring); `None` keeps them all
    /// (and is left out of config.json, as it was before the ring existed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OnNonFinite {
    Stop,
    SkipStep,
    Continue,
}

/// A layer as the walk over the model meets it: how deep it sits inside residuals (0 at the
/// top level).
#[derive(Debug, Clone, Copy)]
pub struct NestedLayer<'m> {
    pub layer: &'m Layer,
    pub depth: usize,
}

impl Model {
    /// Every layer in the order the probes record them: a residual's body (one level deeper)
    /// before the residual itself. The one walk over the layers: probes, statuses, lints,
    /// tables and the REPL all list layers in this order.
    pub fn layers_in_probe_order(&self) -> Vec<NestedLayer<'_>> {
        fn walk<'m>(layers: &'m [Layer], depth: usize, out: &mut Vec<NestedLayer<'m>>) {
            for layer in layers {
                if let LayerKind::Residual { body, .. } = &layer.kind {
                    walk(body, depth + 1, out);
                }
                out.push(NestedLayer { layer, depth });
            }
        }
        let mut out = Vec::new();
        walk(&self.layers, 0, &mut out);
        out
    }

    /// [`Model::layers_in_probe_order`] without the nesting.
    pub fn flat_layers(&self) -> Vec<&Layer> {
        self.layers_in_probe_order()
            .into_iter()
            .map(|n| n.layer)
            .collect()
    }
}
