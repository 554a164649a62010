//! Gradient-health lints: warnings with a reason and a fix. The static ones read only the
//! checked model (depth, inits, the recurrent weights' bound through time); the run-time ones also read what a run measured (gradient norms, update to
//! weight ratios), so `netc report` can show them against the user's file.

use super::spectral::{predict_layer, Regime};
use crate::diag::Diagnostic;
use crate::model::{Activation, Clip, Init, Layer, LayerKind, Model};
use crate::span::Span;

/// A run of this many sigmoid/tanh dense layers with a fixed-scale init is "deep".
pub const DEEP_STACK: usize = 4;
/// A clip threshold this many times away from the median gradient norm is "far".
pub const CLIP_FAR: f64 = 10.0;
/// An update larger than this fraction of the weight it changes "exceeds the weights".
pub const UPDATE_RATIO_MAX: f64 = 1.0;

/// Every static gradient-health lint of `model`.
pub fn check(model: &Model) -> Vec<Diagnostic> {
    let mut diags = across_depth(model);
    diags.extend(through_time(model));
    diags
}

/// Every static lint about gradients through time: the guaranteed vanishing, the edge of
/// the bound where a saturating rnn vanishes in practice, and the necessary condition for
/// exploding without a clip.
pub fn through_time(model: &Model) -> Vec<Diagnostic> {
    let mut diags = vanishing_through_time(model);
    diags.extend(beyond_the_bound(model));
    diags
}

/// The static lints about the gradient across depth (inits and activations layer by layer).
pub fn across_depth(model: &Model) -> Vec<Diagnostic> {
    let mut diags = saturating_stack(model);
    diags.extend(relu_with_xavier(model));
    diags
}

/// The activation a layer ends with, if any.
pub fn layer_act(layer: &Layer) -> Option<Activation> {
    match &layer.kind {
        LayerKind::Dense { act, .. } | LayerKind::Activation(act) => Some(*act),
        LayerKind::Conv2d(conv) => Some(conv.act),
        LayerKind::Recurrent(r) => match r.cell {
            crate::model::Cell::Rnn { act } => Some(act),
            crate::model::Cell::Lstm { .. } | crate::model::Cell::Gru => None,
        },
        LayerKind::BatchNorm { .. }
        | LayerKind::LayerNorm { .. }
        | LayerKind::Dropout { .. }
        | LayerKind::Pool2d(_)
        | LayerKind::GlobalAvgPool
        | LayerKind::Flatten
        | LayerKind::Residual { .. } => None,
    }
}

/// `normal`, `uniform` and `constant` ignore the fan: their scale does not follow the width.
fn fixed_scale(init: &Init) -> bool {
    matches!(
        init,
        Init::Normal { .. } | Init::Uniform { .. } | Init::Constant(_)
    )
}

/// DEEP_STACK or more consecutive sigmoid/tanh dense layers with a fixed-scale init.
pub fn saturating_stack(model: &Model) -> Vec<Diagnostic> {
    let prediction = super::predict(model);
    let gain = |run: &[&Layer]| stack_gain(&prediction, run);
    let mut diags = Vec::new();
    let mut run: Vec<&Layer> = Vec::new();
    let flush = |run: &mut Vec<&Layer>, diags: &mut Vec<Diagnostic>| {
        if let (true, Some(first), Some(last)) = (run.len() >= DEEP_STACK, run.first(), run.last())
        {
            diags.push(stack_warning(first, last, run.len(), gain(run)));
        }
        run.clear();
    };
    for layer in model.flat_layers() {
        match &layer.kind {
            LayerKind::Dense {
                act: Activation::Sigmoid | Activation::Tanh,
                init,
                ..
            } if fixed_scale(init) => run.push(layer),
            _ => flush(&mut run, &mut diags),
        }
    }
    flush(&mut run, &mut diags);
    diags
}

/// The geometric mean of the predicted gains √χ over a stack's layers: the same numbers as
/// `netc analyze`'s table, so the lint and the prediction never disagree on the direction.
fn stack_gain(p: &super::Prediction, stack: &[&Layer]) -> f64 {
    let logs: Vec<f64> = stack
        .iter()
        .filter_map(|l| p.layers.iter().find(|x| x.name == l.name))
        .map(|x| x.chi.max(1e-300).sqrt().ln())
        .collect();
    if logs.is_empty() {
        return 1.0;
    }
    (logs.iter().sum::<f64>() / logs.len() as f64).exp()
}

