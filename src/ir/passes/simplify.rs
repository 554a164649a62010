//! Algebraic identities that hold for every input, NaN and ±∞ included:
//! x·1 = 1·x = x, x+0 = 0+x = x, x−0 = x, 0−x = −x, x/1 = x, −(−x) = x, reshape of a
//! reshape, broadcast of a broadcast, transpose of a transpose, no-op reshapes, broadcasts and
//! transposes, and a select on a constant condition. A sum of zero-padded concatenations
//! whose non-zero parts do not overlap, `concat(0, a) + concat(b, 0)`, is the concatenation
//! `concat(b, a)` (x + 0 = x again): the gradient of a split, such as an LSTM's four gates
//! read out of one product, arrives as such a sum, one padded term per part.
//!
//! x·0 is NOT rewritten to 0 unless x is itself a constant (constant folding does that):
//! NaN·0 and ∞·0 are NaN, and hiding a NaN would defeat the non-finite probes. The only
//! difference these rules can make is the sign of a zero (x + 0 with x = −0 gives +0, the
//! rule gives −0), which no comparison or later op distinguishes except 1/x.

use super::{constant, rewrite, Rewrite};
use crate::ir::{BinaryOp, Graph, Node, Op, UnaryOp, ValueId};

/// Applies the identities above in one forward sweep.
pub fn simplify(g: &Graph) -> Graph {
    rewrite(g, |new, _, node| identity(new, node))
}

fn identity(g: &Graph, node: &Node) -> Rewrite {
    let same_shape = |v: ValueId| g.shape(v) == node.shape.as_slice();
    match &node.op {
        Op::Binary { op, a, b } => binary_identity(g, *op, *a, *b, node),
        Op::Unary {
            op: UnaryOp::Neg,
            x,
        } => {
            if let Op::Unary {
                op: UnaryOp::Neg,
                x: inner,
            } = g.node(*x).op
            {
                Rewrite::Alias(inner)
            } else {
                Rewrite::Keep
            }
        }
        Op::Reshape { x } | Op::Broadcast { x } if same_shape(*x) => Rewrite::Alias(*x),
        // a reshape only depends on the element order, so x → s₁ → s₂ is x → s₂; and
        // broadcasting composes the same way
        Op::Reshape { x } => {
            if let Op::Reshape { x: inner } = g.node(*x).op {
                if same_shape(inner) {
                    Rewrite::Alias(inner)
                } else {
                    Rewrite::Replace(Op::Reshape { x: inner }, node.shape.clone())
                }
            } else {
                Rewrite::Keep
            }
        }
        Op::Broadcast { x } => {
            if let Op::Broadcast { x: inner } = g.node(*x).op {
                Rewrite::Replace(Op::Broadcast { x: inner }, node.shape.clone())
            } else {
                Rewrite::Keep
            }
        }
        Op::Transpose { x, perm } => transpose_identity(g, node, *x, perm),
        Op::Select {
            cond,
            on_true,
            on_false,
        } => match constant(g, *cond) {
            Some(c) if c != 0.0 => Rewrite::Alias(*on_true),
            Some(_) => Rewrite::Alias(*on_false),
            None => Rewrite::Keep,
        },
        Op::Input { .. }
        | Op::Param { .. }
        | Op::Const { .. }
        | Op::Unary { .. }
        | Op::Compare { .. }
        | Op::MatMul { .. }
        | Op::Reduce { .. }
        | Op::Slice { .. }
        | Op::Concat { .. }
        | Op::Windows { .. }
        | Op::WindowsAdd { .. }
        | Op::RandomMask { .. } => Rewrite::Keep,
    }
}

/// x·1 = 1·x = x, x+0 = 0+x = x, x−0 = x, 0−x = −x, x/1 = x.
fn binary_identity(g: &Graph, op: BinaryOp, a: ValueId, b: ValueId, node: &Node) -> Rewrite {
    let is = |v: ValueId, k: f64| constant(g, v) == Some(k);
    match op {
        BinaryOp::Mul if is(b, 1.0) => Rewrite::Alias(a),
        BinaryOp::Mul if is(a, 1.0) => Rewrite::Alias(b),
        BinaryOp::Add if is(b, 0.0) => Rewrite::Alias(a),
        BinaryOp::Add if is(a, 0.0) => Rewrite::Alias(b),
        BinaryOp::Sub if is(b, 0.0) => Rewrite::Alias(a),
        BinaryOp::Sub if is(a, 0.0) => Rewrite::Replace(
            Op::Unary {
                op: UnaryOp::Neg,
                x: b,
            },
            node.shape.clone(),
        ),
        BinaryOp::Div if is(b, 1.0) => Rewrite::Alias(a),
        BinaryOp::Add => padded_sum(g, a, b, node),
        BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Max | BinaryOp::Min => {
            Rewrite::Keep
        }
    }
}

