//! Every example checks; a few resolved shapes and names are as documented; `netc fmt` is
//! idempotent on every example and formatting does not change the checked model.

use netc::model::{Activation, DataSource, Init, LayerKind, Loss, Model, Optimizer};
use netc::sema::check_source;
use netc::syntax::format_source;
use std::path::{Path, PathBuf};

fn examples() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("examples folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "net"))
        .collect();
    paths.sort();
    paths
}

fn check(path: &Path) -> Model {
    let src = std::fs::read_to_string(path).expect("readable");
    let name = path.display().to_string();
    let checked = check_source(&name, &src, &[]);
    let errors = netc::diag::render(&checked.diagnostics, &name, &src, false);
    assert!(
        checked.diagnostics.is_empty(),
        "{name} should check cleanly:\n{errors}"
    );
    checked.model.expect("a model when there are no errors")
}

fn example(name: &str) -> Model {
    check(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples")
            .join(name),
    )
}

/// The model as JSON without spans, which formatting is allowed to move.
fn without_spans(model: &Model) -> serde_json::Value {
    fn strip(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                map.remove("span");
                map.values_mut().for_each(strip);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut value = serde_json::to_value(model).expect("serializable");
    strip(&mut value);
    value
}

#[test]
fn every_example_checks_cleanly() {
    let paths = examples();
    assert!(paths.len() >= 8);
    for path in paths {
        check(&path);
    }
}

#[test]
fn fmt_is_idempotent_and_keeps_the_model() {
    for path in examples() {
        let src = std::fs::read_to_string(&path).expect("readable");
        let once = format_source(&src).expect("formats");
        assert_eq!(once, src, "{} is not in canonical form", path.display());
        let twice = format_source(&once).expect("formats again");
        assert_eq!(once, twice, "{}: fmt is not idempotent", path.display());
        let before = check_source("a.net", &src, &[]).model.expect("valid");
        let after = check_source("b.net", &once, &[])
            .model
            .expect("still valid");
        assert_eq!(
            without_spans(&before),
            without_spans(&after),
            "{}",
            path.display()
        );
    }
}

#[test]
fn messy_source_formats_canonically_and_keeps_comments() {
    let messy = "// top comment\nmodel   m{\n  input x:[2]   // the input\n\n\n  dense 8,act=relu,\n     init=normal( 0 , 1 )as h\n  repeat 2 { tanh }\n  // before the end\n  dense 1\n}\ntrain{\ndata=xor( n=10 )\n  optimizer = adam(1e-3)}\n";
    let formatted = format_source(messy).expect("formats");
    let expected = "// top comment\nmodel m {\n    input x: [2] // the input\n\n    dense 8, act = relu, init = normal(0, 1) as h\n    repeat 2 {\n        tanh\n    }\n    // before the end\n    dense 1\n}\n\ntrain {\n    data      = xor(n = 10)\n    optimizer = adam(1e-3)\n}\n";
    assert_eq!(formatted, expected);
    assert_eq!(format_source(&formatted).expect("formats"), formatted);
    let a = check_source("a.net", messy, &[]).model.expect("valid");
    let b = check_source("b.net", &formatted, &[]).model.expect("valid");
    assert_eq!(without_spans(&a), without_spans(&b));
}

#[test]
fn digits_resolves_shapes_names_and_defaults() {
    let model = example("digits.net");
    assert_eq!(model.layers.len(), 2);
    assert_eq!(model.layers[0].name, "hidden");
    assert_eq!(
        (
            model.layers[0].in_shape.clone(),
            model.layers[0].out_shape.clone()
        ),
        (vec![64], vec![128])
    );
    assert_eq!(model.layers[1].name, "logits");
    assert_eq!(model.output_shape, vec![10]);
    assert!(matches!(
        model.layers[0].kind,
        LayerKind::Dense {
            units: 128,
            bias: true,
            act: Activation::Relu,
            init: Init::HeNormal { .. },
            bias_init: Init::Zeros
        }
    ));
    assert_eq!(model.train.loss, Loss::CrossEntropy);
    assert!(
        matches!(&model.train.data, DataSource::Csv(csv) if csv.path == "data/digits.csv" && csv.target == "label")
    );
    assert_eq!(model.train.checkpoint_every, 500);
    assert!(model.train.probes.enabled);
}

#[test]
fn repeat_and_blocks_expand_with_default_names() {
    let deep = example("deep_sigmoid.net");
    assert_eq!(deep.layers.len(), 11);
    let names: Vec<&str> = deep.layers.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names[0], "dense1");
    assert_eq!(names[9], "dense10");
    assert_eq!(names[10], "dense11");
    assert_eq!(deep.layers[10].in_shape, vec![32]);
    assert!(matches!(deep.train.optimizer, Optimizer::Sgd { lr, .. } if lr == 0.1));

    let res = example("residual.net");
    let names: Vec<&str> = res.layers.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "stem",
            "residual1",
            "residual2",
            "residual3",
            "residual4",
            "logits"
        ]
    );
    let LayerKind::Residual { body, projection } = &res.layers[2].kind else {
        panic!("expected a residual")
    };
    assert_eq!(*projection, None);
    let inner: Vec<&str> = body.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(inner, ["layernorm2", "dense4", "dense5"]);
    assert_eq!(body[2].out_shape, vec![64]);
}

