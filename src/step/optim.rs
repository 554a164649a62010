//! Optimizer updates as IR, following PyTorch's update rules exactly so results can be
//! compared with it.

use super::{ParamGrad, StateSpec};
use crate::ir::{Graph, UnaryOp, ValueId};
use crate::model::Optimizer;

/// New values of parameters and of optimizer state, and the state's specifications.
pub(crate) struct Updates {
    pub new_params: Vec<(String, ValueId)>,
    pub new_state: Vec<(String, ValueId)>,
    pub state: Vec<StateSpec>,
}

/// Applies `opt` to every parameter. `lr` is the scheduled learning rate and `t` the 1-based
/// step number (both scalar inputs).
pub(crate) fn apply(
    g: &mut Graph,
    opt: &Optimizer,
    pgrads: &[ParamGrad],
    lr: ValueId,
    t: ValueId,
) -> Updates {
    let mut up = Updates {
        new_params: Vec::new(),
        new_state: Vec::new(),
        state: Vec::new(),
    };
    for pg in pgrads {
        let p = pg.spec.value;
        let grad = pg.grad;
        let new_p = match *opt {
            Optimizer::Sgd {
                momentum, nesterov, ..
            } => {
                if momentum == 0.0 {
                    step(g, p, lr, grad)
                } else {
                    // buf ← μ·buf + g; direction = g + μ·buf (nesterov) or buf
                    let buf = state(g, &mut up, pg, "momentum");
                    let decayed = g.scale(buf, momentum);
                    let new_buf = g.add(decayed, grad);
                    set_state(&mut up, pg, "momentum", new_buf);
                    let dir = if nesterov {
                        let m = g.scale(new_buf, momentum);
                        g.add(grad, m)
                    } else {
                        new_buf
                    };
                    step(g, p, lr, dir)
                }
            }
            Optimizer::RmsProp {
                alpha,
                eps,
                momentum,
                ..
            } => {
                // sq ← α·sq + (1 − α)·g²; direction = g / (√sq + ε), through momentum if μ > 0
                let sq = state(g, &mut up, pg, "square_avg");
                let grad_sq = square(g, grad);
                let new_sq = ema(g, sq, grad_sq, alpha);
                set_state(&mut up, pg, "square_avg", new_sq);
                let root = g.unary(UnaryOp::Sqrt, new_sq);
                let denom = g.offset(root, eps);
                let dir = g.div(grad, denom);
                if momentum == 0.0 {
                    step(g, p, lr, dir)
                } else {
                    let buf = state(g, &mut up, pg, "momentum");
                    let decayed = g.scale(buf, momentum);
                    let new_buf = g.add(decayed, dir);
                    set_state(&mut up, pg, "momentum", new_buf);
                    step(g, p, lr, new_buf)
                }
            }
            Optimizer::AdaGrad { eps, .. } => {
                // sum ← sum + g²; direction = g / (√sum + ε)
                let sum = state(g, &mut up, pg, "sum");
                let sq = square(g, grad);
                let new_sum = g.add(sum, sq);
                set_state(&mut up, pg, "sum", new_sum);
                let root = g.unary(UnaryOp::Sqrt, new_sum);
                let denom = g.offset(root, eps);
                let dir = g.div(grad, denom);
                step(g, p, lr, dir)
            }
            Optimizer::Adam {
                beta1, beta2, eps, ..
            } => adam(g, &mut up, pg, p, lr, t, [beta1, beta2, eps]),
            Optimizer::AdamW {
                beta1,
                beta2,
                eps,
                weight_decay,
                ..
            } => {
                // decoupled decay first: p ← p − lr·λ·p, then Adam
                let lr_wd = g.scale(lr, weight_decay);
                let decay = g.mul(p, lr_wd);
                let decayed = g.sub(p, decay);
                adam(g, &mut up, pg, decayed, lr, t, [beta1, beta2, eps])
            }
        };
        up.new_params.push((pg.spec.name.clone(), new_p));
    }
    up
}

/// m ← β₁m + (1 − β₁)g; v ← β₂v + (1 − β₂)g²; p ← p − lr·m̂/(√v̂ + ε) with the bias
/// corrections m̂ = m/(1 − β₁ᵗ), v̂ = v/(1 − β₂ᵗ).
#[allow(clippy::too_many_arguments)]
fn adam(
    g: &mut Graph,
    up: &mut Updates,
    pg: &ParamGrad,
    p: ValueId,
    lr: ValueId,
    t: ValueId,
    [beta1, beta2, eps]: [f64; 3],
) -> ValueId {
    let grad = pg.grad;
    let m = state(g, up, pg, "exp_avg");
    let v = state(g, up, pg, "exp_avg_sq");
    let new_m = ema(g, m, grad, beta1);
    let grad_sq = square(g, grad);
    let new_v = ema(g, v, grad_sq, beta2);
    set_state(up, pg, "exp_avg", new_m);
    set_state(up, pg, "exp_avg_sq", new_v);
    let bc1 = bias_correction(g, beta1, t);
    let bc2 = bias_correction(g, beta2, t);
    let m_hat = g.div(new_m, bc1);
    let v_hat = g.div(new_v, bc2);
    let root = g.unary(UnaryOp::Sqrt, v_hat);
    let denom = g.offset(root, eps);
    let dir = g.div(m_hat, denom);
    step(g, p, lr, dir)
}

/// 1 − βᵗ = 1 − e^(t·ln β).
fn bias_correction(g: &mut Graph, beta: f64, t: ValueId) -> ValueId {
    let exponent = g.scale(t, beta.ln());
    let pow = g.unary(UnaryOp::Exp, exponent);
    let neg = g.unary(UnaryOp::Neg, pow);
    g.offset(neg, 1.0)
}

/// β·old + (1 − β)·new.
fn ema(g: &mut Graph, old: ValueId, new: ValueId, beta: f64) -> ValueId {
    let a = g.scale(old, beta);
    let b = g.scale(new, 1.0 - beta);
    g.add(a, b)
}

fn square(g: &mut Graph, v: ValueId) -> ValueId {
    g.unary(UnaryOp::Square, v)
}

/// p − lr·direction.
fn step(g: &mut Graph, p: ValueId, lr: ValueId, direction: ValueId) -> ValueId {
    let scaled = g.mul(direction, lr);
    g.sub(p, scaled)
}

/// Declares (once) and reads the optimizer state tensor `<param>.<what>`.
fn state(g: &mut Graph, up: &mut Updates, pg: &ParamGrad, what: &str) -> ValueId {
    let name = state_name(&pg.spec.name, what);
    if !up.state.iter().any(|s| s.name == name) {
        up.state.push(StateSpec {
            name: name.clone(),
            shape: pg.spec.shape.clone(),
            param: pg.spec.name.clone(),
        });
    }
    g.param(name, pg.spec.shape.clone())
}

fn set_state(up: &mut Updates, pg: &ParamGrad, what: &str, value: ValueId) {
    up.new_state.push((state_name(&pg.spec.name, what), value));
}

/// `optim.<param>.<what>`, e.g. `optim.dense1.weight.exp_avg` (PyTorch's state names).
pub fn state_name(param: &str, what: &str) -> String {
    format!("optim.{param}.{what}")
}
