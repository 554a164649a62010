//! Which statement of the source an edit is aimed at: a layer's own statement, a `repeat` as
//! a whole by its name (`repeat1`, in the file's order), or the statement starting on a line
//! of `:source`. Also the walks over the AST the edits share.

use super::command::Address;
use super::edit::EditError;
use crate::model::{Layer, Model};
use crate::sema::names::did_you_mean;
use crate::span::Span;
use crate::syntax::ast::{Body, File, Item, Stmt};

/// A `repeat` statement of the file, by the name edits call it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repeat {
    /// `repeat1`, `repeat2`, ... in the order the file writes them.
    pub name: String,
    pub span: Span,
    /// The line it starts on (1-based).
    pub line: usize,
}

/// The span of the statement `address` names in `src` (whose parse is `file`).
pub fn statement_span(
    src: &str,
    file: &File,
    model: &Model,
    address: &Address,
) -> Result<Span, EditError> {
    match address {
        Address::Named(name) => {
            if let Ok(layer) = find_layer(model, name) {
                return Ok(layer.span);
            }
            let repeats = repeats(src, file);
            match repeats.iter().find(|r| &r.name == name) {
                Some(r) => Ok(r.span),
                None => Err(unknown_name(model, &repeats, name)),
            }
        }
        Address::Line(line) => {
            let mut found = None;
            walk_statements(file, &mut |stmt| {
                let start = stmt.span().start;
                if found.is_none() && line_of(src, start) == *line {
                    found = Some(stmt.span());
                }
            });
            found.ok_or_else(|| {
                EditError::new(format!(
                    "line {line} holds no statement of a model or block"
                ))
                .with_help("`:source` shows the model with its lines")
            })
        }
    }
}

/// Every `repeat` of the file, in the order it is written.
pub fn repeats(src: &str, file: &File) -> Vec<Repeat> {
    let mut out = Vec::new();
    walk_statements(file, &mut |stmt| {
        if let Stmt::Repeat(r) = stmt {
            out.push(Repeat {
                name: format!("repeat{}", out.len() + 1),
                span: r.span,
                line: line_of(src, r.span.start),
            });
        }
    });
    out
}

/// The 1-based line `at` is on.
pub fn line_of(src: &str, at: usize) -> usize {
    src.get(..at).map_or(0, |head| head.matches('\n').count()) + 1
}

/// Calls `visit` on every statement of the model and of the blocks, outer before inner, in
/// source order.
fn walk_statements<'f>(file: &'f File, visit: &mut dyn FnMut(&'f Stmt)) {
    fn walk<'f>(body: &'f Body, visit: &mut dyn FnMut(&'f Stmt)) {
        for stmt in &body.stmts {
            visit(stmt);
            match stmt {
                Stmt::Repeat(r) => walk(&r.body, visit),
                Stmt::Residual(r) => walk(&r.body, visit),
                Stmt::Input(_) | Stmt::Layer(_) | Stmt::Error(_) => {}
            }
        }
    }
    for item in &file.items {
        match item {
            Item::Model(m) => walk(&m.body, visit),
            Item::Block(b) => walk(&b.body, visit),
            Item::Train(_) | Item::Error(_) => {}
        }
    }
}

/// The statement starting at byte `start`.
pub fn find_stmt_starting(file: &File, start: usize) -> Option<&Stmt> {
    let mut found = None;
    walk_statements(file, &mut |stmt| {
        if found.is_none() && stmt.span().start == start {
            found = Some(stmt);
        }
    });
    found
}

/// The body directly holding the statement with `span`, and its index there.
pub fn body_holding(item: &Item, span: Span) -> Option<(&Body, usize)> {
    fn walk(body: &Body, span: Span) -> Option<(&Body, usize)> {
        if let Some(i) = body.stmts.iter().position(|s| s.span() == span) {
            return Some((body, i));
        }
        body.stmts.iter().find_map(|s| match s {
            Stmt::Repeat(r) => walk(&r.body, span),
            Stmt::Residual(r) => walk(&r.body, span),
            Stmt::Input(_) | Stmt::Layer(_) | Stmt::Error(_) => None,
        })
    }
    match item {
        Item::Model(m) => walk(&m.body, span),
        Item::Block(b) => walk(&b.body, span),
        Item::Train(_) | Item::Error(_) => None,
    }
}

/// Every layer of the model in probe order, residual bodies included.
pub fn all_layers(model: &Model) -> Vec<&Layer> {
    model.flat_layers()
}

/// The layer called `name`, or an error with the nearest name.
pub fn find_layer<'m>(model: &'m Model, name: &str) -> Result<&'m Layer, EditError> {
    let layers = all_layers(model);
    if let Some(layer) = layers.iter().find(|l| l.name == name) {
        return Ok(layer);
    }
    let help = match did_you_mean(name, layers.iter().map(|l| l.name.as_str())) {
        Some(best) => format!("did you mean `{best}`?"),
        None => "`:show` lists the layers".to_owned(),
    };
    Err(EditError::new(format!("no layer is called `{name}`"))
        .with_help(help)
        .about(name))
}

fn unknown_name(model: &Model, repeats: &[Repeat], name: &str) -> EditError {
    let layers = all_layers(model);
    let known = layers
        .iter()
        .map(|l| l.name.as_str())
        .chain(repeats.iter().map(|r| r.name.as_str()));
    let help = match did_you_mean(name, known) {
        Some(best) => format!("did you mean `{best}`?"),
        None => "`:show` lists the layers and the repeats".to_owned(),
    };
    EditError::new(format!("no layer or repeat is called `{name}`"))
        .with_help(help)
        .about(name)
}

/// The layers made by the statement at `span` (the copies a `repeat` or block made of it).
pub fn made_by(model: &Model, span: Span) -> Vec<String> {
    all_layers(model)
        .into_iter()
        .filter(|l| l.span == span)
        .map(|l| l.name.clone())
        .collect()
}

/// How many layers share a statement with `name` (the copies a `repeat` or block made).
pub fn copies(model: &Model, name: &str) -> Vec<String> {
    match find_layer(model, name) {
        Ok(layer) => made_by(model, layer.span),
        Err(_) => Vec::new(),
    }
}
