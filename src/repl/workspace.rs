//! The session's model: its canonical source, the checked model, and the undo stack. Every
//! change goes through [`Workspace::commit`], which checks the edited source and keeps it only
//! when it has no error. Pure: no files, no printing.

use super::edit::{Edited, Focus};
use crate::diag::Diagnostic;
use crate::model::Model;
use crate::sema;
use crate::syntax::{format_source, parse_file};
use std::path::PathBuf;

/// A model the session holds: the source (always `netc fmt` output) and what it checks to.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub src: String,
    pub model: Model,
    /// The name diagnostics use for the source (the file it was loaded from).
    pub name: String,
    /// The folder relative data paths resolve against.
    pub base_dir: PathBuf,
}

/// A diagnostic and the text it points into.
#[derive(Debug, Clone, PartialEq)]
pub struct Located {
    pub diagnostic: Diagnostic,
    /// In the typed line (spans moved there), or in the whole edited model.
    pub in_typed: bool,
}

/// Why an edit was not kept, with the edited source the diagnostics outside the typed text
/// point into.
#[derive(Debug, Clone)]
pub struct Rejected {
    pub diagnostics: Vec<Located>,
    pub src: String,
}

/// What a kept edit brought: warnings that were not there before, and the edited source
/// (before formatting) those outside the typed text point into.
#[derive(Debug, Clone, Default)]
pub struct Accepted {
    pub warnings: Vec<Located>,
    pub src: String,
}

/// A model being typed from nothing that does not check yet because parts are still missing
/// (no `input`, no layer, no `train` section or no data): kept so the next line can add them.
#[derive(Debug, Clone, Default)]
pub struct Draft {
    pub src: String,
    /// What is still missing, as the checker says it.
    pub missing: Vec<Diagnostic>,
}

/// What the session holds: a checked model, or a draft on its way to one.
#[derive(Debug, Clone)]
enum State {
    Checked(Box<Snapshot>),
    Draft(Draft),
}

/// A state the session was in before a change, and the change, in the language's words.
#[derive(Debug, Clone)]
struct Undo {
    state: State,
    what: String,
}

/// What `:undo` did: the change it took back, and the source before and after.
#[derive(Debug, Clone, PartialEq)]
pub struct Undone {
    pub what: String,
    pub before: String,
    pub after: String,
}

/// The name diagnostics give a model typed at the prompt.
pub const TYPED_NAME: &str = "session";

/// The errors that only say a model typed from nothing is not finished yet.
const STILL_MISSING: &[&str] = &[
    "netc::model::missing",
    "netc::model::missing_input",
    "netc::model::empty",
    "netc::train::missing",
    "netc::train::missing_data",
];

#[derive(Debug)]
pub struct Workspace {
    state: State,
    undo: Vec<Undo>,
}

impl Default for Workspace {
    fn default() -> Workspace {
        Workspace {
            state: State::Draft(Draft::default()),
            undo: Vec::new(),
        }
    }
}

/// Checks a whole source (a file being loaded).
pub fn check_whole(
    src: &str,
    name: &str,
    base_dir: PathBuf,
) -> Result<(Snapshot, Vec<Diagnostic>), Vec<Diagnostic>> {
    let checked = sema::check_source(name, src, &[]);
    let Some(model) = checked.model else {
        return Err(checked.diagnostics);
    };
    let (src, model) = canonical(src, model);
    Ok((
        Snapshot {
            src,
            model,
            name: name.to_owned(),
            base_dir,
        },
        checked.diagnostics,
    ))
}

/// The source as `netc fmt` prints it, and the model checked from that text: every span of
/// the model then points into the source the session keeps (`:show` and the edits read the
/// source at the model's spans). Text the formatter cannot print stays as it was typed.
fn canonical(src: &str, model: Model) -> (String, Model) {
    let Ok(formatted) = format_source(src) else {
        return (src.to_owned(), model);
    };
    if formatted == src {
        return (formatted, model);
    }
    match sema::check_source("", &formatted, &[]).model {
        Some(reformatted) => (formatted, reformatted),
        None => (src.to_owned(), model),
    }
}

impl Workspace {
    pub fn new() -> Workspace {
        Workspace::default()
    }

    /// The checked model, once there is one.
    pub fn current(&self) -> Option<&Snapshot> {
        match &self.state {
            State::Checked(s) => Some(s),
            State::Draft(_) => None,
        }
    }

