//! Gradient checking: reverse-mode gradients compared with central finite differences, in f64.
//!
//! For a scalar output L and each named leaf (parameter or input) x, every element xᵢ is nudged
//! by ±h and ∂L/∂xᵢ ≈ (L(x + h) − L(x − h)) / 2h; the error against autodiff is
//! |analytic − numeric| / max(|analytic|, |numeric|, floor). The floor keeps near-zero
//! gradients from turning round-off into huge relative errors. The defaults (h = 1e-5 scaled by
//! max(1, |xᵢ|), floor 1e-3, tolerance 1e-6) leave round-off and truncation errors around 1e-9
//! while a wrong rule is off by far more; see docs/ir.md.

use crate::autodiff::grad;
use crate::ir::interp::{run, InterpError};
use crate::ir::passes::dce;
use crate::ir::{Graph, Op, Role, Tensor, ValueId};
use std::collections::HashMap;

/// Step, denominator floor and pass/fail threshold of a check.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Options {
    /// Relative step: xᵢ is nudged by `step · max(1, |xᵢ|)`.
    pub step: f64,
    /// Smallest denominator of the relative error.
    pub floor: f64,
    /// A leaf passes when its max relative error is at most this.
    pub tolerance: f64,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            step: 1e-5,
            floor: 1e-3,
            tolerance: 1e-6,
        }
    }
}

/// The outcome for one leaf: its worst element.
#[derive(Debug, Clone, PartialEq)]
pub struct LeafError {
    pub name: String,
    pub max_rel_error: f64,
    pub max_abs_error: f64,
    /// Row-major index of the element with the largest relative error.
    pub worst_index: usize,
    pub analytic: f64,
    pub numeric: f64,
}

