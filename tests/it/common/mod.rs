//! Helpers shared by the integration tests: here, hand-built checked models for tests of
//! lowering, the step program and the backends, so those stages are tested without going
//! through the front end; in `data`, loading CSV fixtures and rendering their errors; in
//! `plots`, decoding the PNGs of drawn plots.
#![allow(dead_code)]

pub mod data;
pub mod plots;

use netc::ir::{Role, Tensor};
use netc::model::*;
use netc::runtime::exec::{self, Backend};
use netc::span::Span;
use netc::step::{build_step, StepOptions};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;

/// The netc binary, run from the crate root without colour.
pub fn netc_cli() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_netc"));
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1");
    command
}

pub fn dense(name: &str, inp: usize, units: usize, act: Activation) -> Layer {
    let init = Init::XavierNormal { gain: 1.0 };
    let bias_init = Init::Normal {
        mean: 0.0,
        std: 0.1,
    };
    let kind = LayerKind::Dense {
        units,
        bias: true,
        act,
        init,
        bias_init,
    };
    layer(name, kind, vec![inp], vec![units])
}

pub fn layer(name: &str, kind: LayerKind, in_shape: Vec<usize>, out_shape: Vec<usize>) -> Layer {
    Layer {
        name: name.to_owned(),
        kind,
        span: Span::new(0, 1),
        in_shape,
        out_shape,
    }
}

pub fn train_config(loss: Loss, optimizer: Optimizer) -> TrainConfig {
    TrainConfig {
        data: DataSource::Synthetic(Synthetic {
            kind: SyntheticKind::Xor,
            n: 64,
            noise: 0.0,
            split: 1.0,
        }),
        loss,
        optimizer,
        schedule: Schedule::Constant,
        clip: Clip::None,
        l2: 0.0,
        batch: 4,
        epochs: 1,
        steps: None,
        seed: 7,
        probes: ProbeConfig {
            enabled: true,
            every: 1,
            keep: None,
        },
        on_nonfinite: OnNonFinite::Stop,
        checkpoint_every: 100,
        span: Span::new(0, 1),
    }
}

pub fn model(input: usize, layers: Vec<Layer>, loss: Loss) -> Model {
    let output_shape = layers.last().map_or(vec![input], |l| l.out_shape.clone());
    Model {
        name: "test".into(),
        span: Span::new(0, 1),
        input: Input {
            name: "x".into(),
            kind: InputKind::Tensor { shape: vec![input] },
            span: Span::new(0, 1),
        },
        layers,
        output_shape,
        train: train_config(
            loss,
            Optimizer::Sgd {
                lr: 0.1,
                momentum: 0.0,
                nesterov: false,
            },
        ),
    }
}

/// Random values for every input and parameter of a graph: gaussian features and weights,
/// targets valid for the loss, all rows counted.
pub fn random_env(g: &netc::ir::Graph, loss: Loss, seed: u64) -> HashMap<String, Tensor<f64>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut env = HashMap::new();
    for (name, shape) in g.inputs().into_iter().chain(g.params()) {
        let n: usize = shape.iter().product();
        let data: Vec<f64> = match name {
            "y" => match loss {
                Loss::CrossEntropy => {
                    let k = shape[1];
                    let mut y = vec![0.0; n];
                    for row in 0..shape[0] {
                        y[row * k + rng.random_range(0..k)] = 1.0;
                    }
                    y
                }
                Loss::BinaryCrossEntropy => (0..n)
                    .map(|_| f64::from(u8::from(rng.random::<bool>())))
                    .collect(),
                Loss::Mse => (0..n).map(|_| rng.random_range(-1.0..1.0)).collect(),
            },
            "mask" | "step" | "lr" => vec![1.0; n],
            n_ if n_.ends_with("running_var")
                || n_.contains("exp_avg_sq")
                || n_.ends_with(".sum")
                || n_.ends_with("square_avg") =>
            {
                (0..n).map(|_| rng.random_range(0.5..1.5)).collect()
            }
            _ => (0..n).map(|_| rng.random_range(-1.0..1.0)).collect(),
        };
        env.insert(name.to_owned(), Tensor::new(shape.to_vec(), data));
    }
    env
}

pub fn to_f32(env: &HashMap<String, Tensor<f64>>) -> HashMap<String, Tensor<f32>> {
    env.iter().map(|(k, v)| (k.clone(), v.to_f32())).collect()
}

/// Every activation of the language.
pub fn all_activations() -> Vec<Activation> {
    Activation::ALL.to_vec()
}

