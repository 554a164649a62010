//! The training-step program: each optimizer against a hand-computed update, and the JIT
//! against the reference interpreter over several steps of every optimizer and clipping mode.

use crate::common;

use common::*;
use netc::model::*;
use netc::runtime::exec::Backend;

/// The weight after each of `steps` steps from w = 0.5 with lr 0.1 on the model whose loss
/// is w² (`common::square_model` fed x = 1, y = 0, so ∂L/∂w = 2w), on the interpreter.
fn weights_after(opt: Optimizer, steps: usize) -> Vec<f64> {
    square_weights_after(opt, steps, 0.0, Backend::Interp)
}

fn assert_close(got: &[f64], want: &[f64]) {
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() < 1e-6, "got {got:?}, want {want:?}");
    }
}

#[test]
fn sgd_by_hand() {
    // g = 2w: w1 = 0.5 − 0.1·1.0 = 0.4; w2 = 0.4 − 0.1·0.8 = 0.32
    assert_close(
        &weights_after(
            Optimizer::Sgd {
                lr: 0.1,
                momentum: 0.0,
                nesterov: false,
            },
            2,
        ),
        &[0.4, 0.32],
    );
}

#[test]
fn sgd_momentum_by_hand() {
    // buf1 = 1.0, w1 = 0.4; g2 = 0.8, buf2 = 0.9·1.0 + 0.8 = 1.7, w2 = 0.4 − 0.17 = 0.23
    assert_close(
        &weights_after(
            Optimizer::Sgd {
                lr: 0.1,
                momentum: 0.9,
                nesterov: false,
            },
            2,
        ),
        &[0.4, 0.23],
    );
}

#[test]
fn nesterov_by_hand() {
    // buf1 = 1.0, direction = g + 0.9·buf = 1.9, w1 = 0.5 − 0.19 = 0.31
    assert_close(
        &weights_after(
            Optimizer::Sgd {
                lr: 0.1,
                momentum: 0.9,
                nesterov: true,
            },
            1,
        ),
        &[0.31],
    );
}

#[test]
fn rmsprop_by_hand() {
    // sq = 0.01·1 = 0.01, w1 = 0.5 − 0.1·1/(0.1 + 1e-8) ≈ −0.49999999
    let w = weights_after(
        Optimizer::RmsProp {
            lr: 0.1,
            alpha: 0.99,
            eps: 1e-8,
            momentum: 0.0,
        },
        1,
    );
    assert_close(&w, &[0.5 - 0.1 / (0.1 + 1e-8)]);
}

#[test]
fn adagrad_by_hand() {
    // sum1 = 1, w1 = 0.5 − 0.1·1/1 = 0.4; g2 = 0.8, sum2 = 1.64, w2 = 0.4 − 0.1·0.8/√1.64
    let w = weights_after(
        Optimizer::AdaGrad {
            lr: 0.1,
            eps: 1e-10,
        },
        2,
    );
    assert_close(&w, &[0.4, 0.4 - 0.08 / 1.64f64.sqrt()]);
}

#[test]
fn adam_by_hand() {
    // m1 = 0.1, v1 = 0.001, m̂ = 1, v̂ = 1: w1 = 0.5 − 0.1 = 0.4
    // g2 = 0.8: m2 = 0.09 + 0.08 = 0.17, v2 = 0.000999 + 0.00064 = 0.001639,
    // m̂ = 0.17/0.19, v̂ = 0.001639/0.001999, w2 = 0.4 − 0.1·m̂/√v̂
    let w = weights_after(
        Optimizer::Adam {
            lr: 0.1,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        },
        2,
    );
    let (m_hat, v_hat): (f64, f64) = (0.17 / 0.19, 0.001639 / 0.001999);
    assert_close(&w, &[0.4, 0.4 - 0.1 * m_hat / v_hat.sqrt()]);
}

#[test]
fn adamw_by_hand() {
    // decay first: 0.5 − 0.1·0.1·0.5 = 0.495, then Adam's first step −0.1: 0.395
    let w = weights_after(
        Optimizer::AdamW {
            lr: 0.1,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.1,
        },
        1,
    );
    assert_close(&w, &[0.395]);
}

/// A model touching every kind of layer, for backend comparisons.
fn rich_model(opt: Optimizer, clip: Clip) -> Model {
    let bn = layer(
        "bn",
        LayerKind::BatchNorm {
            momentum: 0.1,
            eps: 1e-5,
        },
        vec![8],
        vec![8],
    );
    let body = vec![
        layer(
            "ln",
            LayerKind::LayerNorm {
                eps: 1e-5,
                affine: true,
            },
            vec![8],
            vec![8],
        ),
        dense("inner", 8, 8, Activation::Relu),
    ];
    let res = layer(
        "res",
        LayerKind::Residual {
            body,
            projection: None,
        },
        vec![8],
        vec![8],
    );
    let drop = layer("drop", LayerKind::Dropout { p: 0.25 }, vec![8], vec![8]);
    let layers = vec![
        dense("in", 5, 8, Activation::Tanh),
        bn,
        res,
        drop,
        dense("mid", 8, 8, Activation::Sigmoid),
        dense("out", 8, 3, Activation::Softmax),
    ];
    let mut m = model(5, layers, Loss::CrossEntropy);
    m.train.optimizer = opt;
    m.train.clip = clip;
    m.train.l2 = 1e-3;
    m
}

#[test]
fn jit_matches_interpreter_for_every_optimizer_and_clip() {
    let opts = [
        Optimizer::Sgd {
            lr: 0.05,
            momentum: 0.9,
            nesterov: true,
        },
        Optimizer::RmsProp {
            lr: 0.05,
            alpha: 0.99,
            eps: 1e-8,
            momentum: 0.5,
        },
        Optimizer::AdaGrad {
            lr: 0.05,
            eps: 1e-10,
        },
        Optimizer::Adam {
            lr: 0.05,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        },
        Optimizer::AdamW {
            lr: 0.05,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.01,
        },
    ];
    let clips = [
        Clip::None,
        Clip::GlobalNorm(0.5),
        Clip::LayerNorm(0.1),
        Clip::Value(0.01),
    ];
    for (i, opt) in opts.iter().enumerate() {
        compare_backends(&rich_model(*opt, clips[i % clips.len()]), 6, 3);
    }
}
