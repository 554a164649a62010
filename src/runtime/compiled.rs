//! A model compiled for training: its step and eval programs, the parameters they hold, and
//! the batches that feed them. `netc train` (a run folder) and the REPL (runs in memory) drive
//! the same [`Compiled`] and [`Feed`], so a step means the same thing in both.

use super::checkpoint;
use super::exec::{self, ExecOptions, Program};
use super::record::{EpochRecord, StepRecord};
use crate::data::{self, Batcher, Dataset};
use crate::ir::{Role, Tensor};
use crate::lower::ParamSpec;
use crate::model::Model;
use crate::params::{ParamStore, WeightsFile};
use crate::probe::ProbeStat;
use crate::span::Span;
use crate::step::{self, StepOptions, StepProgram};
use std::path::PathBuf;

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum TrainError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Data(#[from] data::DataError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Exec(#[from] exec::ExecError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Params(#[from] crate::params::ParamsError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Checkpoint(#[from] checkpoint::CheckpointError),
    #[error("cannot write the run folder {path}: {source}")]
    #[diagnostic(code(netc::train::io))]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the model differs from the one the run in {} was trained on:\n  - {}", dir.display(), differences.join("\n  - "))]
    #[diagnostic(
        code(netc::train::resume_model_differs),
        help("resume with the file the run was trained from (a copy is the folder's model.net), or train the changed model into a new folder")
    )]
    ResumedModelDiffers {
        dir: PathBuf,
        differences: Vec<String>,
    },
    #[error("the data changed since the run in {} started: {} ({data})", dir.display(), changes.join(", "))]
    #[diagnostic(
        code(netc::train::resume_data_changed),
        help("resume on the data the run started with, or pass `--allow-data-change` to go on with this data")
    )]
    ResumedDataChanged {
        dir: PathBuf,
        data: String,
        changes: Vec<String>,
    },
    #[error("the batch size {batch} is larger than the training split ({rows} rows)")]
    #[diagnostic(
        code(netc::train::batch_too_large),
        help("set a smaller `batch` in the train section, or `--set batch=N`")
    )]
    BatchTooLarge { batch: usize, rows: usize },
}

/// Where a NaN or infinity first appeared.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NonFinite {
    pub step: u64,
    /// The layer that first produced it, if the probes could tell.
    pub layer: Option<String>,
    pub span: Option<Span>,
    /// "forward" or "backward" (a NaN or ±∞ element), "gradient norm" (every element finite
    /// but the norm overflowed f32), or "loss" when only the loss was non-finite.
    pub pass: &'static str,
}

impl NonFinite {
    /// What happened, where: one line naming the step, the layer and its line in `src`.
    pub fn describe(&self, src: &str) -> String {
        let head = format!("stopped at step {}", self.step);
        match (&self.layer, self.span, self.pass) {
            (Some(layer), Some(span), "gradient norm") => format!(
                "{head}: the gradients exploded; the norm of layer `{layer}`'s weight gradient (line {}) overflowed",
                span.line_col(src).0
            ),
            (Some(layer), Some(span), pass) => format!(
                "{head}: a NaN or infinity first appeared in layer `{layer}` (line {}), {pass} pass",
                span.line_col(src).0
            ),
            _ => format!("{head}: the loss is not finite"),
        }
    }
}

/// The compiled training step and evaluation pass of one model.
pub struct Compiled {
    pub program: StepProgram,
    step_prog: Box<dyn Program>,
    eval_prog: Box<dyn Program>,
    eval_params: Vec<ParamSpec>,
    slots: Slots,
}

/// Output indices of the step program.
struct Slots {
    loss: usize,
    grad_norm: usize,
    grad_norm_clipped: usize,
    /// (layer index, statistic, output index)
    probes: Vec<(usize, ProbeStat, usize)>,
}

impl Compiled {
    /// Builds and compiles `model`'s step (with its probes when `probes`) and eval programs.
    pub fn new(model: &Model, exec: ExecOptions, probes: bool) -> Result<Compiled, TrainError> {
        let batch = model.train.batch;
        let program = step::build_step(model, batch, &StepOptions { probes });
        let step_prog = exec::compile_with(&program.graph, exec)?;
        let (eval_graph, eval_params) = step::build_eval(model, batch);
        let eval_prog = exec::compile_with(&eval_graph, exec)?;
        let slots = Slots::find(&program)?;
        Ok(Compiled {
            program,
            step_prog,
            eval_prog,
            eval_params,
            slots,
        })
    }