/// A run of `len` elements along the concatenation axis: a value, or zeros (None).
type Segment = (usize, Option<ValueId>);

/// `concat(..) + concat(..)` (or a zero constant for either side) whose non-zero parts do not
/// overlap → one concatenation of the parts, zeros filling the gaps.
fn padded_sum(g: &Graph, a: ValueId, b: ValueId, node: &Node) -> Rewrite {
    let axis = match (&g.node(a).op, &g.node(b).op) {
        (Op::Concat { axis, .. }, _) | (_, Op::Concat { axis, .. }) => *axis,
        _ => return Rewrite::Keep,
    };
    let (Some(sa), Some(sb)) = (segments(g, a, axis), segments(g, b, axis)) else {
        return Rewrite::Keep;
    };
    // Non-zero runs of both sides as (start, end, value), in order, disjoint.
    let mut parts: Vec<(usize, usize, ValueId)> = Vec::new();
    for side in [sa, sb] {
        let mut start = 0;
        for (len, v) in side {
            if let Some(v) = v {
                parts.push((start, start + len, v));
            }
            start += len;
        }
    }
    parts.sort_by_key(|p| p.0);
    if parts.windows(2).any(|w| w[0].1 > w[1].0) {
        return Rewrite::Keep;
    }
    let total = node.shape[axis];
    let mut emit = Vec::new();
    let mut xs = Vec::new();
    let base = g.len();
    let mut at = 0;
    let zeros = |emit: &mut Vec<(Op, Vec<usize>)>, xs: &mut Vec<ValueId>, len: usize| {
        let mut shape = node.shape.clone();
        shape[axis] = len;
        xs.push(ValueId((base + emit.len()) as u32));
        emit.push((Op::Const { value: 0.0 }, shape));
    };
    for &(start, end, v) in &parts {
        if start > at {
            zeros(&mut emit, &mut xs, start - at);
        }
        xs.push(v);
        at = end;
    }
    if at < total {
        zeros(&mut emit, &mut xs, total - at);
    }
    if let [only] = xs[..] {
        if emit.is_empty() {
            return Rewrite::Alias(only);
        }
    }
    emit.push((Op::Concat { xs, axis }, node.shape.clone()));
    Rewrite::Emit(emit)
}

/// `v` as runs along `axis`: the parts of a concatenation along it (zero constants as
/// zeros), all zeros for a zero constant. None for anything else.
fn segments(g: &Graph, v: ValueId, axis: usize) -> Option<Vec<Segment>> {
    let len = |x: ValueId| g.shape(x)[axis];
    match &g.node(v).op {
        Op::Concat { xs, axis: ax } if *ax == axis => Some(
            xs.iter()
                .map(|&x| (len(x), (constant(g, x) != Some(0.0)).then_some(x)))
                .collect(),
        ),
        Op::Const { value } if *value == 0.0 => Some(vec![(len(v), None)]),
        _ => None,
    }
}

/// The identity permutation disappears; a transpose of a transpose is one transpose:
/// y axis i = inner axis p₂[i] = x axis p₁[p₂[i]].
fn transpose_identity(g: &Graph, node: &Node, x: ValueId, perm: &[usize]) -> Rewrite {
    let is_identity = |p: &[usize]| p.iter().enumerate().all(|(i, &a)| i == a);
    if is_identity(perm) {
        return Rewrite::Alias(x);
    }
    let Op::Transpose { x: inner, perm: p1 } = &g.node(x).op else {
        return Rewrite::Keep;
    };
    let composed: Vec<usize> = perm.iter().map(|&i| p1[i]).collect();
    if is_identity(&composed) {
        Rewrite::Alias(*inner)
    } else {
        let op = Op::Transpose {
            x: *inner,
            perm: composed,
        };
        Rewrite::Replace(op, node.shape.clone())
    }
}
