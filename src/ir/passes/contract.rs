//! Batched contractions: Σₜ op(Aₜ)·op(Bₜ) = op([A₁ … A_T])·op([B₁ … B_T]) with the Aₜ and the
//! Bₜ concatenated along the contracted axis.
//!
//! Reverse mode sums the contributions to a value's adjoint with a chain of adds. For a weight
//! used at every time step of a recurrent layer that chain is T products, each with a small
//! contracted dimension (the batch), and T − 1 adds over the whole weight: T passes writing
//! the weight's size each. One product over the concatenated operands does the same
//! arithmetic in a single large GEMM and writes the result once — the way cuDNN and PyTorch
//! compute the recurrent weight gradient. The rewrite is exact in real arithmetic; in floating
//! point only the order of the sum changes.
//!
//! A chain qualifies when its root is an add whose operands are, recursively, single-use adds
//! of the same shape or leaves, and at least two leaves are single-use products of the same
//! layout (transpose flags) and operand shapes. Other leaves are added to the product.

use super::{rewrite, Rewrite};
use crate::ir::{BinaryOp, Graph, Node, Op, Shape, ValueId};
use std::collections::HashMap;

/// Rewrites every qualifying sum of products; see the module documentation.
pub fn batch_contractions(g: &Graph) -> Graph {
    let uses = use_counts(g);
    let roots = chain_roots(g, &uses);
    if roots.is_empty() {
        return g.clone();
    }
    rewrite(g, |new, old, node| match roots.get(&old) {
        Some(plan) => emit(new, node, &renamed_leaves(g, new, old, node, plan)),
        None => Rewrite::Keep,
    })
}

/// How a chain root is rebuilt: the products to merge and the other leaves, as old ids.
struct Plan {
    products: Vec<ValueId>,
    others: Vec<ValueId>,
}

/// How many times each value is used, outputs included.
fn use_counts(g: &Graph) -> Vec<usize> {
    let mut uses = vec![0; g.len()];
    for node in &g.nodes {
        for o in node.op.operands() {
            uses[o.index()] += 1;
        }
    }
    for o in &g.outputs {
        uses[o.value.index()] += 1;
    }
    uses
}

fn is_add(node: &Node) -> bool {
    matches!(
        node.op,
        Op::Binary {
            op: BinaryOp::Add,
            ..
        }
    )
}

/// The roots of add chains that have products to merge: adds not consumed by another add of
/// their chain.
fn chain_roots(g: &Graph, uses: &[usize]) -> HashMap<ValueId, Plan> {
    let inner = |v: ValueId| {
        let n = g.node(v);
        is_add(n) && uses[v.index()] == 1
    };
    let mut consumed_by_chain = vec![false; g.len()];
    for node in g.nodes.iter().filter(|n| is_add(n)) {
        for o in node.op.operands() {
            if inner(o) && g.shape(o) == node.shape.as_slice() {
                consumed_by_chain[o.index()] = true;
            }
        }
    }
    let mut roots = HashMap::new();
    for (i, node) in g.nodes.iter().enumerate() {
        if !is_add(node) || consumed_by_chain[i] {
            continue;
        }
        let leaves = leaves(g, ValueId(i as u32), &inner);
        if let Some(plan) = plan(g, uses, &leaves) {
            roots.insert(ValueId(i as u32), plan);
        }
    }
    roots
}

/// The leaves of the chain under `root`, in graph order.
fn leaves(g: &Graph, root: ValueId, inner: &dyn Fn(ValueId) -> bool) -> Vec<ValueId> {
    let shape = g.shape(root);
    let mut stack = vec![root];
    let mut out = Vec::new();
    while let Some(v) = stack.pop() {
        let expand = v == root || (inner(v) && g.shape(v) == shape);
        if expand {
            stack.extend(g.node(v).op.operands());
        } else {
            out.push(v);
        }
    }
    out.sort_by_key(|v| v.index());
    out
}

/// What a product's layout and operand shapes are: products with the same key can merge.
type Layout = (bool, bool, Vec<usize>, Vec<usize>);

fn layout(g: &Graph, v: ValueId) -> Option<Layout> {
    match g.node(v).op {
        Op::MatMul {
            a,
            b,
            trans_a,
            trans_b,
        } if g.shape(a).len() == 2 && g.shape(b).len() == 2 => {
            Some((trans_a, trans_b, g.shape(a).to_vec(), g.shape(b).to_vec()))
        }
        _ => None,
    }
}

/// The largest group of single-use products sharing a layout, if it has two or more.
fn plan(g: &Graph, uses: &[usize], leaves: &[ValueId]) -> Option<Plan> {
    let mut groups: Vec<(Layout, Vec<ValueId>)> = Vec::new();
    for &v in leaves.iter().filter(|v| uses[v.index()] == 1) {
        if let Some(key) = layout(g, v) {
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, members)) => members.push(v),
                None => groups.push((key, vec![v])),
            }
        }
    }
    let (_, products) = groups.into_iter().max_by_key(|(_, m)| m.len())?;
    if products.len() < 2 {
        return None;
    }
    let others = leaves
        .iter()
        .copied()
        .filter(|v| !products.contains(v))
        .collect();
    Some(Plan { products, others })
}

/// The plan's leaves as ids of the new graph: the rewrite renames operands only one level
/// deep, so the leaves are found again under the renamed root.
fn renamed_leaves(g: &Graph, new: &Graph, old: ValueId, node: &Node, plan: &Plan) -> Plan {
    // Old and new chains have the same structure: walk both in step.
    let mut map: HashMap<ValueId, ValueId> = HashMap::new();
    let mut stack: Vec<(ValueId, ValueId)> = g
        .node(old)
        .op
        .operands()
        .into_iter()
        .zip(node.op.operands())
        .collect();
    while let Some((o, n)) = stack.pop() {
        map.insert(o, n);
        if !plan.products.contains(&o) && !plan.others.contains(&o) {
            let pairs = g.node(o).op.operands().into_iter();
            stack.extend(pairs.zip(new.node(n).op.operands()));
        }
    }
    let rename = |vs: &[ValueId]| vs.iter().map(|v| map[v]).collect();
    Plan {
        products: rename(&plan.products),
        others: rename(&plan.others),
    }
}

