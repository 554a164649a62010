//! The JIT's sliding windows (strided views, zero-bordered copies, scatter-add loops) against
//! the reference interpreter: convolution and pooling forward and backward on the named window
//! configurations of `conv_ops`, windows of computed (not stored) values, and proptest over
//! random conv/pool graphs with random shapes, strides, dilations and paddings; and im2col
//! buffers sharing the arena.
//!
//! Tolerance as in `jit_vs_interp`: |jit − interp| ≤ rel · (1 + max |interp|), rel = 2e-4 (the
//! GEMM and the loops may add in a different order than the interpreter).

use crate::conv_ops::{configs, Config};
use netc::autodiff::grad;
use netc::codegen::{compile, JitOptions};
use netc::ir::interp;
use netc::ir::passes::optimize;
use netc::ir::{Graph, ReduceOp, Role, Tensor, UnaryOp, ValueId, Window2d};
use netc::lower::conv::{avg_pool2d, conv2d, max_pool2d};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;

const REL: f32 = 2e-4;

/// Runs `g` on both backends, unoptimized and optimized, and compares every output.
fn check(g: &Graph, env: &HashMap<String, Tensor<f32>>) -> Result<(), String> {
    for g in [g.clone(), optimize(g)] {
        let want = interp::run(&g, env).map_err(|e| format!("interp: {e}"))?;
        let opts = JitOptions {
            verify_clif: true,
            ..JitOptions::default()
        };
        let mut k = compile(&g, &opts).map_err(|e| format!("compile: {e}"))?;
        let got = k.run(env).map_err(|e| format!("run: {e}"))?;
        for (o, (w, j)) in g.outputs.iter().zip(want.iter().zip(&got)) {
            let scale = w.data.iter().fold(0f32, |m, v| m.max(v.abs()));
            for (i, (a, b)) in j.data.iter().zip(&w.data).enumerate() {
                if (a - b).abs() > REL * (1.0 + scale) {
                    return Err(format!("{} [{i}]: jit {a} vs interp {b}", o.name));
                }
            }
        }
    }
    Ok(())
}

/// Values uniform in [-2, 2] for every leaf of `g`.
fn random_env(g: &Graph, seed: u64) -> HashMap<String, Tensor<f32>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let leaves = g.inputs().into_iter().chain(g.params());
    leaves
        .map(|(name, shape)| {
            let n = shape.iter().product::<usize>();
            let data = (0..n).map(|_| rng.random_range(-2.0..2.0)).collect();
            (name.to_string(), Tensor::new(shape.to_vec(), data))
        })
        .collect()
}

#[derive(Debug, Clone, Copy)]
enum Layer {
    Conv,
    MaxPool,
    AvgPool,
}

/// y = layer(x) (x first through tanh when `computed`, so the windows read a value the JIT
/// has not stored), L = Σ y ⊙ r, and outputs L, y, ∂L/∂x and ∂L/∂w.
fn step(c: &Config, layer: Layer, computed: bool) -> Graph {
    let mut g = Graph::new();
    let x = g.input("x", c.x.clone());
    let input = if computed {
        g.unary(UnaryOp::Tanh, x)
    } else {
        x
    };
    let [kh, kw] = c.win.kernel;
    let w = g.param("w", vec![c.filters, c.x[3], kh, kw]);
    let unpadded = Window2d {
        padding: [0; 4],
        ..c.win
    };
    let y = match layer {
        Layer::Conv => conv2d(&mut g, input, w, &c.win),
        Layer::MaxPool => max_pool2d(&mut g, input, &unpadded),
        Layer::AvgPool => avg_pool2d(&mut g, input, &c.win),
    };
    let r = g.input("r", g.shape(y).to_vec());
    let weighted = g.mul(y, r);
    let loss = g.reduce_all(ReduceOp::Sum, weighted);
    let wrt: Vec<ValueId> = match layer {
        Layer::Conv => vec![x, w],
        Layer::MaxPool | Layer::AvgPool => vec![x],
    };
    let grads = grad(&mut g, loss, &wrt);
    g.add_output("loss", loss, Role::Loss);
    g.add_output("y", y, Role::Value);
    for (i, d) in grads.into_iter().enumerate() {
        g.add_output(format!("d{i}"), d, Role::Value);
    }
    g
}

fn fits_unpadded(c: &Config) -> bool {
    let unpadded = Window2d {
        padding: [0; 4],
        ..c.win
    };
    unpadded.output_hw(c.x[1], c.x[2]).is_some()
}

