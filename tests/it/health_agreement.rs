//! Numbers and words that must agree across the gradient-health channels: `netc analyze`'s
//! verdict follows from its own table, the static lint and the prediction name the same
//! direction, softsign saturates less than tanh by the one saturation statistic, and a
//! deep plain net that trains worse than its shallow twin is not called vanishing.

use crate::common;
use netc::probe::ProbeStat;
use std::path::Path;

/// A dense stack of `depth` layers of `act` with `init` on the blobs, as source text.
fn stack(depth: usize, act: &str, init: &str, steps: usize) -> String {
    format!(
        "model m {{\n    input x: [16]\n    repeat {depth} {{\n        dense 32, act = {act}, init = {init}\n    }}\n    dense 4\n}}\n\ntrain {{\n    data      = blobs(centers = 4, dim = 16, n = 512)\n    loss      = cross_entropy\n    optimizer = sgd(lr = 0.01)\n    batch     = 32\n    steps     = {steps}\n    seed      = 0\n}}\n"
    )
}

fn write(dir: &Path, name: &str, src: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, src).expect("the file writes");
    path
}

/// The numbers of `netc analyze`'s table and verdict line.
struct Analysis {
    gains: Vec<f64>,
    rel: Vec<f64>,
    factor: f64,
    gain: f64,
    above: i32,
    stderr: String,
    verdict: String,
}

fn analyze(file: &Path) -> Analysis {
    let o = common::netc_cli()
        .arg("analyze")
        .arg(file)
        .output()
        .expect("netc runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let rows: Vec<Vec<&str>> = out
        .lines()
        .filter(|l| l.starts_with("dense"))
        .map(|l| l.split_whitespace().collect())
        .collect();
    let column = |i: usize| -> Vec<f64> {
        rows.iter()
            .map(|r| r[i].parse().expect("a number"))
            .collect()
    };
    let verdict = out
        .lines()
        .find(|l| l.contains("per layer on average"))
        .expect("a verdict line")
        .to_owned();
    // "… ≈ 1.234e3× the last layer's … √χ ≈ 2.345 per layer on average over the 7 layers …"
    let after = |key: &str| -> &str {
        verdict
            .split(key)
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .expect("the verdict names the number")
    };
    Analysis {
        gains: column(3),
        rel: column(4),
        factor: after("first layer ≈ ")
            .trim_end_matches('×')
            .parse()
            .expect("a factor"),
        gain: after("√χ ≈ ").parse().expect("a gain"),
        above: after("over the ").parse().expect("a layer count"),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        verdict,
    }
}

/// Relative closeness at the printed precision (4 significant digits).
fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 2e-3 * a.abs().max(b.abs())
}

/// On a tanh net with `normal(0, 1)` every number analyze prints follows from the others:
/// the first layer's ‖∂L/∂a‖ is the product of the gains of the layers above it, the average
/// gain raised to their count is that product, and the lint says "grows", as the prediction.
#[test]
fn analyze_prints_numbers_that_follow_from_each_other_and_the_lint_agrees() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    for (init, word) in [("normal(0, 1)", "grows"), ("normal(0, 0.1)", "shrinks")] {
        let file = write(dir.path(), "stack.net", &stack(10, "tanh", init, 1));
        let a = analyze(&file);
        // Nine gains printed to 3 decimals multiply their rounding errors: 1% is what they allow.
        let product: f64 = a.gains[1..].iter().product();
        assert!(
            (product - a.rel[0]).abs() < 1e-2 * a.rel[0],
            "{init}: Π gains {product} vs {}",
            a.rel[0]
        );
        assert!(
            close(a.rel[0], a.factor),
            "{init}: {} vs {}",
            a.rel[0],
            a.factor
        );
        assert_eq!(a.above as usize, a.gains.len() - 1, "{}", a.verdict);
        assert!(
            close(a.gain.powi(a.above), a.factor),
            "{init}: {}^{} vs {}",
            a.gain,
            a.above,
            a.factor
        );
        assert!(
            a.stderr
                .contains(&format!("back-propagated gradient {word}")),
            "{init}: {}",
            a.stderr
        );
        let exploding = a.verdict.contains("EXPLODING");
        assert_eq!(exploding, word == "grows", "{init}: {}", a.verdict);
    }
}

