//! Gradient-health diagnostics on the shipped examples: predicted before training (analyze)
//! and measured after a real training run (report). Runs are deterministic, so the
//! thresholds here are stable.

use crate::common;

use common::plots::assert_plot_has_content;
use netc::health::{self, lint, FindingKind, Status, Trend};
use netc::report;
use std::path::{Path, PathBuf};
use std::process::Command;

fn model(example: &str) -> netc::model::Model {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(format!("{example}.net"));
    let src = std::fs::read_to_string(&path).expect("the example exists");
    netc::sema::check_source(example, &src, &[])
        .model
        .expect("the example checks")
}

/// Trains an example with the netc binary into a fresh temp folder and reads the run back.
fn train(example: &str) -> report::Run {
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let out: PathBuf =
        std::env::temp_dir().join(format!("netc-diag-{example}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(format!("{example}.net"));
    let status = Command::new(env!("CARGO_BIN_EXE_netc"))
        .args(["train", "--quiet", "--out"])
        .arg(&out)
        .arg(&file)
        .status()
        .expect("netc runs");
    // the exploding examples stop on non-finite values with a failure exit code, by design
    assert!(
        status.success() || example.starts_with("exploding"),
        "training {example} failed"
    );
    report::read_run(&out).expect("the run folder reads back")
}

#[test]
fn analyze_predicts_vanishing_for_the_deep_sigmoid_net() {
    let p = health::predict(&model("deep_sigmoid"));
    assert_eq!(p.trend, Trend::Vanishing);
    assert!(p.factor < 1e-6, "first/last = {}", p.factor);
    let names: Vec<&str> = p
        .involved
        .iter()
        .map(|&i| p.layers[i].name.as_str())
        .collect();
    assert!(
        names.contains(&"dense1") && names.contains(&"dense10"),
        "{names:?}"
    );
    // σ'(0) = 1/4 and σ_w²·fan_in = 0.32: √χ ≈ √(0.32/16) ≈ 0.14 per layer
    assert!(
        (0.1..0.2).contains(&p.gain_per_layer),
        "{}",
        p.gain_per_layer
    );
}

#[test]
fn analyze_predicts_healthy_twins_and_exploding_init() {
    for example in [
        "deep_relu_he",
        "batchnorm",
        "residual",
        "exploding",
        "exploding_clipped",
    ] {
        let p = health::predict(&model(example));
        assert_eq!(p.trend, Trend::Healthy, "{example}: factor {}", p.factor);
    }
    let p = health::predict(&model("exploding_init"));
    assert_eq!(p.trend, Trend::Exploding);
    // normal(0, 1) on 64 relu inputs: χ = 64·½ = 32, √χ ≈ 5.7
    assert!(p.factor > 1e3, "{}", p.factor);
}

#[test]
fn lints_flag_the_sigmoid_stack_and_relu_with_xavier_only() {
    let codes = |m: &netc::model::Model| lint::check(m).iter().map(|d| d.code).collect::<Vec<_>>();
    assert_eq!(
        codes(&model("deep_sigmoid")),
        ["netc::lint::saturating_stack"]
    );
    assert!(codes(&model("deep_relu_he")).is_empty());
    let src = "model m {\n    input x: [2]\n    dense 8, act = relu, init = xavier_uniform\n    dense 2\n}\ntrain {\n    data = xor(n = 16)\n    loss = mse\n    optimizer = sgd(lr = 0.1)\n    batch = 4\n}\n";
    let checked = netc::sema::check_source("m.net", src, &[]);
    let m = checked
        .model
        .unwrap_or_else(|| panic!("{:?}", checked.diagnostics));
    assert_eq!(codes(&m), ["netc::lint::relu_xavier"]);
}

#[test]
fn report_measures_vanishing_where_it_was_predicted() {
    let run = train("deep_sigmoid");
    let d = health::diagnose(&run);
    assert!(d.has(FindingKind::Vanishing), "{:?}", d.findings);
    assert_eq!(d.layers[0].status, Status::Vanishing);
    assert_eq!(d.layers.last().map(|l| l.status), Some(Status::Ok));
    // predicted and measured first-layer ratios agree within a decade
    let (pred, meas) = (d.prediction.layers[0].grad_a, d.measured_profile[0]);
    assert!(
        (pred / meas).log10().abs() < 1.0,
        "predicted {pred:e}, measured {meas:e}"
    );
    let text = report::render_text(&run, &d);
    assert!(
        text.contains("act = relu, init = he_normal` at line 7"),
        "{text}"
    );
}

#[test]
fn report_finds_the_twins_healthy() {
    for example in ["deep_relu_he", "batchnorm", "residual", "exploding_clipped"] {
        let d = health::diagnose(&train(example));
        assert!(d.healthy(), "{example}: {:?}", d.findings);
        assert!(
            d.layers.iter().all(|l| l.status == Status::Ok),
            "{example}: {:?}",
            d.layers
        );
    }
}

#[test]
fn report_finds_the_exploding_run_exploding() {
    let run = train("exploding");
    let d = health::diagnose(&run);
    assert!(d.has(FindingKind::Exploding), "{:?}", d.findings);
    assert!(d.has(FindingKind::NonFinite));
    assert!(d
        .lints
        .iter()
        .any(|l| l.code == "netc::lint::update_exceeds_weight"));
    // the learning rate is to blame, not the init: no init remedy
    let f = d
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::Exploding)
        .expect("exploding");
    assert!(
        !f.remedies
            .iter()
            .any(|r| r.contains("variance-preserving init")),
        "{f:?}"
    );
}

#[test]
fn report_blames_the_init_of_the_exploding_init_run() {
    let d = health::diagnose(&train("exploding_init"));
    let f = d
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::Exploding)
        .expect("exploding");
    assert_eq!(f.layers.first().map(String::as_str), Some("dense1"));
    assert!(
        f.remedies[0].contains("variance-preserving init at line 6"),
        "{f:?}"
    );
}

