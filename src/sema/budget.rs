//! The size of a model before it is expanded: layers and block depth counted over the AST,
//! so a file whose blocks double at every level is refused at once instead of being built.

use super::layers::{MAX_BLOCK_DEPTH, MAX_LAYERS, MAX_WORK};
use crate::diag::Diagnostic;
use crate::span::Span;
use crate::syntax::ast::{BlockDef, ExprKind, ModelDef, Stmt};
use std::collections::HashMap;

/// What expanding a statement (or a block) would visit, counted without building it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Size {
    /// Layers it expands to (a lower bound where a `repeat` count is not a literal).
    pub layers: u64,
    /// Statements and `repeat` copies expansion visits.
    pub work: u64,
    /// The longest chain of blocks using blocks.
    pub depth: usize,
}

impl Size {
    fn then(self, other: Size) -> Size {
        Size {
            layers: self.layers.saturating_add(other.layers),
            work: self.work.saturating_add(other.work),
            depth: self.depth.max(other.depth),
        }
    }

    fn times(self, count: u64) -> Size {
        Size {
            layers: self.layers.saturating_mul(count),
            work: self.work.saturating_mul(count),
            depth: self.depth,
        }
    }
}

/// The error for a model that would expand past a limit, at the statement of the model's body
/// that passes it; `None` when expansion stays within every limit.
pub fn refuse_oversized(
    model: &ModelDef,
    blocks: &HashMap<String, &BlockDef>,
) -> Option<Diagnostic> {
    let mut counter = Counter {
        blocks,
        sizes: HashMap::new(),
        visiting: Vec::new(),
    };
    let mut total = Size::default();
    for stmt in &model.body.stmts {
        let size = counter.stmt(stmt);
        total = total.then(size);
        if let Some(diag) = over_limit(head(stmt), size, total) {
            return Some(diag);
        }
    }
    None
}

/// The size of a whole model body, for tests and `docs/diagnostics.md`'s bound.
pub fn model_size(model: &ModelDef, blocks: &HashMap<String, &BlockDef>) -> Size {
    let mut counter = Counter {
        blocks,
        sizes: HashMap::new(),
        visiting: Vec::new(),
    };
    counter.body(&model.body.stmts)
}

fn over_limit(span: Span, size: Size, total: Size) -> Option<Diagnostic> {
    if size.depth > MAX_BLOCK_DEPTH {
        return Some(
            Diagnostic::error(
                "netc::name::block_too_deep",
                span,
                format!(
                    "blocks use blocks {} deep here; the limit is {MAX_BLOCK_DEPTH}",
                    size.depth
                ),
            )
            .with_label("too deep")
            .with_help("flatten the blocks, or use `repeat` to stack copies"),
        );
    }
    let layers = usize::try_from(total.layers).unwrap_or(usize::MAX);
    let work = usize::try_from(total.work).unwrap_or(usize::MAX);
    if layers <= MAX_LAYERS && work <= MAX_WORK {
        return None;
    }
    let message = if layers > MAX_LAYERS {
        format!(
            "this model expands to {} layers; the limit is {MAX_LAYERS}",
            count_text(total.layers)
        )
    } else {
        format!(
            "this model expands to {} statements; the limit is {MAX_WORK}",
            count_text(total.work)
        )
    };
    Some(
        Diagnostic::error("netc::range::too_many_layers", span, message)
            .with_label("the limit is passed here")
            .with_help("use fewer or smaller `repeat`s or block uses"),
    )
}

/// A statement's first line: a `repeat` or `residual` without its body.
fn head(stmt: &Stmt) -> Span {
    match stmt {
        Stmt::Repeat(repeat) => Span::new(repeat.span.start, repeat.count.span.end),
        Stmt::Residual(residual) => {
            Span::new(residual.span.start, residual.span.start + "residual".len())
        }
        Stmt::Input(_) | Stmt::Layer(_) | Stmt::Error(_) => stmt.span(),
    }
}

/// A count as a person reads it; a saturated count is only "more than".
fn count_text(count: u64) -> String {
    if count == u64::MAX {
        format!("more than {}", u64::MAX)
    } else {
        count.to_string()
    }
}

struct Counter<'a> {
    blocks: &'a HashMap<String, &'a BlockDef>,
    /// Each block's size, counted once: this keeps counting linear in the file's size.
    sizes: HashMap<String, Size>,
    /// Blocks being counted, to stop at recursion (which expansion reports).
    visiting: Vec<String>,
}

impl Counter<'_> {
    fn body(&mut self, stmts: &[Stmt]) -> Size {
        stmts
            .iter()
            .fold(Size::default(), |total, stmt| total.then(self.stmt(stmt)))
    }

    fn stmt(&mut self, stmt: &Stmt) -> Size {
        let visit = Size {
            layers: 0,
            work: 1,
            depth: 0,
        };
        match stmt {
            Stmt::Input(_) | Stmt::Error(_) => visit,
            Stmt::Layer(layer) => match self.blocks.get(&layer.kind.text).copied() {
                Some(block) => visit.then(self.block(block)),
                None => Size { layers: 1, ..visit },
            },
            Stmt::Repeat(repeat) => {
                let count = match &repeat.count.kind {
                    // A count out of range is the expander's error to report, at the count.
                    ExprKind::Number(text) => text
                        .parse::<u64>()
                        .ok()
                        .filter(|&n| n <= MAX_LAYERS as u64)
                        .unwrap_or(1),
                    ExprKind::Str(_)
                    | ExprKind::Name(_)
                    | ExprKind::Call { .. }
                    | ExprKind::List(_) => 1,
                };
                visit.then(self.body(&repeat.body.stmts).times(count))
            }
            Stmt::Residual(residual) => {
                Size { layers: 1, ..visit }.then(self.body(&residual.body.stmts))
            }
        }
    }

    fn block(&mut self, block: &BlockDef) -> Size {
        let name = &block.name.text;
        if let Some(size) = self.sizes.get(name) {
            return *size;
        }
        if self.visiting.contains(name) {
            return Size::default();
        }
        self.visiting.push(name.clone());
        let inner = self.body(&block.body.stmts);
        self.visiting.pop();
        let size = Size {
            depth: inner.depth + 1,
            ..inner
        };
        self.sizes.insert(name.clone(), size);
        size
    }
}
