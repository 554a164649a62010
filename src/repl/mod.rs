//! The REPL: load a model, train a little, look at the gradients, change one thing, train
//! again, compare. [`Repl::execute`] runs one input (a `:command` or a statement of the
//! language) against the session and writes what it has to say; the terminal, history and the
//! reading of lines are `cli::repl`'s.
//!
//! The core is pure and unit-tested: [`command`] (what a line means), [`edit`] (source edits),
//! [`workspace`] (the checked model and its undo stack), [`view`] (tables, bars, sparklines).
//! [`engine`] keeps the compiled step and the weights between `:train` commands.

mod answer;
pub mod command;
mod command_args;
pub mod complete;
pub mod edit;
pub mod engine;
pub mod picture;
pub mod view;
pub mod workspace;

use crate::diag;
use crate::runtime::exec::Backend;
use crate::syntax::parse_file;
use answer::{command_error, edit_error, fail, render_located, say};
use command::{Amount, Command, Input, Place, Stage, Target};
use edit::{EditError, Edited};
use engine::{Engine, Run, Stop, Watch};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use workspace::{Located, Rejected, Snapshot, Workspace};

/// Where the REPL writes: results to `out`, diagnostics and errors to `err`.
pub struct Io<'a> {
    pub out: &'a mut dyn Write,
    pub err: &'a mut dyn Write,
    /// Color in diagnostics (a terminal).
    pub color: bool,
    /// Show a live step counter while training (a terminal).
    pub progress: bool,
}

/// What became of one input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// The input was wrong; the session is unchanged and goes on.
    Failed,
    Quit,
}

/// A REPL session.
pub struct Repl {
    workspace: Workspace,
    engine: Engine,
    runs: Vec<Run>,
    /// What changed since the last run, to label the next one.
    changes: Vec<String>,
    /// Set by Ctrl-C to stop a training run after its current step.
    pub interrupt: Arc<AtomicBool>,
}

