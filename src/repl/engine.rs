//! The REPL's trainer: keeps the compiled step, the data and the weights between `:train`
//! commands, so training continues where it stopped and the model is re-compiled only when it
//! changed in a way the compiled program can see.
//!
//! It runs the same step program as `netc train` (built by [`crate::step`], compiled by
//! [`crate::runtime::exec`]), with the same determinism: initial weights from (seed, parameter
//! name), batch order from (seed, epoch). It writes no run folder; runs live in memory.

use super::command::Amount;
use super::workspace::Snapshot;
use crate::data::{self, Splits};
use crate::params::ParamStore;
use crate::runtime::compiled::Feed;
use crate::runtime::exec::{self, Backend};
use crate::runtime::record::{EpochRecord, StepRecord};
use crate::runtime::train::{self, Ended, StepHooks, Stretch, TrainError, NON_FINITE_HINT};
use crate::runtime::{self, compiled};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

/// One `:train` command's worth of training, kept for `:grads`, `:spark` and `:diff`.
#[derive(Debug, Clone)]
pub struct Run {
    /// 1-based, in session order.
    pub number: usize,
    /// What the model looked like: a short description of the change before this run.
    pub label: String,
    pub layers: Vec<String>,
    pub records: Vec<StepRecord>,
    pub eval: Option<EpochRecord>,
    /// Why the run stopped before its last step, if it did.
    pub stopped: Option<Stop>,
}

/// Why a run stopped early.
#[derive(Debug, Clone, PartialEq)]
pub enum Stop {
    /// Ctrl-C, after this many steps.
    Interrupted(u64),
    /// A step whose loss or gradient norm was not finite: what happened, where.
    NonFinite(String),
}

/// What the caller sees while a run goes on.
pub trait Watch {
    /// The program is ready: compiled just now (taking this long) or reused, and the weights
    /// fresh (with this seed) or continuing.
    fn ready(&mut self, compiled: Option<Duration>, fresh_seed: Option<u64>);
    /// A step is done; `target` is the step the run ends at.
    fn step(&mut self, record: &StepRecord, target: u64);
}

/// What `:train` reports besides the run itself.
#[derive(Debug, Clone)]
pub struct Trained {
    /// The step count before and after.
    pub from_step: u64,
    pub to_step: u64,
    pub elapsed: Duration,
}

/// The compiled programs of one model, and the weights they hold.
struct Compiled {
    key: String,
    programs: runtime::compiled::Compiled,
    /// Steps trained since the weights were initialized; `None` = not initialized yet.
    step: Option<u64>,
    /// The seed the weights were initialized with.
    seed: u64,
}

struct Loaded {
    key: String,
    splits: Splits,
}

pub struct Engine {
    backend: Backend,
    compiled: Option<Compiled>,
    data: Option<Loaded>,
}

impl Engine {
    pub fn new(backend: Backend) -> Engine {
        Engine {
            backend,
            compiled: None,
            data: None,
        }
    }

    /// The current weights, once a `:train` has initialized them.
    pub fn params(&self) -> Option<ParamStore> {
        let c = self.compiled.as_ref()?;
        c.step.map(|_| c.programs.params())
    }

    /// Forgets the weights: the next `:train` starts from fresh initial values.
    pub fn reset_weights(&mut self) {
        if let Some(c) = &mut self.compiled {
            c.step = None;
        }
    }

    /// Trains `snap`'s model for `amount`, continuing from the current weights when the model
    /// is unchanged. `watch` sees the program get ready and every step; `interrupt` stops the
    /// run after the current step.
    pub fn train(
        &mut self,
        snap: &Snapshot,
        amount: Amount,
        interrupt: &AtomicBool,
        run: &mut Run,
        watch: &mut dyn Watch,
    ) -> Result<Trained, TrainError> {
        let model = &snap.model;
        let loaded = load_data(&mut self.data, snap)?;
        let batch = model.train.batch;
        let rows = loaded.splits.train.len();
        if rows < batch {
            return Err(TrainError::BatchTooLarge { batch, rows });
        }
        let (c, compiled) = compiled_for(&mut self.compiled, self.backend, snap)?;
        let mut feed = Feed::new(&loaded.splits.train, batch, model.train.seed);
        let steps_per_epoch = feed.steps_per_epoch();
        // The schedule spans the run the train section describes, however many `:train`
        // commands it takes.
        let total = train::total_steps(model, steps_per_epoch);
        let count = match amount {
            Amount::Configured => total,
            Amount::Steps(n) => n,
            Amount::Epochs(n) => n * steps_per_epoch,
        };
        if c.seed != model.train.seed {
            c.step = None;
        }
        let fresh_seed = match c.step {
            Some(_) => None,
            None => {
                c.programs.reset(model, None)?;
                c.step = Some(0);
                c.seed = model.train.seed;
                Some(model.train.seed)
            }
        };
        watch.ready(compiled, fresh_seed);
        let from_step = c.step.unwrap_or(0);
        run.layers = (c.programs.program.layers.iter())
            .map(|(n, _)| n.clone())
            .collect();
        let start = Instant::now();
        let splits = &loaded.splits;
        let stretch = Stretch {
            from: from_step,
            until: from_step + count,
            total,
        };
        let mut hooks = InMemory {
            run: &mut *run,
            watch,
            target: stretch.until,
        };
        let (step, ended) = train::run_steps(
            model,
            &mut c.programs,
            &mut feed,
            &splits.train,
            stretch,
            interrupt,
            &mut hooks,
        )?;
        run.stopped = match ended {
            Ended::Reached => None,
            Ended::Interrupted => Some(Stop::Interrupted(step - from_step)),
            Ended::NonFinite(bad) => Some(Stop::NonFinite(format!(
                "{} (its update was not applied)\n{}",
                bad.describe(&snap.src),
                NON_FINITE_HINT
            ))),
        };
        c.step = Some(step);
        let epoch = step / steps_per_epoch;
        run.eval = Some(c.programs.evaluate(&splits.valid, batch, epoch, step)?);
        Ok(Trained {
            from_step,
            to_step: step,
            elapsed: start.elapsed(),
        })
    }
}

