//! The diagnosis of a run: what went wrong (vanishing, exploding, saturation, dead units,
//! non-finite values), the evidence (numbers, steps, layers), and remedies from the literature
//! as concrete edits of the user's file, with line numbers.

use super::lint::layer_act;
use super::status::{LayerHealth, Status, VANISHING_REL};
use crate::model::Activation;
use crate::probe::ProbeStat;
use crate::report::run::{Run, StepRow};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum FindingKind {
    Vanishing,
    Exploding,
    /// ‖∂L/∂h_t‖ of a recurrent layer falls toward t = 0 (Pascanu et al. 2013).
    VanishingThroughTime,
    /// ‖∂L/∂h_t‖ of a recurrent layer grows toward t = 0.
    ExplodingThroughTime,
    /// No layer moves and the loss is flat, with healthy gradients.
    LearningRateTooSmall,
    Saturated,
    Dead,
    NonFinite,
}

/// One problem of the run with its evidence and what to try.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub kind: FindingKind,
    /// The layers involved, in probe order.
    pub layers: Vec<String>,
    pub summary: String,
    /// Whether the finding is a problem to fix, or held in check by a setting of the run.
    pub severity: Severity,
    /// The rule that fired: its statistic, value and threshold, and the steps it held over.
    pub rule: Option<Rule>,
    pub evidence: Vec<String>,
    pub remedies: Vec<String>,
}

/// A problem to fix, or a condition the run's own settings already contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Severity {
    Problem,
    /// E.g. gradients that explode through time while clipping bounds every step and the run
    /// stays finite: the picture is worth knowing, the run is healthy.
    Contained,
}

/// The statistic a finding rests on, judged against its threshold over a window of steps.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rule {
    pub statistic: String,
    /// The statistic's value (a median over the window unless the statistic says otherwise).
    pub value: f64,
    pub threshold: f64,
    /// The first and last recorded step at which the statistic was past its threshold.
    pub first_step: u64,
    pub last_step: u64,
    /// At how many of the `of` recorded steps of the window it was past the threshold.
    pub held: usize,
    pub of: usize,
}

/// All findings of a run, most fundamental first.
pub fn findings(run: &Run, health: &[LayerHealth]) -> Vec<Finding> {
    let mut out = Vec::new();
    let through_time = super::through_time::findings(run);
    // A recurrent layer exploding through time is the origin: the layers after it only pass
    // its blown-up gradient on, so a depth finding would blame the wrong layer.
    let in_time = through_time
        .iter()
        .any(|f| f.kind == FindingKind::ExplodingThroughTime);
    out.extend(through_time);
    if !in_time {
        out.extend(exploding(run, health));
    }
    out.extend(non_finite(run, health));
    out.extend(vanishing(run, health));
    out.extend(unit_problem(run, health, Status::Saturated));
    out.extend(unit_problem(run, health, Status::Dead));
    out.extend(super::learning_rate::finding(run, health));
    out
}

/// "dense1–dense8" (or one name).
pub fn range(names: &[String]) -> String {
    match (names.first(), names.last()) {
        (Some(a), Some(b)) if a == b => a.clone(),
        (Some(a), Some(b)) => format!("{a}–{b}"),
        _ => String::new(),
    }
}

/// 1-based line of the first source line that starts with `key` (e.g. `optimizer`), or of
/// the train section.
pub(super) fn setting_line(run: &Run, key: &str) -> usize {
    run.src
        .lines()
        .position(|l| l.trim_start().starts_with(key))
        .map_or_else(|| run.model.train.span.line_col(&run.src).0, |i| i + 1)
}

fn with_status(health: &[LayerHealth], status: Status) -> Vec<&LayerHealth> {
    health.iter().filter(|h| h.status == status).collect()
}

fn names(layers: &[&LayerHealth]) -> Vec<String> {
    layers.iter().map(|h| h.name.clone()).collect()
}

