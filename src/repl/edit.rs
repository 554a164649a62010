//! Edits to a model's source, as text: a statement typed at the prompt spliced in where it
//! belongs, a layer's attribute set, a layer removed or wrapped in `residual`.
//!
//! Every edit returns the new source and, when it carries text the user typed, the [`Focus`]:
//! where that text landed, so the checker's diagnostics on it can point back into the typed
//! line. The source handed in is canonical (`netc fmt` output), so the text around an edit keeps
//! its offsets. Nothing here checks the result; the workspace does.

use super::address::{body_holding, find_layer, find_stmt_starting};
use crate::model::Model;
use crate::sema::names::did_you_mean;
use crate::span::Span;
use crate::syntax::ast::{set_arg, ExprKind, File, Item, Stmt};
use crate::syntax::{parse_expr, print_file};

/// Where typed text landed in the edited source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Focus {
    /// Its span in the new source.
    pub span: Span,
    /// Where it starts in the typed line, and how long it was there.
    pub typed_at: usize,
    pub typed_len: usize,
}

impl Focus {
    /// `span` (in the new source) moved into the typed line, if it lies within the focus.
    pub fn map(&self, span: Span) -> Option<Span> {
        if span.start < self.span.start || span.end > self.span.end {
            return None;
        }
        if self.span.len() != self.typed_len {
            // The text was reformatted: point at the whole of what was typed.
            return Some(Span::new(self.typed_at, self.typed_at + self.typed_len));
        }
        let shift = |at: usize| self.typed_at + (at - self.span.start);
        Some(Span::new(shift(span.start), shift(span.end)))
    }
}

/// A changed source.
#[derive(Debug, Clone, PartialEq)]
pub struct Edited {
    pub src: String,
    pub focus: Option<Focus>,
}

/// An edit that cannot be made: what is wrong and, when known, the fix. `at` is a span in the
/// text the edit was given (the value, the statement) when the problem is there.
#[derive(Debug, Clone, PartialEq)]
pub struct EditError {
    pub message: String,
    pub help: Option<String>,
    pub at: Option<Span>,
    /// A word of the typed line the problem is about (a layer name, an attribute).
    pub subject: Option<String>,
}

impl EditError {
    pub(super) fn new(message: impl Into<String>) -> EditError {
        EditError {
            message: message.into(),
            help: None,
            at: None,
            subject: None,
        }
    }

    pub(super) fn about(mut self, word: &str) -> EditError {
        self.subject = Some(word.to_owned());
        self
    }

    pub(super) fn with_help(mut self, help: impl Into<String>) -> EditError {
        self.help = Some(help.into());
        self
    }
}

/// What a typed statement is, by its first word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatementKind {
    /// `block name(...) { ... }`: a new top-level block.
    Block,
    /// `model ... { ... }` or `train { ... }`: replaces that section.
    Section,
    /// `key = value`: a train setting.
    Setting,
    /// `input x: [4]`: the model's first line (replacing the input it has).
    Input,
    /// A layer, `repeat` or `residual`: appended to the model.
    Layer,
}

/// The name of a model section started by a statement typed before any `model { }`.
pub const NEW_MODEL: &str = "untitled";

/// Classifies a typed statement.
pub fn statement_kind(text: &str) -> StatementKind {
    let first: String = text
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let after = text[first.len()..].trim_start();
    match first.as_str() {
        "block" => StatementKind::Block,
        "model" => StatementKind::Section,
        "input" => StatementKind::Input,
        "train" if after.starts_with('{') => StatementKind::Section,
        _ if !first.is_empty() && after.starts_with('=') && !after.starts_with("==") => {
            StatementKind::Setting
        }
        _ => StatementKind::Layer,
    }
}