/// The data of `snap`'s model: the split already loaded when its source, seed and loss are
/// unchanged, else loaded afresh; checked against the model's input and output.
fn load_data<'a>(slot: &'a mut Option<Loaded>, snap: &Snapshot) -> Result<&'a Loaded, TrainError> {
    let model = &snap.model;
    let key = serde_json::json!([
        strip(serde_json::to_value(&model.train.data).unwrap_or_default()),
        snap.base_dir,
        model.train.seed,
        serde_json::to_value(model.train.loss).unwrap_or_default(),
    ])
    .to_string();
    if slot.as_ref().is_some_and(|d| d.key != key) {
        *slot = None;
    }
    let loaded = match slot.take() {
        Some(loaded) => loaded,
        None => Loaded {
            splits: data::load(
                &model.train.data,
                &snap.base_dir,
                model.train.seed,
                model.train.loss,
            )?,
            key,
        },
    };
    let loaded = slot.insert(loaded);
    // A model edited at the prompt can stop fitting its data; say so before compiling.
    let source = data::source_name(&model.train.data, &snap.base_dir);
    data::check_width(&loaded.splits.train, &model.input.kind.shape(), &source)?;
    data::check_classes(&loaded.splits.train, &model.output_shape, &source)?;
    Ok(loaded)
}

/// The REPL's side of the loop: every step kept in the run and shown to the watcher.
struct InMemory<'a> {
    run: &'a mut Run,
    watch: &'a mut dyn Watch,
    /// The step this `:train` command ends at.
    target: u64,
}

impl StepHooks for InMemory<'_> {
    fn ran(&mut self, record: &StepRecord) -> Result<(), TrainError> {
        self.watch.step(record, self.target);
        self.run.records.push(record.clone());
        Ok(())
    }

    fn done(&mut self, _: &mut compiled::Compiled, _: u64, _: u64) -> Result<(), TrainError> {
        Ok(())
    }
}

/// The compiled programs of `snap`'s model: those held when the model is unchanged, else
/// freshly compiled (with the time it took).
fn compiled_for<'a>(
    slot: &'a mut Option<Compiled>,
    backend: Backend,
    snap: &Snapshot,
) -> Result<(&'a mut Compiled, Option<Duration>), TrainError> {
    let model = &snap.model;
    let key = program_key(model);
    let mut took = None;
    if slot.as_ref().is_none_or(|c| c.key != key) {
        let start = Instant::now();
        let probes = model.train.probes.enabled;
        *slot = Some(Compiled {
            key,
            programs: runtime::compiled::Compiled::new(model, backend.into(), probes)?,
            step: None,
            seed: model.train.seed,
        });
        took = Some(start.elapsed());
    }
    match slot {
        Some(c) => Ok((c, took)),
        None => {
            Err(exec::ExecError::Compile("the step program was not compiled".to_owned()).into())
        }
    }
}

/// What decides the compiled program: the model without spans (moving a comment does not
/// re-compile) and without how long, with which seed or at which learning rate it trains.
fn program_key(model: &crate::model::Model) -> String {
    let mut value = strip(serde_json::to_value(model).unwrap_or_default());
    if let Some(train) = value.get_mut("train").and_then(|t| t.as_object_mut()) {
        for key in ["epochs", "steps", "seed", "checkpoint_every"] {
            train.remove(key);
        }
        // The learning rate is an input of the step, not a constant in it.
        if let Some(fields) = train
            .get_mut("optimizer")
            .and_then(|o| o.as_object_mut())
            .and_then(|o| o.values_mut().next())
            .and_then(|v| v.as_object_mut())
        {
            fields.remove("lr");
        }
    }
    value.to_string()
}

/// A JSON value without its `span` fields.
fn strip(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(k, _)| k != "span")
                .map(|(k, v)| (k, strip(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(strip).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(src: &str) -> crate::model::Model {
        crate::sema::check_source("t.net", src, &[])
            .model
            .expect("the test model checks")
    }

    const SRC: &str = "model m {\n    input x: [2]\n    dense 4, act = tanh\n    dense 1\n}\n\ntrain {\n    data = xor(n = 40)\n    loss = mse\n    optimizer = adam(lr = 0.01)\n    epochs = 3\n}\n";

    #[test]
    fn the_program_key_ignores_what_the_program_does_not_hold() {
        let base = program_key(&model(SRC));
        let same = [
            SRC.replace("adam(lr = 0.01)", "adam(lr = 0.5)"),
            SRC.replace("epochs = 3", "epochs = 9\n    seed = 4"),
            SRC.replace("model m {", "// a comment\nmodel m {"),
        ];
        for src in same {
            assert_eq!(program_key(&model(&src)), base, "{src}");
        }
        let different = [
            SRC.replace("act = tanh", "act = relu"),
            SRC.replace("adam(lr = 0.01)", "sgd(lr = 0.01)"),
            SRC.replace("dense 4", "dense 5"),
        ];
        for src in different {
            assert_ne!(program_key(&model(&src)), base, "{src}");
        }
    }
}