fn stack_warning(first: &Layer, last: &Layer, n: usize, gain: f64) -> Diagnostic {
    let names = format!(
        "{n} sigmoid/tanh layers in a row ({}–{}) with a fixed-scale init",
        first.name, last.name
    );
    let (message, help) = if gain < 1.0 {
        (
            format!("{names}: variance propagation predicts that the back-propagated gradient shrinks by √χ ≈ {gain:.2} at every layer (σ' ≤ 0.25, tanh' ≤ 1 and less when saturated), so the first layers barely learn"),
            "use `act = relu, init = he_normal`, or add `batchnorm` after each dense layer, or wrap pairs of layers in `residual`; with tanh at least use `init = xavier_normal`",
        )
    } else {
        (
            format!("{names}: variance propagation predicts that the back-propagated gradient grows by √χ ≈ {gain:.2} at every layer: the weights are too large for the width, so the units saturate and the gradient still grows toward the input"),
            "use an init that follows the fan-in (`init = xavier_normal` for tanh and sigmoid), or add `batchnorm` after each dense layer, and `clip = norm(1.0)` in the train section",
        )
    };
    let d = Diagnostic::warning("netc::lint::saturating_stack", first.span, message)
        .with_label("a saturating activation with an init that ignores the fan-in")
        .with_help(help);
    if last.span == first.span {
        d
    } else {
        d.with_related(last.span, "the stack ends here")
    }
}

/// A relu-family dense layer initialised with xavier, which halves the signal's variance at
/// every layer (He et al. 2015).
pub fn relu_with_xavier(model: &Model) -> Vec<Diagnostic> {
    let mut seen: Vec<Span> = Vec::new();
    let mut diags = Vec::new();
    for layer in model.flat_layers() {
        let LayerKind::Dense { act, init, .. } = &layer.kind else {
            continue;
        };
        let relu = matches!(
            act,
            Activation::Relu | Activation::LeakyRelu { .. } | Activation::Prelu { .. }
        );
        let xavier = matches!(init, Init::XavierNormal { .. } | Init::XavierUniform { .. });
        if relu && xavier && !seen.contains(&layer.span) {
            seen.push(layer.span);
            diags.push(
                Diagnostic::warning(
                    "netc::lint::relu_xavier",
                    layer.span,
                    format!("layer `{}` uses relu with a xavier init: relu zeroes half the units, so xavier's variance halves at every layer and deep stacks vanish", layer.name),
                )
                .with_label("relu with xavier")
                .with_help("use `init = he_normal` (variance 2/fan_in) for relu layers"),
            );
        }
    }
    diags
}

/// A global-norm clip threshold far from the gradient norms a run saw: clipping at every step
/// (the threshold, not the learning rate, sets the step size) or never.
pub fn clip_far_from_norms(model: &Model, grad_norms: &[f64]) -> Option<Diagnostic> {
    let Clip::GlobalNorm(threshold) = model.train.clip else {
        return None;
    };
    let mut finite: Vec<f64> = grad_norms
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    if finite.is_empty() || threshold <= 0.0 {
        return None;
    }
    finite.sort_by(f64::total_cmp);
    let median = finite[finite.len() / 2];
    let max = finite[finite.len() - 1];
    let (message, help) = if median > CLIP_FAR * threshold {
        (
            format!("`clip = norm({threshold:?})` is far below the gradient norms seen (median {median:.3e}): every step is rescaled by about {:.0}×, so the clip threshold, not the learning rate, sets the step size", median / threshold),
            format!("raise the threshold toward the typical norm (e.g. `clip = norm({})`), or fix what makes the gradients large (init scale, learning rate)", round_sig(median)),
        )
    } else if max < threshold / CLIP_FAR {
        (
            format!("`clip = norm({threshold:?})` never fires: the largest gradient norm seen is {max:.3e}"),
            format!("lower it toward the norms seen (e.g. `clip = norm({})`) if it is meant to catch spikes, or remove it", round_sig(max * 2.0)),
        )
    } else {
        return None;
    };
    Some(
        Diagnostic::warning("netc::lint::clip_far", model.train.span, message)
            .with_label("the clip setting is in this section")
            .with_help(help),
    )
}

/// Layers whose optimizer update exceeded UPDATE_RATIO_MAX times their weights' norm, given
/// `(layer, step, ratio)` of each layer's worst step: one warning at the worst layer.
pub fn updates_exceed_weights(model: &Model, worst: &[(String, u64, f64)]) -> Option<Diagnostic> {
    let layers = model.flat_layers();
    let lr = model.train.optimizer.lr();
    let over: Vec<&(String, u64, f64)> = worst
        .iter()
        .filter(|(_, _, ratio)| *ratio > UPDATE_RATIO_MAX)
        .collect();
    let (name, step, ratio) = over.iter().max_by(|a, b| a.2.total_cmp(&b.2))?;
    let layer = layers.iter().find(|l| &l.name == name)?;
    Some(
        Diagnostic::warning(
            "netc::lint::update_exceeds_weight",
            layer.span,
            format!(
                "in {} layer(s) an update exceeded the weights it changes; the worst, `{name}` at step {step}, was {ratio:.2e}× its weights' norm: with lr = {lr} a step replaces the weights instead of adjusting them (healthy ratios are near 1e-3)",
                over.len()
            ),
        )
        .with_label("the worst layer")
        .with_help(format!("lower the learning rate in the train section (e.g. `lr = {}`), or add `clip = norm(1.0)`", round_sig(lr / 10.0))),
    )
}

