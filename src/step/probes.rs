//! The per-layer gradient-health probes, as scalar outputs of the step program. They read
//! values the step computes anyway (a layer's output, its back-propagated gradient, its weight
//! gradient, the update), so a backend that fuses reductions into producers gets them nearly
//! free.

use super::{sum_sq, ParamGrad};
use crate::ir::{BinaryOp, CmpOp, Graph, ReduceOp, Role, UnaryOp, ValueId};
use crate::lower::LayerValues;
use crate::model::Activation;
use crate::probe::{Gate, ProbeStat};
use crate::sema::words::Saturation;

/// Adds every probe output for every layer.
pub(crate) fn add(
    g: &mut Graph,
    layers: &[LayerValues],
    act_grads: &[ValueId],
    hidden_grads: &[ValueId],
    pgrads: &[ParamGrad],
    new_params: &[(String, ValueId)],
) {
    let mut hidden_grads = hidden_grads.iter();
    for (layer, &grad_a) in layers.iter().zip(act_grads) {
        g.set_origin(Some(layer.span), Some(&layer.name));
        let probe = |g: &mut Graph, stat: ProbeStat, value: ValueId| {
            g.add_output(
                stat.output_name(&layer.name),
                value,
                Role::Probe {
                    layer: layer.name.clone(),
                    stat,
                },
            );
        };
        let a = layer.output;
        let grad_a_sq = sum_sq(g, grad_a);
        probe(g, ProbeStat::GradActSq, grad_a_sq);
        let zero_frac = grad_zero_frac(g, grad_a);
        probe(g, ProbeStat::GradZeroFrac, zero_frac);
        // mean and E[a²] are two reductions over the same values, which the JIT computes in
        // one loop; std = √max(E[a²] − mean², 0) needs no second pass over a.
        let mean = g.reduce_all(ReduceOp::Mean, a);
        probe(g, ProbeStat::ActMean, mean);
        let sq = g.unary(UnaryOp::Square, a);
        let mean_sq = g.reduce_all(ReduceOp::Mean, sq);
        let mean2 = g.unary(UnaryOp::Square, mean);
        let var = g.sub(mean_sq, mean2);
        let zero = g.scalar(0.0);
        let var = g.binary(BinaryOp::Max, var, zero);
        let std = g.unary(UnaryOp::Sqrt, var);
        probe(g, ProbeStat::ActStd, std);
        if let Some(sat) = saturation(g, layer.act, a) {
            probe(g, ProbeStat::Saturation, sat);
        }
        // A NaN or ±∞ anywhere in a tensor makes its sum (of squares) non-finite, so the
        // flags read scalars the probes compute anyway instead of scanning the tensors again.
        // (A sum of squares can also overflow with finite elements; at that size the
        // gradients have exploded anyway.)
        let forward_bad = g.unary(UnaryOp::IsNonFinite, mean_sq);
        probe(g, ProbeStat::NonFiniteForward, forward_bad);
        let mut backward_bad = g.unary(UnaryOp::IsNonFinite, grad_a_sq);

        let find = |name: &Option<String>| {
            name.as_ref()
                .and_then(|n| pgrads.iter().find(|p| &p.spec.name == n))
        };
        if let Some(w) = find(&layer.weight) {
            let grad_w_sq = sum_sq(g, w.grad);
            probe(g, ProbeStat::GradWeightSq, grad_w_sq);
            let v = sum_sq(g, w.spec.value);
            probe(g, ProbeStat::WeightSq, v);
            if let Some((_, new_w)) = new_params.iter().find(|(n, _)| n == &w.spec.name) {
                let delta = g.sub(*new_w, w.spec.value);
                let v = sum_sq(g, delta);
                probe(g, ProbeStat::UpdateSq, v);
            }
            let w_bad = g.unary(UnaryOp::IsNonFinite, grad_w_sq);
            backward_bad = g.binary(BinaryOp::Max, backward_bad, w_bad);
        }
        if let Some(b) = find(&layer.bias) {
            let v = sum_sq(g, b.grad);
            probe(g, ProbeStat::GradBiasSq, v);
        }
        probe(g, ProbeStat::NonFiniteBackward, backward_bad);
        let grads: Vec<ValueId> = hidden_grads
            .by_ref()
            .take(layer.hidden.len())
            .copied()
            .collect();
        through_time(g, layer, &grads);
    }
}

