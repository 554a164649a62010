//! Optimizers on both backends: NAdam against PyTorch's rule worked out by hand, and every
//! optimizer of the language taking a training step on the interpreter and the JIT alike.

use crate::common;

use common::*;
use netc::model::*;
use netc::runtime::exec::Backend;

/// Within 1e-5: the bias correction 1 − β₂ᵗ = 0.001 comes from e^(t·ln β₂) ≈ 0.999 in f32,
/// which keeps only four of its digits (Adam's steps likewise), and the JIT's exp rounds
/// differently from the interpreter's. A wrong rule moves the weights by far more (the
/// weight-decay case differs by 7.6e-3 without its decay).
fn assert_close(got: &[f64], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() < 1e-5, "{what}: got {got:?}, want {want:?}");
    }
}

/// PyTorch's NAdam (torch/optim/nadam.py, `_single_tensor_nadam`) on L = w², lr = 0.1,
/// β = (0.9, 0.999), ε = 1e-8, ψ = 4e-3, from w₀ = 0.5, g = 2w:
///   μₜ = 0.9·(1 − ½·0.96^(0.004·t)): μ₁ = 0.4500735, μ₂ = 0.4501469, μ₃ = 0.4502204,
///   μ₄ = 0.4502938; Πₜ = μ₁···μₜ: Π₁ = 0.4500735, Π₂ = 0.2025992, Π₃ = 0.0912143.
/// Step 1: g = 1, m = 0.1, v = 0.001, d = √(v/(1 − 0.999)) + ε = 1.00000001,
///   w₁ = 0.5 − 0.1·(1 − μ₁)/(1 − Π₁)·g/d − 0.1·μ₂/(1 − Π₁μ₂)·m/d
///      = 0.5 − 0.1 − 0.01·0.4501469/0.7974008 = 0.3943548.
/// Step 2: g = 0.7887096, m = 0.09 + 0.0788710 = 0.1688710,
///   v = 0.000999 + 0.001·0.6220629 = 0.0016210629, d = √(v/0.001999) = 0.9005204,
///   w₂ = w₁ − 0.1·(1 − μ₂)/(1 − Π₂)·g/d − 0.1·μ₃/(1 − Π₂μ₃)·m/d
///      = w₁ − 0.1·0.6895567·g/d − 0.1·0.4954087·m/d = 0.3246707.
/// Step 3 likewise: m = 0.2169180, v = 0.0020410860, d = 0.8252532, w₃ = 0.2647270.
#[test]
fn nadam_by_hand_on_both_backends() {
    let opt = Optimizer::NAdam {
        lr: 0.1,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        momentum_decay: 4e-3,
        weight_decay: 0.0,
    };
    for backend in [Backend::Interp, Backend::Jit] {
        let what = format!("nadam on {backend:?}");
        let want = [0.394_354_8, 0.324_670_7, 0.264_727_0];
        assert_close(&square_weights_after(opt, 3, 0.0, backend), &want, &what);
    }
}

/// NAdam's weight decay is PyTorch's L2 form, added to the gradient before the moments:
/// with λ = 0.5 and target y = 1, g = 2(w − 1) + 0.5·w (a gradient without decay would be
/// proportional to it only for y = 0, where Adam-like steps cannot tell the two apart).
/// Step 1: g = −1 + 0.25 = −0.75, m = −0.075, v = 0.0005625, d = 0.75000001,
///   w₁ = 0.5 + 0.1·0.75/0.75 + 0.1·0.5645178·0.075/0.75 = 0.6056452.
/// Step 2: g = 2(0.6056452 − 1) + 0.3028226 = −0.4858871, m = −0.0675 − 0.0485887 = −0.1160887,
///   v = 0.000561938 + 0.000236086 = 0.00079802373, d = √(v/0.001999) = 0.6318318,
///   w₂ = w₁ + 0.1·0.6895567·0.4858871/d + 0.1·0.4954087·0.1160887/d = 0.6677753
/// (0.6753293 without the decay).
#[test]
fn nadam_weight_decay_joins_the_gradient() {
    let opt = Optimizer::NAdam {
        lr: 0.1,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        momentum_decay: 4e-3,
        weight_decay: 0.5,
    };
    for backend in [Backend::Interp, Backend::Jit] {
        let what = format!("nadam with weight decay on {backend:?}");
        let want = [0.605_645_2, 0.667_775_3];
        assert_close(&square_weights_after(opt, 2, 1.0, backend), &want, &what);
    }
}
