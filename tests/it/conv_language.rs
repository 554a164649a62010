//! The image layers in the language: shapes through conv2d, pooling, flatten, norms and
//! residuals; every new diagnostic as a snapshot (`tests/data/conv_front/err/`, named after
//! its code); the checker's output sizes against the IR's; random conv lines never panic.
//! Regenerate the snapshots with `INSTA_UPDATE=always cargo test --test it conv_language`.

use netc::model::{LayerKind, Model, Padding};
use netc::sema::check_source;
use proptest::prelude::*;
use std::path::Path;

fn check_ok(src: &str) -> Model {
    let checked = check_source("conv.net", src, &[]);
    let errors: Vec<_> = checked
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .collect();
    assert!(errors.is_empty(), "unexpected errors: {errors:#?}");
    checked.model.expect("a model without errors")
}

/// A model over 8×8×1 digits with `body` between the input and the final dense layer.
fn digits_model(body: &str) -> String {
    format!(
        "model m {{\n    input x: [8, 8, 1]\n{body}\n    dense 10\n}}\n\ntrain {{\n    data = csv(\"digits.csv\", shape = [8, 8, 1])\n    loss = cross_entropy\n}}\n"
    )
}

fn shapes(model: &Model) -> Vec<(String, Vec<usize>, Vec<usize>)> {
    model
        .flat_layers()
        .into_iter()
        .map(|l| (l.name.clone(), l.in_shape.clone(), l.out_shape.clone()))
        .collect()
}

fn check_case(path: &Path) {
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .expect("utf-8 name");
    let src = std::fs::read_to_string(path).expect("readable test file");
    let name = format!("err/{stem}.net");
    let checked = check_source(&name, &src, &[]);
    let code = format!("netc::{}", stem.replace('.', "::"));
    assert!(
        checked.diagnostics.iter().any(|d| d.code == code),
        "{name}: expected a `{code}` diagnostic, got {:#?}",
        checked.diagnostics
    );
    assert_eq!(
        checked.model.is_some(),
        stem.starts_with("lint."),
        "{name}: a model iff only warnings"
    );
    let rendered = netc::diag::render(&checked.diagnostics, &name, &src, false);
    insta::assert_snapshot!(stem, format!("{src}\n---- diagnostics ----\n{rendered}"));
}

#[test]
fn every_image_diagnostic_renders_as_its_snapshot() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/conv_front/err");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("err folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "net"))
        .collect();
    paths.sort();
    assert_eq!(paths.len(), 9, "one case per image diagnostic");
    for path in paths {
        check_case(&path);
    }
}

#[test]
fn shapes_flow_through_every_image_layer() {
    let model = check_ok(&digits_model(
        "    conv2d 8, padding = same, act = relu\n    batchnorm\n    residual projection = he_normal {\n        conv2d 16, padding = same, act = relu\n        layernorm\n    }\n    maxpool 2\n    conv2d 16, kernel = 3, act = relu\n    dropout 0.1\n    avgpool 2, stride = 1\n    relu\n    global_avgpool",
    ));
    let expect: Vec<(&str, Vec<usize>, Vec<usize>)> = vec![
        ("conv1", vec![8, 8, 1], vec![8, 8, 8]),
        ("batchnorm1", vec![8, 8, 8], vec![8, 8, 8]),
        ("conv2", vec![8, 8, 8], vec![8, 8, 16]),
        ("layernorm1", vec![8, 8, 16], vec![8, 8, 16]),
        ("residual1", vec![8, 8, 8], vec![8, 8, 16]),
        ("maxpool1", vec![8, 8, 16], vec![4, 4, 16]),
        ("conv3", vec![4, 4, 16], vec![2, 2, 16]),
        ("dropout1", vec![2, 2, 16], vec![2, 2, 16]),
        ("avgpool1", vec![2, 2, 16], vec![1, 1, 16]),
        ("relu1", vec![1, 1, 16], vec![1, 1, 16]),
        ("global_avgpool1", vec![1, 1, 16], vec![16]),
        ("dense1", vec![16], vec![10]),
    ];
    let expect: Vec<_> = expect
        .into_iter()
        .map(|(n, i, o)| (n.to_string(), i, o))
        .collect();
    assert_eq!(shapes(&model), expect);
    assert_eq!(model.output_shape, vec![10]);
}

#[test]
fn kernel_stride_dilation_and_padding_take_pairs() {
    // H: ⌊(8 + 2·1 − 1·(3 − 1) − 1)/2⌋ + 1 = 4; W: ⌊(8 + 0 − 2·(1 − 1) − 1)/1⌋ + 1 = 8.
    let model = check_ok(&digits_model(
        "    conv2d 4, kernel = [3, 1], stride = [2, 1], padding = [1, 0], dilation = [1, 2]\n    flatten",
    ));
    let conv = &model.layers[0];
    assert_eq!(conv.out_shape, vec![4, 8, 4]);
    let LayerKind::Conv2d(c) = &conv.kind else {
        panic!("conv2d builds a Conv2d, got {:?}", conv.kind)
    };
    assert_eq!(
        (c.kernel, c.stride, c.dilation, c.padding),
        ([3, 1], [2, 1], [1, 2], Padding::Explicit([1, 0]))
    );
    assert_eq!(model.layers[1].out_shape, vec![4 * 8 * 4]);
    // Dilation 2 over a 3-tap kernel spans 5: ⌊(8 − 5)/1⌋ + 1 = 4.
    let dilated = check_ok(&digits_model("    conv2d 2, dilation = 2\n    flatten"));
    assert_eq!(dilated.layers[0].out_shape, vec![4, 4, 2]);
}

