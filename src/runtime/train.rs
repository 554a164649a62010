//! The training loop: data in, compiled step run per batch, probes and metrics recorded,
//! validation every epoch, checkpoints that are never lost.
//!
//! Determinism: the initial weights are a function of (seed, parameter name), the batch order
//! of (seed, epoch), dropout masks of (seed, layer, step); so a run is a pure function of the
//! file, the seed and the data, and a resumed run continues exactly where it stopped.

use super::checkpoint::{self, Checkpoint};
use super::exec::{self, Backend, ExecError, Program};
use super::record::{EpochRecord, ProbeFiles, Recorder, StepRecord};
use super::schedule;
use crate::data::{self, Batcher, Dataset, Splits};
use crate::ir::{ProbeStat, Role};
use crate::lower::ParamSpec;
use crate::model::{Model, OnNonFinite};
use crate::params::ParamStore;
use crate::span::Span;
use crate::step::{self, StepOptions, StepProgram};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// How a run is set up beyond the model file.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    pub backend: Backend,
    /// The run folder.
    pub out_dir: PathBuf,
    /// Continue from the checkpoint in `out_dir`.
    pub resume: bool,
    /// Start from these parameters (safetensors) instead of the initializers.
    pub load: Option<PathBuf>,
    /// Compile the probes in (off only to measure their cost).
    pub probes: bool,
    /// Set from another thread (Ctrl-C) to stop after the current step, saving a checkpoint.
    pub interrupt: Arc<AtomicBool>,
    /// Stop once this many steps are done, as if interrupted (the schedule still spans the
    /// whole run); continue later with `resume`.
    pub pause_at: Option<u64>,
}

/// What the loop tells whoever watches it (the CLI's progress bar, JSON lines, tests).
pub trait Observer {
    fn on_start(&mut self, _info: &RunInfo) {}
    fn on_step(&mut self, _record: &StepRecord) {}
    fn on_epoch(&mut self, _record: &EpochRecord) {}
}

/// Facts about a run, known before its first step.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunInfo {
    pub model: String,
    pub total_steps: u64,
    pub steps_per_epoch: u64,
    pub start_step: u64,
    pub train_rows: usize,
    pub valid_rows: usize,
    pub layers: Vec<String>,
    pub parameters: usize,
}

/// Why a run ended.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub enum StopReason {
    Finished,
    Interrupted,
    NonFinite(NonFinite),
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

#[derive(Debug, Clone, serde::Serialize)]
pub struct TrainReport {
    pub stop: StopReason,
    pub steps: u64,
    pub last_loss: f64,
    pub last_eval: Option<EpochRecord>,
    pub out_dir: PathBuf,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum TrainError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Data(#[from] data::DataError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Exec(#[from] ExecError),
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
    #[error("the batch size {batch} is larger than the training split ({rows} rows)")]
    #[diagnostic(
        code(netc::train::batch_too_large),
        help("set a smaller `batch` in the train section, or `--set batch=N`")
    )]
    BatchTooLarge { batch: usize, rows: usize },
}

/// Trains `model` (whose relative data paths resolve against `base_dir`).
pub fn train(
    model: &Model,
    base_dir: &Path,
    opts: &TrainOptions,
    observer: &mut dyn Observer,
) -> Result<TrainReport, TrainError> {
    let splits = data::load(
        &model.train.data,
        base_dir,
        model.train.seed,
        model.train.loss,
    )?;
    // A CSV's width is known only now; a sequence input needs T·d values per row.
    let name = data::source_name(&model.train.data, base_dir);
    data::check_width(&splits.train, &model.input.kind.shape(), &name)?;
    data::check_classes(&splits.train, &model.output_shape, &name)?;
    let mut session = Session::new(model, splits, opts)?;
    session.run(opts, observer)
}

/// A training run in progress.
struct Session<'m> {
    model: &'m Model,
    splits: Splits,
    program: StepProgram,
    step_prog: Box<dyn Program>,
    eval_prog: Box<dyn Program>,
    eval_params: Vec<ParamSpec>,
    slots: Slots,
    batcher: Batcher,
    recorder: Recorder,
    /// Steps done so far.
    step: u64,
    total_steps: u64,
    last_eval: Option<EpochRecord>,
}

