//! Whole training steps (forward, loss, autodiff backward, probes, SGD update) on the JIT and
//! on the interpreter, for several steps with the updated parameters fed back: the loss, every
//! gradient, every probe and every new parameter agree within the stated tolerance
//! (docs/codegen.md), and dropout masks agree bit for bit.

use netc::autodiff::grad;
use netc::codegen::{compile, JitOptions};
use netc::ir::interp;
use netc::ir::{BinaryOp, Graph, ReduceOp, Role, Tensor, UnaryOp, ValueId};
use netc::probe::ProbeStat;
use std::collections::HashMap;

/// A model under test: its graph, parameter names and the batch.
struct Case {
    g: Graph,
    params: Vec<String>,
    env: HashMap<String, Tensor<f32>>,
}

fn det_fill(shape: &[usize], seed: u32, scale: f32) -> Tensor<f32> {
    let n: usize = shape.iter().product();
    let data = (0..n)
        .map(|i| ((i as u32).wrapping_mul(2_654_435_761) ^ seed) as f32 / u32::MAX as f32 - 0.5)
        .map(|v| v * scale)
        .collect();
    Tensor::new(shape.to_vec(), data)
}

/// Appends per-parameter gradients, probes and SGD updates for `loss` to `g`.
fn finish_step(g: &mut Graph, loss: ValueId, params: &[(String, ValueId)]) {
    g.add_output("loss", loss, Role::Loss);
    let ids: Vec<ValueId> = params.iter().map(|(_, v)| *v).collect();
    let grads = grad(g, loss, &ids);
    for ((name, p), dp) in params.iter().zip(grads) {
        let sq = g.unary(UnaryOp::Square, dp);
        let norm = g.reduce_all(ReduceOp::Sum, sq);
        let flag = g.unary(UnaryOp::IsNonFinite, dp);
        let nonfinite = g.reduce_all(ReduceOp::Max, flag);
        let layer = name.clone();
        let probe = |stat| Role::Probe {
            layer: layer.clone(),
            stat,
        };
        g.add_output(
            format!("{name}.grad_sq"),
            norm,
            probe(ProbeStat::GradWeightSq),
        );
        g.add_output(
            format!("{name}.nonfinite"),
            nonfinite,
            probe(ProbeStat::NonFiniteBackward),
        );
        g.add_output(format!("{name}.grad"), dp, Role::Value);
        let step = g.scale(dp, 0.05);
        let new = g.sub(*p, step);
        g.add_output(
            format!("{name}.new"),
            new,
            Role::Update {
                param: name.clone(),
            },
        );
    }
}

/// 2-8-8-1 sigmoid MLP with MSE on the XOR table (W5) plus dropout on the hidden layer.
fn tiny_mlp() -> Case {
    let mut g = Graph::new();
    let x = g.input("x", vec![4, 2]);
    let y = g.input("y", vec![4, 1]);
    let step = g.input("step", vec![]);
    let mut h = x;
    let mut params = Vec::new();
    for (i, (a, b)) in [(2, 8), (8, 8), (8, 1)].into_iter().enumerate() {
        let w = g.param(format!("w{i}"), vec![a, b]);
        let bias = g.param(format!("b{i}"), vec![b]);
        params.push((format!("w{i}"), w));
        params.push((format!("b{i}"), bias));
        let z = g.matmul(h, w, false, false);
        let z = g.add(z, bias);
        h = g.unary(UnaryOp::Sigmoid, z);
        if i == 1 {
            let m = g.random_mask(0.25, 7, 1, step, vec![4, 8]);
            h = g.mul(h, m);
        }
    }
    let d = g.sub(h, y);
    let sq = g.unary(UnaryOp::Square, d);
    let loss = g.reduce_all(ReduceOp::Mean, sq);
    finish_step(&mut g, loss, &params);
    let mut env = HashMap::new();
    env.insert(
        "x".into(),
        Tensor::new(vec![4, 2], vec![0., 0., 0., 1., 1., 0., 1., 1.]),
    );
    env.insert("y".into(), Tensor::new(vec![4, 1], vec![0., 1., 1., 0.]));
    env.insert("step".into(), Tensor::scalar(0.0));
    let names = params.iter().map(|(n, _)| n.clone()).collect();
    for (i, (a, b)) in [(2, 8), (8, 8), (8, 1)].into_iter().enumerate() {
        env.insert(format!("w{i}"), det_fill(&[a, b], i as u32, 2.0));
        env.insert(format!("b{i}"), Tensor::full(vec![b], 0.0));
    }
    Case {
        g,
        params: names,
        env,
    }
}

