//! The training loop: data in, compiled step run per batch, probes and metrics recorded,
//! validation every epoch, checkpoints that are never lost.
//!
//! Determinism: the initial weights are a function of (seed, parameter name), the batch order
//! of (seed, epoch), dropout masks of (seed, layer, step); so a run is a pure function of the
//! file, the seed and the data, and a resumed run continues exactly where it stopped.

use super::checkpoint::{self, Checkpoint};
use super::compiled::{Compiled, Feed};
use super::exec::{Backend, ExecOptions};
use super::record::{EpochRecord, ProbeFiles, Recorder, StepRecord};
use super::resume::{self, DataFingerprint};
use super::schedule;
use crate::data::{self, Dataset, Splits};
use crate::model::{Model, OnNonFinite};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

// What a model's compiled programs need lives with them; these paths stay for the commands.
pub use super::compiled::{
    evaluate, initial_params, load_params, predicted_class, NonFinite, TrainError,
};

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
    /// Start from these parameters (safetensors, renamed by its map) instead of the
    /// initializers.
    pub load: Option<crate::params::WeightsFile>,
    /// Compile the probes in (off only to measure their cost).
    pub probes: bool,
    /// Set from another thread (Ctrl-C) to stop after the current step, saving a checkpoint.
    pub interrupt: Arc<AtomicBool>,
    /// Resume even when the data's fingerprint differs from the checkpoint's.
    pub allow_data_change: bool,
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
    let rows = splits.train.len() + splits.valid.len();
    let fingerprint = DataFingerprint::of(&model.train.data, base_dir, rows).map_err(|source| {
        TrainError::Io {
            path: name.into(),
            source,
        }
    })?;
    let record = data_record(model, base_dir, &splits, fingerprint.clone());
    super::run_folder::write_data_record(&opts.out_dir, &record)
        .map_err(io_error(&opts.out_dir))?;
    let mut session = Session::new(model, splits, fingerprint, opts)?;
    session.run(opts, observer)
}

/// The steps one stretch of training runs: from `from` (the steps already done) up to
/// `until`, in a run of `total` steps. `total` is the schedule's horizon, also when a run is
/// trained in several stretches (the REPL's `:train` commands, `--pause-at`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stretch {
    pub from: u64,
    pub until: u64,
    pub total: u64,
}

/// How a stretch ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Ended {
    /// Its last step is done.
    Reached,
    /// The interrupt flag was set; the step it was set during is done.
    Interrupted,
    /// A non-finite step under `on_nonfinite = stop`: its update was not applied and it does
    /// not count.
    NonFinite(NonFinite),
}

/// What the one training loop tells its driver: the run folder of `netc train`, or the REPL's
/// runs in memory.
pub trait StepHooks {
    /// A step ran; whether its updates are applied is decided after this.
    fn ran(&mut self, record: &StepRecord) -> Result<(), TrainError>;
    /// `step` steps are now done, the last one in `epoch`.
    fn done(&mut self, compiled: &mut Compiled, step: u64, epoch: u64) -> Result<(), TrainError>;
}

/// The steps of a whole run of `model`: its `steps`, else its epochs of `steps_per_epoch`.
pub fn total_steps(model: &Model, steps_per_epoch: u64) -> u64 {
    model
        .train
        .steps
        .map_or(model.train.epochs as u64 * steps_per_epoch, |s| s as u64)
}

/// The training loop, the one `netc train`, `--vary` and the REPL drive: runs the steps of
/// `stretch` on `train`, with the scheduled learning rate and `model`'s `on_nonfinite`
/// policy. Returns the steps done and why it stopped.
pub fn run_steps(
    model: &Model,
    compiled: &mut Compiled,
    feed: &mut Feed,
    train: &Dataset,
    stretch: Stretch,
    interrupt: &AtomicBool,
    hooks: &mut dyn StepHooks,
) -> Result<(u64, Ended), TrainError> {
    let mut step = stretch.from;
    while step < stretch.until {
        if interrupt.load(Ordering::Relaxed) {
            return Ok((step, Ended::Interrupted));
        }
        let epoch = feed.fill(train, step);
        let lr = schedule::lr_at(
            &model.train.schedule,
            model.train.optimizer.lr(),
            step,
            stretch.total,
        );
        let record = compiled.step(feed, step + 1, epoch, lr)?;
        hooks.ran(&record)?;
        let apply = match compiled.non_finite(&record) {
            None => true,
            Some(bad) => match model.train.on_nonfinite {
                OnNonFinite::Stop => return Ok((step, Ended::NonFinite(bad))),
                // The step counts (the schedule and the batch order move on) but its update
                // is dropped.
                OnNonFinite::SkipStep => false,
                OnNonFinite::Continue => true,
            },
        };
        if apply {
            compiled.apply_updates();
        }
        step += 1;
        hooks.done(compiled, step, epoch)?;
    }
    Ok((step, Ended::Reached))
}

