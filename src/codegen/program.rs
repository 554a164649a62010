//! The loop program that `plan` produces and `emit` turns into machine code: buffers, strided
//! accesses, elementwise expressions, loop nests and matrix-product calls.

use crate::ir::{BinaryOp, CmpOp, UnaryOp};

/// Index of a buffer in [`Plan::buffers`].
pub(crate) type BufId = usize;

/// An affine index over a loop's iteration space: `offset + Σ i_d · strides[d]`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Affine {
    pub offset: usize,
    pub strides: Vec<usize>,
}

/// A strided window onto a buffer, indexed by a loop's iteration space.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Access {
    pub buf: BufId,
    pub at: Affine,
}

/// The value computed at one point of a loop's iteration space.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    Load(Access),
    Const(f32),
    Unary(UnaryOp, Box<Expr>),
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    Compare(CmpOp, Box<Expr>, Box<Expr>),
    /// cond ≠ 0 ? on_true : on_false
    Select(Box<[Expr; 3]>),
    Mask(Box<MaskExpr>),
    /// The value that body `i` of the same nest (an `Assign` body before this one) computes
    /// at this point: a consumer fused into its producer's loop reads it from a register
    /// instead of memory.
    Local(usize),
}

impl Expr {
    /// Whether the expression evaluates exp, log, log1p, tanh, sigmoid, erf or softplus: dozens of
    /// instructions and constants each.
    pub(crate) fn calls_a_function(&self) -> bool {
        use crate::ir::UnaryOp::{Erf, Exp, Log, Log1p, Sigmoid, Softplus, Tanh};
        match self {
            Expr::Unary(Exp | Log | Log1p | Tanh | Sigmoid | Erf | Softplus, _) => true,
            Expr::Unary(_, x) => x.calls_a_function(),
            Expr::Binary(_, a, b) | Expr::Compare(_, a, b) => {
                a.calls_a_function() || b.calls_a_function()
            }
            Expr::Select(abc) => abc.iter().any(Expr::calls_a_function),
            Expr::Load(_) | Expr::Const(_) | Expr::Local(_) | Expr::Mask(_) => false,
        }
    }

    /// Whether a dropout mask occurs in the expression (its hash is scalar integer code).
    pub(crate) fn has_mask(&self) -> bool {
        match self {
            Expr::Mask(_) => true,
            Expr::Load(_) | Expr::Const(_) | Expr::Local(_) => false,
            Expr::Unary(_, x) => x.has_mask(),
            Expr::Binary(_, a, b) | Expr::Compare(_, a, b) => a.has_mask() || b.has_mask(),
            Expr::Select(abc) => abc.iter().any(Expr::has_mask),
        }
    }
}

/// A dropout mask element: [`crate::ir::mask_uniform`] of the element's linear index.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MaskExpr {
    pub p: f64,
    pub seed: u64,
    pub stream: u32,
    /// The scalar step counter (all strides zero).
    pub counter: Access,
    /// The element's row-major index within the mask's own shape.
    pub index: Affine,
}

/// How a loop writes its value to the destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StoreMode {
    Assign,
    /// dst += value (sum reductions)
    Add,
    /// dst = max(dst, value) (max reductions)
    Max,
    /// dst = the sum over the whole nest (a reduction to one element, which needs no
    /// initializing loop: the accumulator lives in registers across every level)
    SumAll,
    /// dst = the max over the whole nest, likewise
    MaxAll,
}

/// One loop nest: for every point of `space`, `dst ⊕= expr`, then the same for each of
/// `fused` (loops over the same space merged into this one by `fuse.rs`: siblings reading the
/// same elements, such as a gradient feeding its update and its norm probe, and consumers of
/// an earlier body's result, which they read as [`Expr::Local`]). No body loads an element
/// another body of the nest writes, so the bodies may run in any order at each point.
#[derive(Debug, Clone)]
pub(crate) struct LoopNest {
    pub space: Vec<usize>,
    pub expr: Expr,
    pub dst: Access,
    pub mode: StoreMode,
    pub fused: Vec<Body>,
}

/// One computation of a loop nest: `dst ⊕= expr` at every point.
#[derive(Debug, Clone)]
pub(crate) struct Body {
    pub expr: Expr,
    pub dst: Access,
    pub mode: StoreMode,
}

impl LoopNest {
    /// Every computation of the nest, in order.
    pub fn bodies(&self) -> Vec<Body> {
        let first = Body {
            expr: self.expr.clone(),
            dst: self.dst.clone(),
            mode: self.mode,
        };
        std::iter::once(first)
            .chain(self.fused.iter().cloned())
            .collect()
    }
}

/// C = A·B with A of m×k and B of k×n through arbitrary strides; C row-major.
#[derive(Debug, Clone)]
pub(crate) struct MatMulCall {
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub a: Access,
    pub b: Access,
    pub c: BufId,
}

#[derive(Debug, Clone)]
pub(crate) enum Step {
    Loop(LoopNest),
    MatMul(MatMulCall),
}

impl Step {
    /// A one-line summary for profiler symbols: the product's shape or the loop's space.
    pub fn describe(&self) -> String {
        match self {
            Step::MatMul(m) => format!(
                "matmul {}x{}x{} a{:?} b{:?}",
                m.m, m.k, m.n, m.a.at.strides, m.b.at.strides
            ),
            Step::Loop(l) => format!("loop {:?} {:?} +{} fused", l.space, l.mode, l.fused.len()),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Buffer {
    pub len: usize,
    /// The Input or Param name of a leaf buffer.
    pub leaf: Option<String>,
    /// Outputs live to the end of the step.
    pub output: bool,
}

/// Where an output's row-major elements are.
#[derive(Debug, Clone)]
pub(crate) struct OutputSlot {
    pub buf: BufId,
    pub offset: usize,
    pub shape: Vec<usize>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Plan {
    pub buffers: Vec<Buffer>,
    pub steps: Vec<Step>,
    pub outputs: Vec<OutputSlot>,
    /// (name, buffer, shape) of every distinct leaf, in order of appearance.
    pub leaves: Vec<(String, BufId, Vec<usize>)>,
}

/// Calls `f` on every index expression in `e` (loads, the mask's counter and element index).
pub(crate) fn for_each_affine(e: &mut Expr, f: &mut dyn FnMut(&mut Affine)) {
    match e {
        Expr::Load(a) => f(&mut a.at),
        Expr::Const(_) | Expr::Local(_) => {}
        Expr::Unary(_, x) => for_each_affine(x, f),
        Expr::Binary(_, a, b) | Expr::Compare(_, a, b) => {
            for_each_affine(a, f);
            for_each_affine(b, f);
        }
        Expr::Select(abc) => abc.iter_mut().for_each(|x| for_each_affine(x, f)),
        Expr::Mask(m) => {
            f(&mut m.counter.at);
            f(&mut m.index);
        }
    }
}
