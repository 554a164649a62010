//! Recurrent layers: finite-difference gradchecks (f64) of rnn, lstm and gru unrolled through
//! time, the JIT against the interpreter on whole training steps, hand-computed cells that pin
//! PyTorch's gate order, the recurrent inits, the sequence tasks and the checker's errors.

use crate::common;

use common::*;
use netc::codegen::{compile, JitOptions};
use netc::ir::{interp, Tensor};
use netc::lower::{lower, LowerOptions};
use netc::model::{DataSource, Loss, Model};
use netc::step::{build_step, StepOptions};
use std::collections::HashMap;

fn source(input: &str, layers: &str, data: &str, loss: &str) -> String {
    format!(
        "model m {{\n    input x: {input}\n{layers}\n}}\ntrain {{\n    data = {data}\n    \
         loss = {loss}\n    optimizer = adam(lr = 0.01)\n    batch = 4\n    steps = 1\n    seed = 3\n}}\n"
    )
}

fn checked(src: &str) -> Model {
    let c = netc::sema::check_source("test.net", src, &[]);
    c.model
        .unwrap_or_else(|| panic!("{src}\n{:#?}", c.diagnostics))
}

/// The checker's diagnostics and, when the model checks, the gradient-health lints.
fn diagnostics(src: &str) -> Vec<String> {
    let checked = netc::sema::check_source("test.net", src, &[]);
    let lints = checked.model.as_ref().map(netc::health::lint::check);
    checked
        .diagnostics
        .iter()
        .chain(lints.iter().flatten())
        .map(|d| d.code.to_string())
        .collect()
}

/// A model over the adding task (T = 4, d = 2) with `layers`.
fn adding_model(layers: &str) -> Model {
    checked(&source(
        "seq(4, 2)",
        layers,
        "adding(steps = 4, n = 16)",
        "mse",
    ))
}

fn assert_gradients(model: &Model, what: &str) {
    let checked = assert_model_gradients(model, what, 5);
    assert!(checked >= 5, "{what}: checked {checked}");
}

#[test]
fn rnn_cells_gradcheck_through_time() {
    for act in ["tanh", "sigmoid", "relu"] {
        let m = adding_model(&format!("    rnn 3, act = {act}\n    dense 1"));
        assert_gradients(&m, &format!("rnn {act}"));
    }
}

#[test]
fn lstm_gradchecks_through_time() {
    assert_gradients(&adding_model("    lstm 3\n    dense 1"), "lstm");
    assert_gradients(
        &adding_model("    lstm 3, bias = false\n    dense 1"),
        "lstm without bias",
    );
}

#[test]
fn gru_gradchecks_through_time() {
    assert_gradients(&adding_model("    gru 3\n    dense 1"), "gru");
    assert_gradients(
        &adding_model("    gru 3, bias = false\n    dense 1"),
        "gru without bias",
    );
}

#[test]
fn stacked_layers_and_a_per_step_head_gradcheck() {
    let m = checked(&source(
        "seq(4, 1)",
        "    gru 3, return = all\n    lstm 3, return = all\n    rnn 2, return = all\n    dense 1",
        // a CSV with 4 targets per sequence (not read: gradcheck feeds random [B, 4] targets)
        "csv(\"per_step.csv\", target = \"y\", task = regression)",
        "mse",
    ));
    assert_eq!(m.output_shape, vec![4, 1]);
    assert_gradients(&m, "stacked");
}

#[test]
fn classification_over_the_last_step_gradchecks() {
    let m = checked(&source(
        "seq(5, 6)",
        "    lstm 4\n    dense 4",
        "temporal_order(steps = 5, n = 16)",
        "cross_entropy",
    ));
    assert_gradients(&m, "temporal order");
}