impl Repl {
    pub fn new(backend: Backend) -> Repl {
        Repl {
            workspace: Workspace::new(),
            engine: Engine::new(backend),
            runs: Vec::new(),
            changes: Vec::new(),
            interrupt: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The layer names of the current model (for completion).
    pub fn layer_names(&self) -> Vec<String> {
        self.workspace
            .current()
            .map(|s| {
                edit::all_layers(&s.model)
                    .iter()
                    .map(|l| l.name.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Runs one input: a line, or several when a statement's braces spanned lines.
    pub fn execute(&mut self, text: &str, io: &mut Io) -> Outcome {
        match command::parse(text) {
            Ok(Input::Blank) => Outcome::Done,
            Ok(Input::Statement(stmt)) => {
                let typed_at = text.find(stmt.as_str()).unwrap_or(0);
                let result = self.statement(&stmt, typed_at);
                self.finish_edit(result, text, &format!("added `{}`", first_line(&stmt)), io)
            }
            Ok(Input::Command(c)) => self.command(c, text, io),
            Err(e) => {
                command_error(&e, text, io);
                Outcome::Failed
            }
        }
    }

    fn command(&mut self, c: Command, line: &str, io: &mut Io) -> Outcome {
        match c {
            Command::Load(path) => self.load(Path::new(&path), io),
            Command::Show => self.with_model(io, |s, io| say(io, &view::show_model(s))),
            Command::Source => self.with_model(io, |s, io| say(io, &s.src)),
            Command::Set {
                target,
                value,
                value_at,
            } => self.set_command(&target, &value, value_at, line, io),
            Command::Insert {
                place,
                layer,
                stmt,
                stmt_at,
            } => self.insert(place, &layer, &stmt, stmt_at, line, io),
            Command::Remove(layer) => {
                let result = self
                    .snapshot()
                    .and_then(|s| edit::remove_layer(&s.src, &s.model, &layer));
                self.finish_edit(result, line, &format!("removed {layer}"), io)
            }
            Command::Wrap { first, last, args } => {
                let result = self.snapshot().and_then(|s| {
                    let (file, _) = parse_file(&s.src);
                    edit::wrap_residual(&s.src, &file, &s.model, &first, &last, &args)
                });
                let what = format!("wrapped {first}..{last} in residual");
                self.finish_edit(result, line, &what, io)
            }
            Command::Train(amount) => self.train(amount, io),
            Command::Grads => self.with_run(io, |r, io| say(io, &view::grads_table(r))),
            Command::Spark(layer) => self.spark(layer.as_deref(), io),
            Command::Plot { file, picture } => self.plot(Path::new(&file), picture, io),
            Command::Diff => self.diff(io),
            Command::Ir(stage) => self.with_model(io, |s, io| match ir_text(s, stage) {
                Ok(text) => say(io, &text),
                Err(e) => fail(io, &e),
            }),
            Command::Undo => self.undo(io),
            Command::Reset(seed) => self.reset(seed, line, io),
            Command::Save(path) => self.save(Path::new(&path), io),
            Command::Help(topic) => say(io, &view::help(topic.as_deref())),
            Command::Quit => Outcome::Quit,
        }
    }

    fn set_command(
        &mut self,
        target: &Target,
        value: &str,
        value_at: usize,
        line: &str,
        io: &mut Io,
    ) -> Outcome {
        let what = match target {
            Target::Dotted { head, attr } => format!("{head}.{attr} = {value}"),
            Target::Setting(key) => format!("{key} = {value}"),
        };
        let result = self.set(target, value, value_at);
        let outcome = self.finish_edit(result, line, &format!("set {what}"), io);
        if let (Outcome::Done, Target::Dotted { head, .. }) = (outcome, target) {
            self.note_copies(head, io);
        }
        outcome
    }

    fn insert(
        &mut self,
        place: Place,
        layer: &str,
        stmt: &str,
        stmt_at: usize,
        line: &str,
        io: &mut Io,
    ) -> Outcome {
        let after = place == Place::After;
        let result = self
            .snapshot()
            .and_then(|s| edit::insert_stmt(&s.src, &s.model, layer, after, stmt, stmt_at));
        let copies = self
            .workspace
            .current()
            .map_or(0, |s| edit::copies(&s.model, layer).len());
        let word = if after { "after" } else { "before" };
        let what = format!("inserted `{stmt}` {word} {layer}");
        let outcome = self.finish_edit(result, line, &what, io);
        if outcome == Outcome::Done && copies > 1 {
            let _ = writeln!(
                io.out,
                "note: {layer} is one of {copies} layers made by one statement (a `repeat` or a block); the new statement is in each copy"
            );
        }
        outcome
    }

    fn snapshot(&self) -> Result<Snapshot, EditError> {
        self.workspace.current().cloned().ok_or_else(no_model)
    }

    fn statement(&self, stmt: &str, typed_at: usize) -> Result<Edited, EditError> {
        let s = self.snapshot()?;
        let (file, _) = parse_file(&s.src);
        edit::add_statement(&s.src, &file, stmt, typed_at)
    }

    fn set(&self, target: &Target, value: &str, value_at: usize) -> Result<Edited, EditError> {
        let s = self.snapshot()?;
        let (file, _) = parse_file(&s.src);
        match target {
            Target::Setting(key) => edit::set_setting(&s.src, &file, key, None, value, value_at),
            Target::Dotted { head, attr }
                if crate::sema::names::SETTINGS.contains(&head.as_str()) =>
            {
                edit::set_setting(&s.src, &file, head, Some(attr), value, value_at)
            }
            Target::Dotted { head, attr } => {
                edit::set_layer_attr(&s.src, &file, &s.model, head, attr, value, value_at)
            }
        }
    }

    /// Checks and keeps an edit, or prints why not.
    fn finish_edit(
        &mut self,
        result: Result<Edited, EditError>,
        line: &str,
        what: &str,
        io: &mut Io,
    ) -> Outcome {
        let edited = match result {
            Ok(e) => e,
            Err(e) => {
                edit_error(&e, line, io);
                return Outcome::Failed;
            }
        };
        let Some(name) = self.workspace.current().map(|s| s.name.clone()) else {
            return fail(io, "no model is loaded; `:load FILE.net` first");
        };
        match self.workspace.commit(edited) {
            Ok(accepted) => {
                // A block is typed before the line that uses it: not worth a warning here.
                let warnings: Vec<Located> = accepted
                    .warnings
                    .into_iter()
                    .filter(|l| l.diagnostic.code != "netc::lint::unused_block")
                    .collect();
                render_located(&warnings, line, &name, &accepted.src, io);
                self.changes.push(what.to_owned());
                let _ = writeln!(io.out, "ok: {what}");
                Outcome::Done
            }
            Err(Rejected { diagnostics, src }) => {
                render_located(&diagnostics, line, &name, &src, io);
                Outcome::Failed
            }
        }
    }

    /// Says so when a change to one layer's statement changed several layers.
    fn note_copies(&self, name: &str, io: &mut Io) {
        let Some(s) = self.workspace.current() else {
            return;
        };
        let copies = edit::copies(&s.model, name);
        if copies.len() > 1 {
            let _ = writeln!(
                io.out,
                "note: {name} is one of {} layers made by the same statement ({}); all of them changed",
                copies.len(),
                range_text(&copies)
            );
        }
    }

    fn load(&mut self, path: &Path, io: &mut Io) -> Outcome {
        let src = match std::fs::read_to_string(path) {
            Ok(s) => s,
            Err(e) => return fail(io, &format!("cannot read {}: {e}", path.display())),
        };
        let name = path.display().to_string();
        let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        match workspace::check_whole(&src, &name, base_dir) {
            Ok((snap, warnings)) => {
                if !warnings.is_empty() {
                    let _ = write!(io.err, "{}", diag::render(&warnings, &name, &src, io.color));
                }
                let layers = edit::all_layers(&snap.model).len();
                let _ = writeln!(
                    io.out,
                    "loaded {} from {name}: {layers} layers",
                    snap.model.name
                );
                self.changes.push(format!("loaded {name}"));
                self.workspace.replace(snap);
                Outcome::Done
            }
            Err(diags) => {
                let _ = write!(io.err, "{}", diag::render(&diags, &name, &src, io.color));
                fail(
                    io,
                    &format!("{name} has errors; the session keeps its model"),
                )
            }
        }
    }

    fn train(&mut self, amount: Amount, io: &mut Io) -> Outcome {
        let Some(snap) = self.workspace.current().cloned() else {
            return fail(io, "no model is loaded; `:load FILE.net` first");
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

    fn spark(&self, layer: Option<&str>, io: &mut Io) -> Outcome {
        let Some(run) = self.runs.last() else {
            return fail(io, "no run yet; `:train` first");
        };
        let index = match layer {
            None => Some(0),
            Some(name) => run.layers.iter().position(|l| l == name),
        };
        match index {
            Some(i) => say(io, &view::spark(run, i)),
            None => {
                let best = crate::sema::names::did_you_mean(
                    layer.unwrap_or_default(),
                    run.layers.iter().map(String::as_str),
                );
                let hint = best.map_or(String::new(), |b| format!("; did you mean `{b}`?"));
                fail(
                    io,
                    &format!(
                        "the last run has no layer `{}`{hint}",
                        layer.unwrap_or_default()
                    ),
                )
            }
        }
    }

    fn plot(&self, path: &Path, picture: picture::Picture, io: &mut Io) -> Outcome {
        let Some(lines) = picture::lines(&self.runs, picture) else {
            return fail(io, "no run yet; `:train` first");
        };
        let svg = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("svg"));
        let bytes = match picture::render(lines, svg) {
            Ok(bytes) => bytes,
            Err(e) => return fail(io, &e),
        };
        match std::fs::write(path, bytes) {
            Ok(()) => say(io, &format!("plotted {}\n", path.display())),
            Err(e) => fail(io, &format!("cannot write {}: {e}", path.display())),
        }
    }

    fn diff(&self, io: &mut Io) -> Outcome {
        match self.runs.as_slice() {
            [.., a, b] => say(io, &view::diff(a, b)),
            _ => fail(
                io,
                "`:diff` compares the last two runs; there are fewer than two",
            ),
        }
    }

    fn undo(&mut self, io: &mut Io) -> Outcome {
        if self.workspace.undo() {
            self.changes.push("undo".to_owned());
            let left = self.workspace.undo_depth();
            say(
                io,
                &format!(
                    "undone ({left} more change{} can be undone)\n",
                    if left == 1 { "" } else { "s" }
                ),
            )
        } else {
            fail(io, "nothing to undo")
        }
    }

    fn reset(&mut self, seed: Option<u64>, line: &str, io: &mut Io) -> Outcome {
        if let Some(seed) = seed {
            let text = seed.to_string();
            let result = self.set(
                &Target::Setting("seed".to_owned()),
                &text,
                line.len() - text.len(),
            );
            if self.finish_edit(result, line, &format!("reset with seed {seed}"), io)
                == Outcome::Failed
            {
                return Outcome::Failed;
            }
        } else {
            self.changes.push("reset".to_owned());
        }
        self.engine.reset_weights();
        say(io, "the next `:train` starts from fresh weights\n")
    }

    fn save(&self, path: &Path, io: &mut Io) -> Outcome {
        let Some(snap) = self.workspace.current() else {
            return fail(io, "no model to save");
        };
        match std::fs::write(path, &snap.src) {
            Ok(()) => say(io, &format!("saved {}\n", path.display())),
            Err(e) => fail(io, &format!("cannot write {}: {e}", path.display())),
        }
    }

    fn with_model(&self, io: &mut Io, f: impl FnOnce(&Snapshot, &mut Io) -> Outcome) -> Outcome {
        match self.workspace.current() {
            Some(s) => f(s, io),
            None => fail(io, "no model is loaded; `:load FILE.net` first"),
        }
    }

    fn with_run(&self, io: &mut Io, f: impl FnOnce(&Run, &mut Io) -> Outcome) -> Outcome {
        match self.runs.last() {
            Some(r) => f(r, io),
            None => fail(io, "no run yet; `:train` first"),
        }
    }
}

/// The IR of the current model's forward program or training step (simplified as `netc ir`
/// prints it), or the Cranelift IR of the step.
fn ir_text(snap: &Snapshot, stage: Stage) -> Result<String, String> {
    use crate::ir::{passes, print};
    let model = &snap.model;
    let batch = model.train.batch;
    let graph = match stage {
        Stage::Forward => crate::step::build_eval(model, batch).0,
        Stage::Step | Stage::Clif => {
            crate::step::build_step(model, batch, &Default::default()).graph
        }
    };
    let graph = passes::optimize(&graph);
    match stage {
        Stage::Forward | Stage::Step => Ok(print::print_with_source(&graph, &snap.src)),
        Stage::Clif => crate::codegen::emit_clif(&graph, &crate::codegen::JitOptions::default())
            .map_err(|e| e.to_string()),
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

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

/// `dense1–dense10` for a run of numbered names, else the names listed.
fn range_text(names: &[String]) -> String {
    match (names.first(), names.last()) {
        (Some(a), Some(b)) if names.len() > 3 => format!("{a} … {b}"),
        _ => names.join(", "),
    }
}

fn no_model() -> EditError {
    EditError {
        message: "no model is loaded".to_owned(),
        help: Some("`:load FILE.net` first".to_owned()),
        at: None,
        subject: None,
    }
}
