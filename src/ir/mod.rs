//! The tensor IR: a typed SSA graph of tensor operations with static shapes.
//!
//! A [`Graph`] is a list of [`Node`]s in topological order; a [`ValueId`] names a node's result.
//! Leaves are batch inputs, parameters (trainable weights and persistent state such as running
//! statistics and optimizer moments) and constants. Every node keeps the source span and the
//! layer it came from, so a NaN or a vanishing gradient found at run time can be reported at a
//! line of the user's `.net` file.
//!
//! Storage is f32; the reference interpreter ([`interp`]) also runs any graph in f64.
//! Elementwise binary ops take operands of equal shape: the builder inserts explicit
//! [`Op::Broadcast`] nodes for numpy-style broadcasting, so later stages never guess.
//!
//! Architecture invariant: this module knows nothing of pest, the AST or the checked model.

use crate::probe::ProbeStat;
use crate::span::Span;
use serde::Serialize;

mod build;
pub use build::broadcast_shape;

mod tensor;
pub use tensor::Tensor;

mod window;
pub use window::Window2d;

pub mod interp;
pub mod passes;
pub mod print;
pub mod verify;

/// The result of one node of a [`Graph`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct ValueId(pub u32);

impl ValueId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl std::fmt::Display for ValueId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "%{}", self.0)
    }
}

/// A static shape; `[]` is a scalar.
pub type Shape = Vec<usize>;

/// Number of elements of a shape.
pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Elementwise functions of one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum UnaryOp {
    /// -x
    Neg,
    /// eˣ
    Exp,
    /// ln x
    Log,
    /// ln(1 + x), accurate for small x
    Log1p,
    /// tanh x
    Tanh,
    /// 1 / (1 + e⁻ˣ)
    Sigmoid,
    /// √x
    Sqrt,
    /// 1 / √x
    Rsqrt,
    /// 1 / x
    Recip,
    /// |x|
    Abs,
    /// x²
    Square,
    /// the error function (exact GELU)
    Erf,
    /// max(x, 0), NaN propagating; the gradient passes where x > 0 (0 at x = 0, as PyTorch)
    Relu,
    /// ln(1 + eˣ), computed as max(x, 0) + ln(1 + e^−|x|); its gradient is σ(x) everywhere,
    /// σ(0) = ½ at the kink of that stable form
    Softplus,
    /// 1.0 where x is NaN or ±∞, else 0.0 (not differentiable: gradient zero)
    IsNonFinite,
}

/// Elementwise functions of two values of equal shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    /// max(a, b), NaN propagating; on a tie each operand gets half the gradient (PyTorch's
    /// `torch.maximum`)
    Max,
    /// min(a, b), NaN propagating; on a tie each operand gets half the gradient (PyTorch's
    /// `torch.minimum`)
    Min,
}

/// Comparisons, giving 1.0 where true and 0.0 where false (never differentiable).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum CmpOp {
    Gt,
    Ge,
    Lt,
    Le,
    Eq,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum ReduceOp {
    Sum,
    Mean,
    /// the gradient is shared evenly by the positions equal to the maximum (PyTorch's `amax`)
    Max,
}

/// The closed set of operations. Adding a variant must break every match that handles ops:
/// no wildcard arms over this enum.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Op {
    /// A batch input supplied each step (features, targets, step counter, learning rate).
    Input {
        name: String,
    },
    /// A persistent tensor: a trainable weight or state (running statistics, optimizer moments).
    Param {
        name: String,
    },
    /// A constant filled with one value, of the node's shape.
    Const {
        value: f64,
    },
    Unary {
        op: UnaryOp,
        x: ValueId,
    },
    Binary {
        op: BinaryOp,
        a: ValueId,
        b: ValueId,
    },
    Compare {
        op: CmpOp,
        a: ValueId,
        b: ValueId,
    },
    /// cond ≠ 0 ? on_true : on_false, all of the node's shape.
    Select {
        cond: ValueId,
        on_true: ValueId,
        on_false: ValueId,
    },
    /// 2-D matrix product op(a)·op(b), op = transpose when the flag is set.
    MatMul {
        a: ValueId,
        b: ValueId,
        trans_a: bool,
        trans_b: bool,
    },
    /// Reduce over `axes` (sorted, unique); kept axes have size 1 when `keep_dims`.
    Reduce {
        op: ReduceOp,
        x: ValueId,
        axes: Vec<usize>,
        keep_dims: bool,
    },
    /// Same elements, the node's shape.
    Reshape {
        x: ValueId,
    },
    /// Axes permuted: output axis i is input axis `perm[i]`.
    Transpose {
        x: ValueId,
        perm: Vec<usize>,
    },
    /// Numpy broadcasting of `x` to the node's shape (x's shape right-aligned, size-1 axes
    /// stretched, missing leading axes added).
    Broadcast {
        x: ValueId,
    },
    /// Elements `start..start + len` along `axis`.
    Slice {
        x: ValueId,
        axis: usize,
        start: usize,
        len: usize,
    },
    /// Concatenation along `axis`.
    Concat {
        xs: Vec<ValueId>,
        axis: usize,
    },
    /// The sliding windows of a channels-last [N, H, W, C] tensor, as [N, OH, OW, KH, KW, C]:
    /// element (n, i, j, p, q, c) is x[n, i·sh + p·dh − top, j·sw + q·dw − left, c], zero where
    /// that falls in the padding (im2col as a tensor).
    Windows {
        x: ValueId,
        win: Window2d,
    },
    /// The transpose of [`Op::Windows`]: each element of `dy` ([N, OH, OW, KH, KW, C]) added
    /// onto the position of x ([N, H, W, C], the node's shape) it was read from; taps in the
    /// padding are dropped (col2im).
    WindowsAdd {
        dy: ValueId,
        win: Window2d,
    },
    /// Inverted-dropout mask of the node's shape: 0 with probability `p`, else 1/(1-p), from
    /// [`mask_uniform`] of (`seed`, `stream`, the scalar `counter` input, element index).
    RandomMask {
        p: f64,
        seed: u64,
        stream: u32,
        counter: ValueId,
    },
}