/// Runs the whole training step (forward, BPTT, probes, clipping, Adam) on both backends.
fn jit_matches_interp(model: &Model, what: &str) {
    let program = build_step(model, 4, &StepOptions { probes: true });
    let env64 = random_env(&program.graph, model.train.loss, 9);
    let env = to_f32(&env64);
    let want = interp::run(&program.graph, &env).expect("interp runs");
    let mut kernel = compile(&program.graph, &JitOptions::default()).expect("compiles");
    let got = kernel.run(&env).expect("jit runs");
    let mut compared = 0;
    for (o, (w, j)) in program.graph.outputs.iter().zip(want.iter().zip(&got)) {
        assert_eq!(w.shape, j.shape, "{what}: {}", o.name);
        let scale = w.data.iter().fold(0f32, |m, v| m.max(v.abs()));
        for (a, b) in j.data.iter().zip(&w.data) {
            assert!(
                (a - b).abs() <= 1e-4 * (1.0 + scale),
                "{what}: {} jit {a} vs interp {b}",
                o.name
            );
            compared += 1;
        }
    }
    assert!(compared > 100, "{what}: compared {compared}");
    let time_probes = program
        .graph
        .outputs
        .iter()
        .filter(|o| o.name.contains(".grad_h_norm."))
        .count();
    assert!(
        time_probes >= 4,
        "{what}: {time_probes} through-time probes"
    );
}

#[test]
fn jit_agrees_with_the_interpreter_on_recurrent_steps() {
    jit_matches_interp(&adding_model("    rnn 5\n    dense 1"), "rnn");
    jit_matches_interp(&adding_model("    lstm 5\n    dense 1"), "lstm");
    jit_matches_interp(
        &adding_model("    gru 5, return = all\n    rnn 3\n    dense 1"),
        "gru+rnn",
    );
}

