//! Vanishing and exploding through time, from the measured ‖∂L/∂h_t‖ profile of each recurrent
//! layer (probes_time.csv), set beside Pascanu et al.'s (2013) prediction from σ_max(W_hh) and
//! the activation's bound. Depth statistics cannot see this: a one-layer rnn has no depth, yet
//! its gradient can fall twenty decades on the way back to t = 0.

use super::diagnose::{Finding, FindingKind, Rule, Severity};
use super::spectral::{predict_layer, Regime, TimePrediction};
use super::status::{median, EXPLODING_REL, VANISHING_REL, WINDOW_FRACTION};
use crate::model::{Cell, Clip, Layer, LayerKind};
use crate::report::run::Run;

/// The measured picture of one recurrent layer through time.
struct TimeProfile {
    /// ‖∂L/∂h_0‖ / ‖∂L/∂h_{T−1}‖ at every recorded step where both are finite and positive.
    ratios: Vec<(u64, f64)>,
    /// The same over the window (the last quarter of the recorded steps), for vanishing.
    window: Vec<(u64, f64)>,
}

/// Findings through time for every plain `rnn` or `gru` layer that recorded ‖∂L/∂h_t‖.
/// An lstm's long path runs through its cell state c_t, which ‖∂L/∂h_t‖ does not see (h_{t−1}
/// reaches the loss only through the gates), so a falling h-profile says nothing there.
pub fn findings(run: &Run) -> Vec<Finding> {
    let layers = run.model.flat_layers();
    run.recurrent_layers()
        .into_iter()
        .filter_map(|i| {
            let layer = layers.get(i)?;
            let LayerKind::Recurrent(r) = &layer.kind else {
                return None;
            };
            match r.cell {
                Cell::Rnn { .. } | Cell::Gru => {}
                Cell::Lstm { .. } => return None,
            }
            let profile = profile(run, i)?;
            finding(run, layer, i, &profile)
        })
        .collect()
}

fn profile(run: &Run, layer: usize) -> Option<TimeProfile> {
    let steps = run.time_steps();
    let len = ((steps.len() as f64 * WINDOW_FRACTION).ceil() as usize).clamp(1, steps.len());
    let ratio = |s: u64| {
        let p = run.through_time(layer, s);
        let (first, last) = (p.first()?.1, p.last()?.1);
        let r = first / last;
        // All zeros is a saturated state (tanh at ±1), not a measurement through time.
        (p.len() > 1 && r.is_finite() && first > 0.0).then_some((s, r))
    };
    let ratios: Vec<(u64, f64)> = steps.iter().filter_map(|&s| ratio(s)).collect();
    let window = steps
        .get(steps.len().checked_sub(len)?..)?
        .iter()
        .filter_map(|&s| ratio(s))
        .collect();
    Some(TimeProfile { ratios, window })
}

/// The latest t, going back from the sequence's end, at which ‖∂L/∂h_t‖ relative to
/// ‖∂L/∂h_{T−1}‖ is past `threshold` (below it when vanishing, above when exploding).
fn crossing(points: &[(u32, f64)], vanishing: bool, threshold: f64) -> Option<u32> {
    let end = points.last()?.1;
    points
        .iter()
        .rev()
        .find(|(_, v)| {
            let rel = v / end;
            if vanishing {
                rel < threshold
            } else {
                rel > threshold
            }
        })
        .map(|p| p.0)
}

/// Which way a layer's profile goes, judged by its rule: the threshold, the recorded steps
/// it is judged over and the value that crossed it.
struct Verdict<'p> {
    vanishing: bool,
    threshold: f64,
    over: &'p [(u64, f64)],
    value: f64,
}

