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
            Optimizer::NAdam {
                beta1,
                beta2,
                eps,
                momentum_decay,
                weight_decay,
                ..
            } => {
                let args = [beta1, beta2, eps, momentum_decay, weight_decay];
                nadam(g, &mut up, pg, lr, t, args)
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

/// PyTorch's NAdam, step t: with μₜ = β₁(1 − ½·0.96^(t·ψ)) and Πₜ = μ₁···μₜ,
/// m ← β₁m + (1 − β₁)g; v ← β₂v + (1 − β₂)g²; d = √(v/(1 − β₂ᵗ)) + ε;
/// p ← p − lr(1 − μₜ)/(1 − Πₜ)·g/d − lr·μₜ₊₁/(1 − Πₜ·μₜ₊₁)·m/d.
/// The product is kept as its complement 1 − Πₜ, so that the state starts at zero like every
/// other state (Π₀ = 1) and is the very quantity the update divides by.
fn nadam(
    g: &mut Graph,
    up: &mut Updates,
    pg: &ParamGrad,
    lr: ValueId,
    t: ValueId,
    [beta1, beta2, eps, momentum_decay, weight_decay]: [f64; 5],
) -> ValueId {
    let p = pg.spec.value;
    let grad = if weight_decay == 0.0 {
        pg.grad
    } else {
        let decay = g.scale(p, weight_decay);
        g.add(pg.grad, decay)
    };
    let m = state(g, up, pg, "exp_avg");
    let v = state(g, up, pg, "exp_avg_sq");
    let rest = scalar_state(g, up, pg, "one_minus_mu_product");
    let new_m = ema(g, m, grad, beta1);
    let grad_sq = square(g, grad);
    let new_v = ema(g, v, grad_sq, beta2);
    let mu = nadam_mu(g, t, beta1, momentum_decay);
    let t_next = g.offset(t, 1.0);
    let mu_next = nadam_mu(g, t_next, beta1, momentum_decay);
    // 1 − Πₜ = 1 − (1 − rest)·μₜ, and 1 − Πₜ·μₜ₊₁ likewise from it.
    let new_rest = complement_times(g, rest, mu);
    let rest_next = complement_times(g, new_rest, mu_next);
    set_state(up, pg, "exp_avg", new_m);
    set_state(up, pg, "exp_avg_sq", new_v);
    set_state(up, pg, "one_minus_mu_product", new_rest);
    let bc2 = bias_correction(g, beta2, t);
    let v_hat = g.div(new_v, bc2);
    let root = g.unary(UnaryOp::Sqrt, v_hat);
    let denom = g.offset(root, eps);
    let neg_mu = g.unary(UnaryOp::Neg, mu);
    let one_minus_mu = g.offset(neg_mu, 1.0);
    let grad_weight = g.div(one_minus_mu, new_rest);
    let momentum_weight = g.div(mu_next, rest_next);
    let grad_part = g.mul(grad, grad_weight);
    let momentum_part = g.mul(new_m, momentum_weight);
    let numerator = g.add(grad_part, momentum_part);
    let dir = g.div(numerator, denom);
    step(g, p, lr, dir)
}

/// NAdam's momentum at step t: β₁(1 − ½·0.96^(t·ψ)), the power as e^(t·ψ·ln 0.96).
fn nadam_mu(g: &mut Graph, t: ValueId, beta1: f64, momentum_decay: f64) -> ValueId {
    let exponent = g.scale(t, momentum_decay * 0.96f64.ln());
    let pow = g.unary(UnaryOp::Exp, exponent);
    let half = g.scale(pow, -0.5);
    let factor = g.offset(half, 1.0);
    g.scale(factor, beta1)
}

/// 1 − (1 − c)·μ: the complement of a product gaining the factor μ.
fn complement_times(g: &mut Graph, c: ValueId, mu: ValueId) -> ValueId {
    let neg_c = g.unary(UnaryOp::Neg, c);
    let product = g.offset(neg_c, 1.0);
    let scaled = g.mul(product, mu);
    let neg = g.unary(UnaryOp::Neg, scaled);
    g.offset(neg, 1.0)
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

/// Declares (once) and reads the optimizer state tensor `<param>.<what>`, shaped like the
/// parameter.
fn state(g: &mut Graph, up: &mut Updates, pg: &ParamGrad, what: &str) -> ValueId {
    declare_state(g, up, pg, what, pg.spec.shape.clone())
}

/// Declares (once) and reads a scalar state `<param>.<what>` (one number per parameter, as
/// PyTorch's per-parameter `step` or `mu_product`).
fn scalar_state(g: &mut Graph, up: &mut Updates, pg: &ParamGrad, what: &str) -> ValueId {
    declare_state(g, up, pg, what, Vec::new())
}

fn declare_state(
    g: &mut Graph,
    up: &mut Updates,
    pg: &ParamGrad,
    what: &str,
    shape: Vec<usize>,
) -> ValueId {
    let name = state_name(&pg.spec.name, what);
    if !up.state.iter().any(|s| s.name == name) {
        up.state.push(StateSpec {
            name: name.clone(),
            shape: shape.clone(),
            param: pg.spec.name.clone(),
        });
    }
    g.param(name, shape)
}

fn set_state(up: &mut Updates, pg: &ParamGrad, what: &str, value: ValueId) {
    up.new_state.push((state_name(&pg.spec.name, what), value));
}

/// `optim.<param>.<what>`, e.g. `optim.dense1.weight.exp_avg` (PyTorch's state names).
pub fn state_name(param: &str, what: &str) -> String {
    format!("optim.{param}.{what}")
}
