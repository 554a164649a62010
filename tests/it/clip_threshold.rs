//! Gradient clipping exactly at its threshold, on both backends, against PyTorch's rules:
//! `clip_grad_value_` clamps to [−v, v], so an entry of magnitude exactly v passes unchanged;
//! `clip_grad_norm_` scales by min(1, max / (‖g‖ + 1e-6)), so a norm exactly at the threshold
//! is still scaled, by max / (max + 1e-6). One SGD step with lr = 1 and no momentum makes the
//! weight change equal to minus the clipped gradient, which is what these tests read.

use crate::common;

use common::*;
use netc::model::*;
use netc::runtime::exec::{self, Backend};
use netc::step::{build_step, StepOptions};

/// dense 2 → 1 without bias, identity, MSE, both weights 0: fed x and y, the residual is
/// r = w·x − y = −y and ∂L/∂w = 2r·x (MSE is the mean of (ŷ − y)² over one output).
fn line_model(clip: Clip) -> Model {
    let kind = LayerKind::Dense {
        units: 1,
        bias: false,
        act: Activation::Identity,
        init: Init::Zeros,
        bias_init: Init::Zeros,
    };
    let mut m = model(2, vec![layer("w", kind, vec![2], vec![1])], Loss::Mse);
    m.train.optimizer = Optimizer::Sgd {
        lr: 1.0,
        momentum: 0.0,
        nesterov: false,
    };
    m.train.batch = 1;
    m.train.clip = clip;
    m
}

/// The weights after one step from w = 0 on row (x, y), on `backend`.
fn weights_after_one_step(clip: Clip, x: [f32; 2], y: f32, backend: Backend) -> Vec<f32> {
    let m = line_model(clip);
    let program = build_step(&m, 1, &StepOptions::default());
    let mut p = exec::compile(&program.graph, backend).expect("compiles");
    p.set_leaf("w.weight", &[0.0, 0.0]).expect("the weight");
    for s in &program.state {
        p.set_leaf(&s.name, &vec![0.0; s.shape.iter().product()])
            .expect("optimizer state");
    }
    p.set_leaf("x", &x).expect("x");
    for (name, v) in [("y", y), ("mask", 1.0), ("step", 1.0), ("lr", 1.0)] {
        p.set_leaf(name, &[v]).expect("a step input");
    }
    p.run().expect("runs");
    p.apply_updates();
    p.leaf("w.weight").expect("the weight").to_vec()
}

fn assert_weights(clip: Clip, x: [f32; 2], y: f32, want: [f64; 2], tol: f64, what: &str) {
    for backend in [Backend::Interp, Backend::Jit] {
        let got = weights_after_one_step(clip, x, y, backend);
        for (g, w) in got.iter().zip(want) {
            assert!(
                (f64::from(*g) - w).abs() <= tol * w.abs().max(1.0),
                "{what} on {backend:?}: weights {got:?}, want {want:?}"
            );
        }
    }
}

#[test]
fn clip_by_value_passes_an_entry_exactly_at_the_threshold() {
    // x = (0.5, 1), y = −1: r = 1, g = (1, 2). Clamped to [−1, 1]: (1, 1) — the first entry
    // sits exactly at v = 1 and passes unchanged. The step is w = −g_clipped = (−1, −1).
    assert_weights(
        Clip::Value(1.0),
        [0.5, 1.0],
        -1.0,
        [-1.0, -1.0],
        0.0,
        "upper threshold",
    );
    // y = 1: r = −1, g = (−1, −2), clamped to (−1, −1) with the first entry exactly at −v.
    assert_weights(
        Clip::Value(1.0),
        [0.5, 1.0],
        1.0,
        [1.0, 1.0],
        0.0,
        "lower threshold",
    );
}

#[test]
fn clip_by_norm_scales_a_norm_exactly_at_the_threshold_as_pytorch_does() {
    // x = (0.75, 1), y = −1: r = 1, g = (1.5, 2), ‖g‖ = 2.5 exactly. With max = 2.5 the
    // factor is 2.5 / (2.5 + 1e-6) = 0.999 999 6, so w = −g · 0.999 999 6.
    let factor = 2.5 / (2.5 + 1e-6);
    let want = [-1.5 * factor, -2.0 * factor];
    // f32 carries ~6e-8 relative; the factor differs from 1 by 4e-7, so a bound of 1e-7
    // relative tells "scaled" from "passed unchanged" (the two differ by 8e-7 at w = −2).
    let tol = 1e-7;
    assert!((want[1] + 2.0_f64).abs() > 2.0 * tol * 2.0);
    for clip in [Clip::GlobalNorm(2.5), Clip::LayerNorm(2.5)] {
        assert_weights(clip, [0.75, 1.0], -1.0, want, tol, &format!("{clip:?}"));
    }
}

#[test]
fn clip_by_norm_leaves_a_norm_just_under_the_threshold_alone() {
    // ‖g‖ = 2.5 and max = 2.5 + 1e-6: the ratio max / (‖g‖ + 1e-6) is exactly 1 in real
    // arithmetic, and min(1, ·) keeps the gradient: w = −g = (−1.5, −2).
    for clip in [Clip::GlobalNorm(2.5 + 1e-6), Clip::LayerNorm(2.5 + 1e-6)] {
        assert_weights(
            clip,
            [0.75, 1.0],
            -1.0,
            [-1.5, -2.0],
            1e-7,
            &format!("{clip:?}"),
        );
    }
}