/// Output indices of the step program.
struct Slots {
    loss: usize,
    grad_norm: usize,
    grad_norm_clipped: usize,
    /// (layer index, statistic, output index)
    probes: Vec<(usize, ProbeStat, usize)>,
}

impl<'m> Session<'m> {
    fn new(
        model: &'m Model,
        splits: Splits,
        opts: &TrainOptions,
    ) -> Result<Session<'m>, TrainError> {
        let batch = model.train.batch;
        let rows = splits.train.len();
        if rows < batch {
            return Err(TrainError::BatchTooLarge { batch, rows });
        }
        let probes = opts.probes && model.train.probes.enabled;
        let program = step::build_step(model, batch, &StepOptions { probes });
        let step_prog = exec::compile(&program.graph, opts.backend)?;
        let (eval_graph, eval_params) = step::build_eval(model, batch);
        let eval_prog = exec::compile(&eval_graph, opts.backend)?;
        let slots = Slots::find(&program);
        let steps_per_epoch = (rows / batch) as u64;
        let total_steps = model
            .train
            .steps
            .map_or(model.train.epochs as u64 * steps_per_epoch, |s| s as u64);
        // Resuming continues the probe files from the checkpoint's step.
        let resumed = if opts.resume {
            Some(checkpoint::load(&opts.out_dir)?)
        } else {
            None
        };
        let resume = resumed.as_ref().map(|ck| ck.step);
        let files = ProbeFiles {
            every: model.train.probes.every.max(1) as u64,
            keep: model.train.probes.keep,
        };
        let recorder =
            Recorder::create(&opts.out_dir, &program, files, resume).map_err(|source| {
                TrainError::Io {
                    path: opts.out_dir.clone(),
                    source,
                }
            })?;
        let mut session = Session {
            model,
            batcher: Batcher::new(rows, batch, model.train.seed),
            splits,
            program,
            step_prog,
            eval_prog,
            eval_params,
            slots,
            recorder,
            step: 0,
            total_steps,
            last_eval: None,
        };
        session.initialize(opts, resumed)?;
        session.record_spectral(&opts.out_dir, !opts.resume)?;
        Ok(session)
    }

    /// Sets parameters and optimizer state: from the checkpoint being resumed, from a weights
    /// file, or from the initializers.
    fn initialize(
        &mut self,
        opts: &TrainOptions,
        resumed: Option<Checkpoint>,
    ) -> Result<(), TrainError> {
        if let Some(ck) = resumed {
            self.step = ck.step;
            for (name, t) in ck.params.iter().chain(ck.state.iter()) {
                self.step_prog.set_leaf(name, &t.data)?;
            }
            return Ok(());
        }
        let mut store = initial_params(self.model, &self.program.params);
        if let Some(path) = &opts.load {
            store = load_params(path, &self.program.params)?;
        }
        for (name, t) in store.iter() {
            self.step_prog.set_leaf(name, &t.data)?;
        }
        for s in &self.program.state {
            self.step_prog
                .set_leaf(&s.name, &vec![0.0; s.shape.iter().product()])?;
        }
        Ok(())
    }

    fn run(
        &mut self,
        opts: &TrainOptions,
        observer: &mut dyn Observer,
    ) -> Result<TrainReport, TrainError> {
        let steps_per_epoch = (self.splits.train.len() / self.model.train.batch) as u64;
        let io_error = |source| TrainError::Io {
            path: opts.out_dir.clone(),
            source,
        };
        observer.on_start(&RunInfo {
            model: self.model.name.clone(),
            total_steps: self.total_steps,
            steps_per_epoch,
            start_step: self.step,
            train_rows: self.splits.train.len(),
            valid_rows: self.splits.valid.len(),
            layers: self.program.layers.iter().map(|(n, _)| n.clone()).collect(),
            parameters: self
                .program
                .params
                .iter()
                .filter(|p| p.kind.trainable())
                .map(|p| p.shape.iter().product::<usize>())
                .sum(),
        });
        let batch = self.model.train.batch;
        let width = self.splits.train.input_width();
        let k = self.splits.train.target_width();
        let (mut x, mut y, mut mask) = (
            vec![0.0; batch * width],
            vec![0.0; batch * k],
            vec![0.0; batch],
        );
        let mut last_loss = f64::NAN;
        // The current epoch's batch order, a pure function of (seed, epoch).
        let mut order: Option<(u64, Vec<usize>)> = None;
        let checkpoint_every = self.model.train.checkpoint_every.max(1) as u64;
        let stop = loop {
            if self.step >= self.total_steps {
                break StopReason::Finished;
            }
            if opts.interrupt.load(Ordering::Relaxed)
                || opts.pause_at.is_some_and(|p| self.step >= p)
            {
                break StopReason::Interrupted;
            }
            let epoch = self.step / steps_per_epoch;
            let in_epoch = (self.step % steps_per_epoch) as usize;
            if order.as_ref().is_none_or(|(e, _)| *e != epoch) {
                order = Some((epoch, self.batcher.permutation(epoch as usize)));
            }
            if let Some((_, perm)) = &order {
                self.splits.train.gather(
                    &perm[in_epoch * batch..(in_epoch + 1) * batch],
                    &mut x,
                    &mut y,
                    &mut mask,
                );
            }
            let record = self.train_step(&x, &y, &mask, epoch)?;
            last_loss = record.loss;
            self.recorder.step(&record).map_err(io_error)?;
            observer.on_step(&record);
            if let Some(bad) = self.non_finite(&record) {
                match self.model.train.on_nonfinite {
                    OnNonFinite::Stop => break StopReason::NonFinite(bad),
                    OnNonFinite::SkipStep => {
                        self.step += 1;
                        continue;
                    }
                    OnNonFinite::Continue => {}
                }
            }
            self.step_prog.apply_updates();
            self.step += 1;
            if self.step % steps_per_epoch == 0 || self.step == self.total_steps {
                let eval = self.evaluate(epoch)?;
                self.recorder.epoch(&eval).map_err(io_error)?;
                observer.on_epoch(&eval);
                self.last_eval = Some(eval);
            }
            if self.step % checkpoint_every == 0 {
                // the records first: the files on disk then cover the checkpoint's steps
                self.recorder.flush().map_err(io_error)?;
                self.save_checkpoint(&opts.out_dir)?;
            }
        };
        // The bad step's updates were never applied, so the parameters are the last good ones
        // in every case; only a finished or interrupted run gets final weights.
        self.recorder.flush().map_err(io_error)?;
        self.save_checkpoint(&opts.out_dir)?;
        if !matches!(stop, StopReason::NonFinite(_)) {
            self.save_weights(&opts.out_dir)?;
        }
        self.record_spectral(&opts.out_dir, false)?;
        Ok(TrainReport {
            stop,
            steps: self.step,
            last_loss,
            last_eval: self.last_eval.clone(),
            out_dir: opts.out_dir.clone(),
        })
    }

    /// Runs one step on a filled batch (updates are not yet applied).
    fn train_step(
        &mut self,
        x: &[f32],
        y: &[f32],
        mask: &[f32],
        epoch: u64,
    ) -> Result<StepRecord, TrainError> {
        let t = self.step + 1;
        let lr = schedule::lr_at(
            &self.model.train.schedule,
            self.model.train.optimizer.lr(),
            self.step,
            self.total_steps,
        );
        let p = &mut self.step_prog;
        p.set_leaf(crate::lower::INPUT_X, x)?;
        p.set_leaf(crate::lower::INPUT_Y, y)?;
        p.set_leaf(crate::lower::INPUT_MASK, mask)?;
        p.set_leaf(crate::lower::INPUT_STEP, &[t as f32])?;
        p.set_leaf(step::INPUT_LR, &[lr as f32])?;
        p.run()?;
        let scalar = |i: usize| f64::from(p.output(i)[0]);
        let probes = self
            .slots
            .probes
            .iter()
            .map(|&(layer, stat, i)| (layer, stat, scalar(i)))
            .collect();
        Ok(StepRecord {
            step: t,
            epoch,
            loss: scalar(self.slots.loss),
            grad_norm: scalar(self.slots.grad_norm),
            grad_norm_clipped: scalar(self.slots.grad_norm_clipped),
            lr,
            probes,
        })
    }

    /// Which layer first produced a NaN or infinity in this step, if any did.
    fn non_finite(&self, r: &StepRecord) -> Option<NonFinite> {
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
        // layer whose weight gradient norm is largest-or-infinite.
        let overflowed: Vec<usize> = r
            .probes
            .iter()
            .filter(|&&(_, s, v)| s == ProbeStat::GradWeightSq && !v.is_finite())
            .map(|&(l, _, _)| l)
            .collect();
        if let Some(&deepest) = overflowed.iter().max() {
            return Some(layer_at(deepest, "gradient norm"));
        }
        Some(NonFinite {
            step: r.step,
            layer: None,
            span: None,
            pass: "loss",
        })
    }

    /// Loss and accuracy on the validation split, in eval mode with the current parameters.
    fn evaluate(&mut self, epoch: u64) -> Result<EpochRecord, TrainError> {
        for p in &self.eval_params {
            if let Some(value) = self.step_prog.leaf(&p.name) {
                let value = value.to_vec();
                self.eval_prog.set_leaf(&p.name, &value)?;
            }
        }
        let (loss, accuracy) = evaluate(
            self.eval_prog.as_mut(),
            &self.splits.valid,
            self.model.train.batch,
        )?;
        Ok(EpochRecord {
            epoch,
            step: self.step,
            valid_loss: loss,
            valid_accuracy: accuracy,
        })
    }

    fn current(&self, names: impl Iterator<Item = (String, Vec<usize>)>) -> ParamStore {
        let mut store = ParamStore::new();
        for (name, shape) in names {
            if let Some(data) = self.step_prog.leaf(&name) {
                store.insert(name, crate::ir::Tensor::new(shape, data.to_vec()));
            }
        }
        store
    }

    fn save_checkpoint(&self, dir: &Path) -> Result<(), TrainError> {
        let params = self.current(
            self.program
                .params
                .iter()
                .map(|p| (p.name.clone(), p.shape.clone())),
        );
        let state = self.current(
            self.program
                .state
                .iter()
                .map(|s| (s.name.clone(), s.shape.clone())),
        );
        let meta = serde_json::json!({ "model": self.model.name, "seed": self.model.train.seed });
        let ck = Checkpoint {
            step: self.step,
            epoch: self.step / self.batcher.steps_per_epoch().max(1) as u64,
            params,
            state,
            meta,
        };
        checkpoint::save(dir, &ck)?;
        Ok(())
    }

    /// σ_max of each recurrent weight block now (see [`super::spectral_record`]).
    fn record_spectral(&self, dir: &Path, fresh: bool) -> Result<(), TrainError> {
        let weights = |name: &str| self.step_prog.leaf(name).map(<[f32]>::to_vec);
        super::spectral_record::record(dir, self.model, self.step, fresh, &weights).map_err(
            |source| TrainError::Io {
                path: dir.to_path_buf(),
                source,
            },
        )
    }

    fn save_weights(&self, dir: &Path) -> Result<(), TrainError> {
        let params = self.current(
            self.program
                .params
                .iter()
                .map(|p| (p.name.clone(), p.shape.clone())),
        );
        let mut meta = std::collections::BTreeMap::new();
        meta.insert("model".to_owned(), self.model.name.clone());
        meta.insert("step".to_owned(), self.step.to_string());
        params.save_safetensors(&dir.join("weights.safetensors"), &meta)?;
        Ok(())
    }
}

impl Slots {
    fn find(program: &StepProgram) -> Slots {
        let outputs = &program.graph.outputs;
        let index = |name: &str| {
            outputs
                .iter()
                .position(|o| o.name == name)
                .expect("the step program declares its metrics")
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
        Slots {
            loss: index("loss"),
            grad_norm: index("grad_norm"),
            grad_norm_clipped: index("grad_norm_clipped"),
            probes,
        }
    }
}

/// Parameters from a safetensors file, which must hold exactly the tensors `specs` names, with
/// their shapes (every missing, unexpected or mis-shaped one is reported, naming the file).
pub fn load_params(
    path: &Path,
    specs: &[ParamSpec],
) -> Result<ParamStore, crate::params::ParamsError> {
    let expected: Vec<(&str, &[usize])> = specs
        .iter()
        .map(|p| (p.name.as_str(), p.shape.as_slice()))
        .collect();
    Ok(ParamStore::load_expecting(path, &expected)?.0)
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
            crate::spectral::rescale_blocks(&mut t.data, *rows, *cols, p.extras.blocks, radius);
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
