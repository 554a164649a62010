//! A learning rate far too small: every layer's update is a vanishing fraction of its weights
//! and the loss stays where it started, though the gradients reach every layer. Such a plateau
//! looks like vanishing in the loss curve, but the back-propagated signal is healthy and the
//! remedy is the opposite of a vanishing one's: a larger step, not a new architecture.

use super::diagnose::{setting_line, Finding, FindingKind, Rule, Severity};
use super::status::{median, window, LayerHealth, Status};
use crate::report::run::Run;

/// The largest layer's median ‖ΔW‖/‖W‖ below this: no layer moves (healthy runs: ~1e-4–1e-2).
pub const SLOW_UPDATE: f64 = 1e-5;
/// The loss fell by less than this fraction from the start of the run to its last quarter.
pub const FLAT_LOSS: f64 = 0.1;

/// The finding, when no layer moves and the loss is flat while no layer vanishes.
pub fn finding(run: &Run, health: &[LayerHealth]) -> Option<Finding> {
    if health.iter().any(|h| h.status != Status::Ok) {
        return None;
    }
    let fastest = health
        .iter()
        .filter(|h| h.update_ratio.is_finite())
        .max_by(|a, b| a.update_ratio.total_cmp(&b.update_ratio))?;
    if fastest.update_ratio >= SLOW_UPDATE {
        return None;
    }
    let losses: Vec<f64> = run.steps.iter().map(|s| s.loss).collect();
    let start = median(losses.get(..losses.len().div_ceil(10))?);
    let end = median(losses.get(losses.len() - losses.len().div_ceil(4)..)?);
    let fell = (start - end) / start;
    // A NaN loss is not a plateau: only a finite, small fall counts.
    if !fell.is_finite() || fell >= FLAT_LOSS {
        return None;
    }
    let steps = window(run);
    let line = setting_line(run, "optimizer");
    let lr = run.model.train.optimizer.lr();
    Some(Finding {
        kind: FindingKind::LearningRateTooSmall,
        layers: health.iter().map(|h| h.name.clone()).collect(),
        summary: format!(
            "learning rate far too small (lr = {lr}, line {line}): the fastest layer, `{}`, changes by {:.1e} of its weights per step and the loss fell {:.1}%",
            fastest.name,
            fastest.update_ratio,
            fell * 100.0
        ),
        severity: Severity::Problem,
        rule: Some(Rule {
            statistic: "largest median ‖ΔW‖ / ‖W‖ over the layers".to_owned(),
            value: fastest.update_ratio,
            threshold: SLOW_UPDATE,
            first_step: steps.first().copied().unwrap_or(0),
            last_step: steps.last().copied().unwrap_or(0),
            held: steps.len(),
            of: steps.len(),
        }),
        evidence: vec![
            format!("median ‖ΔW‖/‖W‖ over the last quarter of the recorded steps is at most {:.1e} (`{}`), below {SLOW_UPDATE:.0e}; healthy runs move ~1e-3 per step", fastest.update_ratio, fastest.name),
            format!("the loss went from {start:.4} (median of the first tenth of the steps) to {end:.4} (last quarter): it fell less than {:.0}%", FLAT_LOSS * 100.0),
            "every layer's ‖∂L/∂a‖ is within 1e-2 of the last layer's: the gradient is not vanishing".to_owned(),
        ],
        remedies: vec![format!(
            "raise the learning rate at line {line} (lr = {lr} → {:.1e}), or let `netc train --vary lr=...` find one",
            lr * 100.0
        )],
    })
}
