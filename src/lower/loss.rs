//! The losses, each a masked mean over the batch: L = Σᵢ maskᵢ·ℓᵢ / Σᵢ maskᵢ, so the padded
//! rows of a last partial batch count for nothing.

use super::act;
use super::layers::{Lowering, Top};
use super::{Mode, ParamKind};
use crate::ir::{ReduceOp, UnaryOp, ValueId};
use crate::model::{Activation, Loss, Model};

/// Returns (the model's output, the scalar loss). Both classification losses read logits, as
/// PyTorch's do: a final softmax (cross-entropy) or sigmoid (binary cross-entropy) is fused
/// into the loss, and without one the raw outputs are the logits; the model's output is then
/// the probabilities either way.
pub fn lower_loss(
    cx: &mut Lowering<'_>,
    model: &Model,
    top: Top,
    y: ValueId,
    mask: ValueId,
) -> (ValueId, ValueId) {
    cx.graph.set_origin(Some(model.train.span), None);
    let (output, per_row) = match (model.train.loss, top.logits) {
        (Loss::CrossEntropy, Some((z, Activation::Softmax))) => {
            cx.set_last_gradient_point(z);
            (top.value, cross_entropy(cx, z, y))
        }
        (Loss::CrossEntropy, _) => {
            let probs = act::softmax(&mut cx.graph, top.value);
            (probs, cross_entropy(cx, top.value, y))
        }
        (Loss::BinaryCrossEntropy, Some((z, Activation::Sigmoid))) => {
            cx.set_last_gradient_point(z);
            (top.value, bce_logits(cx, z, y))
        }
        (Loss::BinaryCrossEntropy, _) => {
            let probs = cx.graph.unary(UnaryOp::Sigmoid, top.value);
            (probs, bce_logits(cx, top.value, y))
        }
        (Loss::Mse, _) => {
            let g = &mut cx.graph;
            let out = flatten_rows(g, top.value);
            let d = g.sub(out, y);
            let sq = g.unary(UnaryOp::Square, d);
            (top.value, g.reduce(ReduceOp::Mean, sq, &[1], false))
        }
    };
    let g = &mut cx.graph;
    let weighted = g.mul(per_row, mask);
    let total = g.reduce_all(ReduceOp::Sum, weighted);
    let count = g.reduce_all(ReduceOp::Sum, mask);
    let mut loss = g.div(total, count);
    if cx.opts.l2 && cx.opts.mode == Mode::Train && model.train.l2 > 0.0 {
        loss = add_l2(cx, loss, model.train.l2);
    }
    (output, loss)
}

/// ℓ = logsumexp(z) − Σ y·z = −Σ y·log_softmax(z).
fn cross_entropy(cx: &mut Lowering<'_>, z: ValueId, y: ValueId) -> ValueId {
    let g = &mut cx.graph;
    let z = flatten_rows(g, z);
    let log_p = act::log_softmax(g, z);
    let prod = g.mul(y, log_p);
    let s = g.reduce(ReduceOp::Sum, prod, &[1], false);
    g.unary(UnaryOp::Neg, s)
}

/// Binary cross-entropy from logits, mean over outputs: ℓ = softplus(z) − z·y, whose
/// gradient σ(z) − y the softplus op gives exactly, at z = 0 too.
fn bce_logits(cx: &mut Lowering<'_>, z: ValueId, y: ValueId) -> ValueId {
    let g = &mut cx.graph;
    let z = flatten_rows(g, z);
    let soft = act::softplus(g, z);
    let zy = g.mul(z, y);
    let l = g.sub(soft, zy);
    g.reduce(ReduceOp::Mean, l, &[1], false)
}

/// λ/2·Σ‖W‖² over weight matrices (not biases, norms or slopes).
fn add_l2(cx: &mut Lowering<'_>, loss: ValueId, lambda: f64) -> ValueId {
    let weights: Vec<ValueId> = cx
        .params()
        .iter()
        .filter(|p| p.kind == ParamKind::Weight)
        .map(|p| p.value)
        .collect();
    let g = &mut cx.graph;
    let mut penalty = None;
    for w in weights {
        let sq = g.unary(UnaryOp::Square, w);
        let s = g.reduce_all(ReduceOp::Sum, sq);
        penalty = Some(match penalty {
            Some(acc) => g.add(acc, s),
            None => s,
        });
    }
    match penalty {
        Some(p) => {
            let p = g.scale(p, lambda / 2.0);
            g.add(loss, p)
        }
        None => loss,
    }
}

/// [B, ...] → [B, n].
fn flatten_rows(g: &mut crate::ir::Graph, v: ValueId) -> ValueId {
    let shape = g.shape(v).to_vec();
    let n = shape[1..].iter().product();
    g.reshape(v, vec![shape[0], n])
}