fn vanishing(run: &Run, health: &[LayerHealth]) -> Option<Finding> {
    let layers = with_status(health, Status::Vanishing);
    let (first, top) = (*layers.first()?, health.last()?);
    let first = first_dense(run, health, &layers).unwrap_or(first);
    let decades = (health[0].grad_a / top.grad_a).log10();
    // A signal that underflowed to 0 in f32 has no finite number of decades to print.
    let fall = if decades.is_finite() {
        format!("falls 10^{:.0}", -decades)
    } else {
        "falls to 0 (below f32's range)".to_owned()
    };
    let last_vanishing = layers.last()?;
    let index = health.iter().position(|h| h.name == last_vanishing.name)?;
    let rule = rel_rule(
        run,
        index,
        health.len() - 1,
        |r| r < VANISHING_REL,
        last_vanishing.rel,
        VANISHING_REL,
    )?;
    Some(Finding {
        kind: FindingKind::Vanishing,
        layers: names(&layers),
        summary: format!(
            "vanishing gradients: layers {}: ‖∂L/∂a‖ {fall} toward the input",
            range(&names(&layers)),
        ),
        severity: Severity::Problem,
        rule: Some(rule),
        evidence: vanishing_evidence(run, health, first, &fall),
        remedies: vanishing_remedies(run, health, first),
    })
}

/// The first dense layer among the vanishing ones: the remedies edit a dense layer (its act
/// and init), which a normalization or dropout layer among them does not have.
fn first_dense<'h>(
    run: &Run,
    health: &'h [LayerHealth],
    layers: &[&'h LayerHealth],
) -> Option<&'h LayerHealth> {
    let flat = run.model.flat_layers();
    layers.iter().copied().find(|h| {
        let i = health.iter().position(|x| x.name == h.name);
        i.and_then(|i| flat.get(i))
            .is_some_and(|l| matches!(l.kind, crate::model::LayerKind::Dense { .. }))
    })
}

/// The signal at the last and first layers now and at the first recorded step, and how much
/// `first` (the first vanishing dense layer) still moves.
fn vanishing_evidence(
    run: &Run,
    health: &[LayerHealth],
    first: &LayerHealth,
    fall: &str,
) -> Vec<String> {
    let (bottom, top) = (&health[0], &health[health.len() - 1]);
    let step = run.probe_steps().last().copied().unwrap_or(0);
    let mut evidence = vec![format!(
        "around step {step}, ‖∂L/∂a‖ is {:.2e} at `{}` (the last layer) but {:.2e} at `{}`: it {fall} toward the input",
        top.grad_a, top.name, bottom.grad_a, bottom.name
    )];
    if let Some(s0) = run.probe_steps().first() {
        let at = |i: usize| run.probe(*s0, i, ProbeStat::GradActSq).unwrap_or(f64::NAN);
        let r0 = at(0) / at(health.len() - 1);
        let when = if run.probes_from_start() {
            " (initialization)"
        } else {
            " (the oldest step the probe ring kept)"
        };
        evidence.push(format!(
            "at step {s0}{when} the ratio first/last layer was {r0:.1e}"
        ));
    }
    let moving = if first.update_ratio < SLOW_UPDATE {
        "the first layers barely move"
    } else {
        "the first layers still move, driven by the optimizer's normalization, not by a strong signal"
    };
    evidence.push(format!(
        "‖∂L/∂W‖ of `{}` is {:.2e}, of `{}` {:.2e}; `{}` changes by {:.1e} of its weights per step: {moving}",
        first.name, first.grad_w, top.name, top.grad_w, first.name, first.update_ratio
    ));
    evidence
}

/// The primer's remedies for vanishing, at the line of `first`; tanh keeps its activation
/// with a normalized init first.
fn vanishing_remedies(run: &Run, health: &[LayerHealth], first: &LayerHealth) -> Vec<String> {
    let line = first.line;
    let index = health
        .iter()
        .position(|h| h.name == first.name)
        .unwrap_or(0);
    let act = run
        .model
        .flat_layers()
        .get(index)
        .and_then(|l| layer_act(l));
    let mut remedies = vec![
        format!("use `act = relu, init = he_normal` at line {line} (ReLU's slope is 1 where active; He init keeps the variance, He et al. 2015)"),
        format!("add `batchnorm` after the dense layer at line {line} (re-centres and rescales every layer's input, Ioffe & Szegedy 2015)"),
        format!("wrap the layers at line {line} in `residual {{ ... }}` (the skip path carries the gradient unchanged, He et al. 2016)"),
    ];
    if act == Some(Activation::Tanh) {
        remedies.insert(
            1,
            format!(
                "keep tanh but use `init = xavier_normal` at line {line} (Glorot & Bengio 2010)"
            ),
        );
    }
    remedies
}