#[test]
fn batchnorm_example_counts_each_kind() {
    let model = example("batchnorm.net");
    let names: Vec<&str> = model.layers.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(&names[..3], ["dense1", "batchnorm1", "relu1"]);
    assert_eq!(
        &names[9..],
        ["dense4", "batchnorm4", "relu4", "dropout1", "dense5"]
    );
    assert_eq!(model.output_shape, vec![10]);
}

#[test]
fn xor_infers_nothing_it_need_not() {
    let model = example("xor.net");
    assert_eq!(model.input.kind.shape(), vec![2]);
    assert_eq!(model.train.loss, Loss::BinaryCrossEntropy);
    assert_eq!(model.output_shape, vec![1]);
}

#[test]
fn every_construct_checks() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/frontend/ok/everything.net");
    let model = check(&path);
    let json = serde_json::to_string_pretty(&without_spans(&model)).expect("json");
    insta::assert_snapshot!("everything_model", json);
}

#[test]
fn complete_files_in_the_language_guide_check() {
    let guide =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/language.md"))
            .expect("guide");
    let blocks: Vec<&str> = guide.split("```").skip(1).step_by(2).collect();
    let complete: Vec<&str> = blocks
        .into_iter()
        .filter(|b| b.contains("model ") && b.contains("train {"))
        .collect();
    assert!(complete.len() >= 2);
    for block in complete {
        let checked = check_source("guide.net", block, &[]);
        let errors: Vec<_> = checked
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .collect();
        assert!(errors.is_empty(), "{block}\n{errors:#?}");
    }
}

#[test]
fn a_tool_can_edit_one_layer_and_print_the_file_back() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/digits.net");
    let src = std::fs::read_to_string(path).expect("readable");
    let model = check_source("digits.net", &src, &[]).model.expect("valid");
    let hidden = model
        .layers
        .iter()
        .find(|l| l.name == "hidden")
        .expect("hidden layer");
    let (mut file, diags) = netc::syntax::parse_file(&src);
    assert!(diags.is_empty());
    let Some(netc::syntax::ast::Stmt::Layer(stmt)) = file.stmt_at_mut(hidden.span) else {
        panic!("the layer's statement is found by its span")
    };
    let tanh = netc::syntax::parse_expr("tanh").expect("parses");
    netc::syntax::ast::set_arg(
        &mut stmt.args,
        netc::sema::layer_params("dense"),
        "act",
        tanh,
        hidden.span,
    );
    let units = netc::syntax::parse_expr("64").expect("parses");
    netc::syntax::ast::set_arg(
        &mut stmt.args,
        netc::sema::layer_params("dense"),
        "units",
        units,
        hidden.span,
    );
    let printed = netc::syntax::print_file(&file, &src);
    assert!(
        printed.contains("    dense 64, act = tanh, init = he_normal as hidden\n"),
        "{printed}"
    );
    assert!(
        printed.contains("// Handwritten digits"),
        "comments are kept"
    );
    let edited = check_source("digits.net", &printed, &[])
        .model
        .expect("still valid");
    assert!(matches!(
        edited.layers[0].kind,
        LayerKind::Dense {
            units: 64,
            act: Activation::Tanh,
            ..
        }
    ));
}
