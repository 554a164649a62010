//! Simplification passes: each takes a graph and returns a new one computing the same outputs,
//! with the same output names and roles, and with every surviving node keeping its origin.
//!
//! - [`dce`]: drops nodes no output depends on (inputs and parameters always stay: they are
//!   the program's interface).
//! - [`cse`]: merges nodes computing the same op on the same operands.
//! - [`fold_constants`]: evaluates ops whose operands are all constants.
//! - [`simplify`]: algebraic identities (x·1, x+0, x−0, x/1, −(−x), reshape of reshape, …).
//! - [`batch_contractions`]: a sum of matrix products of the same layout becomes one product
//!   over operands concatenated along the contracted axis (the weight gradient of a recurrent
//!   layer, summed over time steps, as one large GEMM).
//! - [`optimize`]: all of them, repeated until nothing changes.
//!
//! Every pass is one call of [`rewrite`], which walks the graph in order and asks a rule what
//! to do with each node, so renumbering lives in one place.

mod contract;
mod fold;
mod simplify;

pub use contract::batch_contractions;
pub use fold::fold_constants;
pub use simplify::simplify;

use super::{Graph, Node, Op, Origin, Shape, ValueId};
use std::collections::HashMap;

/// Runs fold → simplify → batch contractions → cse → dce until the graph stops changing (at
/// most 32 rounds).
pub fn optimize(g: &Graph) -> Graph {
    let mut current = g.clone();
    for _ in 0..32 {
        let simpler = simplify(&fold_constants(&current));
        let next = dce(&cse(&batch_contractions(&simpler)));
        if next == current {
            break;
        }
        current = next;
    }
    current
}

/// Dead-code elimination: keeps what the outputs need, plus every input and parameter.
pub fn dce(g: &Graph) -> Graph {
    let mut live = vec![false; g.len()];
    for o in &g.outputs {
        if let Some(l) = live.get_mut(o.value.index()) {
            *l = true;
        }
    }
    for (i, node) in g.nodes.iter().enumerate().rev() {
        live[i] |= matches!(node.op, Op::Input { .. } | Op::Param { .. });
        if live[i] {
            for o in node.op.operands() {
                live[o.index()] = true;
            }
        }
    }
    rewrite(g, |_, old, _| {
        if live[old.index()] {
            Rewrite::Keep
        } else {
            Rewrite::Drop
        }
    })
}

/// Common-subexpression elimination: a node equal to an earlier one (same op, attributes,
/// operands and shape) becomes that node. Ops are pure and the random mask is a function of its
/// seed, stream and counter, so merging never changes a value.
pub fn cse(g: &Graph) -> Graph {
    let mut seen: HashMap<String, ValueId> = HashMap::new();
    rewrite(g, |new, _, node| {
        // Debug text is an exact key: f64 prints round-trip, and every attribute is included.
        let key = format!("{:?} {:?}", node.op, node.shape);
        match seen.get(&key) {
            Some(&earlier) => Rewrite::Alias(earlier),
            None => {
                seen.insert(key, ValueId(new.len() as u32));
                Rewrite::Keep
            }
        }
    })
}

/// What a pass does with one node, whose operands already name nodes of the new graph.
pub(crate) enum Rewrite {
    /// Copy the node.
    Keep,
    /// Use this node of the new graph instead (it must have the same shape).
    Alias(ValueId),
    /// Emit this op instead, with the node's origin.
    Replace(Op, Shape),
    /// Emit these ops in order, with the node's origin; the last is the node's value. An op
    /// may use the ones before it: the k-th emitted gets id `new.len() + k`.
    Emit(Vec<(Op, Shape)>),
    /// Leave the node out; nothing may use it.
    Drop,
}