/// Splices a typed statement (at `typed_at` in its line) into `src`.
pub fn add_statement(
    src: &str,
    file: &File,
    text: &str,
    typed_at: usize,
) -> Result<Edited, EditError> {
    match statement_kind(text) {
        StatementKind::Block => {
            let mut out = src.trim_end().to_owned();
            out.push_str("\n\n");
            Ok(splice(&out, out.len(), "", text, "\n", typed_at))
        }
        StatementKind::Section => {
            let is_model = text.starts_with("model");
            let item = file.items.iter().find(|i| match i {
                Item::Model(_) => is_model,
                Item::Train(_) => !is_model,
                Item::Block(_) | Item::Error(_) => false,
            });
            match item {
                Some(item) => Ok(replace(src, item.span(), text, typed_at)),
                None => {
                    let mut out = src.trim_end().to_owned();
                    out.push_str("\n\n");
                    Ok(splice(&out, out.len(), "", text, "\n", typed_at))
                }
            }
        }
        StatementKind::Setting => {
            let key = text.split('=').next().unwrap_or_default().trim();
            set_setting_text(src, file, key, text, typed_at)
        }
        StatementKind::Input => {
            let Some(model) = model_def(file) else {
                return Ok(new_model(src, text, typed_at));
            };
            match model
                .body
                .stmts
                .iter()
                .find(|s| matches!(s, Stmt::Input(_)))
            {
                Some(input) => Ok(replace(src, input.span(), text, typed_at)),
                None => {
                    let at = line_end(src, model.body.span.start) + 1;
                    Ok(splice(src, at.min(src.len()), "    ", text, "\n", typed_at))
                }
            }
        }
        StatementKind::Layer => {
            let Some(model) = model_def(file) else {
                return Ok(new_model(src, text, typed_at));
            };
            let at = line_start(src, model.body.close.start);
            Ok(splice(src, at, "    ", text, "\n", typed_at))
        }
    }
}

/// `src` with a new model section holding `text` in front: the first statement typed in a
/// session that started from nothing.
fn new_model(src: &str, text: &str, typed_at: usize) -> Edited {
    let rest = src.trim_start();
    let gap = if rest.is_empty() { "" } else { "\n" };
    let prefix = format!("model {NEW_MODEL} {{\n    ");
    let suffix = format!("\n}}\n{gap}");
    splice(rest, 0, &prefix, text, &suffix, typed_at)
}

/// Replaces setting `key` with `text` (`key = value`), or adds it to the train section.
fn set_setting_text(
    src: &str,
    file: &File,
    key: &str,
    text: &str,
    typed_at: usize,
) -> Result<Edited, EditError> {
    let Some(train) = file.items.iter().find_map(|i| match i {
        Item::Train(t) => Some(t),
        Item::Model(_) | Item::Block(_) | Item::Error(_) => None,
    }) else {
        // The first setting starts the train section.
        let mut out = src.trim_end().to_owned();
        if !out.is_empty() {
            out.push_str("\n\n");
        }
        return Ok(splice(
            &out,
            out.len(),
            "train {\n    ",
            text,
            "\n}\n",
            typed_at,
        ));
    };
    let existing = train.settings.iter().find_map(|line| match line {
        crate::syntax::ast::SettingLine::Setting(s) if s.key.text == key => Some(s.span),
        _ => None,
    });
    match existing {
        Some(span) => Ok(replace(src, span, text, typed_at)),
        None => {
            let at = line_start(src, train.close.start);
            Ok(splice(src, at, "    ", text, "\n", typed_at))
        }
    }
}

/// Sets argument `arg` of train setting `key` (`optimizer.lr = 0.01`), or the whole setting
/// when `arg` is `None`. `value_at` is where the value starts in the typed line.
pub fn set_setting(
    src: &str,
    file: &File,
    key: &str,
    arg: Option<&str>,
    value: &str,
    value_at: usize,
) -> Result<Edited, EditError> {
    let Some(arg) = arg else {
        // The line typed was `:set key = value`: only the value is where the user put it.
        let text = format!("{key} = {value}");
        let mut edited = set_setting_text(src, file, key, &text, 0)?;
        edited.focus = edited.focus.map(|f| Focus {
            span: Span::new(f.span.start + key.len() + 3, f.span.end),
            typed_at: value_at,
            typed_len: value.len(),
        });
        return Ok(edited);
    };
    let expr = parse_value(value)?;
    let mut file = file.clone();
    let setting = file.items.iter_mut().find_map(|i| match i {
        Item::Train(t) => t.settings.iter_mut().find_map(|line| match line {
            crate::syntax::ast::SettingLine::Setting(s) if s.key.text == key => Some(s),
            _ => None,
        }),
        Item::Model(_) | Item::Block(_) | Item::Error(_) => None,
    });
    let Some(setting) = setting else {
        return Err(EditError::new(format!(
            "the train section has no `{key}` setting to change"
        ))
        .with_help(format!("type the whole setting: `{key} = ...`")));
    };
    let span = setting.span;
    let ExprKind::Call { args, .. } = &mut setting.value.kind else {
        return Err(EditError::new(format!("`{key}` has no arguments to set"))
            .with_help(format!("set the whole value: `:set {key} = ...`")));
    };
    set_arg(args, &[], arg, expr, span);
    Ok(Edited {
        src: print_file(&file, src),
        focus: None,
    })
}

