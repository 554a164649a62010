//! Per-layer gradient health of a run: one status per layer, from the recorded probes, with
//! documented thresholds (docs/gradient-health.md).

use super::lint::layer_act;
use crate::model::Activation;
use crate::probe::ProbeStat;
use crate::report::run::Run;
use crate::sema::words::Saturation;
use serde::Serialize;

/// ‖∂L/∂a‖ below this fraction of the last layer's: vanishing.
pub const VANISHING_REL: f64 = 1e-2;
/// ‖∂L/∂a‖ above this multiple of the last layer's: exploding.
pub const EXPLODING_REL: f64 = 1e2;
/// An update larger than the weights it changes (‖ΔW‖/‖W‖ above this): exploding.
pub const UPDATE_RATIO_EXPLODING: f64 = 1.0;
/// ‖∂L/∂W‖ peaking this many times above its median over the run: exploding.
pub const GROWTH_EXPLODING: f64 = 1e2;
/// At least this fraction of sigmoid/tanh units saturated: saturated.
pub const SATURATED_FRACTION: f64 = 0.5;
/// At least this fraction of relu units dead on a batch: dead.
pub const DEAD_FRACTION: f64 = 0.5;
/// The window statuses look at: the last quarter of the recorded steps.
pub const WINDOW_FRACTION: f64 = 0.25;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Status {
    Ok,
    Vanishing,
    Exploding,
    Saturated,
    Dead,
    NonFinite,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Vanishing => "vanishing",
            Status::Exploding => "exploding",
            Status::Saturated => "saturated",
            Status::Dead => "dead",
            Status::NonFinite => "non-finite",
        }
    }
}

/// One layer's health over the window.
#[derive(Debug, Clone, Serialize)]
pub struct LayerHealth {
    pub name: String,
    pub line: usize,
    pub status: Status,
    /// Medians over the window.
    pub grad_a: f64,
    pub grad_w: f64,
    /// ‖∂L/∂a‖ relative to the last layer's, median over the window.
    pub rel: f64,
    pub update_ratio: f64,
    pub saturation: f64,
    /// Fraction of units no gradient reaches (∂L/∂a = 0 on the whole batch), median.
    pub grad_zero_frac: f64,
    /// Largest ‖ΔW‖/‖W‖ of the run after its first tenth, and its step.
    pub worst_update: Option<(u64, f64)>,
    /// Largest ‖∂L/∂W‖ over its median in the first tenth of the run.
    pub grad_w_growth: f64,
    /// First step with a NaN or ±∞ in this layer.
    pub first_nonfinite: Option<u64>,
}

/// What the per-layer rules need to know about the whole run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunContext {
    /// Adam, AdamW, RMSprop and AdaGrad divide each update by a running gradient scale, so
    /// an update's size says nothing about the gradient's: the update-to-weight rule is off.
    pub adaptive: bool,
    /// The global gradient norm's peak over its median in the first tenth of the run. One
    /// layer's ‖∂L/∂W‖ rising while the whole network's does not is a layer recovering from
    /// vanishing, not an explosion.
    pub global_growth: f64,
}

impl RunContext {
    /// Plain SGD with unknown history: every rule on.
    pub const SGD: RunContext = RunContext {
        adaptive: false,
        global_growth: f64::INFINITY,
    };

    /// The context of a recorded run.
    pub fn of(run: &Run) -> RunContext {
        let norms: Vec<f64> = run.steps.iter().map(|s| s.grad_norm).collect();
        RunContext {
            adaptive: run.model.train.optimizer.adaptive(),
            global_growth: growth_of(&norms),
        }
    }
}

/// The status of one layer from its statistics; the first matching rule wins:
/// non-finite, exploding, vanishing, saturated or dead, ok.
pub fn classify_in(h: &LayerHealth, act: Option<Activation>, run: RunContext) -> Status {
    if h.first_nonfinite.is_some() {
        return Status::NonFinite;
    }
    let worst_update = h.worst_update.map_or(0.0, |(_, r)| r);
    let big_update = !run.adaptive && worst_update > UPDATE_RATIO_EXPLODING;
    let grew = h.grad_w_growth > GROWTH_EXPLODING && run.global_growth > GROWTH_EXPLODING;
    if h.rel > EXPLODING_REL || big_update || grew {
        return Status::Exploding;
    }
    if h.rel < VANISHING_REL {
        return Status::Vanishing;
    }
    match act.and_then(Activation::saturation) {
        Some(Saturation::Squashes(_)) if h.saturation >= SATURATED_FRACTION => Status::Saturated,
        Some(Saturation::Dead) if h.saturation >= DEAD_FRACTION => Status::Dead,
        Some(Saturation::Squashes(_) | Saturation::Dead) | None => Status::Ok,
    }
}

/// The recorded probe steps the statuses judge: the last quarter of them.
pub fn window(run: &Run) -> Vec<u64> {
    let steps = run.probe_steps();
    let window_len =
        ((steps.len() as f64 * WINDOW_FRACTION).ceil() as usize).clamp(1, steps.len().max(1));
    steps[steps.len().saturating_sub(window_len)..].to_vec()
}

