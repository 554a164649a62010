//! Lints and name checks over the expanded model: warnings about how the file is written
//! (unused blocks, a softmax before the end) and duplicate layer names. Lints that judge
//! gradient health live in [`crate::health::lint`].

use crate::diag::Diagnostic;
use crate::model::{Activation, Layer, LayerKind};
use crate::span::Span;
use crate::syntax::ast::{BlockDef, Body, File, Item, Stmt};
use std::collections::{HashMap, HashSet};

/// A block that nothing uses: no layer line of the model or of another block names it.
/// (Found from the text, so an error that stops expansion early does not make blocks look
/// unused.)
pub fn unused_blocks(
    diags: &mut Vec<Diagnostic>,
    file: &File,
    blocks: &HashMap<String, &BlockDef>,
) {
    let mut used = HashSet::new();
    for item in &file.items {
        match item {
            Item::Model(model) => referenced(&model.body, &mut used),
            Item::Block(block) => referenced(&block.body, &mut used),
            Item::Train(_) | Item::Error(_) => {}
        }
    }
    let mut unused: Vec<&&BlockDef> = blocks
        .values()
        .filter(|b| !used.contains(b.name.text.as_str()))
        .collect();
    unused.sort_by_key(|b| b.span.start);
    for block in unused {
        diags.push(
            Diagnostic::warning(
                "netc::lint::unused_block",
                block.name.span,
                format!("block `{}` is never used", block.name.text),
            )
            .with_label("defined but not used")
            .with_help(format!(
                "use it in the model (`{} ...`) or remove it",
                block.name.text
            )),
        );
    }
}

/// The layer kinds named in `body`, nested bodies included.
fn referenced<'a>(body: &'a Body, used: &mut HashSet<&'a str>) {
    for stmt in &body.stmts {
        match stmt {
            Stmt::Layer(layer) => {
                used.insert(layer.kind.text.as_str());
            }
            Stmt::Repeat(repeat) => referenced(&repeat.body, used),
            Stmt::Residual(residual) => referenced(&residual.body, used),
            Stmt::Input(_) | Stmt::Error(_) => {}
        }
    }
}

/// A softmax anywhere but at the very end of the model.
pub fn softmax_not_last(diags: &mut Vec<Diagnostic>, layers: &[Layer]) {
    let mut spans = Vec::new();
    collect_softmax(layers, true, &mut spans);
    for span in spans {
        diags.push(
            Diagnostic::warning(
                "netc::lint::softmax_not_last",
                span,
                "a softmax inside the network squashes every unit but one towards zero",
            )
            .with_label("softmax before the last layer")
            .with_help("use softmax only on the last layer (or leave it to `cross_entropy`)"),
        );
    }
}

fn collect_softmax(layers: &[Layer], at_end: bool, spans: &mut Vec<Span>) {
    for (i, layer) in layers.iter().enumerate() {
        let is_last = at_end && i + 1 == layers.len();
        match &layer.kind {
            LayerKind::Dense {
                act: Activation::Softmax,
                ..
            }
            | LayerKind::Activation(Activation::Softmax)
                if !is_last =>
            {
                spans.push(layer.span)
            }
            LayerKind::Residual { body, .. } => collect_softmax(body, false, spans),
            _ => {}
        }
    }
}

/// Two layers with one name (after block prefixes and repeat suffixes).
pub fn duplicate_names(diags: &mut Vec<Diagnostic>, layers: &[Layer]) {
    let mut seen: HashMap<String, Span> = HashMap::new();
    check_names(diags, layers, &mut seen);
}

fn check_names(diags: &mut Vec<Diagnostic>, layers: &[Layer], seen: &mut HashMap<String, Span>) {
    for layer in layers {
        if let Some(first) = seen.get(&layer.name) {
            diags.push(
                Diagnostic::error(
                    "netc::name::duplicate_layer",
                    layer.span,
                    format!("two layers are named `{}`", layer.name),
                )
                .with_label("second layer with this name")
                .with_related(*first, "first layer with this name")
                .with_help("give one of them another name with `as`"),
            );
        } else {
            seen.insert(layer.name.clone(), layer.span);
        }
        if let LayerKind::Residual { body, .. } = &layer.kind {
            check_names(diags, body, seen);
        }
    }
}
