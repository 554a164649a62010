//! The diagnostics commands end to end through the binary: `netc analyze`, `netc train`
//! printing the diagnosis and writing plots, `netc report`, `netc train --vary`.

use crate::common;

use common::plots::decode_plot;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn netc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_netc"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .expect("netc runs")
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("netc-diag-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Decodes a PNG file and checks its size and that it is not one flat colour.
fn check_png(path: &Path) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let pixels = decode_plot(&bytes, &path.display().to_string());
    let first = &pixels[..3];
    assert!(
        pixels.chunks(3).any(|p| p != first),
        "{} is blank",
        path.display()
    );
}

#[test]
fn analyze_prints_the_prediction_and_the_lint() {
    let o = netc(&["analyze", "examples/deep_sigmoid.net"]);
    assert!(o.status.success());
    let out = stdout(&o);
    assert!(
        out.contains("predicted VANISHING in layers dense1–dense10"),
        "{out}"
    );
    assert!(
        out.contains("`act = relu, init = he_normal` at line 7"),
        "{out}"
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("netc::lint::saturating_stack"));
}

#[test]
fn train_prints_the_diagnosis_and_report_writes_plots_and_html() {
    let dir = temp("train");
    let o = netc(&[
        "train",
        "examples/deep_sigmoid.net",
        "--out",
        dir.to_str().expect("utf-8"),
    ]);
    assert!(o.status.success());
    let out = stdout(&o);
    assert!(
        out.contains("diagnosis: vanishing gradients: layers dense1–dense7"),
        "{out}"
    );
    for stem in [
        "grad_norms",
        "grad_heatmap",
        "depth_profile",
        "loss",
        "predicted_vs_measured",
    ] {
        check_png(&dir.join(format!("{stem}.png")));
        assert!(dir.join(format!("{stem}.svg")).exists(), "{stem}.svg");
    }
    let html = std::fs::read_to_string(dir.join("report.html")).expect("report.html");
    assert!(html.contains("<svg") && html.contains("vanishing gradients"));
    let again = netc(&["report", dir.to_str().expect("utf-8"), "--no-plots"]);
    assert_eq!(
        stdout(&again),
        out[out.find("\nlayer ").map_or(0, |i| i + 1)
            ..out.find("plots and report").unwrap_or(out.len())]
    );
}

#[test]
fn vary_trains_every_combination_and_tabulates_them() {
    let dir = temp("vary");
    let o = netc(&[
        "train",
        "examples/deep_sigmoid.net",
        "--vary",
        "act=sigmoid,relu",
        "--vary",
        "init=normal(0, 0.1),he_normal",
        "--out",
        dir.to_str().expect("utf-8"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = stdout(&o);
    let row = |label: &str| {
        out.lines()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("no row {label} in {out}"))
            .to_owned()
    };
    assert!(row("act=sigmoid init=normal(0, 0.1)").ends_with("vanishing"));
    assert!(row("act=relu init=he_normal").ends_with("healthy"));
    check_png(&dir.join("compare_depth.png"));
    check_png(&dir.join("compare_loss.png"));
}

/// The report reads the model as trained from the run folder: after `--set optimizer.lr=0.123`
/// every place that names the learning rate — the text (remedies and the update lint), the
/// HTML page and the `--json` findings — quotes 0.123, never the file's `sgd(lr = 0.5)`.
#[test]
fn report_quotes_the_learning_rate_the_run_was_trained_with() {
    let dir = temp("lr-override");
    let out = dir.to_str().expect("a UTF-8 temp path");
    let o = netc(&[
        "train",
        "examples/exploding_init.net",
        "--set",
        "optimizer.lr=0.123",
        "--out",
        out,
        "--no-report",
    ]);
    assert!(
        std::fs::read_to_string(dir.join("probes.csv")).is_ok(),
        "the run recorded probes: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = stdout(&netc(&["report", out]));
    let json = stdout(&netc(&["report", out, "--json", "--no-plots"]));
    let html = std::fs::read_to_string(dir.join("report.html")).expect("report.html");
    for (what, shown) in [("text", &text), ("json", &json), ("html", &html)] {
        assert!(
            shown.contains("lr = 0.123"),
            "{what} quotes the trained lr:\n{shown}"
        );
        assert!(
            !shown.contains("lr = 0.5"),
            "{what} quotes the file's lr:\n{shown}"
        );
    }
    assert!(
        text.contains("with lr = 0.123 a step replaces the weights"),
        "the update lint quotes the trained lr:\n{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