/// An update below this fraction of the weights per step barely moves them (healthy ~1e-3).
pub const SLOW_UPDATE: f64 = 1e-5;

/// The rule "‖∂L/∂a‖ of `layer` over the last layer's is past `threshold`" over the window.
fn rel_rule(
    run: &Run,
    layer: usize,
    top: usize,
    past: impl Fn(f64) -> bool,
    value: f64,
    threshold: f64,
) -> Option<Rule> {
    let window = super::status::window(run);
    let held: Vec<u64> = window
        .iter()
        .copied()
        .filter(|&s| {
            let rel = run
                .probe(s, layer, ProbeStat::GradActSq)
                .unwrap_or(f64::NAN)
                / run.probe(s, top, ProbeStat::GradActSq).unwrap_or(f64::NAN);
            past(rel)
        })
        .collect();
    Some(Rule {
        statistic: format!(
            "‖∂L/∂a‖ of `{}` / ‖∂L/∂a‖ of `{}`",
            run.layers.get(layer)?,
            run.layers.get(top)?
        ),
        value,
        threshold,
        first_step: *held.first()?,
        last_step: *held.last()?,
        held: held.len(),
        of: window.len(),
    })
}

fn exploding(run: &Run, health: &[LayerHealth]) -> Option<Finding> {
    use super::status::{EXPLODING_REL, GROWTH_EXPLODING, UPDATE_RATIO_EXPLODING};
    let finite: Vec<&StepRow> = run
        .steps
        .iter()
        .filter(|s| s.grad_norm.is_finite())
        .collect();
    let first = finite.first()?;
    let peak = finite
        .iter()
        .max_by(|a, b| a.grad_norm.total_cmp(&b.grad_norm))?;
    let norms: Vec<f64> = finite.iter().map(|s| s.grad_norm).collect();
    let growth = super::status::growth_of(&norms);
    let worst = health
        .iter()
        .filter_map(|h| h.worst_update.map(|(s, r)| (h, s, r)))
        .max_by(|a, b| a.2.total_cmp(&b.2));
    // Adaptive optimizers normalize each update, so its size is not the gradient's.
    let adaptive = run.model.train.optimizer.adaptive();
    let big_update = worst.filter(|w| !adaptive && w.2 > UPDATE_RATIO_EXPLODING);
    let diverged = run
        .steps
        .iter()
        .any(|s| !s.loss.is_finite() || !s.grad_norm.is_finite());
    // ‖∂L/∂a‖ relative to the last layer at the first recorded step: an init-driven explosion
    let at_init = super::measured_profile(run);
    let init_ratio = at_init.first().copied().unwrap_or(f64::NAN);
    let by_depth = init_ratio > EXPLODING_REL;
    let mut layers = if by_depth {
        health
            .iter()
            .zip(&at_init)
            .filter(|(_, &r)| r > EXPLODING_REL)
            .map(|(h, _)| h.name.clone())
            .collect()
    } else {
        names(&with_status(health, Status::Exploding))
    };
    if layers.is_empty() && growth < GROWTH_EXPLODING && big_update.is_none() && !by_depth {
        return None;
    }
    if layers.is_empty() {
        layers = health.iter().map(|h| h.name.clone()).collect();
    }
    let (statistic, value, threshold) = if by_depth {
        (
            "‖∂L/∂a‖ first / last layer at the first recorded step",
            init_ratio,
            EXPLODING_REL,
        )
    } else if let Some((_, _, r)) = big_update {
        ("largest ‖ΔW‖ / ‖W‖ (plain SGD)", r, UPDATE_RATIO_EXPLODING)
    } else {
        (
            "peak global gradient norm / its median over the first tenth of the run",
            growth,
            GROWTH_EXPLODING,
        )
    };
    // The steps the statistic was past its threshold: the first step for a depth profile, the
    // worst update's step, or every step whose norm had grown past it.
    let start = super::status::median(&norms[..norms.len().div_ceil(10)]);
    let held: Vec<u64> = if by_depth {
        vec![first.step]
    } else if let Some((_, s, _)) = big_update {
        vec![s]
    } else {
        finite
            .iter()
            .filter(|s| s.grad_norm / start > GROWTH_EXPLODING)
            .map(|s| s.step)
            .collect()
    };
    let rule = Rule {
        statistic: statistic.to_owned(),
        value,
        threshold,
        first_step: held.first().copied().unwrap_or(first.step),
        last_step: held.last().copied().unwrap_or(peak.step),
        held: held.len(),
        of: finite.len(),
    };
    let evidence = exploding_evidence(
        &Growth {
            first,
            peak,
            growth,
        },
        by_depth.then(|| (health[0].name.as_str(), init_ratio)),
        big_update,
        diverged,
    );
    let reason = if by_depth {
        format!(
            "‖∂L/∂a‖ grows 10^{:.0} toward the input from the first step",
            init_ratio.log10()
        )
    } else if growth >= GROWTH_EXPLODING {
        format!("the gradient norm grows {growth:.0e}× during training")
    } else {
        "updates outgrow the weights".to_owned()
    };
    let (lr_line, lr) = (
        setting_line(run, "optimizer"),
        run.model.train.optimizer.lr(),
    );
    let first_line = health
        .iter()
        .find(|h| layers.contains(&h.name))
        .map_or(0, |h| h.line);
    Some(Finding {
        kind: FindingKind::Exploding,
        summary: format!("exploding gradients: layers {}: {reason}", range(&layers)),
        layers,
        severity: Severity::Problem,
        rule: Some(rule),
        evidence,
        remedies: exploding_remedies(run, lr_line, lr, first_line),
    })
}