    /// The model being typed from nothing, while it does not check yet.
    pub fn draft(&self) -> Option<&Draft> {
        match &self.state {
            State::Checked(_) => None,
            State::Draft(d) => Some(d),
        }
    }

    /// The session's source, checked or not.
    pub fn source(&self) -> &str {
        match &self.state {
            State::Checked(s) => &s.src,
            State::Draft(d) => &d.src,
        }
    }

    /// The name diagnostics give the source.
    pub fn name(&self) -> &str {
        match &self.state {
            State::Checked(s) => &s.name,
            State::Draft(_) => TYPED_NAME,
        }
    }

    fn base_dir(&self) -> PathBuf {
        match &self.state {
            State::Checked(s) => s.base_dir.clone(),
            State::Draft(_) => PathBuf::new(),
        }
    }

    /// Replaces the model (`:load`, described by `what`); `undo` brings the previous one back.
    pub fn replace(&mut self, snapshot: Snapshot, what: &str) {
        self.push(State::Checked(Box::new(snapshot)), what);
    }

    fn push(&mut self, next: State, what: &str) {
        let state = std::mem::replace(&mut self.state, next);
        // Nothing at all is not a model to go back to.
        if matches!(&state, State::Draft(d) if d.src.trim().is_empty()) {
            return;
        }
        self.undo.push(Undo {
            state,
            what: what.to_owned(),
        });
    }

    /// Checks an edited source (the change `what`) and keeps it if it has no error. While
    /// the session has no checked model yet, an edit whose only errors say what is still
    /// missing is kept as the draft.
    pub fn commit(&mut self, edited: Edited, what: &str) -> Result<Accepted, Rejected> {
        let (file, mut diags) = parse_file(&edited.src);
        let model = sema::check_file(&file, &[], &mut diags);
        let before: Vec<(&str, String)> = sema::check_source(self.name(), self.source(), &[])
            .diagnostics
            .into_iter()
            .map(|d| (d.code, d.message))
            .collect();
        let located: Vec<Located> = diags.into_iter().map(|d| locate(d, edited.focus)).collect();
        let errors = || located.iter().filter(|l| l.diagnostic.is_error());
        let model = match model {
            Some(m) if errors().next().is_none() => Some(m),
            _ if self.draft().is_some()
                && errors().all(|l| STILL_MISSING.contains(&l.diagnostic.code)) =>
            {
                None
            }
            _ => {
                // A draft's missing parts are no news; the mistake that stopped the edit is.
                let drafting = self.draft().is_some();
                let diagnostics = errors()
                    .filter(|l| !(drafting && STILL_MISSING.contains(&l.diagnostic.code)))
                    .cloned()
                    .collect();
                return Err(Rejected {
                    diagnostics: dedup(diagnostics),
                    src: edited.src,
                });
            }
        };
        let (warnings, missing): (Vec<Located>, Vec<Located>) = located
            .into_iter()
            .filter(|l| {
                !before
                    .iter()
                    .any(|(c, m)| *c == l.diagnostic.code && *m == l.diagnostic.message)
                    || l.diagnostic.is_error()
            })
            .partition(|l| !l.diagnostic.is_error());
        let next = match model {
            Some(model) => {
                let (src, model) = canonical(&edited.src, model);
                State::Checked(Box::new(Snapshot {
                    src,
                    model,
                    name: self.name().to_owned(),
                    base_dir: self.base_dir(),
                }))
            }
            None => State::Draft(Draft {
                src: format_source(&edited.src).unwrap_or_else(|_| edited.src.clone()),
                missing: missing.into_iter().map(|l| l.diagnostic).collect(),
            }),
        };
        self.push(next, what);
        Ok(Accepted {
            warnings: dedup(warnings),
            src: edited.src,
        })
    }

    /// Goes back to the model before the last change, saying what that change was; `None`
    /// when there is none.
    pub fn undo(&mut self) -> Option<Undone> {
        let Undo { state, what } = self.undo.pop()?;
        let after = std::mem::replace(&mut self.state, state);
        let text = |s: &State| match s {
            State::Checked(s) => s.src.clone(),
            State::Draft(d) => d.src.clone(),
        };
        Some(Undone {
            what,
            before: text(&after),
            after: text(&self.state),
        })
    }

    /// How many changes can be undone.
    pub fn undo_depth(&self) -> usize {
        self.undo.len()
    }
}

