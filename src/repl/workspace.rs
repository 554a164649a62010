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

#[derive(Debug, Default)]
pub struct Workspace {
    current: Option<Snapshot>,
    undo: Vec<Snapshot>,
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
    let src = format_source(src).unwrap_or_else(|_| src.to_owned());
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

impl Workspace {
    pub fn new() -> Workspace {
        Workspace::default()
    }

    pub fn current(&self) -> Option<&Snapshot> {
        self.current.as_ref()
    }

    /// Replaces the model (`:load`); the previous one can be brought back with `undo`.
    pub fn replace(&mut self, snapshot: Snapshot) {
        if let Some(old) = self.current.replace(snapshot) {
            self.undo.push(old);
        }
    }

    /// Checks an edited source and keeps it if it has no error.
    pub fn commit(&mut self, edited: Edited) -> Result<Accepted, Rejected> {
        let Some(current) = &self.current else {
            return Err(Rejected {
                diagnostics: Vec::new(),
                src: edited.src,
            });
        };
        let (file, mut diags) = parse_file(&edited.src);
        let model = sema::check_file(&file, &[], &mut diags);
        let before: Vec<(&str, String)> = sema::check_source(&current.name, &current.src, &[])
            .diagnostics
            .into_iter()
            .map(|d| (d.code, d.message))
            .collect();
        let located: Vec<Located> = diags.into_iter().map(|d| locate(d, edited.focus)).collect();
        let model = match model {
            Some(m) if !located.iter().any(|l| l.diagnostic.is_error()) => m,
            _ => {
                return Err(Rejected {
                    diagnostics: dedup(
                        located
                            .into_iter()
                            .filter(|l| l.diagnostic.is_error())
                            .collect(),
                    ),
                    src: edited.src,
                })
            }
        };
        let warnings = located
            .into_iter()
            .filter(|l| {
                !before
                    .iter()
                    .any(|(c, m)| *c == l.diagnostic.code && *m == l.diagnostic.message)
            })
            .collect();
        let src = format_source(&edited.src).unwrap_or_else(|_| edited.src.clone());
        let next = Snapshot {
            src,
            model,
            name: current.name.clone(),
            base_dir: current.base_dir.clone(),
        };
        self.replace(next);
        Ok(Accepted {
            warnings: dedup(warnings),
            src: edited.src,
        })
    }

    /// Goes back to the model before the last change; `false` when there is none.
    pub fn undo(&mut self) -> bool {
        match self.undo.pop() {
            Some(previous) => {
                self.current = Some(previous);
                true
            }
            None => false,
        }
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
    use super::super::edit;
    use super::*;

    const SRC: &str = "model m {\n    input x: [2]\n    dense 4, act = tanh\n    dense 1\n}\n\ntrain {\n    data = xor(n = 40)\n    loss = mse\n}\n";

    fn workspace() -> Workspace {
        let (snap, _) = check_whole(SRC, "m.net", PathBuf::new()).expect("the test model checks");
        let mut ws = Workspace::new();
        ws.replace(snap);
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
        ws.commit(edited).expect("a valid layer");
        assert!(
            src(&ws).contains("    dense 1\n    relu\n}"),
            "{}",
            src(&ws)
        );
        assert_eq!(ws.current().map(|s| s.model.layers.len()), Some(3));
        assert!(ws.undo());
        assert_eq!(src(&ws), cur.src);
        assert!(!ws.undo());
    }

    #[test]
    fn a_typo_points_into_the_typed_text_and_changes_nothing() {
        let mut ws = workspace();
        let cur = ws.current().cloned().expect("loaded");
        let (file, _) = parse_file(&cur.src);
        let line = "dense 3, act = sigmod";
        let edited = edit::add_statement(&cur.src, &file, line, 0).expect("an edit");
        let rejected = ws.commit(edited).expect_err("a typo");
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
        let rejected = ws.commit(edited).expect_err("a typo");
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
        ws.commit(edited).expect("valid");
        assert!(
            src(&ws).contains("dense 4, act = tanh, init = he_normal\n"),
            "{}",
            src(&ws)
        );

        let cur = ws.current().cloned().expect("loaded");
        let (file, _) = parse_file(&cur.src);
        let edited =
            edit::add_statement(&cur.src, &file, "optimizer = sgd(lr = 0.1)", 0).expect("an edit");
        ws.commit(edited).expect("valid");
        let cur = ws.current().cloned().expect("loaded");
        let (file, _) = parse_file(&cur.src);
        let edited =
            edit::set_setting(&cur.src, &file, "optimizer", Some("lr"), "0.5", 0).expect("an edit");
        ws.commit(edited).expect("valid");
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
        let edited = edit::insert_stmt(
            &cur.src,
            &cur.model,
            "dense1",
            true,
            "dense 4, act = relu",
            0,
        )
        .expect("an edit");
        ws.commit(edited).expect("valid");
        let cur = ws.current().cloned().expect("loaded");
        let names: Vec<&str> = cur.model.layers.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["dense1", "dense2", "dense3"]);
        let (file, _) = parse_file(&cur.src);
        let edited = edit::wrap_residual(&cur.src, &file, &cur.model, "dense2", "dense2", "")
            .expect("an edit");
        ws.commit(edited).expect("valid");
        assert!(
            src(&ws).contains("    residual {\n        dense 4, act = relu\n    }\n"),
            "{}",
            src(&ws)
        );
        let cur = ws.current().cloned().expect("loaded");
        let edited = edit::remove_layer(&cur.src, &cur.model, "residual1").expect("an edit");
        ws.commit(edited).expect("valid");
        let names: Vec<String> = edit::all_layers(&ws.current().expect("loaded").model)
            .iter()
            .map(|l| l.name.clone())
            .collect();
        assert_eq!(names, ["dense1", "dense2"]);
        let cur = ws.current().cloned().expect("loaded");
        assert!(edit::remove_layer(&cur.src, &cur.model, "dense9").is_err());
    }
}
