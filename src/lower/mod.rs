//! Lowering: a checked [`Model`] becomes one IR [`Graph`] for a batch — the forward pass, the
//! loss, and the bookkeeping later stages need (every parameter with its init, every layer's
//! output value for the probes).
//!
//! Data enters as inputs `x` `[B, in...]`, `y` `[B, k]` (one-hot classes, 0/1, or regression
//! targets), `mask` `[B]` (1 for real rows, 0 for the padding of a last partial batch) and the
//! scalar `step` (the counter behind dropout masks). Parameters follow PyTorch's names and
//! layouts (`dense1.weight` is `[out, in]`).

mod act;
pub mod conv;
mod image;
mod layers;
mod loss;
mod recurrent;

pub use act::{log_softmax, softmax};

use crate::ir::{Graph, ValueId};
use crate::model::{Activation, Init, Model};
use crate::span::Span;

/// Training (batch statistics, dropout on) or evaluation (running statistics, dropout off).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Train,
    Eval,
}

/// Lowering choices beyond the mode.
#[derive(Debug, Clone, Copy)]
pub struct LowerOptions {
    pub mode: Mode,
    pub batch: usize,
    /// Dropout layers are identities when false (gradient checking needs a deterministic loss).
    pub dropout: bool,
    /// Add the L2 penalty λ/2·Σ‖W‖² to the loss.
    pub l2: bool,
}

impl LowerOptions {
    pub fn train(batch: usize) -> LowerOptions {
        LowerOptions {
            mode: Mode::Train,
            batch,
            dropout: true,
            l2: true,
        }
    }

    pub fn eval(batch: usize) -> LowerOptions {
        LowerOptions {
            mode: Mode::Eval,
            batch,
            dropout: false,
            l2: false,
        }
    }
}

/// What a parameter is, which decides how the optimizer and the L2 penalty treat it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    /// A dense or projection weight matrix: trained, penalised by L2.
    Weight,
    /// A bias: trained, not penalised.
    Bias,
    /// A norm layer's scale or shift, or PReLU's slope: trained, not penalised.
    Affine,
    /// Running statistics: updated by the step, never by the optimizer.
    Running,
}

impl ParamKind {
    pub fn trainable(self) -> bool {
        self != ParamKind::Running
    }
}

/// One persistent tensor the model owns.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamSpec {
    pub name: String,
    pub shape: Vec<usize>,
    pub init: Init,
    pub fan_in: usize,
    pub fan_out: usize,
    pub kind: ParamKind,
    /// The layer that owns it.
    pub layer: String,
    /// Its leaf in the lowered graph.
    pub value: ValueId,
    /// Steps applied after the initializer (recurrent weights and biases).
    pub extras: InitExtras,
}

/// Initialization beyond the [`Init`] itself, for recurrent layers' tensors.
#[derive(Debug, Clone, PartialEq)]
pub struct InitExtras {
    /// The tensor stacks this many row blocks (a recurrent weight's gates), each initialised
    /// on its own: an orthogonal `weight_hh` of an LSTM is four orthogonal `[N, N]` blocks.
    pub blocks: usize,
    /// Rescale each block so its largest singular value (power iteration) is this.
    pub radius: Option<f64>,
    /// Overwrite these elements with a value (the LSTM forget gate's bias).
    pub fill: Option<(std::ops::Range<usize>, f64)>,
}

impl Default for InitExtras {
    fn default() -> InitExtras {
        InitExtras {
            blocks: 1,
            radius: None,
            fill: None,
        }
    }
}

/// A recurrent gate's activation at every step, `[B, T·N]`, for its saturation probe.
#[derive(Debug, Clone, PartialEq)]
pub struct GateValues {
    /// `i`, `f`, `g`, `o` (lstm), `r`, `z`, `n` (gru), `h` (rnn).
    pub gate: String,
    pub value: ValueId,
    pub act: Activation,
}

/// The values of one layer that probes look at.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerValues {
    pub name: String,
    pub span: Span,
    /// The layer's output a (after its activation).
    pub output: ValueId,
    /// Where the back-propagated gradient is probed: the output, except for a last layer
    /// whose softmax or sigmoid is fused into the loss, where it is the logits z.
    pub grad_at: ValueId,
    /// The activation applied last, which decides what "saturated" or "dead" means.
    pub act: Option<Activation>,
    /// The layer's weight and bias parameter names, if it has them.
    pub weight: Option<String>,
    pub bias: Option<String>,
    /// A recurrent layer's hidden state h_t at every step (empty for other layers): the
    /// probes take ‖∂L/∂h_t‖ at each.
    pub hidden: Vec<ValueId>,
    /// A recurrent layer's gates (empty for other layers).
    pub gates: Vec<GateValues>,
}

/// The lowered forward pass and loss.
#[derive(Debug, Clone)]
pub struct Forward {
    pub graph: Graph,
    /// The model's output (probabilities after a final softmax/sigmoid).
    pub output: ValueId,
    /// The scalar loss (masked mean over the batch, plus L2 when asked).
    pub loss: ValueId,
    pub layers: Vec<LayerValues>,
    pub params: Vec<ParamSpec>,
    /// New values of running statistics (train mode): (parameter name, value).
    pub state_updates: Vec<(String, ValueId)>,
}

/// Names of the inputs every lowered program reads.
pub const INPUT_X: &str = "x";
pub const INPUT_Y: &str = "y";
pub const INPUT_MASK: &str = "mask";
pub const INPUT_STEP: &str = "step";

/// Lowers a checked model to its forward pass and loss for one batch.
pub fn lower(model: &Model, opts: &LowerOptions) -> Forward {
    let mut cx = layers::Lowering::new(model, opts);
    let g = &mut cx.graph;
    let b = opts.batch;
    let mut x_shape = vec![b];
    x_shape.extend(model.input.kind.shape());
    g.set_origin(Some(model.input.span), None);
    let x = g.input(INPUT_X, x_shape);
    let k = model.output_shape.iter().product();
    let y = g.input(INPUT_Y, vec![b, k]);
    let mask = g.input(INPUT_MASK, vec![b]);
    let step = g.input(INPUT_STEP, vec![]);
    cx.step = Some(step);

    let top = cx.lower_layers(&model.layers, x, true);
    let (output, loss) = loss::lower_loss(&mut cx, model, top, y, mask);
    cx.finish(output, loss)
}
