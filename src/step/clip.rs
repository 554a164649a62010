//! Gradient clipping, as IR: by global norm, by each layer's norm, or by value.

use super::{sum_sq, ParamGrad};
use crate::ir::{BinaryOp, Graph, UnaryOp, ValueId};
use crate::model::Clip;

/// Small constant that keeps the clip factor finite for zero gradients (PyTorch uses 1e-6).
const NORM_EPS: f64 = 1e-6;

/// Rewrites each gradient in `pgrads` to its clipped value.
pub(crate) fn apply(g: &mut Graph, clip: &Clip, pgrads: &mut [ParamGrad], global_norm: ValueId) {
    match *clip {
        Clip::None => {}
        Clip::GlobalNorm(max) => {
            let factor = clip_factor(g, global_norm, max);
            for pg in pgrads.iter_mut() {
                pg.grad = g.mul(pg.grad, factor);
            }
        }
        Clip::LayerNorm(max) => {
            let mut layers: Vec<String> = pgrads.iter().map(|p| p.spec.layer.clone()).collect();
            layers.dedup();
            for layer in layers {
                let mut total = g.scalar(0.0);
                for pg in pgrads.iter().filter(|p| p.spec.layer == layer) {
                    let sq = sum_sq(g, pg.grad);
                    total = g.add(total, sq);
                }
                let norm = g.unary(UnaryOp::Sqrt, total);
                let factor = clip_factor(g, norm, max);
                for pg in pgrads.iter_mut().filter(|p| p.spec.layer == layer) {
                    pg.grad = g.mul(pg.grad, factor);
                }
            }
        }
        Clip::Value(v) => {
            let hi = g.scalar(v);
            let lo = g.scalar(-v);
            for pg in pgrads.iter_mut() {
                let upper = g.binary(BinaryOp::Min, pg.grad, hi);
                pg.grad = g.binary(BinaryOp::Max, upper, lo);
            }
        }
    }
}

/// min(1, max / (norm + ε)).
fn clip_factor(g: &mut Graph, norm: ValueId, max: f64) -> ValueId {
    let denom = g.offset(norm, NORM_EPS);
    let max = g.scalar(max);
    let ratio = g.div(max, denom);
    let one = g.scalar(1.0);
    g.binary(BinaryOp::Min, ratio, one)
}