impl LeafError {
    pub fn passes(&self, opts: &Options) -> bool {
        self.max_rel_error <= opts.tolerance
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GradCheckError {
    #[error("the checked value must be a scalar, but it has shape {0:?}")]
    NotScalar(Vec<usize>),
    #[error("{0} is not a node of the program")]
    NoSuchValue(ValueId),
    #[error("the program has no input or parameter named `{0}`")]
    UnknownLeaf(String),
    #[error("{0}")]
    Interp(#[from] InterpError),
}

/// Compares autodiff with finite differences for the scalar `loss` of `g` with respect to each
/// leaf in `names`, at the point `env`. Returns one [`LeafError`] per name, in order.
pub fn gradcheck(
    g: &Graph,
    loss: ValueId,
    names: &[&str],
    env: &HashMap<String, Tensor<f64>>,
    opts: &Options,
) -> Result<Vec<LeafError>, GradCheckError> {
    let analytic = analytic_gradients(g, loss, names, env)?;
    compare(g, loss, names, env, &analytic, opts)
}

/// ∂loss/∂leaf by reverse mode, run in the f64 interpreter. A leaf named on several nodes
/// receives the sum of their adjoints.
pub fn analytic_gradients(
    g: &Graph,
    loss: ValueId,
    names: &[&str],
    env: &HashMap<String, Tensor<f64>>,
) -> Result<Vec<Tensor<f64>>, GradCheckError> {
    scalar_loss(g, loss)?;
    let mut with_grad = g.clone();
    with_grad.outputs.clear();
    for name in names {
        let nodes = leaf_nodes(g, name)?;
        let adjoints = grad(&mut with_grad, loss, &nodes);
        let total = (adjoints.iter().skip(1)).fold(adjoints[0], |sum, &d| with_grad.add(sum, d));
        with_grad.add_output(format!("∂{name}"), total, Role::Value);
    }
    Ok(run(&with_grad, env)?)
}

/// Central finite differences of `loss` with respect to one leaf.
pub fn numeric_gradient(
    g: &Graph,
    loss: ValueId,
    name: &str,
    env: &HashMap<String, Tensor<f64>>,
    step: f64,
) -> Result<Tensor<f64>, GradCheckError> {
    scalar_loss(g, loss)?;
    leaf_nodes(g, name)?;
    let mut forward = g.clone();
    forward.outputs.clear();
    forward.add_output("loss", loss, Role::Loss);
    // only what the loss needs is evaluated on each of the 2·n runs
    let forward = dce(&forward);
    let x = env.get(name).ok_or_else(|| InterpError::Missing {
        kind: "leaf",
        name: name.to_owned(),
    })?;
    let mut env = env.clone();
    let mut numeric = Tensor::full(x.shape.clone(), 0.0);
    for i in 0..x.data.len() {
        let h = step * x.data[i].abs().max(1.0);
        let mut at = |xi: f64| -> Result<f64, GradCheckError> {
            let mut nudged = x.clone();
            nudged.data[i] = xi;
            env.insert(name.to_owned(), nudged);
            Ok(run(&forward, &env)?[0].data[0])
        };
        let (up, down) = (at(x.data[i] + h)?, at(x.data[i] - h)?);
        numeric.data[i] = (up - down) / (2.0 * h);
    }
    Ok(numeric)
}

/// Checks given gradients (from autodiff, or a hand-built backward program) against finite
/// differences.
pub fn compare(
    g: &Graph,
    loss: ValueId,
    names: &[&str],
    env: &HashMap<String, Tensor<f64>>,
    analytic: &[Tensor<f64>],
    opts: &Options,
) -> Result<Vec<LeafError>, GradCheckError> {
    names
        .iter()
        .zip(analytic)
        .map(|(name, a)| {
            let n = numeric_gradient(g, loss, name, env, opts.step)?;
            Ok(worst(name, a, &n, opts.floor))
        })
        .collect()
}

/// |a − n| / max(|a|, |n|, floor).
pub fn relative_error(analytic: f64, numeric: f64, floor: f64) -> f64 {
    let diff = (analytic - numeric).abs();
    if diff == 0.0 {
        return 0.0;
    }
    diff / analytic.abs().max(numeric.abs()).max(floor)
}

fn worst(name: &str, analytic: &Tensor<f64>, numeric: &Tensor<f64>, floor: f64) -> LeafError {
    let mut out = LeafError {
        name: name.to_owned(),
        max_rel_error: 0.0,
        max_abs_error: 0.0,
        worst_index: 0,
        analytic: analytic.data.first().copied().unwrap_or(0.0),
        numeric: numeric.data.first().copied().unwrap_or(0.0),
    };
    for (i, (&a, &n)) in analytic.data.iter().zip(&numeric.data).enumerate() {
        // NaN compares false, so a NaN gradient must be caught explicitly.
        let rel = if a.is_finite() && n.is_finite() {
            relative_error(a, n, floor)
        } else {
            f64::INFINITY
        };
        out.max_abs_error = out.max_abs_error.max((a - n).abs());
        if rel > out.max_rel_error {
            (
                out.max_rel_error,
                out.worst_index,
                out.analytic,
                out.numeric,
            ) = (rel, i, a, n);
        }
    }
    out
}

fn scalar_loss(g: &Graph, loss: ValueId) -> Result<(), GradCheckError> {
    let shape = g.nodes.get(loss.index()).map(|n| n.shape.clone());
    match shape {
        Some(s) if s.is_empty() => Ok(()),
        Some(s) => Err(GradCheckError::NotScalar(s)),
        None => Err(GradCheckError::NoSuchValue(loss)),
    }
}

/// Every Input or Param node named `name`.
fn leaf_nodes(g: &Graph, name: &str) -> Result<Vec<ValueId>, GradCheckError> {
    let nodes: Vec<ValueId> = (g.nodes.iter().enumerate())
        .filter(
            |(_, n)| matches!(&n.op, Op::Input { name: m } | Op::Param { name: m } if m == name),
        )
        .map(|(i, _)| ValueId(i as u32))
        .collect();
    if nodes.is_empty() {
        return Err(GradCheckError::UnknownLeaf(name.to_owned()));
    }
    Ok(nodes)
}
