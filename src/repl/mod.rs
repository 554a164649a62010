//! The REPL: load a model, train a little, look at the gradients, change one thing, train
//! again, compare. [`Repl::execute`] runs one input (a `:command` or a statement of the
//! language) against the session and writes what it has to say; the terminal, history and the
//! reading of lines are `cli::repl`'s.
//!
//! The core is pure and unit-tested: [`command`] (what a line means), [`edit`] (source edits),
//! [`workspace`] (the checked model and its undo stack), [`view`] (tables, bars, sparklines).
//! [`engine`] keeps the compiled step and the weights between `:train` commands.

pub mod address;
mod answer;
pub mod command;
mod command_args;
pub mod complete;
pub mod edit;
pub mod engine;
pub mod picture;
mod training;
pub mod verbs;
pub mod view;
pub mod workspace;

use crate::diag;
use crate::runtime::exec::Backend;
use crate::syntax::parse_file;
use answer::{command_error, edit_error, fail, render_located, say};
use command::{Address, Command, Input, Place, Stage, Target};
use edit::{EditError, Edited};
use engine::{Engine, Run};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
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

    /// The layers of the current model with the attributes each takes (for completion).
    pub fn layer_words(&self) -> Vec<complete::LayerWords> {
        let Some(s) = self.workspace.current() else {
            return Vec::new();
        };
        let (file, _) = parse_file(&s.src);
        let attrs = |span: crate::span::Span| {
            use crate::syntax::ast::Stmt;
            match address::find_stmt_starting(&file, span.start) {
                Some(Stmt::Layer(l)) => crate::sema::layer_params(&l.kind.text),
                Some(Stmt::Input(_) | Stmt::Repeat(_) | Stmt::Residual(_) | Stmt::Error(_))
                | None => &[],
            }
        };
        address::all_layers(&s.model)
            .iter()
            .map(|l| complete::LayerWords {
                name: l.name.clone(),
                attrs: attrs(l.span),
            })
            .collect()
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
            Command::Source => say(io, self.workspace.source()),
            Command::Set {
                target,
                value,
                value_at,
            } => self.set_command(&target, &value, value_at, line, io),
            Command::Insert {
                place,
                at,
                stmt,
                stmt_at,
            } => self.insert(place, &at, &stmt, stmt_at, line, io),
            Command::Remove(at) => {
                let result = self
                    .aim(&at)
                    .map(|(s, span)| edit::remove_stmt(&s.src, span));
                let what = format!("removed `{}`", self.statement_line(&at));
                self.finish_edit(result, line, &what, io)
            }
            Command::Wrap { first, last, args } => {
                let result = self.aim(&first).and_then(|(s, a)| {
                    let (_, b) = self.aim(&last)?;
                    let (file, _) = parse_file(&s.src);
                    let names = (first.to_string(), last.to_string());
                    edit::wrap_residual(&s.src, &file, (a, b), (&names.0, &names.1), &args)
                });
                let what = format!("wrapped {first}..{last} in residual");
                self.finish_edit(result, line, &what, io)
            }
            Command::Train(amount) => self.train(amount, io),
            Command::Grads => {
                let scale = view::session_scale(&self.runs);
                self.with_run(io, |r, io| say(io, &view::grads_table(r, scale)))
            }
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
            Command::Help(topic) => say(io, &command::help(topic.as_deref())),
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
        at: &Address,
        stmt: &str,
        stmt_at: usize,
        line: &str,
        io: &mut Io,
    ) -> Outcome {
        let after = place == Place::After;
        let aimed = self.aim(at);
        let copies = aimed
            .as_ref()
            .map_or(0, |(s, span)| address::made_by(&s.model, *span).len());
        let result = aimed.map(|(s, span)| edit::insert_stmt(&s.src, span, after, stmt, stmt_at));
        let word = if after { "after" } else { "before" };
        let what = format!("inserted `{stmt}` {word} {at}");
        let outcome = self.finish_edit(result, line, &what, io);
        if outcome == Outcome::Done && copies > 1 {
            let _ = writeln!(
                io.out,
                "note: {at} is one of {copies} layers made by one statement (a `repeat` or a block); the new statement is in each copy (name the repeat, or its line, to insert next to the repeat as a whole)"
            );
        }
        outcome
    }

    /// The checked model and the span of the statement `at` names in its source.
    fn aim(&self, at: &Address) -> Result<(Snapshot, crate::span::Span), EditError> {
        let s = self.snapshot()?;
        let (file, _) = parse_file(&s.src);
        let span = address::statement_span(&s.src, &file, &s.model, at)?;
        Ok((s, span))
    }

    /// The first line of the statement `at` names, for a sentence (the address if none).
    fn statement_line(&self, at: &Address) -> String {
        self.aim(at)
            .ok()
            .and_then(|(s, span)| s.src.get(span.start..span.end).map(first_line))
            .unwrap_or_else(|| at.to_string())
    }

    fn snapshot(&self) -> Result<Snapshot, EditError> {
        self.workspace
            .current()
            .cloned()
            .ok_or_else(|| no_model(&self.workspace))
    }

    fn statement(&self, stmt: &str, typed_at: usize) -> Result<Edited, EditError> {
        let src = self.workspace.source();
        let (file, _) = parse_file(src);
        edit::add_statement(src, &file, stmt, typed_at)
    }

    fn set(&self, target: &Target, value: &str, value_at: usize) -> Result<Edited, EditError> {
        // Settings need no checked model: a draft's train section takes them too.
        let src = self.workspace.source();
        let (file, _) = parse_file(src);
        match target {
            Target::Setting(key) => edit::set_setting(src, &file, key, None, value, value_at),
            Target::Dotted { head, attr }
                if crate::sema::names::SETTINGS.contains(&head.as_str()) =>
            {
                edit::set_setting(src, &file, head, Some(attr), value, value_at)
            }
            Target::Dotted { head, attr } => {
                let s = self.snapshot()?;
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
        let name = self.workspace.name().to_owned();
        match self.workspace.commit(edited, what) {
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
                if let Some(draft) = self.workspace.draft() {
                    let _ = writeln!(io.out, "{}", still_missing(draft));
                }
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
        let copies = address::copies(&s.model, name);
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
                let layers = address::all_layers(&snap.model).len();
                let _ = writeln!(
                    io.out,
                    "loaded {} from {name}: {layers} layers",
                    snap.model.name
                );
                let what = format!("loaded {name}");
                self.workspace.replace(snap, &what);
                self.changes.push(what);
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
        let Some(undone) = self.workspace.undo() else {
            return fail(io, "nothing to undo");
        };
        self.changes.push(format!("undid {}", undone.what));
        let left = self.workspace.undo_depth();
        say(io, &view::undone(&undone, left))
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
        let src = self.workspace.source();
        if src.trim().is_empty() {
            return fail(io, "no model to save");
        }
        match std::fs::write(path, src) {
            Ok(()) => say(io, &format!("saved {}\n", path.display())),
            Err(e) => fail(io, &format!("cannot write {}: {e}", path.display())),
        }
    }

    fn with_model(&self, io: &mut Io, f: impl FnOnce(&Snapshot, &mut Io) -> Outcome) -> Outcome {
        match self.snapshot() {
            Ok(s) => f(&s, io),
            Err(e) => fail(io, &no_model_text(&e)),
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

/// A typed statement for a sentence: its first line, `{ … }` when it went on.
fn first_line(text: &str) -> String {
    let mut lines = text.lines();
    let first = lines.next().unwrap_or_default();
    match lines.next() {
        Some(_) => format!("{} … }}", first.trim_end()),
        None => first.to_owned(),
    }
}

/// `dense1–dense10` for a run of numbered names, else the names listed.
fn range_text(names: &[String]) -> String {
    match (names.first(), names.last()) {
        (Some(a), Some(b)) if names.len() > 3 => format!("{a} … {b}"),
        _ => names.join(", "),
    }
}

/// Why there is no checked model to work on: nothing yet, or a draft still missing parts.
fn no_model(workspace: &Workspace) -> EditError {
    let (message, help) = match workspace.draft().and_then(|d| d.missing.first()) {
        Some(missing) => (
            format!("the model is not complete yet: {}", missing.message),
            missing.help.clone(),
        ),
        None => (
            "no model yet".to_owned(),
            Some(
                "`:load FILE.net`, or type one: `input x: [4]`, layers, a `train { ... }` section"
                    .to_owned(),
            ),
        ),
    };
    EditError {
        message,
        help,
        at: None,
        subject: None,
    }
}

fn no_model_text(e: &EditError) -> String {
    match &e.help {
        Some(help) => format!("{}; {help}", e.message),
        None => e.message.clone(),
    }
}

/// What a draft still lacks before it can train, as a note after an accepted line.
fn still_missing(draft: &workspace::Draft) -> String {
    let lacks: Vec<String> = draft
        .missing
        .iter()
        .map(|d| match &d.help {
            Some(help) => format!("  {} ({help})", d.message),
            None => format!("  {}", d.message),
        })
        .collect();
    format!("not ready to train yet:\n{}", lacks.join("\n"))
}