#[test]
fn same_padding_puts_an_even_kernels_extra_zero_at_the_bottom_and_right() {
    // PyTorch's padding='same': total = d·(k − 1), before = total / 2, after = the rest.
    assert_eq!(Padding::Same.pads([3, 3], [1, 1]), [1, 1, 1, 1]);
    assert_eq!(Padding::Same.pads([2, 4], [1, 1]), [0, 1, 1, 2]);
    assert_eq!(Padding::Same.pads([2, 3], [3, 2]), [1, 2, 2, 2]);
    assert_eq!(Padding::Valid.pads([5, 5], [1, 1]), [0; 4]);
    let model = check_ok(&digits_model(
        "    conv2d 4, kernel = 4, padding = same\n    flatten",
    ));
    assert_eq!(model.layers[0].out_shape, vec![8, 8, 4]);
}

#[test]
fn flatten_of_a_vector_keeps_it_and_an_image_input_may_feed_flatten_first() {
    let model = check_ok(&digits_model(
        "    flatten\n    flatten\n    dense 32, act = relu",
    ));
    let got: Vec<_> = shapes(&model).into_iter().map(|(_, _, o)| o).collect();
    assert_eq!(got, vec![vec![64], vec![64], vec![32], vec![10]]);
}

#[test]
fn the_checker_and_the_ir_agree_on_every_small_window() {
    for h in 1..=9 {
        for k in 1..=5 {
            for s in 1..=3 {
                for d in 1..=3 {
                    for p in 0..=2 {
                        let pads = [p, p + 1, p, 0];
                        let ir = netc::ir::Window2d {
                            kernel: [k, k],
                            stride: [s, s],
                            dilation: [d, d],
                            padding: pads,
                        };
                        let checker =
                            netc::sema::window_output_hw([k, k], [s, s], [d, d], pads, (h, h + 1));
                        assert_eq!(
                            checker,
                            ir.output_hw(h, h + 1),
                            "{h}×{} k{k} s{s} d{d} pads {pads:?}",
                            h + 1
                        );
                    }
                }
            }
        }
    }
}

/// Values that reach the edges: zero, one, large, negative, fractional, names and lists.
fn conv_value() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u64..12).prop_map(|n| n.to_string()),
        Just("99999999999".to_string()),
        Just("4096".to_string()),
        Just("-1".to_string()),
        Just("2.5".to_string()),
        Just("same".to_string()),
        Just("valid".to_string()),
        ((0u64..6), (0u64..6)).prop_map(|(a, b)| format!("[{a}, {b}]")),
        Just("[1, 2, 3]".to_string()),
        Just("[]".to_string()),
    ]
}

fn image_layer() -> impl Strategy<Value = String> {
    let conv = (
        conv_value(),
        conv_value(),
        conv_value(),
        conv_value(),
        conv_value(),
    )
        .prop_map(|(f, k, s, p, d)| {
            format!("conv2d {f}, kernel = {k}, stride = {s}, padding = {p}, dilation = {d}")
        });
    let pool = (
        prop_oneof![Just("maxpool"), Just("avgpool")],
        conv_value(),
        conv_value(),
    )
        .prop_map(|(op, k, s)| format!("{op} {k}, stride = {s}"));
    prop_oneof![
        conv,
        pool,
        Just("flatten".to_string()),
        Just("global_avgpool".to_string()),
        Just("batchnorm".to_string()),
        Just("dense 3".to_string()),
        Just("residual { conv2d 2, padding = same }".to_string()),
        Just("lstm 2".to_string()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
    #[test]
    fn random_image_layers_never_panic(
        dims in prop::collection::vec(prop_oneof![Just(0u64), 1u64..12, Just(1u64 << 21)], 1..5),
        layers in prop::collection::vec(image_layer(), 1..6),
        shape in prop_oneof![Just(""), Just(", shape = [8, 8, 1]"), Just(", shape = [0, 8]")],
    ) {
        let dims: Vec<String> = dims.iter().map(u64::to_string).collect();
        let src = format!(
            "model m {{\n    input x: [{}]\n    {}\n}}\ntrain {{\n    data = csv(\"d.csv\"{shape})\n}}\n",
            dims.join(", "),
            layers.join("\n    "),
        );
        let checked = check_source("fuzz.net", &src, &[]);
        if let Some(model) = checked.model {
            for layer in model.flat_layers() {
                prop_assert!(layer.out_shape.iter().all(|&d| d > 0), "{src}: {:?}", layer.out_shape);
            }
        }
    }
}

#[test]
fn shape_none_spells_out_the_default_of_plain_feature_rows() {
    let src = "model m {\n    input x: [64]\n    dense 10\n}\n\ntrain {\n    data = csv(\"digits.csv\", shape = none)\n    loss = cross_entropy\n}\n";
    let model = check_ok(src);
    assert_eq!(model.input.kind.shape(), vec![64]);
}