/// The global gradient norm's first value, its peak and their ratio.
struct Growth<'r> {
    first: &'r StepRow,
    peak: &'r StepRow,
    growth: f64,
}

fn exploding_evidence(
    g: &Growth,
    depth: Option<(&str, f64)>,
    big_update: Option<(&LayerHealth, u64, f64)>,
    diverged: bool,
) -> Vec<String> {
    let (first, peak, growth) = (g.first, g.peak, g.growth);
    let mut evidence = Vec::new();
    if let Some((name, init_ratio)) = depth {
        evidence.push(format!("at step {} (initialization) ‖∂L/∂a‖ at `{name}` was {init_ratio:.1e}× the last layer's: it grows toward the input", first.step));
    }
    if growth > 1.0 {
        evidence.push(format!("the global gradient norm grows {growth:.1e}× from {:.2e} at step {} to {:.2e} at step {}", first.grad_norm, first.step, peak.grad_norm, peak.step));
    }
    if let Some((h, s, r)) = big_update {
        evidence.push(format!(
            "at step {s} the update of `{}` was {r:.1e}× its weights' norm (healthy: ~1e-3)",
            h.name
        ));
    }
    if diverged {
        evidence.push(
            "the run diverged: the loss or the gradient norm became NaN or infinite".to_owned(),
        );
    }
    evidence
}

/// Lower the lr and clip; a new init only when the init itself is predicted to explode.
fn exploding_remedies(run: &Run, lr_line: usize, lr: f64, first_line: usize) -> Vec<String> {
    let mut remedies = vec![
        format!("lower the learning rate at line {lr_line} (lr = {lr} → {})", lr / 10.0),
        format!("add `clip = norm(1.0)` to the train section (line {}) to bound every step (Pascanu et al. 2013)", setting_line(run, "train")),
    ];
    if super::predict(&run.model).trend == super::Trend::Exploding {
        remedies.insert(0, format!("use a variance-preserving init at line {first_line} (`init = he_normal` for relu, `xavier_normal` for tanh): the init alone is predicted to explode"));
    } else {
        remedies.push(
            "add `batchnorm` after the dense layers to keep each layer's scale in check".to_owned(),
        );
    }
    remedies
}