/// The root rebuilt: two concatenations, one product, and the other leaves added to it.
fn emit(new: &Graph, node: &Node, renamed: &Plan) -> Rewrite {
    let Op::MatMul {
        trans_a, trans_b, ..
    } = new.node(renamed.products[0]).op
    else {
        return Rewrite::Keep;
    };
    let operands: Vec<(ValueId, ValueId)> = renamed
        .products
        .iter()
        .filter_map(|&p| match new.node(p).op {
            Op::MatMul { a, b, .. } => Some((a, b)),
            _ => None,
        })
        .collect();
    // The contracted axis: a is [M, K] (or [K, M] transposed), b is [K, N] (or [N, K]).
    let axis_a = usize::from(!trans_a);
    let axis_b = usize::from(trans_b);
    let concat = |xs: Vec<ValueId>, axis: usize| {
        let mut shape: Shape = new.shape(xs[0]).to_vec();
        shape[axis] = xs.iter().map(|&x| new.shape(x)[axis]).sum();
        (Op::Concat { xs, axis }, shape)
    };
    let next = |k: usize| ValueId((new.len() + k) as u32);
    let mut ops = vec![
        concat(operands.iter().map(|p| p.0).collect(), axis_a),
        concat(operands.iter().map(|p| p.1).collect(), axis_b),
        (
            Op::MatMul {
                a: next(0),
                b: next(1),
                trans_a,
                trans_b,
            },
            node.shape.clone(),
        ),
    ];
    for &other in &renamed.others {
        let sum = next(ops.len() - 1);
        ops.push((
            Op::Binary {
                op: BinaryOp::Add,
                a: sum,
                b: other,
            },
            node.shape.clone(),
        ));
    }
    Rewrite::Emit(ops)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{interp, Role, Tensor};

    fn count_matmuls(g: &Graph) -> usize {
        g.nodes
            .iter()
            .filter(|n| matches!(n.op, Op::MatMul { .. }))
            .count()
    }

    fn env(g: &Graph) -> HashMap<String, Tensor<f64>> {
        let mut env = HashMap::new();
        for (k, (name, shape)) in g.inputs().into_iter().enumerate() {
            let n: usize = shape.iter().product();
            let data = (0..n)
                .map(|i| ((i * 7 + k * 3) % 11) as f64 - 5.0)
                .collect();
            env.insert(name.to_owned(), Tensor::new(shape.to_vec(), data));
        }
        env
    }

    /// Σₜ dₜᵀ·hₜ + extra, the shape of a recurrent weight gradient with a bias-like extra term.
    fn weight_gradient(steps: usize, trans_a: bool, trans_b: bool) -> Graph {
        let mut g = Graph::new();
        let (m, k, n) = (3, 2, 4);
        let a_shape = if trans_a { vec![k, m] } else { vec![m, k] };
        let b_shape = if trans_b { vec![n, k] } else { vec![k, n] };
        let extra = g.input("extra", vec![m, n]);
        let mut sum = None;
        for t in 0..steps {
            let a = g.input(format!("a{t}"), a_shape.clone());
            let b = g.input(format!("b{t}"), b_shape.clone());
            let p = g.matmul(a, b, trans_a, trans_b);
            sum = Some(match sum {
                None => p,
                Some(s) => g.add(s, p),
            });
            if t == 1 {
                sum = sum.map(|s| g.add(s, extra));
            }
        }
        let total = sum.expect("at least one step");
        g.add_output("grad", total, Role::Value);
        g
    }

    #[test]
    fn a_sum_of_products_becomes_one_product_with_the_same_value_in_every_layout() {
        for (trans_a, trans_b) in [(false, false), (true, false), (false, true), (true, true)] {
            let g = weight_gradient(5, trans_a, trans_b);
            let merged = super::super::dce(&batch_contractions(&g));
            assert_eq!(count_matmuls(&merged), 1, "layout {trans_a} {trans_b}");
            crate::ir::verify::verify(&merged).expect("the rewritten graph verifies");
            let env = env(&g);
            let before = interp::run(&g, &env).expect("runs");
            let after = interp::run(&merged, &env).expect("runs");
            assert_eq!(before[0].data, after[0].data, "integers sum exactly in f64");
        }
    }

    #[test]
    fn products_used_elsewhere_or_of_other_shapes_are_left_alone() {
        let mut g = Graph::new();
        let a = g.input("a", vec![3, 2]);
        let b = g.input("b", vec![2, 4]);
        let c = g.input("c", vec![3, 5]);
        let d = g.input("d", vec![5, 4]);
        let p = g.matmul(a, b, false, false);
        let q = g.matmul(c, d, false, false);
        let sum = g.add(p, q);
        g.add_output("sum", sum, Role::Value);
        let merged = super::super::dce(&batch_contractions(&g));
        assert_eq!(count_matmuls(&merged), 2, "K differs");

        let mut g = Graph::new();
        let a = g.input("a", vec![3, 2]);
        let b = g.input("b", vec![2, 4]);
        let p = g.matmul(a, b, false, false);
        let q = g.matmul(a, b, false, false);
        let sum = g.add(p, q);
        g.add_output("sum", sum, Role::Value);
        g.add_output("p", p, Role::Value);
        assert_eq!(batch_contractions(&g), g, "p is an output too");
    }
}
