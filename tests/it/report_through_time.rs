//! The through-time plots of a recurrent run: ‖∂L/∂h_t‖ against t at chosen steps and the
//! t × step heatmap, read from probes_time.csv, drawn as real PNGs and put in report.html.

use crate::common;

use common::plots::assert_plot_has_content;
use netc::report::{self, plot::Plot};
use std::path::Path;
use std::process::Command;

/// Trains `example` for `steps` steps into a fresh folder and writes its report.
fn trained(example: &str, steps: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_netc"))
        .args(["train", example, "--quiet", "--steps", steps, "--out"])
        .arg(dir.path())
        .output()
        .expect("netc runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = Command::new(env!("CARGO_BIN_EXE_netc"))
        .arg("report")
        .arg(dir.path())
        .output()
        .expect("netc runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    dir
}

#[test]
fn a_recurrent_run_gets_through_time_plots_with_real_content() {
    let dir = trained("examples/rnn_adding_30.net", "20");
    let run = report::read_run(dir.path()).expect("the run reads back");
    let rnn = run.layers.iter().position(|l| l == "rnn1").expect("rnn1");
    assert_eq!(run.recurrent_layers(), vec![rnn]);
    assert_eq!(run.time_steps(), (1..=20).collect::<Vec<u64>>());
    let last = run.through_time(rnn, 20);
    assert_eq!(last.len(), 30, "one value per time step");
    // the vanilla tanh rnn's gradient vanishes toward t = 0
    assert!(last[0].1 < last[29].1 * 1e-3, "{last:?}");

    let d = netc::health::diagnose(&run);
    let plots = report::plot::all(&run, &d);
    let find = |stem: &str| {
        plots
            .iter()
            .find(|(s, _)| *s == stem)
            .map(|(_, p)| p.clone())
            .unwrap_or_else(|| panic!("no {stem} plot"))
    };
    let Plot::Line(line) = find("grad_through_time") else {
        panic!("grad_through_time is a line plot")
    };
    assert!(line.log_y);
    let names: Vec<&str> = line.series.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["step 1", "step 11", "step 20"]);
    assert!(line.series.iter().all(|(_, points)| points.len() == 30));
    let Plot::Heat(heat) = find("time_heatmap") else {
        panic!("time_heatmap is a heatmap")
    };
    assert_eq!((heat.rows.len(), heat.steps.len()), (30, 20));
    // t = 0 (bottom row) is darker than t = 29 (top row) at every step
    assert!((0..20).all(|c| heat.values[0][c] < heat.values[29][c]));

    for stem in ["grad_through_time", "time_heatmap"] {
        let png = std::fs::read(dir.path().join(format!("{stem}.png"))).expect(stem);
        assert_plot_has_content(&png, stem);
        assert!(
            dir.path().join(format!("{stem}.svg")).exists(),
            "{stem}.svg"
        );
    }
    let html = std::fs::read_to_string(dir.path().join("report.html")).expect("report.html");
    assert!(html.contains("id=\"grad_through_time\"") && html.contains("id=\"time_heatmap\""));
}

#[test]
fn a_feedforward_run_has_no_through_time_plots() {
    let dir = trained("examples/xor.net", "5");
    assert!(!Path::new(&dir.path().join("time_heatmap.png")).exists());
    let run = report::read_run(dir.path()).expect("the run reads back");
    assert!(run.time.is_empty());
}

/// The through-time finding quotes the σ_max(W_hh) the run measured (spectral.csv) beside
/// the bound 1/γ: rnn_exploding starts at radius 3 and its weights grow from there.
#[test]
fn the_through_time_finding_quotes_the_measured_sigma_max() {
    let case = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/diagnosis/rnn_exploding.net");
    let dir = tempfile::tempdir().expect("a temporary folder");
    crate::common::netc_cli()
        .arg("train")
        .arg(&case)
        .args(["--quiet", "--no-report", "--out"])
        .arg(dir.path())
        .output()
        .expect("netc runs");
    let run = netc::report::read_run(dir.path()).expect("the run reads back");
    let ((_, start), _) = run.sigma_max("rnn1", "h").expect("spectral.csv was read");
    assert!((start - 3.0).abs() < 1e-2, "σ_max at the start: {start}");
    let d = netc::health::diagnose(&run);
    let finding = d
        .findings
        .iter()
        .find(|f| f.kind == netc::health::FindingKind::ExplodingThroughTime)
        .expect("an exploding-through-time finding");
    assert!(
        finding
            .evidence
            .iter()
            .any(|e| e.starts_with("measured: σ_max(W_hh) = 3.000 at step 0")
                && e.contains("1/γ = 1.000")),
        "{:?}",
        finding.evidence
    );
}
