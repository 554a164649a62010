//! Snapshot tests of rendered diagnostics: one `.net` file per error kind under
//! `tests/data/frontend/err/`, named after its code (`name.unknown_activation.net` must report
//! `netc::name::unknown_activation`). A line `// set: key=value` applies a `--set` override.
//! Regenerate with `INSTA_UPDATE=always cargo test --test frontend_diagnostics`.

use netc::sema::{check_source, Override};
use std::path::Path;

fn overrides_of(src: &str) -> Vec<Override> {
    src.lines()
        .filter_map(|line| line.strip_prefix("// set: "))
        .map(|text| Override::parse(text).expect("test override parses"))
        .collect()
}

/// Checks one case: the expected code is reported, and the rendering matches its snapshot.
fn check_case(path: &Path) {
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .expect("utf-8 name");
    let src = std::fs::read_to_string(path).expect("readable test file");
    let name = format!("err/{stem}.net");
    let checked = check_source(&name, &src, &overrides_of(&src));
    let code = format!("netc::{}", stem.replace('.', "::"));
    assert!(
        checked.diagnostics.iter().any(|d| d.code == code),
        "{name}: expected a `{code}` diagnostic, got {:#?}",
        checked.diagnostics
    );
    let is_lint = stem.starts_with("lint.");
    assert_eq!(
        checked.model.is_some(),
        is_lint,
        "{name}: a model iff only warnings"
    );
    let rendered = netc::diag::render(&checked.diagnostics, &name, &src, false);
    insta::assert_snapshot!(stem, format!("{src}\n---- diagnostics ----\n{rendered}"));
}

#[test]
fn every_error_kind_renders_as_its_snapshot() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/frontend/err");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("err folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "net"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 40, "expected one case per error kind");
    for path in paths {
        check_case(&path);
    }
}

#[test]
fn json_output_has_line_and_column() {
    let src = "model m {\n    input x: [2]\n    dense 8, act = sigmod\n    dense 1\n}\ntrain {\n    data = xor\n}\n";
    let checked = check_source("m.net", src, &[]);
    let json = netc::diag::to_json(&checked.diagnostics, "m.net", src);
    let first = &json[0];
    assert_eq!(first["code"], "netc::name::unknown_activation");
    assert_eq!(first["span"]["line"], 3);
    assert_eq!(first["span"]["column"], 20);
    assert_eq!(first["help"], "did you mean `sigmoid`?");
    assert_eq!(first["severity"], "error");
}

#[test]
fn overrides_change_the_model_and_bad_ones_are_diagnostics() {
    let src =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/xor.net"))
            .expect("xor");
    let sets: Vec<Override> = [
        "optimizer.lr=0.01",
        "epochs=3",
        "batch=4",
        "seed=7",
        "clip=norm(2.0, per = layer)",
    ]
    .iter()
    .map(|s| Override::parse(s).expect("parses"))
    .collect();
    let model = check_source("xor.net", &src, &sets).model.expect("valid");
    assert_eq!(model.train.optimizer.lr(), 0.01);
    assert_eq!(
        (model.train.epochs, model.train.batch, model.train.seed),
        (3, 4, 7)
    );
    assert_eq!(model.train.clip, netc::model::Clip::LayerNorm(2.0));
    let sgd = Override::parse("optimizer=sgd(lr = 0.1, momentum = 0.9)").expect("parses");
    let model = check_source("xor.net", &src, &[sgd]).model.expect("valid");
    assert_eq!(
        model.train.optimizer,
        netc::model::Optimizer::Sgd {
            lr: 0.1,
            momentum: 0.9,
            nesterov: false
        }
    );
    let bad = Override::parse("batch=-3").expect("parses");
    let checked = check_source("xor.net", &src, &[bad]);
    assert!(checked.model.is_none());
    assert!(Override::parse("no equals sign").is_err());
}