/// Moves a diagnostic into the typed line when its primary span lies in the typed text.
fn locate(mut diagnostic: Diagnostic, focus: Option<Focus>) -> Located {
    let Some(focus) = focus else {
        return Located {
            diagnostic,
            in_typed: false,
        };
    };
    match focus.map(diagnostic.span) {
        Some(span) => {
            diagnostic.span = span;
            diagnostic.related = diagnostic
                .related
                .into_iter()
                .filter_map(|mut l| {
                    l.span = focus.map(l.span)?;
                    Some(l)
                })
                .collect();
            Located {
                diagnostic,
                in_typed: true,
            }
        }
        None => Located {
            diagnostic,
            in_typed: false,
        },
    }
}

/// One copy of each diagnostic (an error inside a `repeat` is found once per copy).
fn dedup(located: Vec<Located>) -> Vec<Located> {
    let mut out: Vec<Located> = Vec::new();
    for l in located {
        if !out.contains(&l) {
            out.push(l);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::{address, edit};
    use super::*;

    const SRC: &str = "model m {\n    input x: [2]\n    dense 4, act = tanh\n    dense 1\n}\n\ntrain {\n    data = xor(n = 40)\n    loss = mse\n}\n";

    fn workspace() -> Workspace {
        let (snap, _) = check_whole(SRC, "m.net", PathBuf::new()).expect("the test model checks");
        let mut ws = Workspace::new();
        ws.replace(snap, "loaded m.net");
        ws
    }

    fn src(ws: &Workspace) -> String {
        ws.current().map(|s| s.src.clone()).unwrap_or_default()
    }

    #[test]
    fn appended_layer_is_checked_and_undone() {
        let mut ws = workspace();
        let cur = ws.current().cloned().expect("loaded");
        let (file, _) = parse_file(&cur.src);
        let edited = edit::add_statement(&cur.src, &file, "relu", 0).expect("an edit");
        ws.commit(edited, "an edit").expect("a valid layer");
        assert!(
            src(&ws).contains("    dense 1\n    relu\n}"),
            "{}",
            src(&ws)
        );
        assert_eq!(ws.current().map(|s| s.model.layers.len()), Some(3));
        assert!(ws.undo().is_some());
        assert_eq!(src(&ws), cur.src);
        assert!(ws.undo().is_none());
    }

    #[test]
    fn a_typo_points_into_the_typed_text_and_changes_nothing() {
        let mut ws = workspace();
        let cur = ws.current().cloned().expect("loaded");
        let (file, _) = parse_file(&cur.src);
        let line = "dense 3, act = sigmod";
        let edited = edit::add_statement(&cur.src, &file, line, 0).expect("an edit");
        let rejected = ws.commit(edited, "an edit").expect_err("a typo");
        let first = &rejected.diagnostics[0];
        assert!(first.in_typed);
        assert_eq!(
            &line[first.diagnostic.span.start..first.diagnostic.span.end],
            "sigmod"
        );
        assert_eq!(
            first.diagnostic.help.as_deref(),
            Some("did you mean `sigmoid`?")
        );
        assert_eq!(src(&ws), cur.src);
        assert_eq!(ws.undo_depth(), 0);
    }

    #[test]
    fn set_attribute_and_setting() {
        let mut ws = workspace();
        let cur = ws.current().cloned().expect("loaded");
        let (file, _) = parse_file(&cur.src);
        let line = ":set dense1.act = sigmod";
        let edited =
            edit::set_layer_attr(&cur.src, &file, &cur.model, "dense1", "act", "sigmod", 18)
                .expect("an edit");
        let rejected = ws.commit(edited, "an edit").expect_err("a typo");
        let d = &rejected.diagnostics[0].diagnostic;
        assert_eq!(&line[d.span.start..d.span.end], "sigmod");

        let edited = edit::set_layer_attr(
            &cur.src,
            &file,
            &cur.model,
            "dense1",
            "init",
            "he_normal",
            0,
        )
        .expect("an edit");
        ws.commit(edited, "an edit").expect("valid");
        assert!(
            src(&ws).contains("dense 4, act = tanh, init = he_normal\n"),
            "{}",
            src(&ws)
        );

        let cur = ws.current().cloned().expect("loaded");
        let (file, _) = parse_file(&cur.src);
        let edited =
            edit::add_statement(&cur.src, &file, "optimizer = sgd(lr = 0.1)", 0).expect("an edit");
        ws.commit(edited, "an edit").expect("valid");
        let cur = ws.current().cloned().expect("loaded");
        let (file, _) = parse_file(&cur.src);
        let edited =
            edit::set_setting(&cur.src, &file, "optimizer", Some("lr"), "0.5", 0).expect("an edit");
        ws.commit(edited, "an edit").expect("valid");
        assert!(
            src(&ws).contains("optimizer = sgd(lr = 0.5)"),
            "{}",
            src(&ws)
        );
        assert_eq!(ws.undo_depth(), 3);
    }

    #[test]
    fn insert_remove_and_wrap() {
        let mut ws = workspace();
        let cur = ws.current().cloned().expect("loaded");
        let span = |cur: &Snapshot, name: &str| {
            address::find_layer(&cur.model, name).expect("a layer").span
        };
        let edited = edit::insert_stmt(
            &cur.src,
            span(&cur, "dense1"),
            true,
            "dense 4, act = relu",
            0,
        );
        ws.commit(edited, "an edit").expect("valid");
        let cur = ws.current().cloned().expect("loaded");
        let names: Vec<&str> = cur.model.layers.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["dense1", "dense2", "dense3"]);
        let (file, _) = parse_file(&cur.src);
        let dense2 = span(&cur, "dense2");
        let edited =
            edit::wrap_residual(&cur.src, &file, (dense2, dense2), ("dense2", "dense2"), "")
                .expect("an edit");
        ws.commit(edited, "an edit").expect("valid");
        assert!(
            src(&ws).contains("    residual {\n        dense 4, act = relu\n    }\n"),
            "{}",
            src(&ws)
        );
        let cur = ws.current().cloned().expect("loaded");
        let edited = edit::remove_stmt(&cur.src, span(&cur, "residual1"));
        ws.commit(edited, "an edit").expect("valid");
        let names: Vec<String> = address::all_layers(&ws.current().expect("loaded").model)
            .iter()
            .map(|l| l.name.clone())
            .collect();
        assert_eq!(names, ["dense1", "dense2"]);
    }

    /// A model typed at 2-space indentation is kept as `netc fmt` prints it, and the model's
    /// spans point into that text (`:show` read fragments of it before).
    #[test]
    fn a_reformatted_edit_keeps_spans_that_point_into_the_kept_source() {
        let mut ws = workspace();
        let cur = ws.current().cloned().expect("loaded");
        let (file, _) = parse_file(&cur.src);
        let typed =
            "model m {\ninput x: [2]\n  dense 64, act = sigmoid, init = he_normal\ndense 1\n}";
        let edited = edit::add_statement(&cur.src, &file, typed, 0).expect("an edit");
        ws.commit(edited, "an edit").expect("valid");
        let cur = ws.current().cloned().expect("kept");
        let texts: Vec<&str> = cur
            .model
            .layers
            .iter()
            .map(|l| &cur.src[l.span.start..l.span.end])
            .collect();
        assert_eq!(
            texts,
            ["dense 64, act = sigmoid, init = he_normal", "dense 1"]
        );
    }

    /// Starting from nothing: lines that leave the model incomplete are kept as a draft, a
    /// mistake is still refused, and the model is checked once it is whole.
    #[test]
    fn a_model_typed_from_nothing_is_a_draft_until_it_checks() {
        let mut ws = Workspace::new();
        let lines = [
            "input x: [2]",
            "dense 4, act = tanh",
            "dense 1",
            "loss = mse",
            "data = xor(n = 40)",
        ];
        for (i, line) in lines.into_iter().enumerate() {
            assert!(ws.current().is_none(), "checked before line {i}");
            let (file, _) = parse_file(ws.source());
            let edited = edit::add_statement(ws.source(), &file, line, 0).expect("an edit");
            if i == 2 {
                let (file, _) = parse_file(ws.source());
                let typo = edit::add_statement(ws.source(), &file, "dense 3, act = sigmod", 0)
                    .expect("an edit");
                let rejected = ws.commit(typo, "a typo").expect_err("a typo");
                let codes: Vec<&str> = rejected
                    .diagnostics
                    .iter()
                    .map(|l| l.diagnostic.code)
                    .collect();
                assert_eq!(codes, ["netc::name::unknown_activation"]);
            }
            ws.commit(edited, line).expect("kept");
        }
        let model = &ws.current().expect("checked").model;
        assert_eq!(model.name, edit::NEW_MODEL);
        assert_eq!(model.layers.len(), 2);
        assert_eq!(
            ws.undo().map(|u| u.what),
            Some("data = xor(n = 40)".to_owned())
        );
        assert!(ws.draft().is_some());
    }
}