#[test]
fn plots_are_pngs_of_the_right_size_and_not_blank() {
    let run = train("deep_sigmoid");
    let d = health::diagnose(&run);
    for (stem, plot) in report::plot::all(&run, &d) {
        assert_plot_has_content(&plot.png().expect("the plot draws"), stem);
        assert!(plot.svg().expect("svg").contains("<svg"), "{stem}");
    }
}

#[test]
fn a_damaged_probe_file_is_an_error_naming_the_line() {
    let src =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/xor.net"))
            .expect("xor");
    let probes = "step,layer,grad_w_norm,grad_b_norm,grad_a_norm,weight_norm,update_norm,act_mean,act_std,saturation,nonfinite_fwd,nonfinite_bwd\n1,hidden,1,2\n";
    let model = netc::sema::check_source("xor.net", &src, &[])
        .model
        .expect("xor checks");
    let trained = netc::runtime::run_folder::Trained { model, src };
    let err = report::Run::parse(trained, "", probes).expect_err("a short row");
    assert!(err.to_string().contains("probes.csv line 2"), "{err}");
}

#[test]
fn the_clip_lint_fires_when_the_threshold_is_far_from_the_norms() {
    let m = model("exploding_clipped"); // clip = norm(1.0)
    let far_below = lint::clip_far_from_norms(&m, &[30.0, 40.0, 50.0]).expect("always clipping");
    assert!(
        far_below
            .message
            .contains("every step is rescaled by about 40×"),
        "{}",
        far_below.message
    );
    let never = lint::clip_far_from_norms(&m, &[0.01, 0.02]).expect("never clipping");
    assert!(never.message.contains("never fires"));
    assert!(lint::clip_far_from_norms(&m, &[0.5, 2.0, 3.0]).is_none());
    assert!(
        lint::clip_far_from_norms(&model("exploding"), &[1e6]).is_none(),
        "no clip, no lint"
    );
}

#[test]
fn the_update_lint_names_the_worst_layer() {
    let m = model("exploding");
    let worst = [
        ("dense1".to_owned(), 3, 0.5),
        ("dense4".to_owned(), 7, 12.0),
        ("dense5".to_owned(), 6, 2.0),
    ];
    let d = lint::updates_exceed_weights(&m, &worst).expect("two layers exceed");
    assert!(
        d.message.contains("in 2 layer(s)") && d.message.contains("`dense4` at step 7"),
        "{}",
        d.message
    );
    assert!(lint::updates_exceed_weights(&m, &worst[..1]).is_none());
}
