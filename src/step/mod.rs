//! The training step as one IR program: forward, loss, reverse-mode gradients, the per-layer
//! probes, clipping and the optimizer update, so the whole step compiles to one kernel.
//!
//! Inputs: those of [`crate::lower`] plus `lr` (the scheduled learning rate, a scalar) and
//! `step` (the 1-based step number t, which also drives dropout masks). Outputs: the loss,
//! the metrics `grad_norm` and `grad_norm_clipped`, one probe output per layer and statistic
//! (named `probe.<layer>.<stat>`), and an [`Role::Update`] for every parameter, optimizer
//! state tensor and running statistic.

mod clip;
mod optim;
mod probes;

use crate::autodiff;
use crate::ir::{Graph, ReduceOp, Role, UnaryOp, ValueId};
use crate::lower::{self, Forward, LowerOptions, ParamSpec};
use crate::model::Model;

/// Name of the scalar learning-rate input.
pub const INPUT_LR: &str = "lr";

/// An optimizer state tensor (zeros at the start), e.g. Adam's first moment of a weight.
#[derive(Debug, Clone, PartialEq)]
pub struct StateSpec {
    pub name: String,
    pub shape: Vec<usize>,
    /// The parameter it belongs to.
    pub param: String,
}

#[derive(Debug, Clone, Copy)]
pub struct StepOptions {
    /// Compile the per-layer probes into the step (off only to measure their cost).
    pub probes: bool,
}

impl Default for StepOptions {
    fn default() -> StepOptions {
        StepOptions { probes: true }
    }
}

/// The compiled-to-be training step and what the runtime needs to feed it.
#[derive(Debug, Clone)]
pub struct StepProgram {
    pub graph: Graph,
    /// The model's parameters (trainable ones and running statistics).
    pub params: Vec<ParamSpec>,
    /// Optimizer state, zeros at the start.
    pub state: Vec<StateSpec>,
    /// Layer names in order, with the spans of their constructs.
    pub layers: Vec<(String, crate::span::Span)>,
}

/// A trainable parameter with its gradient in the step program.
#[derive(Debug, Clone)]
pub(crate) struct ParamGrad {
    pub spec: ParamSpec,
    pub grad: ValueId,
}

/// Builds the training step for a batch of `batch` examples.
pub fn build_step(model: &Model, batch: usize, opts: &StepOptions) -> StepProgram {
    let Forward {
        mut graph,
        loss,
        layers,
        params,
        state_updates,
        ..
    } = lower::lower(model, &LowerOptions::train(batch));
    let g = &mut graph;
    g.set_origin(Some(model.train.span), None);
    let lr = g.input(INPUT_LR, vec![]);
    let t = find_input(g, lower::INPUT_STEP);

    let trainable: Vec<&ParamSpec> = params.iter().filter(|p| p.kind.trainable()).collect();
    let mut wrt: Vec<ValueId> = trainable.iter().map(|p| p.value).collect();
    wrt.extend(layers.iter().map(|l| l.grad_at));
    if opts.probes {
        wrt.extend(layers.iter().flat_map(|l| l.hidden.iter().copied()));
    }
    let grads = autodiff::grad(g, loss, &wrt);
    let (param_grads, rest) = grads.split_at(trainable.len());
    let (act_grads, hidden_grads) = rest.split_at(layers.len());
    let mut pgrads: Vec<ParamGrad> = trainable
        .iter()
        .zip(param_grads)
        .map(|(spec, &grad)| ParamGrad {
            spec: (*spec).clone(),
            grad,
        })
        .collect();

    g.set_origin(Some(model.train.span), None);
    g.add_output("loss", loss, Role::Loss);
    let grad_norm = global_norm(g, &pgrads);
    g.add_output("grad_norm", grad_norm, Role::Metric);
    clip::apply(g, &model.train.clip, &mut pgrads, grad_norm);
    let clipped_norm = global_norm(g, &pgrads);
    g.add_output("grad_norm_clipped", clipped_norm, Role::Metric);

    let updates = optim::apply(g, &model.train.optimizer, &pgrads, lr, t);
    if opts.probes {
        probes::add(
            g,
            &layers,
            act_grads,
            hidden_grads,
            &pgrads,
            &updates.new_params,
        );
    }
    for (name, value) in updates.new_params.iter().chain(&updates.new_state) {
        g.add_output(
            format!("update.{name}"),
            *value,
            Role::Update {
                param: name.clone(),
            },
        );
    }
    for (name, value) in &state_updates {
        g.add_output(
            format!("update.{name}"),
            *value,
            Role::Update {
                param: name.clone(),
            },
        );
    }
    StepProgram {
        graph,
        params,
        state: updates.state,
        layers: layers.iter().map(|l| (l.name.clone(), l.span)).collect(),
    }
}

/// The evaluation program: model output and masked loss in eval mode (running statistics,
/// no dropout). Outputs `loss` and `output`.
pub fn build_eval(model: &Model, batch: usize) -> (Graph, Vec<ParamSpec>) {
    let Forward {
        mut graph,
        loss,
        output,
        params,
        ..
    } = lower::lower(model, &LowerOptions::eval(batch));
    graph.add_output("loss", loss, Role::Loss);
    graph.add_output("output", output, Role::Value);
    (graph, params)
}

/// The loss and every trainable parameter's gradient on one batch, no update (dropout off,
/// L2 included): the program behind `netc grad` and `netc gradcheck`. Gradients are outputs
/// named after their parameters.
pub fn build_grad(model: &Model, batch: usize) -> (Graph, Vec<ParamSpec>) {
    let opts = LowerOptions {
        dropout: false,
        ..LowerOptions::train(batch)
    };
    let Forward {
        mut graph,
        loss,
        params,
        ..
    } = lower::lower(model, &opts);
    let trainable: Vec<&ParamSpec> = params.iter().filter(|p| p.kind.trainable()).collect();
    let wrt: Vec<ValueId> = trainable.iter().map(|p| p.value).collect();
    let grads = autodiff::grad(&mut graph, loss, &wrt);
    graph.add_output("loss", loss, Role::Loss);
    for (p, g) in trainable.iter().zip(grads) {
        graph.add_output(p.name.clone(), g, Role::Value);
    }
    (graph, params)
}

/// √(Σ‖g‖²) over every trainable parameter's gradient.
fn global_norm(g: &mut Graph, pgrads: &[ParamGrad]) -> ValueId {
    let mut total = g.scalar(0.0);
    for pg in pgrads {
        let sq = sum_sq(g, pg.grad);
        total = g.add(total, sq);
    }
    g.unary(UnaryOp::Sqrt, total)
}

/// Σ v².
pub(crate) fn sum_sq(g: &mut Graph, v: ValueId) -> ValueId {
    let sq = g.unary(UnaryOp::Square, v);
    g.reduce_all(ReduceOp::Sum, sq)
}

fn find_input(g: &Graph, name: &str) -> ValueId {
    let index = g
        .nodes
        .iter()
        .position(|n| matches!(&n.op, crate::ir::Op::Input { name: n } if n == name))
        .expect("lowering always declares its inputs");
    ValueId(index as u32)
}