/// Sets attribute `attr` of layer `name` (`act`, `init`, `units`...): the statement the layer
/// came from is edited, so a layer made by `repeat` changes in every copy.
pub fn set_layer_attr(
    src: &str,
    file: &File,
    model: &Model,
    name: &str,
    attr: &str,
    value: &str,
    value_at: usize,
) -> Result<Edited, EditError> {
    let layer = find_layer(model, name)?;
    let expr = parse_value(value)?;
    let mut file = file.clone();
    let Some(Stmt::Layer(stmt)) = file.stmt_at_mut(layer.span) else {
        return Err(EditError::new(format!("`{name}` has no attributes to set"))
            .with_help("only layers written as `kind args` have attributes"));
    };
    let params = crate::sema::layer_params(&stmt.kind.text);
    if !params.contains(&attr) {
        let help = match did_you_mean(attr, params.iter().copied()) {
            Some(best) => format!("did you mean `{best}`?"),
            None if params.is_empty() => format!("`{}` takes no attributes", stmt.kind.text),
            None => format!("`{}` takes: {}", stmt.kind.text, params.join(", ")),
        };
        return Err(EditError::new(format!(
            "`{}` layers have no attribute `{attr}`",
            stmt.kind.text
        ))
        .with_help(help)
        .about(attr));
    }
    let start = stmt.span.start;
    set_arg(&mut stmt.args, params, attr, expr, layer.span);
    let out = print_file(&file, src);
    let focus = value_span(&out, start, attr).map(|span| Focus {
        span,
        typed_at: value_at,
        typed_len: value.len(),
    });
    Ok(Edited { src: out, focus })
}

/// Where the value of argument `attr` of the layer statement starting at `start` is.
fn value_span(src: &str, start: usize, attr: &str) -> Option<Span> {
    let (file, _) = crate::syntax::parse_file(src);
    let stmt = find_stmt_starting(&file, start)?;
    let Stmt::Layer(layer) = stmt else {
        return None;
    };
    let params = crate::sema::layer_params(&layer.kind.text);
    let position = params.iter().position(|p| *p == attr);
    let mut positional = 0;
    layer.args.iter().find_map(|arg| match &arg.name {
        Some(n) if n.text == attr => Some(arg.value.span),
        Some(_) => None,
        None => {
            positional += 1;
            (position == Some(positional - 1)).then_some(arg.value.span)
        }
    })
}

/// Inserts statement `text` before or after the statement at `span`.
pub fn insert_stmt(src: &str, span: Span, after: bool, text: &str, typed_at: usize) -> Edited {
    let indent = &src[line_start(src, span.start)..span.start];
    if after {
        let end = line_end(src, span.end);
        let before = format!("\n{indent}");
        splice(src, end, &before, text, "", typed_at)
    } else {
        let after_text = format!("\n{indent}");
        splice(src, span.start, "", text, &after_text, typed_at)
    }
}

/// Removes the statement at `span` (its whole lines).
pub fn remove_stmt(src: &str, span: Span) -> Edited {
    let start = line_start(src, span.start);
    let end = (line_end(src, span.end) + 1).min(src.len());
    let mut out = src[..start].to_owned();
    out.push_str(&src[end..]);
    Edited {
        src: out,
        focus: None,
    }
}

/// Wraps the statements from the one at `first` through the one at `last` (in one body) in
/// `residual ARGS { }`; `names` are how the user called them.
pub fn wrap_residual(
    src: &str,
    file: &File,
    (first, last): (Span, Span),
    names: (&str, &str),
    args: &str,
) -> Result<Edited, EditError> {
    let body_a = file.items.iter().find_map(|i| body_holding(i, first));
    let body_b = file.items.iter().find_map(|i| body_holding(i, last));
    let (Some((body, ia)), Some((body2, ib))) = (body_a, body_b) else {
        return Err(EditError::new(
            "those layers are not statements of one body",
        ));
    };
    if !std::ptr::eq(body, body2) {
        return Err(EditError::new(format!(
            "`{}` and `{}` are not in the same body",
            names.0, names.1
        ))
        .with_help("wrap statements that sit next to each other in the model (or in one block)"));
    }
    if ia > ib {
        return Err(
            EditError::new(format!("`{}` comes after `{}`", names.0, names.1)).with_help(format!(
                "write the range in model order: `{}..{}`",
                names.1, names.0
            )),
        );
    }
    let start = line_start(src, body.stmts[ia].span().start);
    let end = line_end(src, body.stmts[ib].span().end);
    let indent = &src[start..body.stmts[ia].span().start];
    let head = if args.trim().is_empty() {
        "residual {".to_owned()
    } else {
        format!("residual {} {{", args.trim())
    };
    let out = format!(
        "{}{indent}{head}\n{}\n{indent}}}{}",
        &src[..start],
        &src[start..end],
        &src[end..]
    );
    Ok(Edited {
        src: out,
        focus: None,
    })
}

