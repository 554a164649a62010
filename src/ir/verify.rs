//! The verifier: checks that a graph is well formed (operands defined before use, every node's
//! shape consistent with its op's rule, outputs valid). Tests run it after every pass.

use super::print::op_name;
use super::{broadcast_shape, numel, Graph, Node, Op, Role, Shape, ValueId};
use std::collections::HashMap;

/// What is wrong with a graph, with the facts needed to find it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VerifyError {
    #[error("{node} uses {operand}, which is not defined before it")]
    UseBeforeDef { node: ValueId, operand: ValueId },
    #[error(
        "{node} = {op} has shape {shape:?}, but operands of shapes {operands:?} require {rule}"
    )]
    BadShape {
        node: ValueId,
        op: &'static str,
        operands: Vec<Shape>,
        shape: Shape,
        rule: String,
    },
    #[error("{node} = {op}: {detail}")]
    BadAttribute {
        node: ValueId,
        op: &'static str,
        detail: String,
    },
    #[error("leaf `{name}` appears with shapes {first:?} and {second:?}")]
    LeafShapeConflict {
        name: String,
        first: Shape,
        second: Shape,
    },
    #[error("output `{name}` refers to {value}, which is not a node of the graph")]
    OutputUndefined { name: String, value: ValueId },
    #[error("output `{name}` ({role}) must be {expected:?}, but its value has shape {shape:?}")]
    OutputShape {
        name: String,
        role: &'static str,
        expected: Shape,
        shape: Shape,
    },
    #[error("output `{name}` updates parameter `{param}`, which the graph does not have")]
    UpdateUnknownParam { name: String, param: String },
}

/// Checks the whole graph; the first problem found is returned.
pub fn verify(g: &Graph) -> Result<(), VerifyError> {
    let mut leaves: HashMap<&str, &Shape> = HashMap::new();
    for (i, node) in g.nodes.iter().enumerate() {
        let id = ValueId(i as u32);
        for operand in node.op.operands() {
            if operand.index() >= i {
                return Err(VerifyError::UseBeforeDef { node: id, operand });
            }
        }
        check_node(g, id, node)?;
        if let Op::Input { name } | Op::Param { name } = &node.op {
            match leaves.get(name.as_str()) {
                Some(first) if **first != node.shape => {
                    return Err(VerifyError::LeafShapeConflict {
                        name: name.clone(),
                        first: (*first).clone(),
                        second: node.shape.clone(),
                    })
                }
                Some(_) => {}
                None => {
                    leaves.insert(name, &node.shape);
                }
            }
        }
    }
    g.outputs.iter().try_for_each(|o| check_output(g, o))
}

fn check_output(g: &Graph, o: &super::Output) -> Result<(), VerifyError> {
    let node = g
        .nodes
        .get(o.value.index())
        .ok_or(VerifyError::OutputUndefined {
            name: o.name.clone(),
            value: o.value,
        })?;
    let (role, expected) = match &o.role {
        Role::Loss => ("loss", vec![]),
        Role::Probe { .. } => ("probe", vec![]),
        Role::Metric => ("metric", vec![]),
        Role::Value => return Ok(()),
        Role::Update { param } => {
            let shape = g
                .params()
                .into_iter()
                .find(|(name, _)| name == param)
                .map(|(_, shape)| shape.to_vec())
                .ok_or_else(|| VerifyError::UpdateUnknownParam {
                    name: o.name.clone(),
                    param: param.clone(),
                })?;
            ("update", shape)
        }
    };
    if node.shape != expected {
        return Err(VerifyError::OutputShape {
            name: o.name.clone(),
            role,
            expected,
            shape: node.shape.clone(),
        });
    }
    Ok(())
}

