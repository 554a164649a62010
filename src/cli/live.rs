//! The live per-layer table under `netc train`'s progress bar: ‖∂L/∂W‖, ‖∂L/∂a‖, the
//! update/weight ratio, saturated or dead units, a status, and a log-scale bar of ‖∂L/∂a‖
//! relative to the last layer, so the depth profile shows at a glance.

use crate::health::lint::layer_act;
use crate::health::status::{classify, LayerHealth, Status};
use crate::model::{Activation, Model};
use crate::probe::ProbeStat;
use crate::runtime::record::StepRecord;
use std::time::{Duration, Instant};

/// How often the table is redrawn.
pub const REFRESH: Duration = Duration::from_millis(250);

pub struct LiveTable {
    layers: Vec<String>,
    acts: Vec<Option<Activation>>,
    /// Largest update/weight ratio seen so far, per layer.
    worst_update: Vec<Option<(u64, f64)>>,
    first_nonfinite: Vec<Option<u64>>,
    last_draw: Option<Instant>,
}

impl LiveTable {
    pub fn new(model: &Model, layers: &[String]) -> LiveTable {
        let flat = model.flat_layers();
        let acts = layers
            .iter()
            .map(|n| {
                flat.iter()
                    .find(|l| &l.name == n)
                    .and_then(|l| layer_act(l))
            })
            .collect();
        LiveTable {
            layers: layers.to_vec(),
            acts,
            worst_update: vec![None; layers.len()],
            first_nonfinite: vec![None; layers.len()],
            last_draw: None,
        }
    }

    /// Takes in a step's probes (every step, so no spike is missed between redraws).
    pub fn observe(&mut self, r: &StepRecord) {
        for i in 0..self.layers.len() {
            if let Some(ratio) = update_ratio(r, i).filter(|v| v.is_finite()) {
                if self.worst_update[i].is_none_or(|(_, w)| ratio > w) {
                    self.worst_update[i] = Some((r.step, ratio));
                }
            }
            let flagged = [ProbeStat::NonFiniteForward, ProbeStat::NonFiniteBackward]
                .iter()
                .any(|&s| r.probe(i, s).is_some_and(|v| v > 0.0));
            if flagged && self.first_nonfinite[i].is_none() {
                self.first_nonfinite[i] = Some(r.step);
            }
        }
    }

    /// True when the table should be redrawn now (at most every [`REFRESH`]).
    pub fn due(&mut self) -> bool {
        let now = Instant::now();
        if self
            .last_draw
            .is_some_and(|t| now.duration_since(t) < REFRESH)
        {
            return false;
        }
        self.last_draw = Some(now);
        true
    }

    /// The table for a step; empty when the step has no probes.
    pub fn render(&self, r: &StepRecord) -> String {
        if r.probes.is_empty() {
            return String::new();
        }
        let top = self.layers.len().saturating_sub(1);
        let top_a = norm(r, top, ProbeStat::GradActSq);
        let mut out = format!(
            "{:<14} {:>10} {:>10} {:>9} {:>6}  {:<10} {:^17}\n",
            "layer", "‖∂L/∂W‖", "‖∂L/∂a‖", "upd/w", "sat%", "status", "‖∂L/∂a‖ vs last"
        );
        for (i, name) in self.layers.iter().enumerate() {
            let grad_a = norm(r, i, ProbeStat::GradActSq);
            let sat = r.probe(i, ProbeStat::Saturation);
            let status = self.status(r, i, grad_a / top_a, sat);
            out.push_str(&format!(
                "{:<14} {:>10} {:>10} {:>9} {:>6}  {:<10} {}\n",
                name,
                crate::report::sci(norm(r, i, ProbeStat::GradWeightSq)),
                crate::report::sci(grad_a),
                crate::report::sci(update_ratio(r, i).unwrap_or(f64::NAN)),
                sat.map_or("-".to_owned(), |v| format!("{:.0}", v * 100.0)),
                status.label(),
                super::common::log_bar(grad_a, top_a)
            ));
        }
        out
    }

    fn status(&self, r: &StepRecord, i: usize, rel: f64, sat: Option<f64>) -> Status {
        let h = LayerHealth {
            name: String::new(),
            line: 0,
            status: Status::Ok,
            grad_a: f64::NAN,
            grad_w: f64::NAN,
            rel,
            update_ratio: update_ratio(r, i).unwrap_or(f64::NAN),
            saturation: sat.unwrap_or(f64::NAN),
            grad_zero_frac: r.probe(i, ProbeStat::GradZeroFrac).unwrap_or(f64::NAN),
            worst_update: self.worst_update[i],
            // growth needs the run's history; the report judges it
            grad_w_growth: 1.0,
            first_nonfinite: self.first_nonfinite[i],
        };
        classify(&h, self.acts[i])
    }
}

/// A probed squared norm as a norm (NaN when the layer has no such probe).
fn norm(r: &StepRecord, layer: usize, stat: ProbeStat) -> f64 {
    r.probe(layer, stat).map_or(f64::NAN, f64::sqrt)
}

fn update_ratio(r: &StepRecord, layer: usize) -> Option<f64> {
    Some((r.probe(layer, ProbeStat::UpdateSq)? / r.probe(layer, ProbeStat::WeightSq)?).sqrt())
}