fn non_finite(run: &Run, health: &[LayerHealth]) -> Option<Finding> {
    let step = health.iter().filter_map(|h| h.first_nonfinite).min()?;
    let at_step: Vec<&LayerHealth> = health
        .iter()
        .filter(|h| h.first_nonfinite == Some(step))
        .collect();
    let forward = |i: usize| {
        run.probe(step, i, ProbeStat::NonFiniteForward)
            .unwrap_or(0.0)
            > 0.0
    };
    let index = |h: &LayerHealth| health.iter().position(|x| x.name == h.name).unwrap_or(0);
    // Forward values break from the input side; gradients from the output side.
    let culprit = at_step
        .iter()
        .find(|h| forward(index(h)))
        .or_else(|| at_step.last())?;
    let pass = if forward(index(culprit)) {
        "forward"
    } else {
        "backward"
    };
    Some(Finding {
        kind: FindingKind::NonFinite,
        layers: vec![culprit.name.clone()],
        summary: format!(
            "non-finite values: first at step {step} in layer `{}` (line {}), {pass} pass",
            culprit.name, culprit.line
        ),
        severity: Severity::Problem,
        rule: Some(Rule {
            statistic: "layers with a NaN or ±∞ in a probe at the first such step".to_owned(),
            value: at_step.len() as f64,
            threshold: 0.0,
            first_step: step,
            last_step: step,
            held: 1,
            of: run.probe_steps().len(),
        }),
        evidence: vec![format!(
            "{} layers had a NaN or ±∞ at step {step}",
            at_step.len()
        )],
        remedies: vec![
            format!(
                "lower the learning rate at line {}",
                setting_line(run, "optimizer")
            ),
            "add `clip = norm(1.0)` to the train section".to_owned(),
            "check the data for NaN or huge values (`scale = standard`)".to_owned(),
        ],
    })
}

fn unit_problem(run: &Run, health: &[LayerHealth], status: Status) -> Option<Finding> {
    let layers = with_status(health, status);
    let first = layers.first()?;
    let evidence = layers
        .iter()
        .map(|h| {
            format!(
                "`{}` (line {}): {:.0}% of its units {}",
                h.name,
                h.line,
                h.saturation * 100.0,
                if status == Status::Dead {
                    "never fire on a batch"
                } else {
                    "sit on the flat tails of the activation"
                }
            )
        })
        .collect();
    let (kind, summary, remedies) = if status == Status::Dead {
        (
            FindingKind::Dead,
            format!("dead relus: layers {}", range(&names(&layers))),
            vec![
                format!("use `act = leaky_relu` at line {} (a small negative slope keeps a gradient, Maas et al. 2013)", first.line),
                format!("lower the learning rate at line {} (large steps push units into the dead region)", setting_line(run, "optimizer")),
                format!("use `init = he_normal` at line {}", first.line),
            ],
        )
    } else {
        (
            FindingKind::Saturated,
            format!("saturated units: layers {}", range(&names(&layers))),
            vec![
                format!(
                    "use a smaller, fan-aware init at line {} (`init = xavier_normal`)",
                    first.line
                ),
                format!(
                    "add `batchnorm` before the activation at line {}",
                    first.line
                ),
                format!(
                    "or use `act = relu, init = he_normal` at line {}",
                    first.line
                ),
            ],
        )
    };
    let threshold = if status == Status::Dead {
        super::status::DEAD_FRACTION
    } else {
        super::status::SATURATED_FRACTION
    };
    let window = super::status::window(run);
    let index = health.iter().position(|h| h.name == first.name);
    // The steps of the window at which the fraction itself was past the threshold.
    let held: Vec<u64> = window
        .iter()
        .copied()
        .filter(|&s| {
            index
                .and_then(|i| run.probe(s, i, ProbeStat::Saturation))
                .is_some_and(|v| v >= threshold)
        })
        .collect();
    let rule = Rule {
        statistic: format!(
            "fraction of `{}`'s units {}",
            first.name,
            if status == Status::Dead {
                "dead"
            } else {
                "saturated"
            }
        ),
        value: first.saturation,
        threshold,
        first_step: held.first().copied().unwrap_or(0),
        last_step: held.last().copied().unwrap_or(0),
        held: held.len(),
        of: window.len(),
    };
    Some(Finding {
        kind,
        layers: names(&layers),
        summary,
        severity: Severity::Problem,
        rule: Some(rule),
        evidence,
        remedies,
    })
}