fn parse_value(value: &str) -> Result<crate::syntax::ast::Expr, EditError> {
    parse_expr(value).map_err(|e| EditError {
        message: format!("`{value}` is not a value: {e}"),
        help: Some(
            "values are written as in a .net file: `relu`, `he_normal`, `normal(0, 0.1)`, `64`"
                .to_owned(),
        ),
        at: Some(Span::new(0, value.len())),
        subject: None,
    })
}

fn model_def(file: &File) -> Option<&crate::syntax::ast::ModelDef> {
    file.items.iter().find_map(|i| match i {
        Item::Model(m) => Some(m),
        Item::Block(_) | Item::Train(_) | Item::Error(_) => None,
    })
}

/// `src` with `prefix + text + suffix` inserted at `at`; the focus is `text`.
fn splice(src: &str, at: usize, prefix: &str, text: &str, suffix: &str, typed_at: usize) -> Edited {
    let start = at + prefix.len();
    let out = format!("{}{prefix}{text}{suffix}{}", &src[..at], &src[at..]);
    Edited {
        src: out,
        focus: Some(Focus {
            span: Span::new(start, start + text.len()),
            typed_at,
            typed_len: text.len(),
        }),
    }
}

/// `src` with `span` replaced by `text`; the focus is `text`.
fn replace(src: &str, span: Span, text: &str, typed_at: usize) -> Edited {
    Edited {
        src: crate::syntax::edit::replace_span(src, span, text),
        focus: Some(Focus {
            span: Span::new(span.start, span.start + text.len()),
            typed_at,
            typed_len: text.len(),
        }),
    }
}

fn line_start(src: &str, at: usize) -> usize {
    src[..at].rfind('\n').map_or(0, |i| i + 1)
}

fn line_end(src: &str, at: usize) -> usize {
    src[at..].find('\n').map_or(src.len(), |i| at + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_are_told_apart_by_their_first_word() {
        assert_eq!(statement_kind("dense 32, act = relu"), StatementKind::Layer);
        assert_eq!(statement_kind("repeat 3 {"), StatementKind::Layer);
        assert_eq!(statement_kind("relu"), StatementKind::Layer);
        assert_eq!(
            statement_kind("optimizer = sgd(lr = 0.1)"),
            StatementKind::Setting
        );
        assert_eq!(statement_kind("batch=64"), StatementKind::Setting);
        assert_eq!(statement_kind("block res(w) {"), StatementKind::Block);
        assert_eq!(
            statement_kind("train { batch = 8 }"),
            StatementKind::Section
        );
        assert_eq!(statement_kind("model m {"), StatementKind::Section);
    }

    #[test]
    fn a_focus_moves_spans_into_the_typed_line() {
        let same = Focus {
            span: Span::new(100, 110),
            typed_at: 5,
            typed_len: 10,
        };
        assert_eq!(same.map(Span::new(102, 104)), Some(Span::new(7, 9)));
        assert_eq!(same.map(Span::new(95, 104)), None);
        let reformatted = Focus {
            typed_len: 8,
            ..same
        };
        assert_eq!(reformatted.map(Span::new(102, 104)), Some(Span::new(5, 13)));
    }

    #[test]
    fn splices_land_where_they_belong() {
        let src = "model m {\n    input x: [2]\n    dense 1\n}\n\ntrain {\n    data = xor()\n    batch = 4\n}\n";
        let (file, _) = crate::syntax::parse_file(src);
        let layer = add_statement(src, &file, "relu", 3).expect("a layer");
        assert!(
            layer.src.contains("    dense 1\n    relu\n}"),
            "{}",
            layer.src
        );
        let focus = layer.focus.expect("typed text");
        assert_eq!(&layer.src[focus.span.start..focus.span.end], "relu");
        assert_eq!(focus.typed_at, 3);
        let setting = add_statement(src, &file, "batch = 8", 0).expect("a setting");
        assert!(setting.src.contains("    batch = 8\n}") && !setting.src.contains("batch = 4"));
        let new_setting = add_statement(src, &file, "seed = 2", 0).expect("a setting");
        assert!(
            new_setting.src.contains("    batch = 4\n    seed = 2\n}"),
            "{}",
            new_setting.src
        );
        let block = add_statement(src, &file, "block b(w) {\n    dense w\n}", 0).expect("a block");
        assert!(
            block.src.ends_with("}\n\nblock b(w) {\n    dense w\n}\n"),
            "{}",
            block.src
        );
    }
}
