//! Gradient checking: reverse-mode gradients compared with central finite differences, in f64.
//! The one home of the checker: the tests and `netc gradcheck` use it.
//!
//! For a scalar output L and each named leaf (parameter or input) x, every element xᵢ is nudged
//! by ±h and ∂L/∂xᵢ ≈ (L(x + h) − L(x − h)) / 2h. The one error formula, [`relative_error`]:
//!
//! ```text
//! error(a, n) = max(0, |a − n| − allowance) / max(|a|, |n|, floor)
//! ```
//!
//! The floor keeps near-zero gradients from turning round-off into huge relative errors; the
//! allowance is 0 except where [`best_agreement`] discounts the round-off r = 16·ε·|L|/h that
//! a difference quotient of a loss of size |L| carries. The defaults (h = 1e-5 scaled by
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
    Ok(run(&gradient_program(g, loss, names)?, env)?)
}

/// `g` with its outputs replaced by ∂loss/∂leaf for every leaf in `names`, in order: the
/// program [`analytic_gradients`] interprets, and a backend under test compiles.
pub fn gradient_program(g: &Graph, loss: ValueId, names: &[&str]) -> Result<Graph, GradCheckError> {
    scalar_loss(g, loss)?;
    let mut with_grad = g.clone();
    with_grad.outputs.clear();
    for name in names {
        let nodes = leaf_nodes(g, name)?;
        let adjoints = grad(&mut with_grad, loss, &nodes);
        let total = (adjoints.iter().skip(1)).fold(adjoints[0], |sum, &d| with_grad.add(sum, d));
        with_grad.add_output(format!("∂{name}"), total, Role::Value);
    }
    Ok(with_grad)
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

/// |a − n| / max(|a|, |n|, floor): [`relative_error_beyond`] with no allowance.
pub fn relative_error(analytic: f64, numeric: f64, floor: f64) -> f64 {
    relative_error_beyond(analytic, numeric, floor, 0.0)
}

/// The error formula of every check: max(0, |a − n| − allowance) / max(|a|, |n|, floor),
/// where `allowance` is an absolute disagreement known to be round-off.
pub fn relative_error_beyond(analytic: f64, numeric: f64, floor: f64, allowance: f64) -> f64 {
    let beyond = ((analytic - numeric).abs() - allowance).max(0.0);
    if beyond == 0.0 {
        return 0.0;
    }
    beyond / analytic.abs().max(numeric.abs()).max(floor)
}

/// Step sizes [`best_agreement`] tries, as multiples of [`Options::step`].
pub const STEP_SCALES: [f64; 4] = [10.0, 1.0, 0.1, 0.01];

/// How one element's gradient agrees with finite differences, each at its best step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Agreement {
    /// The relative error.
    pub rel: f64,
    /// The absolute error.
    pub abs: f64,
    /// The relative error beyond the difference quotient's round-off.
    pub beyond_round_off: f64,
}

/// Compares `analytic`, the gradient of element `i` of leaf `name`, with central differences
/// of `forward`'s first output (the loss, of size about `loss_scale`) at every step of
/// [`STEP_SCALES`], keeping the best agreement: truncation error shrinks with h and round-off
/// grows, so a correct gradient agrees at some h and a wrong rule at none (steep losses, such
/// as a recurrent net in its chaotic regime, need small h). `env` is restored before returning.
pub fn best_agreement(
    forward: &Graph,
    env: &mut HashMap<String, Tensor<f64>>,
    (name, i): (&str, usize),
    analytic: f64,
    loss_scale: f64,
    opts: &Options,
) -> Result<Agreement, GradCheckError> {
    let x = env
        .get(name)
        .and_then(|t| t.data.get(i).copied())
        .ok_or_else(|| GradCheckError::UnknownLeaf(name.to_owned()))?;
    let mut at = |xi: f64| -> Result<f64, GradCheckError> {
        if let Some(t) = env.get_mut(name) {
            t.data[i] = xi;
        }
        Ok(run(forward, env)?[0].data[0])
    };
    let mut best = Agreement {
        rel: f64::INFINITY,
        abs: f64::INFINITY,
        beyond_round_off: f64::INFINITY,
    };
    for scale in STEP_SCALES {
        let h = opts.step * scale * x.abs().max(1.0);
        let numeric = (at(x + h)? - at(x - h)?) / (2.0 * h);
        let round_off = 16.0 * f64::EPSILON * loss_scale / h;
        let beyond = relative_error_beyond(analytic, numeric, opts.floor, round_off);
        best.rel = best.rel.min(relative_error(analytic, numeric, opts.floor));
        best.abs = best.abs.min((analytic - numeric).abs());
        best.beyond_round_off = best.beyond_round_off.min(beyond);
    }
    at(x)?;
    Ok(best)
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