/// One significant digit, for suggested values.
fn round_sig(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return v;
    }
    let p = 10f64.powf(v.log10().floor());
    (v / p).round() * p
}

/// Steps after which a guaranteed-vanishing gradient is worth a warning: the bound has fallen
/// below this fraction.
const VANISHED: f64 = 1e-3;

/// A plain `rnn` whose recurrent weights start with σ_max(W_hh) < 1/γ: Pascanu et al.'s bound
/// then guarantees that gradients vanish through time, and over the whole sequence they fall
/// below [`VANISHED`] of their size at the end.
pub fn vanishing_through_time(model: &Model) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    for layer in &model.layers {
        let LayerKind::Recurrent(r) = &layer.kind else {
            continue;
        };
        let Some(p) = predict_layer(r) else { continue };
        let steps = layer.in_shape.first().copied().unwrap_or(1);
        let across = p.bound_after(steps.saturating_sub(1));
        if p.regime != Regime::Vanishing || across >= VANISHED {
            continue;
        }
        diags.push(
            Diagnostic::warning(
                "netc::lint::vanishing_through_time",
                layer.span,
                format!(
                    "gradients through time are bound to vanish: σ_max(W_hh) ≈ {:.3} < 1/γ = {:.0}, \
                     so ∂L/∂h_0 is at most {:.1e} of ∂L/∂h_{}",
                    p.sigma_max,
                    1.0 / p.gamma,
                    across,
                    steps.saturating_sub(1)
                ),
            )
            .with_label(format!("{:.3} per step over {steps} steps", p.factor))
            .with_help(format!(
                "start the recurrent weights at σ_max ≥ {bound} (`init_rec = orthogonal({bound})` \
                 or `radius = {bound}`), or use an `lstm` or `gru`",
                bound = 1.0 / p.gamma
            )),
        );
    }
    diags
}

/// σ_max·γ below this (and ≥ 1): the edge, where Pascanu's bound says nothing but a saturating
/// activation, whose slope is below γ wherever a unit is active, makes the gradient vanish.
pub const EDGE: f64 = 1.5;
/// Sequences at least this long give a gradient at the edge enough steps to vanish.
pub const LONG_SEQUENCE: usize = 20;

/// Plain `rnn` layers where the bound guarantees nothing: at the edge with a saturating
/// activation over a long sequence (vanishing in practice, as the ‖∂L/∂h_t‖ probes measure),
/// or beyond it without a clip (the necessary condition for exploding holds).
pub fn beyond_the_bound(model: &Model) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    for layer in &model.layers {
        let LayerKind::Recurrent(r) = &layer.kind else {
            continue;
        };
        let Some(p) = predict_layer(r) else { continue };
        let crate::model::Cell::Rnn { act } = r.cell else {
            continue;
        };
        let steps = layer.in_shape.first().copied().unwrap_or(1);
        let saturating = matches!(act, Activation::Tanh | Activation::Sigmoid);
        let clipped = !matches!(model.train.clip, Clip::None);
        if p.regime == Regime::MayExplode && p.factor < EDGE && saturating && steps >= LONG_SEQUENCE
        {
            diags.push(
                Diagnostic::warning(
                    "netc::lint::likely_vanishing_through_time",
                    layer.span,
                    format!(
                        "gradients through time will likely vanish over {steps} steps: σ_max(W_hh)·γ ≈ {:.3} is at the edge of Pascanu's bound (≥ 1 guarantees nothing), and {}' is below {} wherever a unit is active, so every step back shrinks ‖∂L/∂h_t‖",
                        p.factor,
                        if act == Activation::Tanh { "tanh" } else { "sigmoid" },
                        p.gamma
                    ),
                )
                .with_label(format!("a plain rnn over {steps} steps"))
                .with_help("use an `lstm` or `gru`, or shorter sequences; `netc report` measures ‖∂L/∂h_t‖ through time"),
            );
        } else if p.factor >= EDGE && !clipped {
            diags.push(
                Diagnostic::warning(
                    "netc::lint::exploding_through_time",
                    layer.span,
                    format!(
                        "gradients through time may explode: σ_max(W_hh)·γ ≈ {:.3} > 1, the necessary condition of Pascanu's bound, over {steps} steps, and the train section does not clip",
                        p.factor
                    ),
                )
                .with_label(format!("{:.3} per step over {steps} steps", p.factor))
                .with_help("add `clip = norm(1.0)` to the train section, or start the recurrent weights at σ_max ≤ 1 (`init_rec = orthogonal(1.0)` without a larger `radius`)"),
            );
        }
    }
    diags
}
