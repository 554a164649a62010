//! The training loop: data in, compiled step run per batch, probes and metrics recorded,
//! validation every epoch, checkpoints that are never lost.
//!
//! Determinism: the initial weights are a function of (seed, parameter name), the batch order
//! of (seed, epoch), dropout masks of (seed, layer, step); so a run is a pure function of the
//! file, the seed and the data, and a resumed run continues exactly where it stopped.

use super::checkpoint::{self, Checkpoint};
use super::compiled::{Compiled, Feed};
use super::exec::{Backend, ExecError, ExecOptions, Program};
use super::record::{EpochRecord, ProbeFiles, Recorder, StepRecord};
use super::schedule;
use crate::data::{self, Dataset, Splits};
use crate::lower::ParamSpec;
use crate::model::{Model, OnNonFinite};
use crate::params::ParamStore;
use crate::span::Span;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// How a run is set up beyond the model file.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    pub backend: Backend,
    /// Threads for the JIT's large matrix products (1: everything on the calling thread);
    /// the trained weights are the same for every value.
    pub threads: usize,
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

impl TrainOptions {
    /// How the run's programs are compiled.
    pub fn exec(&self) -> ExecOptions {
        ExecOptions {
            backend: self.backend,
            threads: self.threads,
        }
    }
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

/// The remedies to try after a non-finite step.
pub const NON_FINITE_HINT: &str =
    "try: a smaller learning rate, `clip = norm(1.0)`, or a smaller init scale for that layer";

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
    compiled: Compiled,
    feed: Feed,
    recorder: Recorder,
    /// Steps done so far.
    step: u64,
    total_steps: u64,
    last_eval: Option<EpochRecord>,
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
        let compiled = Compiled::new(model, opts.exec(), probes)?;
        let feed = Feed::new(&splits.train, batch, model.train.seed);
        let total_steps = model
            .train
            .steps
            .map_or(model.train.epochs as u64 * feed.steps_per_epoch(), |s| {
                s as u64
            });
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
        let recorder = Recorder::create(&opts.out_dir, &compiled.program, files, resume).map_err(
            |source| TrainError::Io {
                path: opts.out_dir.clone(),
                source,
            },
        )?;
        let mut session = Session {
            model,
            splits,
            compiled,
            feed,
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
            self.compiled.set(&ck.params)?;
            return self.compiled.set(&ck.state);
        }
        let loaded = match &opts.load {
            Some(path) => Some(load_params(path, &self.compiled.program.params)?),
            None => None,
        };
        self.compiled.reset(self.model, loaded)
    }

    fn run(
        &mut self,
        opts: &TrainOptions,
        observer: &mut dyn Observer,
    ) -> Result<TrainReport, TrainError> {
        let io_error = |source| TrainError::Io {
            path: opts.out_dir.clone(),
            source,
        };
        observer.on_start(&self.info());
        let mut last_loss = f64::NAN;
        let stop = loop {
            if self.step >= self.total_steps {
                break StopReason::Finished;
            }
            if opts.interrupt.load(Ordering::Relaxed)
                || opts.pause_at.is_some_and(|p| self.step >= p)
            {
                break StopReason::Interrupted;
            }
            let epoch = self.feed.fill(&self.splits.train, self.step);
            let lr = schedule::lr_at(
                &self.model.train.schedule,
                self.model.train.optimizer.lr(),
                self.step,
                self.total_steps,
            );
            let record = self.compiled.step(&self.feed, self.step + 1, epoch, lr)?;
            last_loss = record.loss;
            self.recorder.step(&record).map_err(io_error)?;
            observer.on_step(&record);
            let apply = match self.compiled.non_finite(&record) {
                None => true,
                Some(bad) => match self.model.train.on_nonfinite {
                    OnNonFinite::Stop => break StopReason::NonFinite(bad),
                    // The step counts (the schedule and the batch order move on) but its
                    // update is dropped.
                    OnNonFinite::SkipStep => false,
                    OnNonFinite::Continue => true,
                },
            };
            if apply {
                self.compiled.apply_updates();
            }
            self.step += 1;
            self.after_step(epoch, opts, observer)?;
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

    /// What the observer learns before the first step.
    fn info(&self) -> RunInfo {
        let program = &self.compiled.program;
        RunInfo {
            model: self.model.name.clone(),
            total_steps: self.total_steps,
            steps_per_epoch: self.feed.steps_per_epoch(),
            start_step: self.step,
            train_rows: self.splits.train.len(),
            valid_rows: self.splits.valid.len(),
            layers: program.layers.iter().map(|(n, _)| n.clone()).collect(),
            parameters: program
                .params
                .iter()
                .filter(|p| p.kind.trainable())
                .map(|p| p.shape.iter().product::<usize>())
                .sum(),
        }
    }

    /// After step `self.step` of `epoch`: validation at the end of an epoch (and of the run),
    /// and a checkpoint every `checkpoint_every` steps.
    fn after_step(
        &mut self,
        epoch: u64,
        opts: &TrainOptions,
        observer: &mut dyn Observer,
    ) -> Result<(), TrainError> {
        if self.step % self.feed.steps_per_epoch() == 0 || self.step == self.total_steps {
            let batch = self.model.train.batch;
            let eval = self
                .compiled
                .evaluate(&self.splits.valid, batch, epoch, self.step)?;
            self.recorder
                .epoch(&eval)
                .map_err(|source| TrainError::Io {
                    path: opts.out_dir.clone(),
                    source,
                })?;
            observer.on_epoch(&eval);
            self.last_eval = Some(eval);
        }
        if self.step % self.model.train.checkpoint_every.max(1) as u64 == 0 {
            // the records first: the files on disk then cover the checkpoint's steps
            self.recorder.flush().map_err(|source| TrainError::Io {
                path: opts.out_dir.clone(),
                source,
            })?;
            self.save_checkpoint(&opts.out_dir)?;
        }
        Ok(())
    }

    fn save_checkpoint(&self, dir: &Path) -> Result<(), TrainError> {
        let meta = serde_json::json!({ "model": self.model.name, "seed": self.model.train.seed });
        let ck = Checkpoint {
            step: self.step,
            epoch: self.step / self.feed.steps_per_epoch(),
            params: self.compiled.params(),
            state: self.compiled.state(),
            meta,
        };
        checkpoint::save(dir, &ck)?;
        Ok(())
    }

    /// σ_max of each recurrent weight block now (see [`super::spectral_record`]).
    fn record_spectral(&self, dir: &Path, fresh: bool) -> Result<(), TrainError> {
        let weights = |name: &str| self.compiled.leaf(name).map(<[f32]>::to_vec);
        super::spectral_record::record(dir, self.model, self.step, fresh, &weights).map_err(
            |source| TrainError::Io {
                path: dir.to_path_buf(),
                source,
            },
        )
    }

    fn save_weights(&self, dir: &Path) -> Result<(), TrainError> {
        let mut meta = std::collections::BTreeMap::new();
        meta.insert("model".to_owned(), self.model.name.clone());
        meta.insert("step".to_owned(), self.step.to_string());
        self.compiled
            .params()
            .save_safetensors(&dir.join("weights.safetensors"), &meta)?;
        Ok(())
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
