//! The diagnosis of a run: what went wrong (vanishing, exploding, saturation, dead units,
//! non-finite values), the evidence (numbers, steps, layers), and remedies from the literature
//! as concrete edits of the user's file, with line numbers.

use super::lint::layer_act;
use super::status::{LayerHealth, Status};
use crate::model::Activation;
use crate::probe::ProbeStat;
use crate::report::run::{Run, StepRow};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum FindingKind {
    Vanishing,
    Exploding,
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
    pub evidence: Vec<String>,
    pub remedies: Vec<String>,
}

/// All findings of a run, most fundamental first.
pub fn findings(run: &Run, health: &[LayerHealth]) -> Vec<Finding> {
    let mut out = Vec::new();
    out.extend(exploding(run, health));
    out.extend(non_finite(run, health));
    out.extend(vanishing(run, health));
    out.extend(unit_problem(run, health, Status::Saturated));
    out.extend(unit_problem(run, health, Status::Dead));
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
fn setting_line(run: &Run, key: &str) -> usize {
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
    let (first, top) = (layers.first()?, health.last()?);
    let bottom = &health[0];
    let decades = (bottom.grad_a / top.grad_a).log10();
    let step = run.probe_steps().last().copied().unwrap_or(0);
    let mut evidence = vec![format!(
        "around step {step}, ‖∂L/∂a‖ is {:.2e} at `{}` (the last layer) but {:.2e} at `{}`: it falls 10^{:.1} toward the input",
        top.grad_a, top.name, bottom.grad_a, bottom.name, -decades
    )];
    if let Some(s0) = run.probe_steps().first() {
        let r0 = run.probe(*s0, 0, ProbeStat::GradActSq).unwrap_or(f64::NAN)
            / run
                .probe(*s0, health.len() - 1, ProbeStat::GradActSq)
                .unwrap_or(f64::NAN);
        let when = if run.probes_from_start() {
            " (initialization)"
        } else {
            " (the oldest step the probe ring kept)"
        };
        evidence.push(format!(
            "at step {s0}{when} the ratio first/last layer was {r0:.1e}"
        ));
    }
    evidence.push(format!(
        "‖∂L/∂W‖ of `{}` is {:.2e}, of `{}` {:.2e}: the first layers barely move",
        bottom.name, bottom.grad_w, top.name, top.grad_w
    ));
    let line = first.line;
    let act = run
        .model
        .flat_layers()
        .get(
            health
                .iter()
                .position(|h| h.name == first.name)
                .unwrap_or(0),
        )
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
    Some(Finding {
        kind: FindingKind::Vanishing,
        layers: names(&layers),
        summary: format!(
            "vanishing gradients: layers {}: ‖∂L/∂a‖ falls 10^{:.0} toward the input",
            range(&names(&layers)),
            -decades
        ),
        evidence,
        remedies,
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
    let growth = peak.grad_norm / first.grad_norm;
    let worst = health
        .iter()
        .filter_map(|h| h.worst_update.map(|(s, r)| (h, s, r)))
        .max_by(|a, b| a.2.total_cmp(&b.2));
    let big_update = worst.filter(|w| w.2 > UPDATE_RATIO_EXPLODING);
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
    Some(Finding {
        kind,
        layers: names(&layers),
        summary,
        evidence,
        remedies,
    })
}