    /// Sets the parameters to `store` (from the initializers when `None`) and the optimizer
    /// state to zero.
    pub fn reset(&mut self, model: &Model, store: Option<ParamStore>) -> Result<(), TrainError> {
        let store = store.unwrap_or_else(|| initial_params(model, &self.program.params));
        self.set(&store)?;
        for s in &self.program.state {
            self.step_prog
                .set_leaf(&s.name, &vec![0.0; s.shape.iter().product()])?;
        }
        Ok(())
    }

    /// Sets every tensor of `store` (parameters or optimizer state) by name.
    pub fn set(&mut self, store: &ParamStore) -> Result<(), TrainError> {
        for (name, t) in store.iter() {
            self.step_prog.set_leaf(name, &t.data)?;
        }
        Ok(())
    }

    /// Runs one step (number `t`, 1-based) on a filled batch; its updates are applied only by
    /// [`Compiled::apply_updates`], so a bad step can be dropped.
    pub fn step(
        &mut self,
        feed: &Feed,
        t: u64,
        epoch: u64,
        lr: f64,
    ) -> Result<StepRecord, TrainError> {
        let p = &mut self.step_prog;
        p.set_leaf(crate::lower::INPUT_X, &feed.x)?;
        p.set_leaf(crate::lower::INPUT_Y, &feed.y)?;
        p.set_leaf(crate::lower::INPUT_MASK, &feed.mask)?;
        p.set_leaf(crate::lower::INPUT_STEP, &[t as f32])?;
        p.set_leaf(step::INPUT_LR, &[lr as f32])?;
        p.run()?;
        let scalar = |i: usize| f64::from(p.output(i)[0]);
        Ok(StepRecord {
            step: t,
            epoch,
            loss: scalar(self.slots.loss),
            grad_norm: scalar(self.slots.grad_norm),
            grad_norm_clipped: scalar(self.slots.grad_norm_clipped),
            lr,
            probes: self
                .slots
                .probes
                .iter()
                .map(|&(layer, stat, i)| (layer, stat, scalar(i)))
                .collect(),
        })
    }

    /// Applies the last step's parameter and optimizer-state updates.
    pub fn apply_updates(&mut self) {
        self.step_prog.apply_updates();
    }

    /// Loss and accuracy on `set` with the current parameters, in eval mode.
    pub fn evaluate(
        &mut self,
        set: &Dataset,
        batch: usize,
        epoch: u64,
        step: u64,
    ) -> Result<EpochRecord, TrainError> {
        for p in &self.eval_params {
            if let Some(value) = self.step_prog.leaf(&p.name) {
                let value = value.to_vec();
                self.eval_prog.set_leaf(&p.name, &value)?;
            }
        }
        let (valid_loss, valid_accuracy) = if set.is_empty() {
            (f64::NAN, None)
        } else {
            evaluate(self.eval_prog.as_mut(), set, batch)?
        };
        Ok(EpochRecord {
            epoch,
            step,
            valid_loss,
            valid_accuracy,
        })
    }

    /// The current value of a parameter or optimizer-state tensor.
    pub fn leaf(&self, name: &str) -> Option<&[f32]> {
        self.step_prog.leaf(name)
    }

    /// The current parameters.
    pub fn params(&self) -> ParamStore {
        let names = self.program.params.iter().map(|p| (&p.name, &p.shape));
        self.store(names)
    }

    /// The current optimizer state.
    pub fn state(&self) -> ParamStore {
        let names = self.program.state.iter().map(|s| (&s.name, &s.shape));
        self.store(names)
    }

