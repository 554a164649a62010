//! The language's word families round-trip: every variant of each family's own list parses
//! back from its name (and aliases) to itself, `fmt` keeps the name, docs/language.md lists
//! it (with its parameters), and every optimizer trains on both backends.

use crate::common;

use common::*;
use netc::model::*;
use netc::sema::check_source;
use netc::syntax::format_source;

/// A small classification model using `act` on a dense layer and as its own layer, trained
/// with `optimizer`.
fn source(act: &str, optimizer: &str) -> String {
    format!(
        "model words {{\n    input x: [2]\n    dense 4, act = {act}\n    {act}\n    dense 2\n}}\n\n\
         train {{\n    data = moons(n = 20)\n    loss = cross_entropy\n    optimizer = {optimizer}\n}}\n"
    )
}

fn checked(src: &str) -> Model {
    let checked = check_source("words.net", src, &[]);
    let errors = netc::diag::render(&checked.diagnostics, "words.net", src, false);
    checked
        .model
        .unwrap_or_else(|| panic!("{src} should check:\n{errors}"))
}

/// The section of docs/language.md that starts at the heading `heading`, to the next heading.
fn doc_section(heading: &str) -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/language.md");
    let doc = std::fs::read_to_string(path).expect("docs/language.md");
    let start = doc
        .find(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("docs/language.md has no `{heading}`"));
    let body = &doc[start + heading.len() + 2..];
    let end = body.find("\n#").unwrap_or(body.len());
    body[..end].to_owned()
}

/// The table row of `name` in `section`: the line starting with "| `name`".
fn doc_row<'a>(section: &'a str, name: &str) -> &'a str {
    let start = format!("| `{name}`");
    section
        .lines()
        .find(|line| line.starts_with(&start))
        .unwrap_or_else(|| panic!("docs/language.md's table has no row for `{name}`"))
}

#[test]
fn every_activation_round_trips() {
    let section = doc_section("## Activations");
    for act in Activation::ALL {
        let row = doc_row(&section, act.name());
        for param in act.params() {
            assert!(row.contains(&format!("`{param} = ")), "{row}: no `{param}`");
        }
        let names = std::iter::once(act.name()).chain(act.aliases().iter().copied());
        for name in names {
            assert!(row.contains(&format!("`{name}`")), "{row}: no `{name}`");
            let src = source(name, "adam");
            let m = checked(&src);
            let LayerKind::Dense { act: on_dense, .. } = m.layers[0].kind else {
                panic!("{name}: the first layer is not dense: {:?}", m.layers[0]);
            };
            assert_eq!(on_dense, act, "`act = {name}`");
            assert_eq!(
                m.layers[1].kind,
                LayerKind::Activation(act),
                "`{name}` layer"
            );
            assert!(
                m.layers[1].name.starts_with(act.name()),
                "{name}: default name"
            );
            let formatted = format_source(&src).expect("formats");
            assert!(
                formatted.contains(&format!("act = {name}\n")),
                "{formatted}"
            );
            assert_eq!(
                checked(&formatted).layers[1].kind,
                m.layers[1].kind,
                "{name}"
            );
        }
    }
}

#[test]
fn every_optimizer_round_trips() {
    let section = doc_section("### Optimizers");
    for opt in Optimizer::ALL {
        let name = opt.name();
        let row = doc_row(&section, name);
        let mut at = 0;
        for param in opt.params() {
            let found = row[at..].find(&format!("`{param} = "));
            let found = found.unwrap_or_else(|| panic!("{row}: `{param}` missing or out of order"));
            at += found;
        }
        let src = source("relu", name);
        assert_eq!(checked(&src).train.optimizer, opt, "`optimizer = {name}`");
        let formatted = format_source(&src).expect("formats");
        assert!(
            formatted.contains(&format!("optimizer = {name}\n")),
            "{formatted}"
        );
        assert_eq!(checked(&formatted).train.optimizer, opt, "{name} after fmt");
    }
}

/// Three steps of every optimizer on the interpreter and the JIT, compared after each step.
#[test]
fn every_optimizer_trains_on_both_backends() {
    for opt in Optimizer::ALL {
        let layers = vec![
            dense("hidden", 3, 4, Activation::Tanh),
            dense("out", 4, 2, Activation::Identity),
        ];
        let mut m = model(3, layers, Loss::CrossEntropy);
        m.train.optimizer = opt;
        compare_backends(&m, 4, 3);
    }
}

/// A model whose data and output width suit `loss`.
fn loss_source(loss: &str, outputs: usize) -> String {
    format!(
        "model words {{\n    input x: [2]\n    dense 4, act = tanh\n    dense {outputs}\n}}\n\n\
         train {{\n    data = moons(n = 20)\n    loss = {loss}\n}}\n"
    )
}

#[test]
fn every_loss_round_trips() {
    let section = doc_section("### Loss");
    for loss in Loss::ALL {
        let item = format!("- `{}`:", loss.name());
        assert!(
            section.contains(&item),
            "docs/language.md's Loss list has no {item}"
        );
        let outputs = match loss {
            Loss::Mse | Loss::CrossEntropy => 2,
            Loss::BinaryCrossEntropy => 1,
        };
        let names = std::iter::once(loss.name()).chain(loss.aliases().iter().copied());
        for name in names {
            let src = loss_source(name, outputs);
            assert_eq!(checked(&src).train.loss, loss, "`loss = {name}`");
            let formatted = format_source(&src).expect("formats");
            assert!(
                formatted.contains(&format!("loss = {name}\n")),
                "{formatted}"
            );
            assert_eq!(checked(&formatted).train.loss, loss, "{name} after fmt");
        }
    }
}