/// A recurrent layer's probes: ‖∂L/∂h_t‖² for every step t, and each gate's saturation over
/// every step (named as [`ProbeStat::output_name`] says).
fn through_time(g: &mut Graph, layer: &LayerValues, hidden_grads: &[ValueId]) {
    for (t, &grad_h) in hidden_grads.iter().enumerate() {
        let v = sum_sq(g, grad_h);
        let stat = ProbeStat::GradHiddenSq { t: t as u32 };
        g.add_output(
            stat.output_name(&layer.name),
            v,
            Role::Probe {
                layer: layer.name.clone(),
                stat,
            },
        );
    }
    for gate in &layer.gates {
        // Lowering names gates by `Cell::gate_names`, every one of which is a `Gate` (a test
        // below checks it), so no gate is skipped here.
        let Some(name) = Gate::from_name(&gate.gate) else {
            continue;
        };
        if let Some(sat) = saturation(g, Some(gate.act), gate.value) {
            let stat = ProbeStat::GateSaturation { gate: name };
            g.add_output(
                stat.output_name(&layer.name),
                sat,
                Role::Probe {
                    layer: layer.name.clone(),
                    stat,
                },
            );
        }
    }
}

/// The fraction of units (the axes after the batch's) whose gradient is exactly zero for every
/// example of the batch. Asking for every example, as the dead-unit count does, keeps the
/// zero rows of a partial batch's padding (masked out of the loss) from counting.
fn grad_zero_frac(g: &mut Graph, grad: ValueId) -> ValueId {
    let abs = g.unary(UnaryOp::Abs, grad);
    let largest = g.reduce(ReduceOp::Max, abs, &[0], false);
    let zero = g.scalar(0.0);
    let dead = g.compare(CmpOp::Le, largest, zero);
    g.reduce_all(ReduceOp::Mean, dead)
}

/// The fraction of saturated units (sigmoid, tanh, softsign: `crate::probe::Squashing`
/// defines the band) or dead units (relu: no example of the batch activates it), or `None`
/// when the activation has no such notion.
fn saturation(g: &mut Graph, act: Option<Activation>, a: ValueId) -> Option<ValueId> {
    let squashing = match act?.saturation()? {
        Saturation::Squashes(squashing) => squashing,
        Saturation::Dead => {
            // a unit is dead on this batch when its largest output over the batch is 0
            let max = g.reduce(ReduceOp::Max, a, &[0], false);
            let zero = g.scalar(0.0);
            let dead = g.compare(CmpOp::Le, max, zero);
            return Some(g.reduce_all(ReduceOp::Mean, dead));
        }
    };
    let centre = g.scalar(squashing.centre());
    let off = g.sub(a, centre);
    let distance = g.unary(UnaryOp::Abs, off);
    let edge = g.scalar(squashing.saturated_beyond());
    let saturated = g.compare(CmpOp::Gt, distance, edge);
    Some(g.reduce_all(ReduceOp::Mean, saturated))
}

#[cfg(test)]
mod tests {
    use crate::ir::Role;
    use crate::model::{Activation, Cell};
    use crate::probe::{Gate, ProbeStat, Scope};

    /// A relu layer with weights and bias has every per-layer statistic, so the step must
    /// emit each of [`ProbeStat::PER_LAYER`] for it, and everything the step emits must have a
    /// home in the files: a new statistic missing from either list fails here.
    #[test]
    fn the_step_emits_every_per_layer_statistic_and_only_those_the_files_hold() {
        let src = "model m {\n    input x: [2]\n    dense 4, act = relu as hidden\n    dense 1 as out\n}\ntrain {\n    data = xor(n = 8)\n    loss = mse\n    optimizer = sgd(lr = 0.1)\n}\n";
        let model = crate::sema::check_source("m.net", src, &[])
            .model
            .expect("the model checks");
        let program = super::super::build_step(&model, 2, &super::super::StepOptions::default());
        let emitted: Vec<ProbeStat> = program
            .graph
            .outputs
            .iter()
            .filter_map(|o| match &o.role {
                Role::Probe { layer, stat } if layer == "hidden" => Some(*stat),
                Role::Probe { .. }
                | Role::Loss
                | Role::Metric
                | Role::Update { .. }
                | Role::Value => None,
            })
            .collect();
        for stat in ProbeStat::PER_LAYER {
            assert!(emitted.contains(&stat), "the step does not emit {stat:?}");
        }
        for stat in emitted {
            assert!(
                stat.scope() != Scope::Layer || stat.column().is_some(),
                "{stat:?} has no probes.csv column"
            );
        }
    }

    #[test]
    fn every_gate_lowering_names_is_a_probe_gate() {
        let cells = [
            Cell::Rnn {
                act: Activation::Tanh,
            },
            Cell::Lstm { forget_bias: 1.0 },
            Cell::Gru,
        ];
        for cell in cells {
            for name in cell.gate_names() {
                let gate = Gate::from_name(name);
                assert_eq!(gate.map(Gate::name), Some(*name), "{cell:?}");
            }
        }
    }
}
