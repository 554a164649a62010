//! Gradients exactly at the kinks, against analytic values, on both backends: every
//! activation with its pre-activation at 0, every classification loss with its logits at 0
//! (softmax's maximum tied across the row), PyTorch's convention at each point (docs/ir.md).
//! Finite differences cannot check a kink, so each expected value is worked out in a comment.

mod common;

use common::*;
use netc::model::*;
use netc::runtime::exec::{self, Backend};
use netc::runtime::train::initial_params;
use netc::step::build_grad;

/// Runs `netc grad`'s program for one row `x`, target `y` on `backend`, with every parameter
/// at its initial value except those named in `set`, and returns ∂L/∂`param`.
fn gradient_of(
    m: &Model,
    backend: Backend,
    set: &[(&str, Vec<f32>)],
    x: &[f32],
    y: &[f32],
    param: &str,
) -> Vec<f32> {
    let (graph, specs) = build_grad(m, 1);
    let mut prog = exec::compile(&graph, backend).expect("compiles");
    for (name, t) in initial_params(m, &specs).iter() {
        let value = set.iter().find(|(n, _)| *n == name);
        let data = value.map_or(t.data.clone(), |(_, v)| v.clone());
        prog.set_leaf(name, &data)
            .expect("a parameter of the program");
    }
    prog.set_leaf(netc::lower::INPUT_X, x).expect("x");
    prog.set_leaf(netc::lower::INPUT_Y, y).expect("y");
    prog.set_leaf(netc::lower::INPUT_MASK, &[1.0])
        .expect("mask");
    prog.run().expect("runs");
    let index = (graph.outputs.iter())
        .position(|o| o.name == param)
        .unwrap_or_else(|| panic!("no gradient output `{param}`"));
    prog.output(index).to_vec()
}

/// Checks ∂L/∂`param` on the interpreter and the JIT alike.
fn assert_gradient(
    m: &Model,
    set: &[(&str, Vec<f32>)],
    (x, y): (&[f32], &[f32]),
    param: &str,
    want: &[f64],
    what: &str,
) {
    for backend in [Backend::Interp, Backend::Jit] {
        let got = gradient_of(m, backend, set, x, y, param);
        assert_eq!(got.len(), want.len(), "{what}");
        for (g, w) in got.iter().zip(want) {
            assert!(
                (f64::from(*g) - w).abs() <= 2e-6 * w.abs().max(1.0),
                "{what} on {backend:?}: ∂L/∂{param} = {got:?}, want {want:?}"
            );
        }
    }
}

/// φ(0) and φ′(0) of every activation, as PyTorch computes them.
fn at_zero(act: Activation) -> Option<(f64, f64)> {
    const SELU_ALPHA: f64 = 1.673_263_242_354_377_3;
    const SELU_SCALE: f64 = 1.050_700_987_355_480_5;
    let ln2 = std::f64::consts::LN_2;
    Some(match act {
        Activation::Identity => (0.0, 1.0),
        // σ′(0) = σ(0)(1 − σ(0)) = 0.25
        Activation::Sigmoid => (0.5, 0.25),
        // tanh′(0) = 1 − tanh²(0) = 1
        Activation::Tanh => (0.0, 1.0),
        // relu′(0) = 0 (PyTorch's x > 0)
        Activation::Relu => (0.0, 0.0),
        // leaky_relu′(0) = α (PyTorch: x > 0 ? 1 : α)
        Activation::LeakyRelu { alpha } => (0.0, alpha),
        // prelu′(0) = the slope, here its initial value
        Activation::Prelu { init } => (0.0, init),
        // elu′(0) = α·e⁰ = α (PyTorch's x ≤ 0 branch)
        Activation::Elu { alpha } => (0.0, alpha),
        // selu′(0) = scale·α·e⁰
        Activation::Selu => (0.0, SELU_SCALE * SELU_ALPHA),
        // d/dx x·σ(x) = σ(x) + x·σ′(x) = σ(0) = 0.5
        Activation::Swish => (0.0, 0.5),
        // d/dx x·tanh(softplus x) at 0 = tanh(softplus 0) = tanh(ln 2) = 0.6
        Activation::Mish => (0.0, ln2.tanh()),
        // d/dx x·Φ(x) at 0 = Φ(0) = 0.5
        Activation::Gelu => (0.0, 0.5),
        // softplus(0) = ln 2, softplus′(0) = σ(0) = 0.5
        Activation::Softplus => (ln2, 0.5),
        // d/dx x/(1 + |x|) = 1/(1 + |x|)² = 1 at 0
        Activation::Softsign => (0.0, 1.0),
        // not elementwise: its own case below
        Activation::Softmax => return None,
    })
}