impl Verdict<'_> {
    /// Growth toward t = 0 at any recorded step explodes (it ruins that step's update); a
    /// vanishing verdict needs the median of the window, where training has settled.
    fn of(p: &TimeProfile) -> Option<Verdict<'_>> {
        let peak = p
            .ratios
            .iter()
            .filter(|r| r.1 > EXPLODING_REL)
            .max_by(|a, b| a.1.total_cmp(&b.1));
        if let Some(peak) = peak {
            return Some(Verdict {
                vanishing: false,
                threshold: EXPLODING_REL,
                over: &p.ratios,
                value: peak.1,
            });
        }
        let window: Vec<f64> = p.window.iter().map(|r| r.1).collect();
        (median(&window) < VANISHING_REL).then(|| Verdict {
            vanishing: true,
            threshold: VANISHING_REL,
            over: &p.window,
            value: median(&window),
        })
    }

    fn past(&self, r: f64) -> bool {
        if self.vanishing {
            r < self.threshold
        } else {
            r > self.threshold
        }
    }

    /// The recorded steps at which the rule held.
    fn held(&self) -> Vec<u64> {
        self.over
            .iter()
            .filter(|r| self.past(r.1))
            .map(|r| r.0)
            .collect()
    }
}

fn finding(run: &Run, layer: &Layer, index: usize, p: &TimeProfile) -> Option<Finding> {
    let v = Verdict::of(p)?;
    let held = v.held();
    let (first_step, last_step) = (*held.first()?, *held.last()?);
    // The profile where the rule held last (vanishing) or first (exploding), for the time
    // step where it crosses the threshold.
    let shown_step = if v.vanishing { last_step } else { first_step };
    let shown = run.through_time(index, shown_step);
    let end = shown.len().saturating_sub(1);
    let line = layer.span.line_col(&run.src).0;
    let at = crossing(&shown, v.vanishing, v.threshold);
    let (word, kind) = if v.vanishing {
        ("vanishing", FindingKind::VanishingThroughTime)
    } else {
        ("exploding", FindingKind::ExplodingThroughTime)
    };
    let rule = Rule {
        statistic: format!("‖∂L/∂h_0‖ / ‖∂L/∂h_{end}‖ of `{}`", layer.name),
        value: v.value,
        threshold: v.threshold,
        first_step,
        last_step,
        held: held.len(),
        of: v.over.len(),
    };
    let mut evidence = profile_evidence(&v, &rule, end, at.map(|t| (shown_step, t)));
    evidence.extend(bound_evidence(run, layer));
    let contained = !v.vanishing && clipping_contains(run);
    if contained {
        evidence.push(format!(
            "the run clips (`clip` at line {}) and stayed finite: clipping bounds every step, so the explosion is contained",
            super::diagnose::setting_line(run, "clip")
        ));
    }
    Some(Finding {
        kind,
        layers: vec![layer.name.clone()],
        summary: format!(
            "{word} gradients through time in `{}` (line {line}): ‖∂L/∂h_t‖ {} 10^{:.0} from t = {end} back to t = 0{}",
            layer.name,
            if v.vanishing { "falls" } else { "grows" },
            v.value.log10().abs(),
            at.map_or(String::new(), |t| format!(", past {:.0e} from t = {t} down", v.threshold))
        ),
        severity: if contained {
            Severity::Contained
        } else {
            Severity::Problem
        },
        rule: Some(rule),
        evidence,
        remedies: if contained {
            Vec::new()
        } else {
            remedies(run, &layer.name, line, v.vanishing)
        },
    })
}

/// What the measured profile shows: the ratio over the rule's steps, and the time step at
/// which it crosses the threshold (`crossed`: the recorded step and t).
fn profile_evidence(
    v: &Verdict,
    rule: &Rule,
    end: usize,
    crossed: Option<(u64, u32)>,
) -> Vec<String> {
    let how = if v.vanishing {
        "median over the last quarter of the recorded steps"
    } else {
        "largest over the recorded steps"
    };
    let threshold = v.threshold;
    let mut evidence = vec![format!(
        "‖∂L/∂h_0‖ is {:.1e}× ‖∂L/∂h_{end}‖ ({how}); past the threshold {threshold:.0e} at {} of {} recorded steps, steps {}–{}",
        v.value, rule.held, rule.of, rule.first_step, rule.last_step,
    )];
    if let Some((step, t)) = crossed {
        let meaning = if v.vanishing {
            format!(": the inputs before t = {t} barely reach the loss")
        } else {
            format!(": from t = {t} back, the gradient dwarfs the one at the end")
        };
        evidence.push(format!(
            "at step {step} ‖∂L/∂h_t‖ / ‖∂L/∂h_{end}‖ passes {threshold:.0e} at t = {t}{meaning}"
        ));
    }
    evidence
}