/// Forward value of a model's output on given parameters and inputs.
fn forward(model: &Model, params: &[(&str, Vec<f64>)], x: Vec<f64>) -> Vec<f64> {
    let fwd = lower(model, &LowerOptions::eval(1));
    let mut env: HashMap<String, Tensor<f64>> = HashMap::new();
    for (name, shape) in fwd.graph.inputs().into_iter().chain(fwd.graph.params()) {
        let n = shape.iter().product();
        let data = match name {
            "x" => x.clone(),
            _ => params
                .iter()
                .find(|(p, _)| *p == name)
                .map_or(vec![1.0; n], |(_, v)| v.clone()),
        };
        env.insert(name.to_owned(), Tensor::new(shape.to_vec(), data));
    }
    let mut g = fwd.graph;
    g.add_output("out", fwd.output, netc::ir::Role::Value);
    let outs = interp::run(&g, &env).expect("runs");
    outs.last().expect("an output").data.clone()
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

#[test]
fn lstm_follows_pytorch_gate_order_by_hand() {
    // One unit, one feature, two steps; gates i, f, g, o get distinct weights so a wrong
    // order changes the result. Head: dense 1 with weight 1 and bias 0 (identity).
    let m = checked(&source(
        "seq(2, 1)",
        "    lstm 1\n    dense 1",
        "noisy_sine(steps = 2, n = 16)",
        "mse",
    ));
    let w_ih = vec![0.5, -0.3, 0.8, 0.2];
    let w_hh = vec![0.1, 0.4, -0.6, 0.7];
    let b_ih = vec![0.05, 0.9, -0.1, 0.0];
    let b_hh = vec![0.0, 0.1, 0.2, -0.05];
    let x = [0.7, -1.2];
    let params = [
        ("lstm1.weight_ih", w_ih.clone()),
        ("lstm1.weight_hh", w_hh.clone()),
        ("lstm1.bias_ih", b_ih.clone()),
        ("lstm1.bias_hh", b_hh.clone()),
        ("dense1.weight", vec![1.0]),
        ("dense1.bias", vec![0.0]),
    ];
    let got = forward(&m, &params, x.to_vec());
    // PyTorch: gates = W_ih·x + b_ih + W_hh·h + b_hh, split i, f, g, o;
    // c' = σ(f)·c + σ(i)·tanh(g); h' = σ(o)·tanh(c').
    let (mut h, mut c) = (0.0, 0.0);
    for xt in x {
        let z: Vec<f64> = (0..4)
            .map(|k| w_ih[k] * xt + b_ih[k] + w_hh[k] * h + b_hh[k])
            .collect();
        c = sigmoid(z[1]) * c + sigmoid(z[0]) * z[2].tanh();
        h = sigmoid(z[3]) * c.tanh();
    }
    assert!((got[0] - h).abs() < 1e-12, "lstm {} vs hand {h}", got[0]);
}

#[test]
fn gru_follows_pytorch_by_hand() {
    let m = checked(&source(
        "seq(2, 1)",
        "    gru 1\n    dense 1",
        "noisy_sine(steps = 2, n = 16)",
        "mse",
    ));
    let w_ih = vec![0.5, -0.3, 0.8];
    let w_hh = vec![0.1, 0.4, -0.6];
    let b_ih = vec![0.05, 0.9, -0.1];
    let b_hh = vec![0.3, 0.1, 0.2];
    let x = [0.7, -1.2];
    let params = [
        ("gru1.weight_ih", w_ih.clone()),
        ("gru1.weight_hh", w_hh.clone()),
        ("gru1.bias_ih", b_ih.clone()),
        ("gru1.bias_hh", b_hh.clone()),
        ("dense1.weight", vec![1.0]),
        ("dense1.bias", vec![0.0]),
    ];
    let got = forward(&m, &params, x.to_vec());
    // PyTorch: r = σ(W_ir·x + b_ir + W_hr·h + b_hr), z likewise,
    // n = tanh(W_in·x + b_in + r·(W_hn·h + b_hn)), h' = (1 − z)·n + z·h.
    let mut h = 0.0;
    for xt in x {
        let r = sigmoid(w_ih[0] * xt + b_ih[0] + w_hh[0] * h + b_hh[0]);
        let z = sigmoid(w_ih[1] * xt + b_ih[1] + w_hh[1] * h + b_hh[1]);
        let n = (w_ih[2] * xt + b_ih[2] + r * (w_hh[2] * h + b_hh[2])).tanh();
        h = (1.0 - z) * n + z * h;
    }
    assert!((got[0] - h).abs() < 1e-12, "gru {} vs hand {h}", got[0]);
}

#[test]
fn recurrent_parameters_have_pytorch_names_and_shapes() {
    let m = checked(&source(
        "seq(5, 1)",
        "    lstm 4, return = all\n    gru 2\n    dense 1",
        "noisy_sine(steps = 5, n = 16)",
        "mse",
    ));
    let fwd = lower(&m, &LowerOptions::train(2));
    let shapes: Vec<(String, Vec<usize>)> = fwd
        .params
        .iter()
        .map(|p| (p.name.clone(), p.shape.clone()))
        .collect();
    let want = [
        ("lstm1.weight_ih", vec![16, 1]),
        ("lstm1.weight_hh", vec![16, 4]),
        ("lstm1.bias_ih", vec![16]),
        ("lstm1.bias_hh", vec![16]),
        ("gru1.weight_ih", vec![6, 4]),
        ("gru1.weight_hh", vec![6, 2]),
        ("gru1.bias_ih", vec![6]),
        ("gru1.bias_hh", vec![6]),
    ];
    for (name, shape) in want {
        assert!(
            shapes.iter().any(|(n, s)| n == name && *s == shape),
            "{name} {shape:?} missing from {shapes:?}"
        );
    }
}

#[test]
fn recurrent_inits_blocks_radius_and_forget_bias() {
    let m = checked(&source(
        "seq(3, 2)",
        "    lstm 8, init_rec = orthogonal(1.0), radius = 0.5, forget_bias = 2.0\n    dense 1",
        "adding(steps = 3, n = 16)",
        "mse",
    ));
    let fwd = lower(&m, &LowerOptions::train(2));
    let store = netc::runtime::train::initial_params(&m, &fwd.params);
    let w = store.get("lstm1.weight_hh").expect("weight_hh");
    for gate in 0..4 {
        let block = &w.data[gate * 64..(gate + 1) * 64];
        let sigma = netc::health::spectral::sigma_max(block, 8, 8);
        assert!((sigma - 0.5).abs() < 1e-4, "gate {gate}: σ_max {sigma}");
        // An orthogonal block rescaled stays a multiple of an orthogonal matrix: all its
        // singular values are 0.5, so its Frobenius norm² is 8·0.25.
        let frob: f64 = block.iter().map(|&v| f64::from(v).powi(2)).sum();
        assert!((frob - 2.0).abs() < 1e-3, "gate {gate}: ‖W‖² {frob}");
    }
    let b_ih = store.get("lstm1.bias_ih").expect("bias_ih");
    let b_hh = store.get("lstm1.bias_hh").expect("bias_hh");
    for k in 8..16 {
        assert_eq!(b_ih.data[k] + b_hh.data[k], 2.0);
    }
    assert!(b_ih.data[..8].iter().all(|v| v.abs() <= 1.0 / 8f32.sqrt()));
}

fn generated(data: &str, steps: usize, dim: usize, loss: &str) -> netc::data::Dataset {
    let head = if loss == "mse" { 1 } else { 4 };
    let m = checked(&source(
        &format!("seq({steps}, {dim})"),
        &format!("    rnn 2\n    dense {head}"),
        data,
        loss,
    ));
    let DataSource::Synthetic(set) = &m.train.data else {
        panic!("synthetic")
    };
    netc::data::generate(set, 7, m.train.loss).expect("generates")
}

#[test]
fn adding_problem_targets_are_the_sum_of_the_marked_values() {
    let set = generated("adding(steps = 10, n = 50)", 10, 2, "mse");
    assert_eq!(set.x.shape, vec![50, 20]);
    for row in 0..50 {
        let x = &set.x.data[row * 20..(row + 1) * 20];
        let marked: Vec<usize> = (0..10).filter(|t| x[2 * t + 1] == 1.0).collect();
        assert_eq!(marked.len(), 2, "row {row}");
        assert!(marked[0] < 5 && marked[1] >= 5, "{marked:?}");
        let sum = x[2 * marked[0]] + x[2 * marked[1]];
        assert!((set.y.data[row] - sum).abs() < 1e-6);
    }
    let again = generated("adding(steps = 10, n = 50)", 10, 2, "mse");
    assert_eq!(set.x.data, again.x.data, "same seed, same bytes");
}

#[test]
fn memory_and_temporal_order_label_what_the_sequence_holds() {
    let set = generated(
        "memory(steps = 6, symbols = 4, n = 40)",
        6,
        5,
        "cross_entropy",
    );
    let labels = set.labels.clone().expect("labels");
    for (row, &label) in labels.iter().enumerate() {
        let first = &set.x.data[row * 30..row * 30 + 5];
        assert_eq!(first[label], 1.0);
        assert_eq!(
            set.x.data[row * 30 + 5 + 4],
            1.0,
            "blank channel after step 0"
        );
    }
    let set = generated("temporal_order(steps = 8, n = 40)", 8, 6, "cross_entropy");
    let labels = set.labels.clone().expect("labels");
    for (row, &label) in labels.iter().enumerate() {
        let x = &set.x.data[row * 48..(row + 1) * 48];
        let relevant: Vec<usize> = (0..8)
            .filter_map(|t| (4..6).find(|&s| x[t * 6 + s] == 1.0).map(|s| s - 4))
            .collect();
        assert_eq!(relevant.len(), 2, "row {row}");
        assert_eq!(label, 2 * relevant[0] + relevant[1]);
    }
}

#[test]
fn noisy_sine_targets_continue_the_wave() {
    let set = generated("noisy_sine(steps = 30, n = 20, noise = 0)", 30, 1, "mse");
    for row in 0..20 {
        let x = &set.x.data[row * 30..(row + 1) * 30];
        // a sine obeys s(t+1) = 2cos(ω)s(t) − s(t−1); recover 2cos ω from three values
        let k = (x[2] + x[0]) / x[1];
        let next = k * x[29] - x[28];
        if x[1].abs() > 0.1 {
            assert!((set.y.data[row] - next).abs() < 1e-3, "row {row}");
        }
    }
}

#[test]
fn checker_reports_recurrent_mistakes() {
    let on_vector = source("[4]", "    lstm 8\n    dense 1", "sine(n = 16)", "mse");
    assert!(diagnostics(&on_vector).contains(&"netc::shape::recurrent_input".to_string()));
    let bad_act = source(
        "seq(4, 2)",
        "    rnn 8, act = gelu\n    dense 1",
        "adding(steps = 4, n = 16)",
        "mse",
    );
    assert!(diagnostics(&bad_act).contains(&"netc::arg::unsupported_act".to_string()));
    let stacked_last = source(
        "seq(4, 2)",
        "    rnn 8\n    rnn 8\n    dense 1",
        "adding(steps = 4, n = 16)",
        "mse",
    );
    assert!(diagnostics(&stacked_last).contains(&"netc::shape::recurrent_input".to_string()));
    let per_step_head = source(
        "seq(4, 2)",
        "    rnn 8, return = all\n    dense 1",
        "adding(steps = 4, n = 16)",
        "mse",
    );
    assert!(diagnostics(&per_step_head).contains(&"netc::data::output_mismatch".to_string()));
    let wrong_steps = source(
        "seq(5, 2)",
        "    rnn 8\n    dense 1",
        "adding(steps = 4, n = 16)",
        "mse",
    );
    assert!(diagnostics(&wrong_steps).contains(&"netc::data::input_mismatch".to_string()));
    let bad_return = source(
        "seq(4, 2)",
        "    rnn 8, return = first\n    dense 1",
        "adding(steps = 4, n = 16)",
        "mse",
    );
    assert!(diagnostics(&bad_return).contains(&"netc::name::unknown_choice".to_string()));
    let _ = Loss::Mse;
}

#[test]
fn pascanu_bound_warns_when_vanishing_is_guaranteed() {
    let warn = "netc::lint::vanishing_through_time".to_string();
    let rnn = |settings: &str| {
        source(
            "seq(50, 2)",
            &format!("    rnn 16{settings}\n    dense 1"),
            "adding(steps = 50, n = 16)",
            "mse",
        )
    };
    // tanh, σ_max = 0.5 < 1: bound 0.5^49
    assert!(diagnostics(&rnn(", init_rec = orthogonal(0.5)")).contains(&warn));
    // sigmoid, γ = 1/4: σ_max must reach 4
    assert!(diagnostics(&rnn(", act = sigmoid, radius = 3.0")).contains(&warn));
    assert!(!diagnostics(&rnn(", act = sigmoid, radius = 4.0")).contains(&warn));
    // tanh at σ_max = 1 or above: the bound guarantees nothing
    assert!(!diagnostics(&rnn(", init_rec = identity(1.0)")).contains(&warn));
    // gated cells are outside the plain bound
    let lstm = source(
        "seq(50, 2)",
        "    lstm 16, init_rec = orthogonal(0.1)\n    dense 1",
        "adding(steps = 50, n = 16)",
        "mse",
    );
    assert!(!diagnostics(&lstm).contains(&warn));
    let p = netc::health::spectral::predict(0.5, 1.0);
    assert_eq!(p.regime, netc::health::spectral::Regime::Vanishing);
    assert!((p.bound_after(10) - 0.5f64.powi(10)).abs() < 1e-15);
}
