//! The checker: from the AST to a fully resolved [`Model`], or to every diagnostic found.
//!
//! It resolves blocks and names, expands `repeat`, checks every argument's type and range,
//! infers every shape, and checks residuals, the loss against the output and the data, and
//! duplicate names. Warnings (lints) come out of the same pass; only errors withhold the model.

mod args;
mod attrs;
pub mod budget;
mod data;
mod layer;
mod layers;
mod lint;
mod loss;
pub mod names;
mod overrides;
mod recurrent;
mod settings;
mod spatial;
mod train;
pub mod words;

pub use data::{DataFacts, Target};
pub use layer::layer_params;
pub use layers::{MAX_LAYERS, MAX_PARAMS, MAX_UNITS};
pub use overrides::Override;
pub use spatial::{spatial_params, window_output_hw};

use crate::diag::Diagnostic;
use crate::model::Model;
use crate::span::Span;
use crate::syntax::ast::{BlockDef, File, Item, ModelDef};
use std::collections::HashMap;

/// The result of checking one source: the model when there is no error, and every
/// diagnostic (errors and warnings) in source order.
#[derive(Debug, Clone)]
pub struct Checked {
    pub model: Option<Model>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Parses and checks `src`, applying `--set` overrides to its train section.
pub fn check_source(file_name: &str, src: &str, overrides: &[Override]) -> Checked {
    let _ = file_name;
    let (file, mut diagnostics) = crate::syntax::parse_file(src);
    let model = check_file(&file, overrides, &mut diagnostics);
    diagnostics = tidy(diagnostics);
    let has_error = diagnostics.iter().any(Diagnostic::is_error);
    Checked {
        model: if has_error { None } else { model },
        diagnostics,
    }
}

/// Checks a parsed file; diagnostics are appended to `diags`.
pub fn check_file(
    file: &File,
    overrides: &[Override],
    diags: &mut Vec<Diagnostic>,
) -> Option<Model> {
    let blocks = collect_blocks(file, diags);
    let model_def = single(file, diags, |i| matches!(i, Item::Model(_)), "model")?;
    let Item::Model(model_def) = model_def else {
        return None;
    };
    let train_item = single(file, diags, |i| matches!(i, Item::Train(_)), "train");
    // Counted before anything is built: a model past a limit is refused in one diagnostic
    // instead of being expanded copy by copy (issue 15: 34 nested blocks took 16 s).
    if let Some(refusal) = budget::refuse_oversized(model_def, &blocks) {
        diags.push(refusal);
        return None;
    }
    let expanded = layers::expand_model(diags, model_def, &blocks);
    lint::unused_blocks(diags, file, &blocks);
    lint::softmax_not_last(diags, &expanded.layers);
    lint::duplicate_names(diags, &expanded.layers);
    let train_def = match train_item {
        Some(Item::Train(t)) => Some(t),
        _ => {
            if !file.items.iter().any(|i| matches!(i, Item::Train(_))) && !parse_failed(file, diags)
            {
                diags.push(missing_train(model_def));
            }
            None
        }
    };
    let train = settings::train_config(diags, train_def?, overrides, &expanded);
    let (input, output_shape) = (expanded.input?, expanded.output_shape?);
    Some(Model {
        name: model_def.name.text.clone(),
        span: model_def.span,
        input,
        layers: expanded.layers,
        output_shape,
        train: train?,
    })
}

fn missing_train(model: &ModelDef) -> Diagnostic {
    Diagnostic::error(
        "netc::train::missing",
        model.name.span,
        "this file has no `train { ... }` section, so there is no data to train on",
    )
    .with_label("model without training settings")
    .with_help("add `train { data = csv(\"file.csv\", target = \"label\") }` after the model")
}

/// Sorts by position and drops repeats (an error inside a `repeat` is found once per copy).
fn tidy(diags: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let mut seen = std::collections::HashSet::new();
    let mut out: Vec<Diagnostic> = Vec::with_capacity(diags.len());
    for diag in diags {
        let key = (
            diag.code,
            diag.span,
            diag.message.clone(),
            format!("{:?}", diag.related),
        );
        if seen.insert(key) {
            out.push(diag);
        }
    }
    out.sort_by_key(|d| (d.span.start, d.span.end));
    out
}

/// The one item of a kind; a second one is an error pointing at the first.
fn single<'a>(
    file: &'a File,
    diags: &mut Vec<Diagnostic>,
    is: impl Fn(&Item) -> bool,
    what: &str,
) -> Option<&'a Item> {
    let mut found = file.items.iter().filter(|i| is(i));
    let first = found.next();
    for extra in found {
        diags.push(
            Diagnostic::error(
                if what == "model" {
                    "netc::model::duplicate"
                } else {
                    "netc::train::duplicate"
                },
                header(extra.span()),
                format!("a file holds one `{what}`, and this is a second one"),
            )
            .with_label(format!("second `{what}`"))
            .with_related(
                first.map_or(Span::default(), |f| header(f.span())),
                format!("the first `{what}` is here"),
            )
            .with_help(format!("keep one `{what}` per file")),
        );
    }
    if first.is_none() && what == "model" && !parse_failed(file, diags) {
        diags.push(
            Diagnostic::error(
                "netc::model::missing",
                Span::new(0, 0),
                "this file has no `model { ... }`",
            )
            .with_label("expected a model")
            .with_help("start with `model name { input x: [width] ... }`"),
        );
    }
    first
}

/// Did parsing fail somewhere? Then a missing section may only be a consequence.
fn parse_failed(file: &File, diags: &[Diagnostic]) -> bool {
    file.items.iter().any(|i| matches!(i, Item::Error(_)))
        || diags.iter().any(|d| d.code.starts_with("netc::parse::"))
}

/// The first few characters of an item, so a label does not cover a whole section.
pub(crate) fn header(span: Span) -> Span {
    Span::new(span.start, span.end.min(span.start + 5))
}

fn collect_blocks<'a>(
    file: &'a File,
    diags: &mut Vec<Diagnostic>,
) -> HashMap<String, &'a BlockDef> {
    let mut blocks: HashMap<String, &BlockDef> = HashMap::new();
    for item in &file.items {
        let Item::Block(block) = item else { continue };
        let name = &block.name;
        if names::layers().contains(&name.text.as_str())
            || crate::model::Cell::from_name(&name.text).is_some()
        {
            diags.push(
                Diagnostic::error(
                    "netc::name::block_shadows_layer",
                    name.span,
                    format!("a block cannot be named `{}`, a built-in layer", name.text),
                )
                .with_label("built-in layer name")
                .with_help("pick another name for the block"),
            );
            continue;
        }
        let mut seen: HashMap<&str, Span> = HashMap::new();
        for param in &block.params {
            if let Some(first) = seen.insert(&param.name.text, param.name.span) {
                diags.push(
                    Diagnostic::error(
                        "netc::name::duplicate_param",
                        param.name.span,
                        format!(
                            "block `{}` has two parameters named `{}`",
                            name.text, param.name.text
                        ),
                    )
                    .with_label("second parameter")
                    .with_related(first, "first parameter"),
                );
            }
        }
        if let Some(first) = blocks.get(&name.text) {
            diags.push(
                Diagnostic::error(
                    "netc::name::duplicate_block",
                    name.span,
                    format!("block `{}` is defined twice", name.text),
                )
                .with_label("second definition")
                .with_related(first.name.span, "first definition")
                .with_help("rename one of the blocks"),
            );
            continue;
        }
        blocks.insert(name.text.clone(), block);
    }
    blocks
}
