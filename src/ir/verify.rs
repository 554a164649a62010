//! The verifier: checks that a graph is well formed (operands defined before use, every node's
//! shape consistent with its op's rule, outputs valid). Tests run it after every pass.

use super::print::op_name;
use super::{broadcast_shape, numel, Graph, Node, Op, Output, Role, Shape, ValueId, Window2d};
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

fn check_output(g: &Graph, o: &Output) -> Result<(), VerifyError> {
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

/// One node against its op's rule; operands are already known to exist.
fn check_node(g: &Graph, id: ValueId, node: &Node) -> Result<(), VerifyError> {
    let operands: Vec<Shape> = (node.op.operands().iter())
        .map(|&v| g.shape(v).to_vec())
        .collect();
    let op = op_name(&node.op);
    shape_rule(&node.op, &operands, &node.shape).map_err(|fault| match fault {
        Fault::Shape(rule) => VerifyError::BadShape {
            node: id,
            op,
            operands,
            shape: node.shape.clone(),
            rule,
        },
        Fault::Attribute(detail) => VerifyError::BadAttribute {
            node: id,
            op,
            detail,
        },
    })
}

/// What a rule found wrong: the shape (described as what the rule requires) or an attribute.
enum Fault {
    Shape(String),
    Attribute(String),
}

/// Each op's shape rule: most ops determine their result's shape from their operands; leaves,
/// reshapes, broadcasts and masks are given a shape that must merely be compatible.
fn shape_rule(op: &Op, operands: &[Shape], shape: &Shape) -> Result<(), Fault> {
    let want = match op {
        Op::Input { .. } | Op::Param { .. } | Op::Const { .. } => return Ok(()),
        Op::Unary { .. } | Op::Binary { .. } | Op::Compare { .. } | Op::Select { .. } => {
            let equal = operands.iter().all(|s| s == shape);
            return require(equal, || "every operand of the result's shape".into());
        }
        Op::MatMul {
            trans_a, trans_b, ..
        } => matmul_shape(operands, *trans_a, *trans_b)?,
        Op::Reduce {
            axes, keep_dims, ..
        } => reduce_shape(&operands[0], axes, *keep_dims)?,
        Op::Reshape { .. } => {
            let n = numel(&operands[0]);
            return require(n == numel(shape), || format!("{n} elements"));
        }
        Op::Transpose { perm, .. } => transpose_shape(&operands[0], perm)?,
        Op::Broadcast { .. } => {
            let ok = broadcast_shape(&operands[0], shape).as_ref() == Some(shape);
            return require(ok, || "a shape the operand broadcasts to".into());
        }
        Op::Slice {
            axis, start, len, ..
        } => slice_shape(&operands[0], *axis, *start, *len)?,
        Op::Concat { axis, .. } => concat_shape(operands, *axis)?,
        Op::Windows { win, .. } => windows_shape(&operands[0], win)?,
        Op::WindowsAdd { win, .. } => {
            // The result's shape is given; its windows must be the operand.
            let want = windows_shape(shape, win)?;
            let rule = || format!("an [N, H, W, C] shape whose windows are {want:?}");
            return require(want == operands[0], rule);
        }
        Op::RandomMask { p, .. } => {
            if !(0.0..1.0).contains(p) {
                return Err(Fault::Attribute(format!("p = {p} is not in [0, 1)")));
            }
            return require(operands[0].is_empty(), || "a scalar counter".into());
        }
    };
    require(*shape == want, || format!("{want:?}"))
}

fn windows_shape(x: &Shape, win: &Window2d) -> Result<Shape, Fault> {
    if let Some(detail) = win.fault() {
        return Err(Fault::Attribute(detail));
    }
    if x.len() != 4 {
        return Err(Fault::Shape("an [N, H, W, C] tensor".into()));
    }
    win.windows_shape(x)
        .ok_or_else(|| Fault::Attribute(format!("the window {win:?} does not fit in {x:?}")))
}

fn require(ok: bool, rule: impl FnOnce() -> String) -> Result<(), Fault> {
    if ok {
        Ok(())
    } else {
        Err(Fault::Shape(rule()))
    }
}

fn matmul_shape(operands: &[Shape], ta: bool, tb: bool) -> Result<Shape, Fault> {
    let (a, b) = (&operands[0], &operands[1]);
    if a.len() != 2 || b.len() != 2 {
        return Err(Fault::Shape("two matrices".into()));
    }
    let (m, ka) = if ta { (a[1], a[0]) } else { (a[0], a[1]) };
    let (kb, n) = if tb { (b[1], b[0]) } else { (b[0], b[1]) };
    if ka != kb {
        let rule = format!("equal inner dimensions (found {ka} and {kb})");
        return Err(Fault::Shape(rule));
    }
    Ok(vec![m, n])
}

fn reduce_shape(x: &Shape, axes: &[usize], keep_dims: bool) -> Result<Shape, Fault> {
    let sorted = axes.windows(2).all(|w| w[0] < w[1]);
    if !sorted || axes.iter().any(|&a| a >= x.len()) {
        let rank = x.len();
        let detail = format!("axes {axes:?} must be sorted, unique and below rank {rank}");
        return Err(Fault::Attribute(detail));
    }
    Ok((x.iter().enumerate())
        .filter_map(|(i, &d)| match (axes.contains(&i), keep_dims) {
            (false, _) => Some(d),
            (true, true) => Some(1),
            (true, false) => None,
        })
        .collect())
}

fn transpose_shape(x: &Shape, perm: &[usize]) -> Result<Shape, Fault> {
    let mut sorted = perm.to_vec();
    sorted.sort_unstable();
    if sorted != (0..x.len()).collect::<Vec<_>>() {
        let detail = format!("{perm:?} is not a permutation of {} axes", x.len());
        return Err(Fault::Attribute(detail));
    }
    Ok(perm.iter().map(|&p| x[p]).collect())
}

fn slice_shape(x: &Shape, axis: usize, start: usize, len: usize) -> Result<Shape, Fault> {
    if axis >= x.len() || start + len > x[axis] {
        let end = start + len;
        let detail = format!("slice {start}..{end} of axis {axis} is out of range for {x:?}");
        return Err(Fault::Attribute(detail));
    }
    let mut want = x.clone();
    want[axis] = len;
    Ok(want)
}

fn concat_shape(operands: &[Shape], axis: usize) -> Result<Shape, Fault> {
    let first = operands
        .first()
        .ok_or_else(|| Fault::Attribute("concat of no operands".into()))?;
    if axis >= first.len() {
        let detail = format!("axis {axis} is out of range for rank {}", first.len());
        return Err(Fault::Attribute(detail));
    }
    let mut want = first.clone();
    want[axis] = 0;
    for s in operands {
        let agree = s.len() == first.len() && (0..s.len()).all(|i| i == axis || s[i] == first[i]);
        if !agree {
            let detail = format!("operand {s:?} does not match {first:?} off axis {axis}");
            return Err(Fault::Attribute(detail));
        }
        want[axis] += s[axis];
    }
    Ok(want)
}