/// A training run in progress.
struct Session<'m> {
    model: &'m Model,
    splits: Splits,
    /// What the data is, saved in every checkpoint.
    fingerprint: DataFingerprint,
    compiled: Compiled,
    feed: Feed,
    recorder: Recorder,
    /// Steps done so far.
    step: u64,
    total_steps: u64,
}

impl<'m> Session<'m> {
    fn new(
        model: &'m Model,
        splits: Splits,
        fingerprint: DataFingerprint,
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
        let total_steps = total_steps(model, feed.steps_per_epoch());
        // Resuming continues the probe files from the checkpoint's step.
        let resumed = if opts.resume {
            Some(resume_checkpoint(opts, &compiled, &fingerprint)?)
        } else {
            None
        };
        let resume = resumed.as_ref().map(|ck| ck.step);
        let files = ProbeFiles {
            every: model.train.probes.every.max(1) as u64,
            keep: model.train.probes.keep,
        };
        let recorder = Recorder::create(&opts.out_dir, &compiled.program, files, resume)
            .map_err(io_error(&opts.out_dir))?;
        let mut session = Session {
            model,
            splits,
            fingerprint,
            compiled,
            feed,
            recorder,
            step: 0,
            total_steps,
        };
        session.initialize(opts, resumed)?;
        // σ_max is recorded at the run's start; a resumed run has those rows already, unless
        // it resumes from the very first step.
        let spectral = opts.out_dir.join(super::run_folder::SPECTRAL);
        if !opts.resume || !resume::has_rows(&spectral) {
            session.record_spectral(&opts.out_dir, !opts.resume)?;
        }
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
        observer.on_start(&self.info());
        let stretch = Stretch {
            from: self.step,
            until: opts
                .pause_at
                .map_or(self.total_steps, |p| p.min(self.total_steps)),
            total: self.total_steps,
        };
        let mut folder = Folder {
            model: self.model,
            valid: &self.splits.valid,
            recorder: &mut self.recorder,
            observer,
            out_dir: &opts.out_dir,
            steps_per_epoch: self.feed.steps_per_epoch(),
            total_steps: self.total_steps,
            fingerprint: &self.fingerprint,
            last_loss: f64::NAN,
            last_eval: None,
        };
        let (step, ended) = run_steps(
            self.model,
            &mut self.compiled,
            &mut self.feed,
            &self.splits.train,
            stretch,
            &opts.interrupt,
            &mut folder,
        )?;
        let (last_loss, last_eval) = (folder.last_loss, folder.last_eval.take());
        self.step = step;
        let stop = match ended {
            Ended::Reached if step >= self.total_steps => StopReason::Finished,
            Ended::Reached | Ended::Interrupted => StopReason::Interrupted,
            Ended::NonFinite(bad) => StopReason::NonFinite(bad),
        };
        // The bad step's updates were never applied, so the parameters are the last good ones
        // in every case; only a finished or interrupted run gets final weights.
        self.recorder.flush().map_err(io_error(&opts.out_dir))?;
        self.save_checkpoint(&opts.out_dir)?;
        if !matches!(stop, StopReason::NonFinite(_)) {
            self.save_weights(&opts.out_dir)?;
        }
        self.record_spectral(&opts.out_dir, false)?;
        Ok(TrainReport {
            stop,
            steps: self.step,
            last_loss,
            last_eval,
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

    fn save_checkpoint(&self, dir: &Path) -> Result<(), TrainError> {
        let at = Taken {
            step: self.step,
            steps_per_epoch: self.feed.steps_per_epoch(),
            fingerprint: &self.fingerprint,
        };
        save_checkpoint(dir, self.model, &self.compiled, &at)
    }

    /// σ_max of each recurrent weight block now (see [`super::spectral_record`]).
    fn record_spectral(&self, dir: &Path, fresh: bool) -> Result<(), TrainError> {
        let weights = |name: &str| self.compiled.leaf(name).map(<[f32]>::to_vec);
        super::spectral_record::record(dir, self.model, self.step, fresh, &weights)
            .map_err(io_error(dir))
    }

    fn save_weights(&self, dir: &Path) -> Result<(), TrainError> {
        let mut meta = std::collections::BTreeMap::new();
        meta.insert("model".to_owned(), self.model.name.clone());
        meta.insert("step".to_owned(), self.step.to_string());
        self.compiled
            .params()
            .save_safetensors(&dir.join(super::run_folder::WEIGHTS), &meta)?;
        Ok(())
    }
}

/// The run folder's side of the loop: every step recorded and shown, validation at the end
/// of an epoch (and of the run), a checkpoint every `checkpoint_every` steps.
struct Folder<'a> {
    model: &'a Model,
    valid: &'a Dataset,
    recorder: &'a mut Recorder,
    observer: &'a mut dyn Observer,
    out_dir: &'a Path,
    steps_per_epoch: u64,
    total_steps: u64,
    fingerprint: &'a DataFingerprint,
    last_loss: f64,
    last_eval: Option<EpochRecord>,
}

impl StepHooks for Folder<'_> {
    fn ran(&mut self, record: &StepRecord) -> Result<(), TrainError> {
        self.last_loss = record.loss;
        self.recorder.step(record).map_err(io_error(self.out_dir))?;
        self.observer.on_step(record);
        Ok(())
    }

    fn done(&mut self, compiled: &mut Compiled, step: u64, epoch: u64) -> Result<(), TrainError> {
        if step % self.steps_per_epoch == 0 || step == self.total_steps {
            let eval = compiled.evaluate(self.valid, self.model.train.batch, epoch, step)?;
            self.recorder.epoch(&eval).map_err(io_error(self.out_dir))?;
            self.observer.on_epoch(&eval);
            self.last_eval = Some(eval);
        }
        if step % self.model.train.checkpoint_every.max(1) as u64 == 0 {
            // the records first: the files on disk then cover the checkpoint's steps
            self.recorder.flush().map_err(io_error(self.out_dir))?;
            let at = Taken {
                step,
                steps_per_epoch: self.steps_per_epoch,
                fingerprint: self.fingerprint,
            };
            save_checkpoint(self.out_dir, self.model, compiled, &at)?;
        }
        Ok(())
    }
}

/// When a checkpoint is taken, and of what data.
struct Taken<'a> {
    step: u64,
    steps_per_epoch: u64,
    fingerprint: &'a DataFingerprint,
}