impl Op {
    /// The operands, in order.
    pub fn operands(&self) -> Vec<ValueId> {
        match self {
            Op::Input { .. } | Op::Param { .. } | Op::Const { .. } => vec![],
            Op::Unary { x, .. }
            | Op::Reduce { x, .. }
            | Op::Reshape { x }
            | Op::Transpose { x, .. }
            | Op::Broadcast { x }
            | Op::Slice { x, .. }
            | Op::Windows { x, .. } => vec![*x],
            Op::WindowsAdd { dy, .. } => vec![*dy],
            Op::Binary { a, b, .. } | Op::Compare { a, b, .. } | Op::MatMul { a, b, .. } => {
                vec![*a, *b]
            }
            Op::Select {
                cond,
                on_true,
                on_false,
            } => vec![*cond, *on_true, *on_false],
            Op::Concat { xs, .. } => xs.clone(),
            Op::RandomMask { counter, .. } => vec![*counter],
        }
    }
}

/// Where a node came from in the user's model.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Origin {
    pub span: Option<Span>,
    /// The layer's name (`dense1`, `hidden`), `None` for the loss, optimizer and glue.
    pub layer: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Node {
    pub op: Op,
    pub shape: Shape,
    pub origin: Origin,
}

/// What an output of a program is for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Role {
    /// The scalar training loss.
    Loss,
    /// A scalar statistic of a layer; the IR carries the statistic as data (its meaning and
    /// name live in [`crate::probe`], a leaf module).
    Probe { layer: String, stat: ProbeStat },
    /// A global scalar statistic (e.g. `grad_norm`, `grad_norm_clipped`).
    Metric,
    /// The new value of the [`Op::Param`] named `param`, written back after the step.
    Update { param: String },
    /// Any other result (logits, predictions, gradients for `netc grad`).
    Value,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Output {
    pub name: String,
    pub value: ValueId,
    pub role: Role,
}

/// A program: nodes in topological order and its named outputs.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub outputs: Vec<Output>,
    /// Origin given to nodes as they are added; see [`Graph::set_origin`].
    #[serde(skip)]
    origin: Origin,
}

impl Graph {
    pub fn new() -> Graph {
        Graph::default()
    }

    pub fn node(&self, v: ValueId) -> &Node {
        &self.nodes[v.index()]
    }

    pub fn shape(&self, v: ValueId) -> &[usize] {
        &self.nodes[v.index()].shape
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Nodes added from now on carry this origin.
    pub fn set_origin(&mut self, span: Option<Span>, layer: Option<&str>) {
        self.origin = Origin {
            span,
            layer: layer.map(str::to_owned),
        };
    }

    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// Appends a node whose shape has already been computed. Builders in `build.rs` check
    /// shapes and call this; passes that rewrite graphs may call it directly.
    pub fn push(&mut self, op: Op, shape: Shape) -> ValueId {
        let id = ValueId(self.nodes.len() as u32);
        self.nodes.push(Node {
            op,
            shape,
            origin: self.origin.clone(),
        });
        id
    }

    pub fn add_output(&mut self, name: impl Into<String>, value: ValueId, role: Role) {
        self.outputs.push(Output {
            name: name.into(),
            value,
            role,
        });
    }

    pub fn output(&self, name: &str) -> Option<&Output> {
        self.outputs.iter().find(|o| o.name == name)
    }

    /// Names and shapes of the graph's inputs, in order of appearance.
    pub fn inputs(&self) -> Vec<(&str, &[usize])> {
        self.leaves(|op| match op {
            Op::Input { name } => Some(name),
            _ => None,
        })
    }

    /// Names and shapes of the graph's parameters, in order of appearance.
    pub fn params(&self) -> Vec<(&str, &[usize])> {
        self.leaves(|op| match op {
            Op::Param { name } => Some(name),
            _ => None,
        })
    }

    fn leaves<'a>(
        &'a self,
        pick: impl Fn(&'a Op) -> Option<&'a String>,
    ) -> Vec<(&'a str, &'a [usize])> {
        self.nodes
            .iter()
            .filter_map(|n| pick(&n.op).map(|name| (name.as_str(), n.shape.as_slice())))
            .collect()
    }
}

/// The counter-based uniform random number behind [`Op::RandomMask`], in [0, 1): a hash of
/// (seed, stream, counter, index). The interpreter and the JIT both use exactly this function,
/// so dropout masks agree bit for bit across backends and runs.
pub fn mask_uniform(seed: u64, stream: u32, counter: u32, index: u32) -> f32 {
    let mut h =
        seed ^ (u64::from(stream) << 32 | u64::from(counter)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    h ^= u64::from(index).wrapping_mul(0xD1B5_4A32_D192_ED03);
    // splitmix64 finalizer
    h = (h ^ (h >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    h ^= h >> 31;
    // 24 high bits → exactly representable f32 in [0, 1)
    (h >> 40) as f32 * (1.0 / (1u64 << 24) as f32)
}
