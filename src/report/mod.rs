//! Showing a run: reading its run folder, and rendering what [`crate::health`] concludes about
//! it (per-layer statuses, findings with evidence and remedies, the prediction next to the
//! measurement) as text, plots and the HTML report (see docs/gradient-health.md).

pub mod html;
pub mod plot;
pub mod run;
pub mod through_time;

pub use run::{read_run, Run, RunError};

use crate::health::{self, Diagnosis, Prediction, Trend};

/// A fraction as a whole percentage; `-` when the statistic was not recorded.
fn percent(fraction: f64) -> String {
    if fraction.is_finite() {
        format!("{:.0}", fraction * 100.0)
    } else {
        "-".to_owned()
    }
}

/// The diagnosis as text: the per-layer table, the findings, predicted next to measured.
pub fn render_text(run: &Run, d: &Diagnosis) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "{:<14} {:>5} {:>10} {:>10} {:>10} {:>9} {:>7} {:>7}  {:<10} {:>10} {:>10}\n",
        "layer",
        "line",
        "‖∂L/∂a‖",
        "‖∂L/∂W‖",
        "rel",
        "upd/w",
        "sat%",
        "∂a=0%",
        "status",
        "predicted",
        "measured0"
    ));
    for (i, h) in d.layers.iter().enumerate() {
        out.push_str(&format!(
            "{:<14} {:>5} {:>10} {:>10} {:>10} {:>9} {:>7} {:>7}  {:<10} {:>10} {:>10}\n",
            h.name,
            h.line,
            sci(h.grad_a),
            sci(h.grad_w),
            sci(h.rel),
            sci(h.update_ratio),
            percent(h.saturation),
            percent(h.grad_zero_frac),
            h.status.label(),
            d.prediction
                .layers
                .get(i)
                .map_or("-".to_owned(), |p| sci(p.grad_a)),
            d.measured_profile
                .get(i)
                .map_or("-".to_owned(), |&m| sci(m)),
        ));
    }
    let measured0 = match run.probe_steps().first() {
        Some(s0) if !run.probes_from_start() => {
            format!("predicted is at initialization, measured0 at step {s0}, the oldest kept")
        }
        Some(_) | None => "predicted and measured0 are at initialization".to_owned(),
    };
    out.push_str(&format!("(medians over the last quarter of the recorded steps; rel = ‖∂L/∂a‖ / last layer's; ∂a=0% = units whose ∂L/∂a is exactly 0 on the whole batch; relative depth profiles: {measured0})\n"));
    if let Some(coverage) = run.probe_coverage() {
        out.push_str(&format!("{coverage}\n"));
    }
    out.push('\n');
    if run.probes.is_empty() {
        out.push_str("diagnosis: none — no per-layer probes were recorded (trained with --no-probes, or `probes` off in the train section); only the prediction below applies\n");
    } else if d.problems().next().is_none() {
        out.push_str(
            "diagnosis: healthy — no layer vanishing, exploding, saturated, dead or non-finite\n",
        );
    }
    for f in &d.findings {
        let contained = match f.severity {
            health::Severity::Problem => "",
            health::Severity::Contained => " (contained, not a problem)",
        };
        out.push_str(&format!("diagnosis{contained}: {}\n", f.summary));
        for e in &f.evidence {
            out.push_str(&format!("  evidence: {e}\n"));
        }
        for r in &f.remedies {
            out.push_str(&format!("  try: {r}\n"));
        }
    }
    out.push_str(&clipping_line(run));
    out.push_str(&format!(
        "prediction before training: {}",
        describe_prediction(&d.prediction)
    ));
    out
}

/// How often clipping rescaled the gradients, when the run clips.
fn clipping_line(run: &Run) -> String {
    let clipped = run
        .steps
        .iter()
        .filter(|s| s.grad_norm.is_finite() && s.grad_norm > s.grad_norm_clipped * (1.0 + 1e-4))
        .count();
    let setting = match run.model.train.clip {
        crate::model::Clip::None => return String::new(),
        crate::model::Clip::GlobalNorm(c) => format!("norm({c:?})"),
        crate::model::Clip::LayerNorm(c) => format!("norm({c:?}, per = layer)"),
        crate::model::Clip::Value(c) => format!("value({c:?})"),
    };
    let norms: Vec<f64> = run.steps.iter().map(|s| s.grad_norm).collect();
    format!(
        "clip = {setting} rescaled the gradients at {clipped} of {} steps; median gradient norm {}\n",
        run.steps.len(),
        sci(health::status::median(&norms))
    )
}

/// A number in short scientific notation, or "-" when missing.
pub fn sci(v: f64) -> String {
    if v.is_nan() {
        "-".to_owned()
    } else {
        format!("{v:.2e}")
    }
}

/// One line saying what the prediction is, for reports.
pub fn describe_prediction(p: &Prediction) -> String {
    match p.trend {
        Trend::Healthy => format!(
            "healthy (first layer's ‖∂L/∂a‖ ≈ {:.1e}× the last layer's)\n",
            p.factor
        ),
        Trend::Vanishing => format!(
            "vanishing in layers {} (√χ ≈ {:.2} per layer, first/last ≈ {:.1e})\n",
            p.involved_range(),
            p.gain_per_layer,
            p.factor
        ),
        Trend::Exploding => format!(
            "exploding in layers {} (√χ ≈ {:.2} per layer, first/last ≈ {:.1e})\n",
            p.involved_range(),
            p.gain_per_layer,
            p.factor
        ),
    }
}
