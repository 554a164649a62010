//! The language's word families round-trip: every variant of each family's own list parses
//! back from its name (and aliases) to itself, `fmt` keeps the name, docs/language.md lists
//! it (with its parameters), and every optimizer trains on both backends.

use crate::common;

use common::*;
use netc::model::*;
use netc::sema::words::data::CSV_PARAMS;
use netc::sema::{check_source, Target};
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

/// The paragraph of docs/language.md that starts with `start`, joined into one line.
fn doc_paragraph(start: &str) -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/language.md");
    let doc = std::fs::read_to_string(path).expect("docs/language.md");
    let at = doc.find(start);
    let at = at.unwrap_or_else(|| panic!("docs/language.md has no paragraph starting {start}"));
    let paragraph = doc[at..].split("\n\n").next().unwrap_or_default();
    paragraph.replace('\n', " ")
}

/// Asserts `row` names each of `params` as "`param", in positional order.
fn assert_params_in_order(row: &str, params: &[&str]) {
    let mut at = 0;
    for param in params {
        let found = row[at..].find(&format!("`{param}"));
        let found = found.unwrap_or_else(|| panic!("{row}: `{param}` missing or out of order"));
        at += found + 1;
    }
}

/// `src` checks to a model, `fmt` keeps `written` (the word as the source spells it), and the
/// formatted source checks to the same `word` (spans move when `fmt` aligns the lines).
fn round_trip<T: PartialEq + std::fmt::Debug>(
    src: &str,
    written: &str,
    word: impl Fn(&Model) -> T,
) -> T {
    let m = checked(src);
    let formatted = format_source(src).expect("formats");
    assert!(
        formatted.contains(written),
        "fmt lost `{written}`:\n{formatted}"
    );
    assert_eq!(word(&checked(&formatted)), word(&m), "{written} after fmt");
    word(&m)
}

/// `source` with `key = value` added to its train section.
fn with_setting(key: &str, value: &str) -> String {
    let src = source("relu", "adam");
    src.replace(
        "    optimizer = adam\n",
        &format!("    optimizer = adam\n    {key} = {value}\n"),
    )
}

#[test]
fn every_init_round_trips() {
    let section = doc_section("## Initializers");
    for init in Init::ALL {
        let row = doc_row(&section, init.name());
        assert_params_in_order(row, init.params());
        let names = std::iter::once(init.name()).chain(init.aliases().iter().copied());
        for name in names {
            assert!(row.contains(&format!("`{name}`")), "{row}: no `{name}`");
            let src = source("relu", "adam").replace(
                "dense 4, act = relu",
                &format!("dense 4, act = relu, init = {name}"),
            );
            let parsed = round_trip(&src, &format!("init = {name}\n"), |m| {
                m.layers[0].kind.clone()
            });
            let LayerKind::Dense { init: parsed, .. } = parsed else {
                panic!("{name}: the first layer is not dense: {parsed:?}");
            };
            assert_eq!(parsed, init, "`init = {name}`");
        }
    }
}

/// A schedule as the language writes it, its required parameters given their `all()` values.
fn schedule_text(schedule: &Schedule) -> String {
    match schedule {
        Schedule::Constant | Schedule::Cosine { .. } => schedule.name().to_owned(),
        Schedule::Step { every, .. } => format!("step(every = {every})"),
        Schedule::Warmup { steps, .. } => format!("warmup(steps = {steps})"),
    }
}

#[test]
fn every_schedule_round_trips() {
    let section = doc_section("### Schedules");
    for schedule in Schedule::all() {
        let row = doc_row(&section, schedule.name());
        assert_params_in_order(row, schedule.params());
        for required in schedule.required() {
            assert!(row.contains(&format!("`{required}` (required)")), "{row}");
        }
        let text = schedule_text(&schedule);
        let parsed = round_trip(&with_setting("schedule", &text), &text, |m| {
            m.train.schedule.clone()
        });
        assert_eq!(parsed, schedule, "`schedule = {text}`");
    }
}