/// Two residual blocks x + W2·relu(layernorm(W1·x)) of width 12, batch 6, softmax
/// cross-entropy over 5 classes (W4 in miniature: every op the step builder emits for it).
fn residual_mlp() -> Case {
    let (batch, width, classes) = (6, 12, 5);
    let mut g = Graph::new();
    let x = g.input("x", vec![batch, width]);
    let y = g.input("y", vec![batch, classes]);
    let mut params = Vec::new();
    let mut p = |g: &mut Graph, name: String, shape: Vec<usize>| {
        let v = g.param(name.clone(), shape);
        params.push((name, v));
        v
    };
    let mut h = x;
    for blk in 0..2 {
        let w1 = p(&mut g, format!("b{blk}.w1"), vec![width, width]);
        let gamma = p(&mut g, format!("b{blk}.gamma"), vec![width]);
        let w2 = p(&mut g, format!("b{blk}.w2"), vec![width, width]);
        let a = g.matmul(h, w1, false, false);
        let mean = g.reduce(ReduceOp::Mean, a, &[1], true);
        let c = g.sub(a, mean);
        let sq = g.unary(UnaryOp::Square, c);
        let var = g.reduce(ReduceOp::Mean, sq, &[1], true);
        let ve = g.offset(var, 1e-5);
        let r = g.unary(UnaryOp::Rsqrt, ve);
        let n = g.mul(c, r);
        let n = g.mul(n, gamma);
        let zero = g.scalar(0.0);
        let relu = g.binary(BinaryOp::Max, n, zero);
        let d = g.matmul(relu, w2, false, true);
        h = g.add(h, d);
    }
    let wo = p(&mut g, "out.w".into(), vec![width, classes]);
    let logits = g.matmul(h, wo, false, false);
    let m = g.reduce(ReduceOp::Max, logits, &[1], true);
    let z = g.sub(logits, m);
    let e = g.unary(UnaryOp::Exp, z);
    let s = g.reduce(ReduceOp::Sum, e, &[1], true);
    let ls = g.unary(UnaryOp::Log, s);
    let logp = g.sub(z, ls);
    let picked = g.mul(logp, y);
    let total = g.reduce_all(ReduceOp::Sum, picked);
    let loss = g.scale(total, -1.0 / batch as f64);
    finish_step(&mut g, loss, &params);
    let mut env = HashMap::new();
    env.insert("x".into(), det_fill(&[batch, width], 99, 2.0));
    let onehot =
        (0..batch * classes).map(|i| f32::from(u8::from(i % classes == (i / classes) % classes)));
    env.insert(
        "y".into(),
        Tensor::new(vec![batch, classes], onehot.collect()),
    );
    let names: Vec<String> = params.iter().map(|(n, _)| n.clone()).collect();
    for (i, (name, v)) in params.iter().enumerate() {
        let shape = g.shape(*v).to_vec();
        let t = if name.ends_with("gamma") {
            Tensor::full(shape, 1.0)
        } else {
            det_fill(&shape, i as u32 + 1, 0.8)
        };
        env.insert(name.clone(), t);
    }
    Case {
        g,
        params: names,
        env,
    }
}

/// Runs `steps` training steps on both backends and compares every output of every step.
fn agree_over_steps(case: Case, steps: usize, inline_gemm_macs: Option<usize>) {
    let Case { g, params, mut env } = case;
    let opts = JitOptions {
        verify_clif: true,
        inline_gemm_macs,
        ..JitOptions::default()
    };
    let mut k = compile(&g, &opts).expect("compiles");
    for s in 0..steps {
        env.insert("step".into(), Tensor::scalar(s as f32));
        let want = interp::run(&g, &env).expect("interp runs");
        let got = k.run(&env).expect("jit runs");
        for (o, (w, j)) in g.outputs.iter().zip(want.iter().zip(&got)) {
            let scale = w.data.iter().fold(0f32, |m, v| m.max(v.abs()));
            for (a, b) in j.data.iter().zip(&w.data) {
                let ok = (a - b).abs() <= 1e-4 * (1.0 + scale);
                assert!(ok, "step {s}, {}: jit {a} vs interp {b}", o.name);
            }
        }
        // Feed the interpreter's updated parameters back, as the training loop would.
        for (o, w) in g.outputs.iter().zip(want) {
            if let Role::Update { param } = &o.role {
                env.insert(param.clone(), w);
            }
        }
    }
    assert!(!params.is_empty());
}

#[test]
fn tiny_sigmoid_mlp_with_dropout_agrees_for_five_steps() {
    agree_over_steps(tiny_mlp(), 5, None);
}

#[test]
fn residual_layernorm_mlp_agrees_for_five_steps() {
    agree_over_steps(residual_mlp(), 5, None);
}

#[test]
fn residual_layernorm_mlp_agrees_with_every_product_in_the_library() {
    agree_over_steps(residual_mlp(), 5, Some(0));
}

/// Writes every leaf of `k` (inputs and parameters) from `env`, in place.
fn load_leaves(k: &mut netc::codegen::Kernel, env: &HashMap<String, Tensor<f32>>) {
    let names: Vec<String> = k.leaf_names().into_iter().map(str::to_owned).collect();
    for name in names {
        let slot = k.leaf_slot(&name).expect("leaf");
        k.leaf_mut(slot).copy_from_slice(&env[&name].data);
    }
}

