//! Everything that judges gradient health, as data: the prediction before training, the
//! static and run-time lints, the spectral bounds through time, each layer's status over a
//! run, and the findings of the diagnosis with their evidence and remedies
//! (docs/gradient-health.md). Rendering these as text, plots and HTML is `report`'s job.
//!
//! "Diagnostics" are the compiler's errors and warnings ([`crate::diag::Diagnostic`]); the
//! lints here are such warnings because they point at the user's source. What this module
//! concludes about a run are "findings" ([`Finding`]).

pub mod diagnose;
pub mod learning_rate;
pub mod lint;
pub mod moments;
pub mod predict;
pub mod spectral;
pub mod status;
pub mod through_time;

pub use diagnose::{Finding, FindingKind, Rule, Severity};
pub use predict::{predict, Prediction, Trend};
pub use status::{LayerHealth, Status};

use crate::diag::Diagnostic;
use crate::probe::ProbeStat;
use crate::report::run::Run;

/// Everything the health module concludes about a run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Diagnosis {
    pub layers: Vec<LayerHealth>,
    pub findings: Vec<Finding>,
    /// The run-time lints: warnings at the user's source lines.
    #[serde(skip)]
    pub lints: Vec<Diagnostic>,
    pub prediction: Prediction,
    /// Measured ‖∂L/∂a‖ relative to the last layer's at the first recorded step.
    pub measured_profile: Vec<f64>,
}

impl Diagnosis {
    pub fn has(&self, kind: FindingKind) -> bool {
        self.findings.iter().any(|f| f.kind == kind)
    }

    /// No problem found (contained findings aside), on a run that recorded probes.
    pub fn healthy(&self) -> bool {
        self.problems().next().is_none() && !self.measured_profile.is_empty()
    }

    /// The findings that are problems to fix.
    pub fn problems(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Problem)
    }
}

/// Diagnoses a run.
pub fn diagnose(run: &Run) -> Diagnosis {
    let layers = status::layer_health(run);
    let findings = diagnose::findings(run, &layers);
    let grad_norms: Vec<f64> = run.steps.iter().map(|s| s.grad_norm).collect();
    let mut lints: Vec<Diagnostic> = lint::clip_far_from_norms(&run.model, &grad_norms)
        .into_iter()
        .collect();
    let worst: Vec<(String, u64, f64)> = layers
        .iter()
        .filter_map(|h| h.worst_update.map(|(s, r)| (h.name.clone(), s, r)))
        .collect();
    lints.extend(lint::updates_exceed_weights(&run.model, &worst));
    Diagnosis {
        measured_profile: measured_profile(run),
        layers,
        findings,
        lints,
        prediction: predict(&run.model),
    }
}

/// ‖∂L/∂a‖ of each layer over the last layer's, at the first recorded step.
pub fn measured_profile(run: &Run) -> Vec<f64> {
    let Some(&s0) = run.probe_steps().first() else {
        return Vec::new();
    };
    let top = run
        .probe(s0, run.layers.len().saturating_sub(1), ProbeStat::GradActSq)
        .unwrap_or(f64::NAN);
    (0..run.layers.len())
        .map(|i| run.probe(s0, i, ProbeStat::GradActSq).unwrap_or(f64::NAN) / top)
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::lower::{self, LowerOptions};

    /// The walk over the layers lists them in the order lowering records their probes, with a
    /// residual's body one level deeper and before the residual.
    #[test]
    fn the_walk_is_the_probe_order_with_nesting() {
        let src = include_str!("../../examples/residual.net");
        let model = crate::sema::check_source("residual.net", src, &[])
            .model
            .expect("the example checks");
        let walk = model.layers_in_probe_order();
        let probed: Vec<String> = lower::lower(&model, &LowerOptions::eval(1))
            .layers
            .into_iter()
            .map(|l| l.name)
            .collect();
        let walked: Vec<String> = walk.iter().map(|n| n.layer.name.clone()).collect();
        assert_eq!(walked, probed);
        let depth_of = |i: usize| walk[i].depth;
        // stem, then the first residual's three body layers, then the residual itself
        assert_eq!((0..5).map(depth_of).collect::<Vec<_>>(), [0, 1, 1, 1, 0]);
        assert!(matches!(
            walk[4].layer.kind,
            crate::model::LayerKind::Residual { .. }
        ));
    }
}