/// The median saturation over every layer and recorded step of a run of `src`.
fn median_saturation(dir: &Path, name: &str, src: &str) -> f64 {
    let file = write(dir, &format!("{name}.net"), src);
    let out = dir.join(name);
    let o = common::netc_cli()
        .arg("train")
        .arg(&file)
        .args(["--quiet", "--no-report", "--out"])
        .arg(&out)
        .output()
        .expect("netc runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let run = netc::report::read_run(&out).expect("the run reads back");
    let hidden = run.layers.len() - 1;
    let mut values: Vec<f64> = run
        .probe_steps()
        .iter()
        .flat_map(|&s| (0..hidden).map(move |i| (s, i)))
        .filter_map(|(s, i)| run.probe(s, i, ProbeStat::Saturation))
        .collect();
    assert!(!values.is_empty(), "{name} recorded no saturation");
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Glorot & Bengio (2010): at the same pre-activations softsign's polynomial tails leave more
/// units with a usable slope than tanh's exponential ones. With `normal(0, 0.3)` on 32 inputs
/// the pre-activations have σ ≈ 1.7 (after the first layer): tanh' < 0.05 beyond |z| ≈ 2.2,
/// softsign' < 0.05 beyond |z| ≈ 3.5, so tanh saturates about twice as many units.
#[test]
fn softsign_saturates_less_than_tanh() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let tanh = median_saturation(dir.path(), "tanh", &stack(5, "tanh", "normal(0, 0.3)", 20));
    let softsign = median_saturation(
        dir.path(),
        "softsign",
        &stack(5, "softsign", "normal(0, 0.3)", 20),
    );
    assert!(tanh > 0.05, "tanh saturates: {tanh}");
    assert!(
        softsign < 0.75 * tanh,
        "softsign {softsign} against tanh {tanh}"
    );
}

/// The final training loss: the mean of the last 50 steps' losses in metrics.jsonl.
fn final_loss(dir: &Path) -> f64 {
    let text = std::fs::read_to_string(dir.join("metrics.jsonl")).expect("metrics.jsonl reads");
    let losses: Vec<f64> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["loss"].as_f64())
        .collect();
    let tail = &losses[losses.len().saturating_sub(50)..];
    tail.iter().sum::<f64>() / tail.len() as f64
}

/// He et al. (2016)'s degradation on the digits: the twenty-layer plain net trains to a clearly
/// worse loss than its two-layer twin, while its gradients reach every layer; the diagnosis
/// of each is checked against its labels by `diagnosis`, this checks that the deep one is
/// really worse, so the case shows degradation and not an easier net.
#[test]
fn the_deep_plain_net_trains_worse_than_the_shallow_one() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/diagnosis");
    let dir = tempfile::tempdir().expect("a temporary folder");
    let mut losses = Vec::new();
    for case in ["degradation_deep", "degradation_shallow"] {
        let out = dir.path().join(case);
        let o = common::netc_cli()
            .arg("train")
            .arg(data.join(format!("{case}.net")))
            .args(["--quiet", "--no-report", "--out"])
            .arg(&out)
            .output()
            .expect("netc runs");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let run = netc::report::read_run(&out).expect("the run reads back");
        let d = netc::health::diagnose(&run);
        assert!(!d.has(netc::health::FindingKind::Vanishing), "{case}");
        losses.push(final_loss(&out));
    }
    assert!(
        losses[0] > 1.5 * losses[1],
        "deep {} against shallow {}",
        losses[0],
        losses[1]
    );
}