/// Pascanu et al.'s bound for the layer: predicted from its init, and the σ_max(W_hh) the run
/// measured (`spectral.csv`) at its first and last recorded steps, beside the bound 1/γ.
fn bound_evidence(run: &Run, layer: &Layer) -> Vec<String> {
    let LayerKind::Recurrent(r) = &layer.kind else {
        return Vec::new();
    };
    let prediction = predict_layer(r);
    let mut evidence: Vec<String> = prediction.map(describe).into_iter().collect();
    let gamma = prediction.map(|p| p.gamma);
    for gate in r.cell.gate_names() {
        let Some(((s0, first), (s1, last))) = run.sigma_max(&layer.name, gate) else {
            continue;
        };
        let block = if gate == &"h" {
            "W_hh".to_owned()
        } else {
            format!("W_hh's `{gate}` block")
        };
        let bound = gamma.map_or(String::new(), |g| {
            format!(
                " (the bound 1/γ = {:.3}: σ_max·γ = {:.3} at the end, {})",
                1.0 / g,
                last * g,
                if last * g < 1.0 {
                    "bound to vanish"
                } else {
                    "exploding possible"
                }
            )
        });
        evidence.push(format!(
            "measured: σ_max({block}) = {first:.3} at step {s0}, {last:.3} at step {s1}{bound}"
        ));
    }
    evidence
}

/// Pascanu et al.'s bound in words: what σ_max(W_hh)·γ promises about the run.
fn describe(p: TimePrediction) -> String {
    let verdict = match p.regime {
        Regime::Vanishing => "< 1: the bound guarantees vanishing through time",
        Regime::MayExplode => {
            "≥ 1: exploding is possible but not guaranteed (the bound is an upper one; tanh' < 1 off zero can still make it vanish)"
        }
    };
    format!(
        "predicted from the init: σ_max(W_hh) ≈ {:.3}, γ = {} (the bound on |act'|), σ_max·γ = {:.3} {verdict}",
        p.sigma_max, p.gamma, p.factor
    )
}

fn remedies(run: &Run, name: &str, line: usize, vanishing: bool) -> Vec<String> {
    let train = super::diagnose::setting_line(run, "train");
    if vanishing {
        vec![
            format!("use `lstm` or `gru` instead of `rnn` at line {line} for `{name}` (gates carry the gradient across time, Hochreiter & Schmidhuber 1997)"),
            format!("start the recurrent weights at σ_max = 1 at line {line}: `init_rec = orthogonal(1.0)` or `init_rec = identity` with `act = relu` (Le et al. 2015)"),
            "train on shorter sequences: the gradient has fewer steps to fall over".to_owned(),
        ]
    } else {
        vec![
            format!("add `clip = norm(1.0)` to the train section (line {train}): it bounds every step (Pascanu et al. 2013)"),
            format!("start the recurrent weights at σ_max ≤ 1 at line {line}: `init_rec = orthogonal(1.0)` without a larger `radius`"),
            format!("use `lstm` or `gru` instead of `rnn` at line {line}"),
            "train on shorter sequences: the gradient has fewer steps to grow over".to_owned(),
        ]
    }
}

/// The run clips its gradients and no loss or gradient norm became non-finite.
fn clipping_contains(run: &Run) -> bool {
    let clips = match run.model.train.clip {
        Clip::None => false,
        Clip::GlobalNorm(_) | Clip::LayerNorm(_) | Clip::Value(_) => true,
    };
    clips
        && run
            .steps
            .iter()
            .all(|s| s.loss.is_finite() && s.grad_norm_clipped.is_finite())
}