/// hidden (2 units, act) → out (1 unit, weights [1, 0]), MSE, on a zero row: both hidden
/// pre-activations are the bias, 0. With the target φ(0) − ½, ∂L/∂out = 2·½ = 1, so
/// ∂L/∂hidden.bias = [φ′(0), 0].
#[test]
fn every_activation_at_zero() {
    for act in all_activations() {
        let Some((value, slope)) = at_zero(act) else {
            continue;
        };
        let m = model(
            1,
            vec![
                dense("hidden", 1, 2, act),
                dense("out", 2, 1, Activation::Identity),
            ],
            Loss::Mse,
        );
        let set = [
            ("hidden.bias", vec![0.0, 0.0]),
            ("out.weight", vec![1.0, 0.0]),
            ("out.bias", vec![0.0]),
        ];
        let y = [(value - 0.5) as f32];
        let what = format!("{act:?}");
        assert_gradient(&m, &set, (&[0.0], &y), "hidden.bias", &[slope, 0.0], &what);
    }
}

/// PReLU's slope gets x·∂L/∂y where x ≤ 0, which is 0 at x = 0 (PyTorch likewise).
#[test]
fn prelu_slope_at_zero() {
    let act = Activation::Prelu { init: 0.25 };
    let layers = vec![
        dense("hidden", 1, 2, act),
        dense("out", 2, 1, Activation::Identity),
    ];
    let m = model(1, layers, Loss::Mse);
    let set = [
        ("hidden.bias", vec![0.0, 0.0]),
        ("out.weight", vec![1.0, 0.0]),
        ("out.bias", vec![0.0]),
    ];
    assert_gradient(
        &m,
        &set,
        (&[0.0], &[-0.5]),
        "hidden.slope",
        &[0.0, 0.0],
        "prelu",
    );
}

/// Softmax over two equal inputs (its maximum tied): p = [½, ½], ∂p₀/∂z = p₀(δ₀ⱼ − pⱼ) =
/// [¼, −¼]; out = p₀ with target 0, so ∂L/∂out = 2·½ = 1 and ∂L/∂hidden.bias = [¼, −¼].
#[test]
fn softmax_at_a_tie() {
    let layers = vec![
        dense("hidden", 1, 2, Activation::Softmax),
        dense("out", 2, 1, Activation::Identity),
    ];
    let m = model(1, layers, Loss::Mse);
    let set = [
        ("hidden.bias", vec![0.0, 0.0]),
        ("out.weight", vec![1.0, 0.0]),
        ("out.bias", vec![0.0]),
    ];
    assert_gradient(
        &m,
        &set,
        (&[0.0], &[0.0]),
        "hidden.bias",
        &[0.25, -0.25],
        "softmax",
    );
}

/// Binary cross-entropy with the logit at 0: ∂ℓ/∂z = σ(0) − y = 0.5 − y, fused with a final
/// sigmoid or on raw logits alike.
#[test]
fn binary_cross_entropy_at_logit_zero() {
    for last in [Activation::Sigmoid, Activation::Identity] {
        let m = model(1, vec![dense("out", 1, 1, last)], Loss::BinaryCrossEntropy);
        let set = [("out.weight", vec![1.0]), ("out.bias", vec![0.0])];
        for y in [0.0, 0.5, 1.0] {
            let what = format!("bce after {last:?}, y = {y}");
            let want = [0.5 - f64::from(y)];
            assert_gradient(&m, &set, (&[0.0], &[y]), "out.bias", &want, &what);
        }
    }
}

/// Cross-entropy with three logits at 0 (a three-way tie of the row maximum): ∂ℓ/∂z = p − y
/// = [⅓ − 1, ⅓, ⅓] for class 0, fused with a final softmax or on raw logits alike.
#[test]
fn cross_entropy_at_equal_logits() {
    for last in [Activation::Softmax, Activation::Identity] {
        let m = model(1, vec![dense("out", 1, 3, last)], Loss::CrossEntropy);
        let set = [("out.weight", vec![0.0; 3]), ("out.bias", vec![0.0; 3])];
        let third = 1.0 / 3.0;
        let want = [third - 1.0, third, third];
        let what = format!("cross-entropy after {last:?}");
        let xy: (&[f32], &[f32]) = (&[1.0], &[1.0, 0.0, 0.0]);
        assert_gradient(&m, &set, xy, "out.bias", &want, &what);
        // ∂ℓ/∂W = (p − y)·xᵀ with x = 1
        assert_gradient(&m, &set, xy, "out.weight", &want, &what);
    }
}