#[test]
fn the_fast_path_matches_run_and_applies_updates_in_place() {
    let Case { g, params, env } = tiny_mlp();
    let mut k = compile(&g, &JitOptions::default()).expect("compiles");
    let mut slow = compile(&g, &JitOptions::default()).expect("compiles");
    load_leaves(&mut k, &env);
    let mut env = env;
    for _ in 0..3 {
        k.step();
        let outs = slow.run(&env).expect("runs");
        for (i, o) in outs.iter().enumerate() {
            assert_eq!(k.output(i), &o.data[..], "{}", g.outputs[i].name);
        }
        k.apply_updates();
        for (o, t) in g.outputs.iter().zip(outs) {
            if let Role::Update { param } = &o.role {
                env.insert(param.clone(), t);
            }
        }
    }
    for p in &params {
        let slot = k.leaf_slot(p).expect("param");
        assert_eq!(k.leaf(slot), &env[p].data[..], "{p}");
    }
}

/// The fast path with in-place updates: step() + apply_updates() for several steps tracks the
/// interpreter, and every parameter slot holds the interpreter's updated value.
fn in_place_tracks_interpreter(case: Case, steps: usize) {
    let Case { g, params, mut env } = case;
    let opts = JitOptions {
        verify_clif: true,
        update_in_place: true,
        ..JitOptions::default()
    };
    let mut k = compile(&g, &opts).expect("compiles");
    load_leaves(&mut k, &env);
    for s in 0..steps {
        env.insert("step".into(), Tensor::scalar(s as f32));
        if let Some(slot) = k.leaf_slot("step") {
            k.leaf_mut(slot)[0] = s as f32;
        }
        let want = interp::run(&g, &env).expect("interp runs");
        k.step();
        for (i, (o, w)) in g.outputs.iter().zip(&want).enumerate() {
            let scale = w.data.iter().fold(0f32, |m, v| m.max(v.abs()));
            for (a, b) in k.output(i).iter().zip(&w.data) {
                let ok = (a - b).abs() <= 1e-4 * (1.0 + scale);
                assert!(ok, "step {s}, {}: jit {a} vs interp {b}", o.name);
            }
        }
        k.apply_updates();
        for (o, w) in g.outputs.iter().zip(want) {
            if let Role::Update { param } = &o.role {
                env.insert(param.clone(), w);
            }
        }
    }
    for p in &params {
        let slot = k.leaf_slot(p).expect("param");
        let scale = env[p].data.iter().fold(0f32, |m, v| m.max(v.abs()));
        for (a, b) in k.leaf(slot).iter().zip(&env[p].data) {
            assert!((a - b).abs() <= 1e-4 * (1.0 + scale), "{p}: {a} vs {b}");
        }
    }
}

#[test]
fn in_place_updates_track_the_interpreter() {
    in_place_tracks_interpreter(tiny_mlp(), 5);
    in_place_tracks_interpreter(residual_mlp(), 5);
}

/// Parameters are double-buffered (codegen/swap.rs): `apply_updates` makes the step's update
/// buffers the parameters instead of copying them. A step whose updates are not applied (a
/// dropped non-finite step) leaves the parameters as they were at either parity, so running
/// it again gives the same outputs, and applying reads the new values back through `leaf`.
#[test]
fn a_dropped_step_leaves_the_parameters_at_either_parity() {
    let Case { g, params, env } = tiny_mlp();
    let mut k = compile(&g, &JitOptions::default()).expect("compiles");
    load_leaves(&mut k, &env);
    let snapshot = |k: &netc::codegen::Kernel| -> Vec<Vec<f32>> {
        (0..k.num_outputs()).map(|i| k.output(i).to_vec()).collect()
    };
    for parity in 0..2 {
        let before: Vec<Vec<f32>> = (params.iter())
            .map(|p| k.leaf(k.leaf_slot(p).expect("param")).to_vec())
            .collect();
        k.step();
        let first = snapshot(&k);
        k.step(); // the first step was dropped: its updates were never applied
        assert_eq!(
            first,
            snapshot(&k),
            "parity {parity}: same inputs, same outputs"
        );
        for (p, old) in params.iter().zip(&before) {
            assert_eq!(k.leaf(k.leaf_slot(p).expect("param")), &old[..], "{p}");
        }
        let updates: Vec<(String, Vec<f32>)> = (g.outputs.iter().enumerate())
            .filter_map(|(i, o)| match &o.role {
                Role::Update { param } => Some((param.clone(), k.output(i).to_vec())),
                _ => None,
            })
            .collect();
        k.apply_updates();
        for (p, new) in &updates {
            assert_eq!(k.leaf(k.leaf_slot(p).expect("param")), &new[..], "{p}");
            let changed = (new
                .iter()
                .zip(&before[params.iter().position(|q| q == p).unwrap()]))
            .any(|(a, b)| a != b);
            assert!(changed, "{p} was updated");
        }
    }
}
