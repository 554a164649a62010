//! Constant folding: an op whose operands are all constants (fills of one value) becomes a
//! constant, computed in f64 with the interpreter's own scalar functions so folding never
//! disagrees with running.

use super::{constant, rewrite, Rewrite};
use crate::ir::interp::{binary, compare, unary};
use crate::ir::{numel, Graph, Node, Op, ReduceOp};

/// Replaces every op of constant operands by its constant value.
pub fn fold_constants(g: &Graph) -> Graph {
    rewrite(g, |new, _, node| match folded(new, node) {
        Some(value) => Rewrite::Replace(Op::Const { value }, node.shape.clone()),
        None => Rewrite::Keep,
    })
}

/// The node's value when it is a fill of one known value.
fn folded(g: &Graph, node: &Node) -> Option<f64> {
    let c = |v| constant(g, v);
    match &node.op {
        // leaves stay as they are (a constant is already folded)
        Op::Input { .. } | Op::Param { .. } | Op::Const { .. } => None,
        Op::Unary { op, x } => Some(unary(*op, c(*x)?)),
        Op::Binary { op, a, b } => Some(binary(*op, c(*a)?, c(*b)?)),
        Op::Compare { op, a, b } => Some(compare(*op, c(*a)?, c(*b)?)),
        Op::Select {
            cond,
            on_true,
            on_false,
        } => {
            let (t, f) = (c(*on_true)?, c(*on_false)?);
            Some(if c(*cond)? != 0.0 { t } else { f })
        }
        Op::MatMul { a, trans_a, .. } => {
            let shape = g.shape(*a);
            let inner = if *trans_a { shape[0] } else { shape[1] };
            Some(c(*a)? * c(node.op.operands()[1])? * inner as f64)
        }
        Op::Reduce { op, x, .. } => {
            let count = numel(g.shape(*x)) / numel(&node.shape).max(1);
            let value = c(*x)?;
            match op {
                ReduceOp::Sum => Some(value * count as f64),
                ReduceOp::Mean | ReduceOp::Max if count > 0 => Some(value),
                ReduceOp::Mean | ReduceOp::Max => None,
            }
        }
        Op::Reshape { x } | Op::Transpose { x, .. } | Op::Broadcast { x } | Op::Slice { x, .. } => {
            c(*x)
        }
        Op::Concat { xs, .. } => {
            let first = c(xs[0])?;
            let same = xs
                .iter()
                .all(|&x| c(x).map(f64::to_bits) == Some(first.to_bits()));
            same.then_some(first)
        }
        // every tap reads a value of x or a padding zero: one value when there is no padding
        // or the fill is zero
        Op::Windows { x, win } => {
            let value = c(*x)?;
            (value == 0.0 || win.padding == [0; 4]).then_some(value)
        }
        // overlapping windows sum unevenly, so only zero stays one value
        Op::WindowsAdd { dy, .. } => c(*dy).filter(|&value| value == 0.0),
        // a mask is not a fill of one value
        Op::RandomMask { .. } => None,
    }
}