fn save_checkpoint(
    dir: &Path,
    model: &Model,
    compiled: &Compiled,
    at: &Taken<'_>,
) -> Result<(), TrainError> {
    let meta = serde_json::json!({
        "model": model.name,
        "seed": model.train.seed,
        "data": at.fingerprint,
    });
    let ck = Checkpoint {
        step: at.step,
        epoch: at.step / at.steps_per_epoch,
        params: compiled.params(),
        state: compiled.state(),
        meta,
    };
    checkpoint::save(dir, &ck)?;
    Ok(())
}

/// The checkpoint in `dir`, once it is known to be of the model `compiled` was built from;
/// the folder's records are then cut back to its step (see [`resume::prepare_folder`]).
fn resume_checkpoint(
    opts: &TrainOptions,
    compiled: &Compiled,
    fingerprint: &DataFingerprint,
) -> Result<Checkpoint, TrainError> {
    let dir = opts.out_dir.as_path();
    let ck = checkpoint::load(dir)?;
    let program = &compiled.program;
    let params: Vec<(&str, &[usize])> = (program.params.iter())
        .map(|p| (p.name.as_str(), p.shape.as_slice()))
        .collect();
    let state: Vec<(&str, &[usize])> = (program.state.iter())
        .map(|s| (s.name.as_str(), s.shape.as_slice()))
        .collect();
    let differences = resume::model_differences(&ck, &params, &state);
    if !differences.is_empty() {
        return Err(TrainError::ResumedModelDiffers {
            dir: dir.to_path_buf(),
            differences,
        });
    }
    // A checkpoint written before fingerprints were kept has none to compare.
    let saved = ck.meta.get("data").cloned();
    if let Some(Ok(was)) = saved.map(serde_json::from_value::<DataFingerprint>) {
        let changes = fingerprint.changes_since(&was);
        if !changes.is_empty() && !opts.allow_data_change {
            return Err(TrainError::ResumedDataChanged {
                dir: dir.to_path_buf(),
                data: fingerprint.source.clone(),
                changes,
            });
        }
    }
    resume::prepare_folder(dir, ck.step).map_err(io_error(dir))?;
    Ok(ck)
}

/// What the run folder keeps of the data it trains on.
fn data_record(
    model: &Model,
    base_dir: &Path,
    splits: &Splits,
    fingerprint: DataFingerprint,
) -> super::run_folder::DataRecord {
    let (path, target) = match &model.train.data {
        crate::model::DataSource::Csv(csv) => {
            let path = base_dir.join(&csv.path);
            // A path that cannot be made absolute is kept as given.
            let path = std::path::absolute(&path).unwrap_or(path);
            (Some(path), Some(csv.target.clone()))
        }
        crate::model::DataSource::Synthetic(_) => (None, None),
    };
    super::run_folder::DataRecord {
        fingerprint,
        path,
        input_width: splits.train.input_width(),
        target,
        scaler: splits.scaler.clone(),
        classes: splits.train.classes.clone(),
    }
}

/// A failed write into the run folder `dir`, as a [`TrainError`].
fn io_error(dir: &Path) -> impl Fn(std::io::Error) -> TrainError + '_ {
    move |source| TrainError::Io {
        path: dir.to_path_buf(),
        source,
    }
}