/// Every layer's health over the last quarter of the recorded steps.
pub fn layer_health(run: &Run) -> Vec<LayerHealth> {
    let window = window(run);
    let top = run.layers.len().saturating_sub(1);
    let top_grad: Vec<f64> = window
        .iter()
        .map(|&s| run.probe(s, top, ProbeStat::GradActSq).unwrap_or(f64::NAN))
        .collect();
    let layers = run.model.flat_layers();
    // A final softmax/sigmoid fused into the loss passes its gradient through the logits, not
    // through σ', so its confident (flat-tail) outputs are not saturation.
    let fused = super::predict::fused_last(&run.model);
    let context = RunContext::of(run);
    run.layers
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let at = |stat: ProbeStat| -> Vec<f64> {
                window
                    .iter()
                    .map(|&s| run.probe(s, i, stat).unwrap_or(f64::NAN))
                    .collect()
            };
            let grad_a = at(ProbeStat::GradActSq);
            let rel: Vec<f64> = grad_a.iter().zip(&top_grad).map(|(a, t)| a / t).collect();
            let ratios: Vec<f64> = at(ProbeStat::UpdateSq)
                .iter()
                .zip(at(ProbeStat::WeightSq))
                .map(|(u, w)| u / w)
                .collect();
            let layer = layers.get(i);
            let mut h = LayerHealth {
                name: name.clone(),
                line: layer.map_or(0, |l| l.span.line_col(&run.src).0),
                status: Status::Ok,
                grad_a: median(&grad_a),
                grad_w: median(&at(ProbeStat::GradWeightSq)),
                rel: median(&rel),
                update_ratio: median(&ratios),
                saturation: median(&at(ProbeStat::Saturation)),
                grad_zero_frac: median(&at(ProbeStat::GradZeroFrac)),
                worst_update: worst_update(run, i),
                grad_w_growth: growth(run, i),
                first_nonfinite: first_nonfinite(run, i),
            };
            let act = layer
                .filter(|l| fused.as_ref() != Some(&l.name))
                .and_then(|l| layer_act(l));
            h.status = classify_in(&h, act, context);
            h
        })
        .collect()
}

/// The median of the finite values (NaN if none).
pub fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The first step of a run of `total_steps` whose updates the update-to-weight rule judges:
/// the one after the first tenth (the live table and the report both use it).
pub fn settled_step(total_steps: u64) -> u64 {
    total_steps.div_ceil(10) + 1
}

/// The largest ‖ΔW‖/‖W‖ after the first tenth of the recorded steps, and its step. An update
/// that outgrows its weights in the first steps is the init's scale meeting the learning rate
/// (a small output layer's first step under a large lr, as in Glorot & Bengio's setting), which
/// the weights then grow to absorb; an explosion is an update that outgrows them later.
fn worst_update(run: &Run, layer: usize) -> Option<(u64, f64)> {
    let settled = settled_step(run.steps.last().map_or(0, |s| s.step));
    run.probes
        .iter()
        .filter(|p| p.layer == layer && p.step >= settled)
        .map(|p| {
            (
                p.step,
                p.values[ProbeStat::UpdateSq] / p.values[ProbeStat::WeightSq],
            )
        })
        .filter(|(_, r)| r.is_finite())
        .max_by(|a, b| a.1.total_cmp(&b.1))
}

/// The largest ‖∂L/∂W‖ of the run over its median: a few for a healthy run (a zero-init layer
/// starting from 0 does not count as growth), orders of magnitude when it explodes.
/// How far ‖∂L/∂W‖ rises above where the run started: its largest value over the median of
/// the first tenth of the recorded steps. (Over the run's own median, a converging run — large
/// gradients first, tiny ones for most of the run — would look like an explosion.)
fn growth(run: &Run, layer: usize) -> f64 {
    let series: Vec<f64> = run
        .series(layer, ProbeStat::GradWeightSq)
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    growth_of(&series)
}

/// A series' largest finite value over the median of its first tenth (1 when it starts at 0).
pub fn growth_of(series: &[f64]) -> f64 {
    let early = &series[..series.len().div_ceil(10)];
    let start = median(early);
    let max = series
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    if start > 0.0 {
        max / start
    } else {
        1.0
    }
}

fn first_nonfinite(run: &Run, layer: usize) -> Option<u64> {
    run.probes
        .iter()
        .filter(|p| p.layer == layer)
        .find(|p| {
            let flagged = p.values[ProbeStat::NonFiniteForward] > 0.0
                || p.values[ProbeStat::NonFiniteBackward] > 0.0;
            let overflow = [ProbeStat::GradWeightSq, ProbeStat::GradActSq]
                .iter()
                .any(|&c| {
                    p.values[c].is_infinite() || (p.values[c].is_nan() && c == ProbeStat::GradActSq)
                });
            flagged || overflow
        })
        .map(|p| p.step)
}