/// Rebuilds `g` node by node, asking `rule` about each one (given the new graph so far, the
/// node's old id, and the node with operands renamed into the new graph), and renames the
/// outputs. A node using a dropped node is dropped too.
pub(crate) fn rewrite(g: &Graph, mut rule: impl FnMut(&Graph, ValueId, &Node) -> Rewrite) -> Graph {
    let mut new = Graph::new();
    let mut renamed: Vec<Option<ValueId>> = Vec::with_capacity(g.len());
    let rename = |renamed: &[Option<ValueId>], v: ValueId| {
        renamed[v.index()].expect("outputs and kept nodes only use kept nodes")
    };
    for (i, node) in g.nodes.iter().enumerate() {
        let uses_dropped = (node.op.operands().iter()).any(|v| renamed[v.index()].is_none());
        if uses_dropped {
            renamed.push(None);
            continue;
        }
        let op = map_operands(&node.op, |v| rename(&renamed, v));
        let node = Node {
            op,
            shape: node.shape.clone(),
            origin: node.origin.clone(),
        };
        let id = match rule(&new, ValueId(i as u32), &node) {
            Rewrite::Keep => Some(push(&mut new, node.op, node.shape, node.origin)),
            Rewrite::Replace(op, shape) => Some(push(&mut new, op, shape, node.origin)),
            Rewrite::Emit(ops) => ops
                .into_iter()
                .map(|(op, shape)| push(&mut new, op, shape, node.origin.clone()))
                .last(),
            Rewrite::Alias(v) => Some(v),
            Rewrite::Drop => None,
        };
        renamed.push(id);
    }
    for o in &g.outputs {
        new.add_output(o.name.clone(), rename(&renamed, o.value), o.role.clone());
    }
    new.set_origin(g.origin().span, g.origin().layer.as_deref());
    new
}

fn push(new: &mut Graph, op: Op, shape: Shape, origin: Origin) -> ValueId {
    let id = new.push(op, shape);
    new.nodes[id.index()].origin = origin;
    id
}

/// The op with every operand passed through `f` (one arm per op, attributes copied).
pub(crate) fn map_operands(op: &Op, f: impl Fn(ValueId) -> ValueId) -> Op {
    match op {
        Op::Input { .. } | Op::Param { .. } | Op::Const { .. } => op.clone(),
        Op::Unary { op, x } => Op::Unary { op: *op, x: f(*x) },
        Op::Binary { op, a, b } => Op::Binary {
            op: *op,
            a: f(*a),
            b: f(*b),
        },
        Op::Compare { op, a, b } => Op::Compare {
            op: *op,
            a: f(*a),
            b: f(*b),
        },
        Op::Select {
            cond,
            on_true,
            on_false,
        } => Op::Select {
            cond: f(*cond),
            on_true: f(*on_true),
            on_false: f(*on_false),
        },
        Op::MatMul {
            a,
            b,
            trans_a,
            trans_b,
        } => Op::MatMul {
            a: f(*a),
            b: f(*b),
            trans_a: *trans_a,
            trans_b: *trans_b,
        },
        Op::Reduce {
            op,
            x,
            axes,
            keep_dims,
        } => Op::Reduce {
            op: *op,
            x: f(*x),
            axes: axes.clone(),
            keep_dims: *keep_dims,
        },
        Op::Reshape { x } => Op::Reshape { x: f(*x) },
        Op::Transpose { x, perm } => Op::Transpose {
            x: f(*x),
            perm: perm.clone(),
        },
        Op::Broadcast { x } => Op::Broadcast { x: f(*x) },
        Op::Slice {
            x,
            axis,
            start,
            len,
        } => Op::Slice {
            x: f(*x),
            axis: *axis,
            start: *start,
            len: *len,
        },
        Op::Concat { xs, axis } => Op::Concat {
            xs: xs.iter().map(|&x| f(x)).collect(),
            axis: *axis,
        },
        Op::RandomMask {
            p,
            seed,
            stream,
            counter,
        } => Op::RandomMask {
            p: *p,
            seed: *seed,
            stream: *stream,
            counter: f(*counter),
        },
        Op::Windows { x, win } => Op::Windows {
            x: f(*x),
            win: *win,
        },
        Op::WindowsAdd { dy, win } => Op::WindowsAdd {
            dy: f(*dy),
            win: *win,
        },
    }
}

/// The fill value of `v` when it is a constant.
pub(crate) fn constant(g: &Graph, v: ValueId) -> Option<f64> {
    match g.node(v).op {
        Op::Const { value } => Some(value),
        Op::Input { .. }
        | Op::Param { .. }
        | Op::Unary { .. }
        | Op::Binary { .. }
        | Op::Compare { .. }
        | Op::Select { .. }
        | Op::MatMul { .. }
        | Op::Reduce { .. }
        | Op::Reshape { .. }
        | Op::Transpose { .. }
        | Op::Broadcast { .. }
        | Op::Slice { .. }
        | Op::Concat { .. }
        | Op::Windows { .. }
        | Op::WindowsAdd { .. }
        | Op::RandomMask { .. } => None,
    }
}
