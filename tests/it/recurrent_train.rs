//! The recurrent examples as a user runs them: the vanilla RNN's gradient vanishes through
//! time, the large-radius RNN explodes and its clipped twin trains, and the LSTM solves an
//! adding problem that the RNN of the same size and budget does not.

use std::path::Path;
use std::process::{Command, Output};

fn netc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_netc"))
        .args(args)
        .output()
        .expect("netc runs")
}

/// Trains `file` into `out`; returns the JSON report of the end event.
fn train(file: &str, out: &Path) -> serde_json::Value {
    let o = netc(&["train", file, "--json", "--out", out.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    let end = stdout
        .lines()
        .rev()
        .find(|l| l.contains("\"event\":\"end\""))
        .unwrap_or_else(|| panic!("no end event: {}", String::from_utf8_lossy(&o.stderr)));
    serde_json::from_str(end).expect("JSON")
}

fn valid_loss(r: &serde_json::Value) -> f64 {
    r["report"]["last_eval"]["valid_loss"]
        .as_f64()
        .unwrap_or_else(|| panic!("a validation loss in {r}"))
}

/// ‖∂L/∂h_t‖ of `layer` at every t of the recorded `step`, from probes_time.csv.
fn grad_through_time(dir: &Path, step: u64, layer: &str) -> Vec<f64> {
    let text = std::fs::read_to_string(dir.join("probes_time.csv")).expect("probes_time.csv");
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("step,layer,t,grad_h_norm"));
    let mut rows: Vec<(usize, f64)> = lines
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].parse::<u64>().ok()? == step && f[1] == layer)
                .then(|| (f[2].parse().unwrap(), f[3].parse().unwrap()))
        })
        .collect();
    rows.sort_by_key(|r| r.0);
    rows.into_iter().map(|r| r.1).collect()
}

#[test]
fn vanilla_rnn_gradient_vanishes_through_time() {
    let dir = tempfile::tempdir().unwrap();
    let r = train("examples/rnn_adding.net", dir.path());
    assert_eq!(r["report"]["stop"], "Finished", "{r}");
    for step in [1, 40, 80] {
        let g = grad_through_time(dir.path(), step, "rnn1");
        assert_eq!(g.len(), 100);
        // orders of magnitude between the last step and the first
        assert!(
            g[99] > 1e6 * g[0],
            "step {step}: ‖∂L/∂h_99‖ {} vs h_0 {}",
            g[99],
            g[0]
        );
        assert!(
            g[99] > 10.0 * g[75] && g[75] > 10.0 * g[50],
            "step {step}: {g:?}"
        );
    }
    let gates = std::fs::read_to_string(dir.path().join("probes_gates.csv")).unwrap();
    assert!(
        gates.starts_with("step,layer,gate,gate_saturation\n1,rnn1,h,"),
        "{gates}"
    );
}

#[test]
fn large_radius_rnn_explodes_and_its_clipped_twin_trains() {
    let dir = tempfile::tempdir().unwrap();
    let o = netc(&[
        "train",
        "examples/rnn_exploding.net",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert!(!o.status.success(), "the exploding run fails");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("exploded"), "{stdout}");
    let g = grad_through_time(dir.path(), 1, "rnn1");
    assert!(g[0] > 1e4 * g[49], "gradient grows toward t = 0: {g:?}");

    let clipped = tempfile::tempdir().unwrap();
    let r = train("examples/rnn_exploding_clipped.net", clipped.path());
    assert_eq!(r["report"]["stop"], "Finished", "{r}");
    assert!(valid_loss(&r) < 0.2, "{r}");
    // σ_max(W_hh) at init is the chosen radius, above Pascanu's 1/γ = 1 for tanh
    let spectral = std::fs::read_to_string(clipped.path().join("spectral.csv")).unwrap();
    let first: Vec<&str> = spectral.lines().nth(1).unwrap().split(',').collect();
    assert_eq!(&first[..3], &["0", "rnn1", "h"], "{spectral}");
    assert!(
        (first[3].parse::<f64>().unwrap() - 3.0).abs() < 1e-4,
        "{spectral}"
    );
    assert_eq!(first[6], "may_explode");
    assert_eq!(spectral.lines().count(), 3, "init and end rows: {spectral}");
}

#[test]
fn lstm_solves_the_adding_problem_where_the_rnn_fails() {
    let dir = tempfile::tempdir().unwrap();
    let lstm = train("examples/lstm_adding.net", dir.path());
    assert!(valid_loss(&lstm) < 0.01, "lstm: {lstm}");
    let dir = tempfile::tempdir().unwrap();
    let rnn = train("examples/rnn_adding_30.net", dir.path());
    assert!(valid_loss(&rnn) > 0.1, "rnn: {rnn}");
    let gates = std::fs::read_to_string(dir.path().join("probes_gates.csv")).unwrap();
    assert!(gates.lines().count() > 1);
}

#[test]
fn csv_sequences_train_and_a_wrong_width_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    // one row per sequence: T = 3 steps × d = 2 values, step-major; y = first + last value
    let mut csv = String::from("a0,b0,a1,b1,a2,b2,y\n");
    for i in 0..120 {
        let v: Vec<f64> = (0..6)
            .map(|k| ((i * 7 + k * 13) % 17) as f64 / 17.0)
            .collect();
        let row: Vec<String> = v.iter().map(|x| format!("{x:.4}")).collect();
        csv.push_str(&format!("{},{:.4}\n", row.join(","), v[0] + v[4]));
    }
    std::fs::write(dir.path().join("seq.csv"), csv).unwrap();
    let net = |steps: usize| {
        format!(
            "model s {{\n    input x: seq({steps}, 2)\n    gru 4\n    dense 1\n}}\n\
             train {{\n    data = csv(\"seq.csv\", target = \"y\", task = regression)\n    \
             loss = mse\n    batch = 8\n    epochs = 2\n}}\n"
        )
    };
    let good = dir.path().join("good.net");
    std::fs::write(&good, net(3)).unwrap();
    let r = train(good.to_str().unwrap(), &dir.path().join("run"));
    assert_eq!(r["report"]["stop"], "Finished", "{r}");

    let bad = dir.path().join("bad.net");
    std::fs::write(&bad, net(4)).unwrap();
    let o = netc(&[
        "train",
        bad.to_str().unwrap(),
        "--out",
        dir.path().join("run2").to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        text.contains("netc::data::width_mismatch") && text.contains("seq(4, 2)"),
        "{text}"
    );
}
