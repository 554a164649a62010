//! `lower::conv`'s conv2d, max_pool2d and avg_pool2d against torch.nn.functional's, which
//! computed them in float64 on NCHW-permuted copies of the same channels-last data: outputs and
//! the input and weight gradients of L = Σ y ⊙ r, in the f64 interpreter (to 1e-12) and the JIT
//! (to 1e-5 of each tensor's largest value). The fixtures are written by
//! `tests/data/conv/make_fixtures.py` and committed, so the test needs no PyTorch.

use netc::autodiff::grad;
use netc::codegen::{compile, JitOptions};
use netc::ir::interp::run;
use netc::ir::{Graph, ReduceOp, Role, Tensor, Window2d};
use netc::lower::conv::{avg_pool2d, conv2d, max_pool2d};
use safetensors::{Dtype, SafeTensors};
use std::collections::HashMap;
use std::path::Path;

const CASES: [&str; 11] = [
    "conv_same",
    "conv_valid_strided",
    "conv_dilated_asymmetric",
    "conv_kernel_is_input",
    "conv_1x1",
    "conv_stride_over_kernel",
    "maxpool_2",
    "maxpool_overlapping",
    "maxpool_dilated",
    "avgpool_2",
    "avgpool_padded",
];

/// One fixture: the op, its window, and its F64 tensors by name.
struct Fixture {
    op: String,
    win: Window2d,
    tensors: HashMap<String, Tensor<f64>>,
}

fn load(case: &str) -> Fixture {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/conv")
        .join(format!("{case}.safetensors"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (_, meta) = SafeTensors::read_metadata(&bytes).expect("a safetensors header");
    let meta = meta.metadata().clone().expect("the fixture has metadata");
    let window: serde_json::Value = serde_json::from_str(&meta["window"]).expect("window JSON");
    let field = |name: &str| -> Vec<usize> {
        serde_json::from_value(window[name].clone()).expect("a list of sizes")
    };
    let pair = |name: &str| [field(name)[0], field(name)[1]];
    let padding = field("padding");
    let win = Window2d {
        kernel: pair("kernel"),
        stride: pair("stride"),
        dilation: pair("dilation"),
        padding: [padding[0], padding[1], padding[2], padding[3]],
    };
    let file = SafeTensors::deserialize(&bytes).expect("the fixture loads");
    let tensors = file
        .tensors()
        .into_iter()
        .map(|(name, view)| {
            assert_eq!(view.dtype(), Dtype::F64, "{case}: {name}");
            let data = (view.data().chunks_exact(8))
                .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
                .collect();
            (name, Tensor::new(view.shape().to_vec(), data))
        })
        .collect();
    Fixture {
        op: meta["op"].clone(),
        win,
        tensors,
    }
}

/// The fixture's op as a program with outputs y, dx and (for convolutions) dw.
fn program(f: &Fixture) -> Graph {
    let shape = |name: &str| f.tensors[name].shape.clone();
    let mut g = Graph::new();
    let x = g.input("x", shape("x"));
    let mut wrt = vec![x];
    let y = match f.op.as_str() {
        "conv2d" => {
            let w = g.param("w", shape("w"));
            wrt.push(w);
            conv2d(&mut g, x, w, &f.win)
        }
        "max_pool2d" => max_pool2d(&mut g, x, &f.win),
        "avg_pool2d" => avg_pool2d(&mut g, x, &f.win),
        other => panic!("unknown op {other}"),
    };
    let r = g.input("r", shape("r"));
    let weighted = g.mul(y, r);
    let loss = g.reduce_all(ReduceOp::Sum, weighted);
    let grads = grad(&mut g, loss, &wrt);
    g.add_output("y", y, Role::Value);
    for (name, d) in ["dx", "dw"].into_iter().zip(grads) {
        g.add_output(name, d, Role::Value);
    }
    g
}

/// |got − want| ≤ tol · max(1, max |want|) for every element.
fn assert_close(what: &str, got: &[f64], want: &Tensor<f64>, tol: f64) {
    assert_eq!(got.len(), want.data.len(), "{what}: length");
    let scale = want.data.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    for (i, (g, w)) in got.iter().zip(&want.data).enumerate() {
        assert!(
            (g - w).abs() <= tol * scale,
            "{what} [{i}]: netc {g}, torch {w}"
        );
    }
}

#[test]
fn conv_and_pooling_equal_pytorchs_in_the_interpreter_and_the_jit() {
    for case in CASES {
        let f = load(case);
        let g = program(&f);
        let env: HashMap<String, Tensor<f64>> = (f.tensors.iter())
            .filter(|(name, _)| ["x", "w", "r"].contains(&name.as_str()))
            .map(|(name, t)| (name.clone(), t.clone()))
            .collect();
        let exact = run(&g, &env).expect("the interpreter runs");
        let env32: HashMap<String, Tensor<f32>> = (env.iter())
            .map(|(n, t)| {
                let data = t.data.iter().map(|&v| v as f32).collect();
                (n.clone(), Tensor::new(t.shape.clone(), data))
            })
            .collect();
        let mut kernel = compile(&g, &JitOptions::default()).expect("the JIT compiles");
        let jit = kernel.run(&env32).expect("the kernel runs");
        for (i, o) in g.outputs.iter().enumerate() {
            let want = &f.tensors[&o.name];
            assert_eq!(exact[i].shape, want.shape, "{case}: shape of {}", o.name);
            assert_close(
                &format!("{case} interp {}", o.name),
                &exact[i].data,
                want,
                1e-12,
            );
            let jit: Vec<f64> = jit[i].data.iter().map(|&v| f64::from(v)).collect();
            assert_close(&format!("{case} jit {}", o.name), &jit, want, 1e-5);
        }
    }
}