    fn store<'a>(&self, names: impl Iterator<Item = (&'a String, &'a Vec<usize>)>) -> ParamStore {
        let mut store = ParamStore::new();
        for (name, shape) in names {
            if let Some(data) = self.step_prog.leaf(name) {
                store.insert(name.clone(), Tensor::new(shape.clone(), data.to_vec()));
            }
        }
        store
    }

    /// Which layer first produced a NaN or infinity in this step, if the step was not finite.
    pub fn non_finite(&self, r: &StepRecord) -> Option<NonFinite> {
        if r.loss.is_finite() && r.grad_norm.is_finite() {
            return None;
        }
        let flagged = |stat: ProbeStat| -> Vec<usize> {
            r.probes
                .iter()
                .filter(|&&(_, s, v)| s == stat && v != 0.0)
                .map(|&(l, _, _)| l)
                .collect()
        };
        let layer_at = |i: usize, pass: &'static str| {
            let (name, span) = &self.program.layers[i];
            NonFinite {
                step: r.step,
                layer: Some(name.clone()),
                span: Some(*span),
                pass,
            }
        };
        // Forward values flow from the first layer on; gradients from the last layer back.
        if let Some(&first) = flagged(ProbeStat::NonFiniteForward).iter().min() {
            return Some(layer_at(first, "forward"));
        }
        // The backward flags read the squared norms, so they are set both by a NaN or ±∞
        // element and by a norm that overflowed f32 with finite elements: the latter (an
        // infinite, not NaN, norm) is an explosion.
        if let Some(&deepest) = flagged(ProbeStat::NonFiniteBackward).iter().max() {
            let norms = [ProbeStat::GradActSq, ProbeStat::GradWeightSq];
            let stats: Vec<f64> = norms.iter().filter_map(|&s| r.probe(deepest, s)).collect();
            let overflow =
                stats.iter().all(|v| !v.is_nan()) && stats.iter().any(|v| v.is_infinite());
            return Some(layer_at(
                deepest,
                if overflow {
                    "gradient norm"
                } else {
                    "backward"
                },
            ));
        }
        // Every layer's statistics finite, but the global norm overflowed: blame the deepest
        // layer whose weight-gradient norm is infinite.
        let overflowed = r
            .probes
            .iter()
            .filter(|&&(_, s, v)| s == ProbeStat::GradWeightSq && !v.is_finite())
            .map(|&(l, _, _)| l)
            .max();
        if let Some(deepest) = overflowed {
            return Some(layer_at(deepest, "gradient norm"));
        }
        Some(NonFinite {
            step: r.step,
            layer: None,
            span: None,
            pass: "loss",
        })
    }
}

impl Slots {
    fn find(program: &StepProgram) -> Result<Slots, TrainError> {
        let outputs = &program.graph.outputs;
        let index = |name: &str| {
            outputs.iter().position(|o| o.name == name).ok_or_else(|| {
                exec::ExecError::Compile(format!("the step program has no `{name}` output"))
            })
        };
        let layer_index = |name: &str| program.layers.iter().position(|(n, _)| n == name);
        let probes = outputs
            .iter()
            .enumerate()
            .filter_map(|(i, o)| match &o.role {
                Role::Probe { layer, stat } => layer_index(layer).map(|l| (l, *stat, i)),
                Role::Loss | Role::Metric | Role::Update { .. } | Role::Value => None,
            })
            .collect();
        Ok(Slots {
            loss: index("loss")?,
            grad_norm: index("grad_norm")?,
            grad_norm_clipped: index("grad_norm_clipped")?,
            probes,
        })
    }
}

/// The training batches of one split: full batches in an order that is a pure function of
/// (seed, epoch), gathered into the buffers the step reads.
pub struct Feed {
    batcher: Batcher,
    batch: usize,
    /// The current epoch's row order.
    order: Option<(u64, Vec<usize>)>,
    pub x: Vec<f32>,
    pub y: Vec<f32>,
    pub mask: Vec<f32>,
}

impl Feed {
    pub fn new(set: &Dataset, batch: usize, seed: u64) -> Feed {
        Feed {
            batcher: Batcher::new(set.len(), batch, seed),
            batch,
            order: None,
            x: vec![0.0; batch * set.input_width()],
            y: vec![0.0; batch * set.target_width()],
            mask: vec![0.0; batch],
        }
    }

    /// Training steps in one epoch (at least 1).
    pub fn steps_per_epoch(&self) -> u64 {
        self.batcher.steps_per_epoch().max(1) as u64
    }