#[test]
fn conv_and_pooling_steps_agree_with_the_interpreter() {
    for (i, c) in configs().iter().enumerate() {
        for layer in [Layer::Conv, Layer::MaxPool, Layer::AvgPool] {
            if matches!(layer, Layer::MaxPool) && !fits_unpadded(c) {
                continue;
            }
            for computed in [false, true] {
                let g = step(c, layer, computed);
                let env = random_env(&g, i as u64);
                check(&g, &env)
                    .unwrap_or_else(|e| panic!("{layer:?} computed={computed} {c:?}: {e}"));
            }
        }
    }
}

#[test]
fn two_convolutions_and_a_pool_train_like_the_interpreter() {
    // conv 3×3 same → relu → conv 3×3 stride 2 → max pool 2: the windows of one layer read
    // the scatter of the next one's gradient.
    let mut g = Graph::new();
    let x = g.input("x", vec![3, 8, 8, 2]);
    let w1 = g.param("w1", vec![4, 2, 3, 3]);
    let w2 = g.param("w2", vec![5, 4, 3, 3]);
    let same = Window2d {
        kernel: [3, 3],
        stride: [1, 1],
        dilation: [1, 1],
        padding: [1; 4],
    };
    let strided = Window2d {
        stride: [2, 2],
        padding: [0, 1, 0, 1],
        ..same
    };
    let pool = Window2d {
        kernel: [2, 2],
        stride: [2, 2],
        dilation: [1, 1],
        padding: [0; 4],
    };
    let h = conv2d(&mut g, x, w1, &same);
    let h = g.unary(UnaryOp::Relu, h);
    let h = conv2d(&mut g, h, w2, &strided);
    let y = max_pool2d(&mut g, h, &pool);
    let sq = g.unary(UnaryOp::Square, y);
    let loss = g.reduce_all(ReduceOp::Mean, sq);
    let grads = grad(&mut g, loss, &[w1, w2, x]);
    g.add_output("loss", loss, Role::Loss);
    for (i, d) in grads.into_iter().enumerate() {
        g.add_output(format!("d{i}"), d, Role::Value);
    }
    check(&g, &random_env(&g, 7)).unwrap_or_else(|e| panic!("{e}"));
}

fn config_strategy() -> impl Strategy<Value = Config> {
    let pair = |lo: usize, hi: usize| [lo..hi, lo..hi];
    (
        pair(1, 4),
        pair(1, 4),
        pair(1, 3),
        [0usize..3, 0..3, 0..3, 0..3],
        (1usize..3, 1usize..9, 1usize..9, 1usize..6),
        1usize..5,
    )
        .prop_filter_map(
            "the window fits",
            |(kernel, stride, dilation, padding, x, filters)| {
                let win = Window2d {
                    kernel,
                    stride,
                    dilation,
                    padding,
                };
                let x = vec![x.0, x.1, x.2, x.3];
                win.output_hw(x[1], x[2])
                    .map(|_| Config { x, win, filters })
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    #[test]
    fn random_conv_and_pool_graphs_agree_with_the_interpreter(
        c in config_strategy(),
        which in 0usize..3,
        computed in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let layer = [Layer::Conv, Layer::MaxPool, Layer::AvgPool][which];
        prop_assume!(!matches!(layer, Layer::MaxPool) || fits_unpadded(&c));
        let g = step(&c, layer, computed);
        if let Err(e) = check(&g, &random_env(&g, seed)) {
            return Err(TestCaseError::fail(format!("{layer:?} {c:?}: {e}")));
        }
    }
}

#[test]
fn im2col_buffers_share_the_arena() {
    // Four chained 3×3 "same" convolutions of 8 channels over 8×16×16 images: each im2col
    // matrix holds 8·16·16·72 floats and is dead once its product has run, so the arena holds
    // one at a time (with the input, the weights, two activations and the output), not four.
    let mut g = Graph::new();
    let x = g.input("x", vec![8, 16, 16, 8]);
    let same = Window2d {
        kernel: [3, 3],
        stride: [1, 1],
        dilation: [1, 1],
        padding: [1; 4],
    };
    let mut h = x;
    for i in 0..4 {
        let w = g.param(format!("w{i}"), vec![8, 8, 3, 3]);
        h = conv2d(&mut g, h, w, &same);
    }
    g.add_output("y", h, Role::Value);
    let k = compile(&g, &JitOptions::default()).expect("compiles");
    let im2col_bytes = 8 * 16 * 16 * 72 * 4;
    assert!(
        k.arena_bytes() < 2 * im2col_bytes,
        "arena {} bytes, one im2col matrix {im2col_bytes}",
        k.arena_bytes()
    );
}