/// Runs `steps` steps of the same program on both backends from the same start and compares
/// every output after every step, until the run diverges (a loss above 10⁶ or a gradient norm
/// that is not finite), past which f32 rounding differences are amplified without bound.
pub fn compare_backends(m: &Model, batch: usize, steps: usize) {
    let program = build_step(m, batch, &StepOptions::default());
    // Random inputs and optimizer state; the model's own initial parameters (random weights
    // would put a recurrent net in its chaotic regime, where f32 rounding decides the result).
    let mut env = to_f32(&random_env(&program.graph, m.train.loss, 3));
    for (name, t) in netc::runtime::train::initial_params(m, &program.params).iter() {
        env.insert(name.to_owned(), t.clone());
    }
    let mut interp = exec::compile(&program.graph, Backend::Interp).expect("interp");
    let mut jit = exec::compile(&program.graph, Backend::Jit).expect("jit compiles");
    for (name, t) in &env {
        interp.set_leaf(name, &t.data).unwrap();
        jit.set_leaf(name, &t.data).unwrap();
    }
    for t in 1..=steps {
        for p in [&mut interp, &mut jit] {
            p.set_leaf("step", &[t as f32]).unwrap();
            p.set_leaf("lr", &[0.05]).unwrap();
            p.run().unwrap();
        }
        let loss = program
            .graph
            .outputs
            .iter()
            .position(|o| o.name == "loss")
            .expect("loss");
        let l = interp.output(loss)[0];
        if l.is_nan() || l.abs() >= 1e6 {
            break;
        }
        for (i, out) in program.graph.outputs.iter().enumerate() {
            let (a, b) = (interp.output(i), jit.output(i));
            for (x, y) in a.iter().zip(b) {
                let tol = match out.role {
                    // counts of saturated units can flip on a value at the threshold
                    Role::Probe {
                        stat: netc::probe::ProbeStat::Saturation,
                        ..
                    } => 0.2,
                    _ => 2e-4 * (1.0 + x.abs()),
                };
                assert!(
                    x == y || (x.is_nan() && y.is_nan()) || (x - y).abs() <= tol,
                    "step {t}, output {}: interp {x}, jit {y}",
                    out.name
                );
            }
        }
        let grad_norm = program
            .graph
            .outputs
            .iter()
            .position(|o| o.name == "grad_norm")
            .expect("grad_norm");
        if !interp.output(grad_norm)[0].is_finite() {
            break;
        }
        interp.apply_updates();
        jit.apply_updates();
    }
}

/// Relative error a gradcheck in f64 passes with; round-off leaves ~1e-9, a wrong rule is off
/// by far more.
pub const GRADCHECK_TOLERANCE: f64 = 1e-6;

/// Checks ∂loss/∂(every trainable parameter and the input) of `model`'s lowered forward graph
/// (dropout off) against central finite differences in f64, on random values from `seed`;
/// returns how many tensors were checked.
pub fn assert_model_gradients(model: &Model, what: &str, seed: u64) -> usize {
    use netc::gradcheck::{gradcheck, Options};
    use netc::lower::{lower, LowerOptions};
    let fwd = lower(
        model,
        &LowerOptions {
            dropout: false,
            ..LowerOptions::train(3)
        },
    );
    let env = random_env(&fwd.graph, model.train.loss, seed);
    let mut names: Vec<&str> = fwd
        .params
        .iter()
        .filter(|p| p.kind.trainable())
        .map(|p| p.name.as_str())
        .collect();
    names.push("x");
    let errors =
        gradcheck(&fwd.graph, fwd.loss, &names, &env, &Options::default()).expect("gradcheck runs");
    for e in &errors {
        assert!(
            e.max_rel_error <= GRADCHECK_TOLERANCE,
            "{what}: ∂L/∂{} off by {:.2e} (analytic {}, numeric {})",
            e.name,
            e.max_rel_error,
            e.analytic,
            e.numeric
        );
    }
    errors.len()
}

/// A model whose loss is (w − y)² for its single weight w: dense 1→1 without bias, identity,
/// MSE, fed x = 1.
pub fn square_model(opt: Optimizer) -> Model {
    let kind = LayerKind::Dense {
        units: 1,
        bias: false,
        act: Activation::Identity,
        init: Init::Constant(0.5),
        bias_init: Init::Zeros,
    };
    let mut m = model(1, vec![layer("w", kind, vec![1], vec![1])], Loss::Mse);
    m.train.optimizer = opt;
    m.train.batch = 1;
    m
}

/// The weight after each of `steps` steps from w = 0.5 with lr 0.1 and target `y` (so
/// ∂L/∂w = 2(w − y)), on `backend`, with every optimizer state at zero to begin with (as the
/// runtime starts it).
pub fn square_weights_after(opt: Optimizer, steps: usize, y: f32, backend: Backend) -> Vec<f64> {
    let m = square_model(opt);
    let program = build_step(&m, 1, &StepOptions::default());
    let mut p = exec::compile(&program.graph, backend).expect("compiles");
    p.set_leaf("w.weight", &[0.5]).expect("the weight");
    for s in &program.state {
        let zeros = vec![0.0; s.shape.iter().product()];
        p.set_leaf(&s.name, &zeros).expect("a state tensor");
    }
    let mut out = Vec::new();
    for t in 1..=steps {
        for (name, v) in [
            ("x", 1.0),
            ("y", y),
            ("mask", 1.0),
            ("step", t as f32),
            ("lr", 0.1),
        ] {
            p.set_leaf(name, &[v]).expect("an input");
        }
        p.run().expect("runs");
        p.apply_updates();
        out.push(f64::from(p.leaf("w.weight").expect("the weight")[0]));
    }
    out
}