/// The op's shape rule applied to one node whose operands are already known to exist.
fn check_node(g: &Graph, id: ValueId, node: &Node) -> Result<(), VerifyError> {
    let shape = &node.shape;
    let operands: Vec<Shape> = node
        .op
        .operands()
        .iter()
        .map(|&v| g.shape(v).to_vec())
        .collect();
    let op = op_name(&node.op);
    let bad_shape = |rule: String| VerifyError::BadShape {
        node: id,
        op,
        operands: operands.clone(),
        shape: shape.clone(),
        rule,
    };
    let bad_attr = |detail: String| VerifyError::BadAttribute {
        node: id,
        op,
        detail,
    };
    let all_equal = || operands.iter().all(|s| s == shape);
    match &node.op {
        Op::Input { .. } | Op::Param { .. } | Op::Const { .. } => Ok(()),
        Op::Unary { .. } | Op::Binary { .. } | Op::Compare { .. } | Op::Select { .. } => {
            ensure(all_equal(), || {
                bad_shape("every operand of the result's shape".into())
            })
        }
        Op::MatMul {
            trans_a, trans_b, ..
        } => check_matmul(&operands, shape, *trans_a, *trans_b).map_err(bad_shape),
        Op::Reduce {
            axes, keep_dims, ..
        } => {
            let x = &operands[0];
            let sorted = axes.windows(2).all(|w| w[0] < w[1]);
            ensure(sorted && axes.iter().all(|&a| a < x.len()), || {
                bad_attr(format!(
                    "axes {axes:?} must be sorted, unique and below rank {}",
                    x.len()
                ))
            })?;
            let want: Shape = (x.iter().enumerate())
                .filter_map(|(i, &d)| match (axes.contains(&i), keep_dims) {
                    (false, _) => Some(d),
                    (true, true) => Some(1),
                    (true, false) => None,
                })
                .collect();
            ensure(*shape == want, || bad_shape(format!("{want:?}")))
        }
        Op::Reshape { .. } => ensure(numel(&operands[0]) == numel(shape), || {
            bad_shape(format!("{} elements", numel(&operands[0])))
        }),
        Op::Transpose { perm, .. } => {
            let x = &operands[0];
            let mut sorted = perm.clone();
            sorted.sort_unstable();
            ensure(sorted == (0..x.len()).collect::<Vec<_>>(), || {
                bad_attr(format!("{perm:?} is not a permutation of {} axes", x.len()))
            })?;
            let want: Shape = perm.iter().map(|&p| x[p]).collect();
            ensure(*shape == want, || bad_shape(format!("{want:?}")))
        }
        Op::Broadcast { .. } => {
            let ok = broadcast_shape(&operands[0], shape).as_ref() == Some(shape);
            ensure(ok, || bad_shape("a shape the operand broadcasts to".into()))
        }
        Op::Slice {
            axis, start, len, ..
        } => {
            let x = &operands[0];
            ensure(*axis < x.len() && start + len <= x[*axis], || {
                bad_attr(format!(
                    "slice {start}..{} of axis {axis} is out of range",
                    start + len
                ))
            })?;
            let mut want = x.clone();
            want[*axis] = *len;
            ensure(*shape == want, || bad_shape(format!("{want:?}")))
        }
        Op::Concat { axis, .. } => check_concat(&operands, *axis)
            .map_err(bad_attr)
            .and_then(|want| ensure(*shape == want, || bad_shape(format!("{want:?}")))),
        Op::RandomMask { p, .. } => {
            ensure((0.0..1.0).contains(p), || {
                bad_attr(format!("p = {p} is not in [0, 1)"))
            })?;
            ensure(operands[0].is_empty(), || {
                bad_shape("a scalar counter".into())
            })
        }
    }
}

fn ensure(ok: bool, err: impl FnOnce() -> VerifyError) -> Result<(), VerifyError> {
    if ok {
        Ok(())
    } else {
        Err(err())
    }
}

fn check_matmul(operands: &[Shape], shape: &Shape, ta: bool, tb: bool) -> Result<(), String> {
    let (a, b) = (&operands[0], &operands[1]);
    if a.len() != 2 || b.len() != 2 {
        return Err("two matrices".into());
    }
    let (m, ka) = if ta { (a[1], a[0]) } else { (a[0], a[1]) };
    let (kb, n) = if tb { (b[1], b[0]) } else { (b[0], b[1]) };
    if ka != kb {
        return Err(format!("equal inner dimensions (found {ka} and {kb})"));
    }
    if *shape != vec![m, n] {
        return Err(format!("{:?}", [m, n]));
    }
    Ok(())
}

fn check_concat(operands: &[Shape], axis: usize) -> Result<Shape, String> {
    let first = operands.first().ok_or("concat of no operands")?;
    if axis >= first.len() {
        return Err(format!(
            "axis {axis} is out of range for rank {}",
            first.len()
        ));
    }
    let mut want = first.clone();
    want[axis] = 0;
    for s in operands {
        let agree = s.len() == first.len() && (0..s.len()).all(|i| i == axis || s[i] == first[i]);
        if !agree {
            return Err(format!(
                "operand {s:?} does not match {first:?} off axis {axis}"
            ));
        }
        want[axis] += s[axis];
    }
    Ok(want)
}
