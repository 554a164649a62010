//! `:train`: one run of the session's model through the engine, with what it says while
//! it gets ready and runs (the compile time, fresh weights, a live step counter) and the line
//! that sums it up.

use super::answer::fail;
use super::command::Amount;
use super::engine::{Run, Stop, Watch};
use super::{no_model_text, view, Io, Outcome, Repl};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

impl Repl {
    pub(super) fn train(&mut self, amount: Amount, io: &mut Io) -> Outcome {
        let snap = match self.snapshot() {
            Ok(snap) => snap,
            Err(e) => return fail(io, &no_model_text(&e)),
        };
        self.interrupt.store(false, Ordering::Relaxed);
        let label = if self.changes.is_empty() {
            match self.runs.last() {
                Some(r) => format!("continues #{}", r.number),
                None => snap.model.name.clone(),
            }
        } else {
            self.changes.join("; ")
        };
        let mut run = Run {
            number: self.runs.len() + 1,
            label,
            layers: Vec::new(),
            records: Vec::new(),
            eval: None,
            stopped: None,
        };
        let interrupt = Arc::clone(&self.interrupt);
        let mut watcher = Watcher {
            io: &mut *io,
            last_shown: Instant::now(),
        };
        let result = self
            .engine
            .train(&snap, amount, &interrupt, &mut run, &mut watcher);
        if io.progress {
            let _ = write!(io.err, "\r{:60}\r", "");
        }
        let trained = match result {
            Ok(t) => t,
            Err(e) => {
                let _ = writeln!(io.err, "{:?}", miette::Report::new(e));
                return Outcome::Failed;
            }
        };
        self.changes.clear();
        let _ = writeln!(
            io.out,
            "{}",
            run_summary(&run, trained.from_step, trained.to_step, trained.elapsed)
        );
        let failed = matches!(run.stopped, Some(Stop::NonFinite(_)));
        match &run.stopped {
            Some(Stop::Interrupted(n)) => {
                let _ = writeln!(io.err, "interrupted after {n} steps");
            }
            Some(Stop::NonFinite(why)) => {
                let _ = writeln!(io.err, "{why}");
            }
            None => {}
        }
        self.runs.push(run);
        if failed {
            Outcome::Failed
        } else {
            Outcome::Done
        }
    }
}

/// Shows a run getting ready and, on a terminal, a live step counter.
struct Watcher<'w, 'a> {
    io: &'w mut Io<'a>,
    last_shown: Instant,
}

impl Watch for Watcher<'_, '_> {
    fn ready(&mut self, compiled: Option<Duration>, fresh_seed: Option<u64>) {
        if let Some(took) = compiled {
            let _ = writeln!(self.io.out, "compiled in {} ms", took.as_millis());
        }
        if let Some(seed) = fresh_seed {
            let _ = writeln!(self.io.out, "fresh weights (seed {seed})");
        }
        let _ = self.io.out.flush();
    }

    fn step(&mut self, r: &crate::runtime::record::StepRecord, target: u64) {
        if self.io.progress && self.last_shown.elapsed() > Duration::from_millis(100) {
            self.last_shown = Instant::now();
            let _ = write!(
                self.io.err,
                "\r  step {}/{target}  loss {:.4}   ",
                r.step, r.loss
            );
            let _ = self.io.err.flush();
        }
    }
}

/// One line on a finished `:train`.
fn run_summary(run: &Run, from: u64, to: u64, elapsed: Duration) -> String {
    let first = run.records.first().map(|r| r.loss);
    let last = view::final_loss(run);
    let losses = match (first, last) {
        (Some(a), Some(b)) => format!("loss {} → {}", view::number(a), view::number(b)),
        _ => "no steps".to_owned(),
    };
    let eval = run.eval.as_ref().map_or(String::new(), |e| {
        let acc = e
            .valid_accuracy
            .map_or(String::new(), |a| format!(", acc {:.1}%", a * 100.0));
        format!(", valid loss {}{acc}", view::number(e.valid_loss))
    });
    format!(
        "run #{}: steps {}–{} in {:.2}s: {losses}{eval}",
        run.number,
        from + 1,
        to,
        elapsed.as_secs_f64()
    )
}
