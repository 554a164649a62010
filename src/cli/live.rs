//! The live per-layer table under `netc train`'s progress bar: ‖∂L/∂W‖, ‖∂L/∂a‖, the
//! update/weight ratio, saturated or dead units, a status, and a log-scale bar of ‖∂L/∂a‖
//! relative to the last layer, so the depth profile shows at a glance.

use crate::health::lint::layer_act;
use crate::health::status::{classify_in, settled_step, LayerHealth, RunContext, Status};
use crate::model::{Activation, Model};
use crate::probe::ProbeStat;
use crate::runtime::record::StepRecord;
use std::time::{Duration, Instant};

/// How often the table is redrawn.
pub const REFRESH: Duration = Duration::from_millis(250);

pub struct LiveTable {
    layers: Vec<String>,
    acts: Vec<Option<Activation>>,
    /// The rules the report will apply: under an adaptive optimizer, update size is no sign
    /// of explosion here either, so the live table and the report agree.
    context: RunContext,
    /// Updates before this step are the init meeting the learning rate, not an explosion
    /// (`health::status::settled_step`, as the report judges them).
    settled: u64,
    /// Largest update/weight ratio seen so far from `settled` on, per layer.
    worst_update: Vec<Option<(u64, f64)>>,
    first_nonfinite: Vec<Option<u64>>,
    last_draw: Option<Instant>,
}

impl LiveTable {
    /// The table for a run of `total_steps` steps over `layers`.
    pub fn new(model: &Model, layers: &[String], total_steps: u64) -> LiveTable {
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
            context: RunContext {
                adaptive: model.train.optimizer.adaptive(),
                ..RunContext::SGD
            },
            settled: settled_step(total_steps),
            worst_update: vec![None; layers.len()],
            first_nonfinite: vec![None; layers.len()],
            last_draw: None,
        }
    }

    /// Takes in a step's probes (every step, so no spike is missed between redraws).
    pub fn observe(&mut self, r: &StepRecord) {
        for i in 0..self.layers.len() {
            let ratio = update_ratio(r, i).filter(|v| v.is_finite() && r.step >= self.settled);
            if let Some(ratio) = ratio {
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
        classify_in(&h, self.acts[i], self.context)
    }
}

/// A probed squared norm as a norm (NaN when the layer has no such probe).
fn norm(r: &StepRecord, layer: usize, stat: ProbeStat) -> f64 {
    r.probe(layer, stat).map_or(f64::NAN, f64::sqrt)
}

fn update_ratio(r: &StepRecord, layer: usize) -> Option<f64> {
    Some((r.probe(layer, ProbeStat::UpdateSq)? / r.probe(layer, ProbeStat::WeightSq)?).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sema::{check_source, Override};

    /// The table for examples/xor.net's `hidden` layer under `optimizer`, for a run of
    /// `total_steps`.
    fn table_for(optimizer: &str, total_steps: u64) -> LiveTable {
        let src = include_str!("../../examples/xor.net");
        let set = [Override {
            key: "optimizer".into(),
            value: optimizer.into(),
        }];
        let model = check_source("xor.net", src, &set)
            .model
            .expect("xor checks");
        LiveTable::new(&model, &["hidden".to_owned()], total_steps)
    }

    /// A step whose update is twice the weight (‖ΔW‖² = 4, ‖W‖² = 1): an explosion under plain
    /// SGD, where the update is the gradient times lr; under Adam the update is normalized,
    /// so its size says nothing about the gradient, and the report does not call it one.
    #[test]
    fn the_update_rule_is_judged_per_optimizer_as_in_the_report() {
        let record = StepRecord {
            step: 5,
            epoch: 0,
            loss: 0.5,
            grad_norm: 1.0,
            grad_norm_clipped: 1.0,
            lr: 0.1,
            probes: vec![(0, ProbeStat::UpdateSq, 4.0), (0, ProbeStat::WeightSq, 1.0)],
        };
        for (optimizer, want) in [
            ("sgd(lr = 0.1)", Status::Exploding),
            ("adam(lr = 0.1)", Status::Ok),
            ("rmsprop(lr = 0.1)", Status::Ok),
        ] {
            let mut table = table_for(optimizer, 1);
            table.observe(&record);
            assert_eq!(table.status(&record, 0, 1.0, None), want, "{optimizer}");
        }
    }

    /// Glorot & Bengio's setting at lr = 1: the output layer's second update is 1.5× its small
    /// initial weights, which then grow to absorb it. In the first tenth of the run that is the
    /// init meeting the learning rate, not an explosion; the same update later is one.
    #[test]
    fn an_update_outgrowing_the_weights_in_the_first_tenth_is_not_an_explosion() {
        let record = |step| StepRecord {
            step,
            epoch: 0,
            loss: 0.5,
            grad_norm: 1.0,
            grad_norm_clipped: 1.0,
            lr: 1.0,
            probes: vec![
                (0, ProbeStat::UpdateSq, 2.25),
                (0, ProbeStat::WeightSq, 1.0),
            ],
        };
        let mut table = table_for("sgd(lr = 1.0)", 100);
        table.observe(&record(2));
        assert_eq!(table.status(&record(2), 0, 1.0, None), Status::Ok);
        table.observe(&record(50));
        assert_eq!(table.status(&record(50), 0, 1.0, None), Status::Exploding);
    }
}