    /// Fills the buffers with the batch of step `step` (0-based) and returns its epoch.
    pub fn fill(&mut self, set: &Dataset, step: u64) -> u64 {
        let epoch = step / self.steps_per_epoch();
        let in_epoch = (step % self.steps_per_epoch()) as usize;
        if self.order.as_ref().is_none_or(|(e, _)| *e != epoch) {
            self.order = Some((epoch, self.batcher.permutation(epoch as usize)));
        }
        if let Some((_, perm)) = &self.order {
            let rows = &perm[in_epoch * self.batch..(in_epoch + 1) * self.batch];
            set.gather(rows, &mut self.x, &mut self.y, &mut self.mask);
        }
        epoch
    }
}

/// Parameters from a safetensors file, renamed by its name map, which must then hold exactly
/// the tensors `specs` names, with their shapes (every missing, unexpected or mis-shaped one
/// is reported, naming the file). Every command that loads weights comes through here.
pub fn load_params(
    weights: &WeightsFile,
    specs: &[ParamSpec],
) -> Result<ParamStore, crate::params::ParamsError> {
    let expected: Vec<(&str, &[usize])> = specs
        .iter()
        .map(|p| (p.name.as_str(), p.shape.as_slice()))
        .collect();
    Ok(ParamStore::load_renamed(&weights.path, &expected, &weights.names)?.0)
}

/// Initial parameters from the model's initializers, each from its own seeded stream.
pub fn initial_params(model: &Model, specs: &[ParamSpec]) -> ParamStore {
    let mut store = ParamStore::new();
    for p in specs {
        let mut rng = crate::init::param_rng(model.train.seed, &p.name);
        let mut t = crate::init::init_blocks(
            &p.init,
            &p.shape,
            p.fan_in,
            p.fan_out,
            p.extras.blocks,
            &mut rng,
        );
        if let (Some(radius), [rows, cols]) = (p.extras.radius, p.shape.as_slice()) {
            crate::health::spectral::rescale_blocks(
                &mut t.data,
                *rows,
                *cols,
                p.extras.blocks,
                radius,
            );
        }
        if let Some((range, value)) = &p.extras.fill {
            if let Some(slice) = t.data.get_mut(range.clone()) {
                slice.fill(*value as f32);
            }
        }
        store.insert(p.name.clone(), t);
    }
    store
}

/// Masked mean loss and accuracy (for classification) of an eval program over a data set,
/// padding the last batch.
pub fn evaluate(
    prog: &mut dyn Program,
    set: &Dataset,
    batch: usize,
) -> Result<(f64, Option<f64>), TrainError> {
    let (loss_slot, out_slot) = (0, 1);
    let width = set.input_width();
    let k = set.target_width();
    let (mut x, mut y, mut mask) = (
        vec![0.0; batch * width],
        vec![0.0; batch * k],
        vec![0.0; batch],
    );
    let (mut loss_sum, mut correct, mut rows) = (0.0, 0usize, 0usize);
    let indices: Vec<usize> = (0..set.len()).collect();
    for chunk in indices.chunks(batch) {
        set.gather(chunk, &mut x, &mut y, &mut mask);
        prog.set_leaf(crate::lower::INPUT_X, &x)?;
        prog.set_leaf(crate::lower::INPUT_Y, &y)?;
        prog.set_leaf(crate::lower::INPUT_MASK, &mask)?;
        prog.run()?;
        loss_sum += f64::from(prog.output(loss_slot)[0]) * chunk.len() as f64;
        if let Some(labels) = &set.labels {
            let out = prog.output(out_slot);
            for (row, &i) in chunk.iter().enumerate() {
                correct += usize::from(predicted_class(&out[row * k..(row + 1) * k]) == labels[i]);
            }
        }
        rows += chunk.len();
    }
    let accuracy = set
        .labels
        .as_ref()
        .map(|_| correct as f64 / rows.max(1) as f64);
    Ok((loss_sum / rows.max(1) as f64, accuracy))
}

/// The class a row of model outputs predicts: the arg-max, or 1 if a single probability > 0.5.
pub fn predicted_class(row: &[f32]) -> usize {
    if row.len() == 1 {
        return usize::from(row[0] > 0.5);
    }
    row.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (i, &v)| {
            if v > best.1 {
                (i, v)
            } else {
                best
            }
        })
        .0
}
