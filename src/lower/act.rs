//! Activation functions as IR: one function an activation, each the textbook formula in its
//! numerically stable form.

use crate::ir::{CmpOp, Graph, ReduceOp, UnaryOp, ValueId};
use crate::model::Activation;

/// SELU's constants (Klambauer et al., 2017), as PyTorch uses them.
const SELU_ALPHA: f64 = 1.673_263_242_354_377_3;
const SELU_SCALE: f64 = 1.050_700_987_355_480_5;

/// Applies `act` to `x`. `slope` is PReLU's learned slope (broadcast over the last axis); it
/// must be `Some` exactly for [`Activation::Prelu`].
pub fn apply(g: &mut Graph, act: Activation, x: ValueId, slope: Option<ValueId>) -> ValueId {
    match act {
        Activation::Identity => x,
        Activation::Sigmoid => g.unary(UnaryOp::Sigmoid, x),
        Activation::Tanh => g.unary(UnaryOp::Tanh, x),
        Activation::Relu => relu(g, x),
        Activation::LeakyRelu { alpha } => {
            let neg = g.scale(x, alpha);
            positive_or(g, x, neg)
        }
        Activation::Prelu { .. } => {
            let slope = slope.expect("lowering passes PReLU's slope parameter");
            let neg = g.mul(x, slope);
            positive_or(g, x, neg)
        }
        Activation::Elu { alpha } => elu(g, x, alpha, 1.0),
        Activation::Selu => elu(g, x, SELU_ALPHA, SELU_SCALE),
        Activation::Swish => {
            let s = g.unary(UnaryOp::Sigmoid, x);
            g.mul(x, s)
        }
        Activation::Mish => {
            // x·tanh(softplus(x))
            let sp = softplus(g, x);
            let t = g.unary(UnaryOp::Tanh, sp);
            g.mul(x, t)
        }
        Activation::Gelu => {
            // x·Φ(x) = 0.5·x·(1 + erf(x/√2))
            let scaled = g.scale(x, std::f64::consts::FRAC_1_SQRT_2);
            let erf = g.unary(UnaryOp::Erf, scaled);
            let one_plus = g.offset(erf, 1.0);
            let half_x = g.scale(x, 0.5);
            g.mul(half_x, one_plus)
        }
        Activation::Softplus => softplus(g, x),
        Activation::Softsign => {
            // x / (1 + |x|)
            let abs = g.unary(UnaryOp::Abs, x);
            let denom = g.offset(abs, 1.0);
            g.div(x, denom)
        }
        Activation::Softmax => softmax(g, x),
    }
}

/// max(x, 0), one op whose gradient is PyTorch's (0 at x = 0).
pub fn relu(g: &mut Graph, x: ValueId) -> ValueId {
    g.unary(UnaryOp::Relu, x)
}

/// x > 0 ? x : neg, the leaky relu and PReLU form: at x = 0 the gradient is the negative
/// branch's slope, as in PyTorch (`x > 0 ? grad : grad·α`). A sum max(x, 0) + α·min(x, 0)
/// would pass both branches' gradients at 0 (1 + α), outside [α, 1].
fn positive_or(g: &mut Graph, x: ValueId, neg: ValueId) -> ValueId {
    let zero = g.scalar(0.0);
    let positive = g.compare(CmpOp::Gt, x, zero);
    g.select(positive, x, neg)
}

/// scale·(x > 0 ? x : α·(eˣ − 1)); the exponential sees x only where x ≤ 0 so it never
/// overflows, and at x = 0 the gradient is the negative branch's, scale·α (PyTorch's).
fn elu(g: &mut Graph, x: ValueId, alpha: f64, scale: f64) -> ValueId {
    let zero = g.scalar(0.0);
    let positive = g.compare(CmpOp::Gt, x, zero);
    let neg_part = g.select(positive, zero, x);
    let e = g.unary(UnaryOp::Exp, neg_part);
    let em1 = g.offset(e, -1.0);
    let neg = g.scale(em1, alpha);
    let y = g.select(positive, x, neg);
    if scale == 1.0 {
        y
    } else {
        g.scale(y, scale)
    }
}

/// ln(1 + eˣ), one op: its stable form max(x, 0) + ln(1 + e^−|x|) has a kink at 0 that
/// differentiating the pieces would get wrong, so the op carries its own gradient σ(x).
pub fn softplus(g: &mut Graph, x: ValueId) -> ValueId {
    g.unary(UnaryOp::Softplus, x)
}

/// Softmax over the last axis, shifted by the row maximum.
pub fn softmax(g: &mut Graph, x: ValueId) -> ValueId {
    let shifted = shift_by_max(g, x);
    let e = g.unary(UnaryOp::Exp, shifted);
    let last = g.shape(x).len() - 1;
    let sum = g.reduce(ReduceOp::Sum, e, &[last], true);
    g.div(e, sum)
}

/// log-softmax over the last axis: (x − max) − ln Σ e^(x − max).
pub fn log_softmax(g: &mut Graph, x: ValueId) -> ValueId {
    let shifted = shift_by_max(g, x);
    let e = g.unary(UnaryOp::Exp, shifted);
    let last = g.shape(x).len() - 1;
    let sum = g.reduce(ReduceOp::Sum, e, &[last], true);
    let lse = g.unary(UnaryOp::Log, sum);
    g.sub(shifted, lse)
}

/// x − max(x) over the last axis. The maximum is a constant shift of the softmax, so no
/// gradient needs to flow through it; it still does, harmlessly, through `ReduceOp::Max`.
fn shift_by_max(g: &mut Graph, x: ValueId) -> ValueId {
    let last = g.shape(x).len() - 1;
    let max = g.reduce(ReduceOp::Max, x, &[last], true);
    g.sub(x, max)
}