/// A clipping rule as the language writes it.
fn clip_text(clip: &Clip) -> String {
    match clip {
        Clip::None => "none".to_owned(),
        Clip::GlobalNorm(max) => format!("norm(max = {max})"),
        Clip::LayerNorm(max) => format!("norm(max = {max}, per = layer)"),
        Clip::Value(max) => format!("value(max = {max})"),
    }
}

#[test]
fn every_clip_round_trips() {
    let section = doc_section("## The `train` section");
    let row = doc_row(&section, "clip");
    for clip in Clip::ALL {
        let text = clip_text(&clip);
        let written = format!("`{}", clip.name());
        assert!(row.contains(&written), "{row}: no {written}");
        assert_eq!(
            clip.required(),
            &["max"][..clip.required().len()],
            "{clip:?}"
        );
        let parsed = round_trip(&with_setting("clip", &text), &text, |m| m.train.clip);
        assert_eq!(parsed, clip, "`clip = {text}`");
    }
}

#[test]
fn every_on_nonfinite_policy_round_trips() {
    let section = doc_section("## The `train` section");
    let row = doc_row(&section, "on_nonfinite");
    for policy in OnNonFinite::ALL {
        let name = policy.name();
        assert!(row.contains(&format!("`{name}`")), "{row}: no `{name}`");
        let parsed = round_trip(&with_setting("on_nonfinite", name), name, |m| {
            m.train.on_nonfinite
        });
        assert_eq!(parsed, policy, "`on_nonfinite = {name}`");
    }
}

#[test]
fn every_recurrent_cell_round_trips() {
    let section = doc_section("## Recurrent layers");
    for cell in Cell::ALL {
        let name = cell.name();
        let row = doc_row(&section, name);
        assert_params_in_order(row, cell.params());
        let src = format!(
            "model words {{\n    input x: seq(6, 2)\n    {name} 4\n    dense 1\n}}\n\n\
             train {{\n    data = adding(steps = 6, n = 20)\n}}\n"
        );
        let first = |m: &Model| (m.layers[0].kind.clone(), m.layers[0].name.clone());
        let (kind, layer_name) = round_trip(&src, &format!("{name} 4\n"), first);
        let LayerKind::Recurrent(r) = kind else {
            panic!("{name}: the first layer is not recurrent: {kind:?}");
        };
        assert_eq!(r.cell, cell, "`{name} 4`");
        assert!(layer_name.starts_with(name), "{name}: default name");
    }
}

/// A model that fits what `kind` gives each example, trained on it with its defaults.
fn data_source(kind: &SyntheticKind) -> String {
    let facts = kind.facts();
    let features = facts.features.expect("a synthetic set knows its width");
    let (input, body) = match facts.steps {
        Some(steps) => (format!("seq({steps}, {features})"), "gru 4\n    "),
        None => (format!("[{features}]"), ""),
    };
    let outputs = match facts.target {
        Target::Classes(k) => k,
        Target::Regression(n) => n,
        Target::Unknown(_) => panic!("{kind:?}: a synthetic set knows its target"),
    };
    format!(
        "model words {{\n    input x: {input}\n    {body}dense {outputs}\n}}\n\n\
         train {{\n    data = {}\n}}\n",
        kind.name()
    )
}

#[test]
fn every_data_set_round_trips() {
    // The CSV line is one code span, `csv(path, target = "label", ...)`.
    let csv = doc_paragraph("**CSV**: `csv(")
        .replace('(', "(`")
        .replace(", ", ", `");
    assert_params_in_order(&csv, CSV_PARAMS);
    let section = doc_section("### Data");
    for kind in SyntheticKind::ALL {
        let name = kind.name();
        let row = doc_row(&section, name);
        let own: Vec<&str> = kind
            .params()
            .iter()
            .copied()
            .filter(|p| *p != "split")
            .collect();
        assert_params_in_order(row, &own);
        let data = |m: &Model| m.train.data.clone();
        let parsed = round_trip(&data_source(&kind), &format!("data = {name}\n"), data);
        let expected = Synthetic {
            kind: kind.clone(),
            n: kind.default_n() as usize,
            noise: kind.default_noise(),
            split: 0.8,
        };
        assert_eq!(parsed, DataSource::Synthetic(expected), "`data = {name}`");
    }
    assert_eq!(DataSource::names()[0], "csv");
}
