//! Accuracy of the JIT's inline f32x4 approximations of exp, log, log1p, tanh and sigmoid over
//! the whole float range (about a million bit patterns spread evenly over all of f32, plus the
//! tails that matter for saturation), against f64 references. Errors are in units in the last
//! place (ulp) of the correctly rounded f32 result; the bounds are the measured maxima
//! (docs/codegen.md) with a little headroom.

use netc::codegen::{compile, JitOptions};
use netc::ir::{Graph, Role, Tensor, UnaryOp};
use std::collections::HashMap;

/// f32 inputs: every 4099th bit pattern (both signs, subnormals, ∞, NaN) and the tails.
fn inputs() -> Vec<f32> {
    let mut xs: Vec<f32> = (0..=u32::MAX / 4099)
        .map(|i| f32::from_bits(i * 4099))
        .collect();
    xs.extend([
        0.0, -0.0, 1e-45, -1e-45, 1e-38, 1e-30, 1e-10, 1e-7, 0.1, 0.5, 0.625, 0.6249, 1.0, 20.0,
        -20.0, 30.0, -30.0, 40.0, -40.0, 88.7, 88.8, -87.4, -103.9, -104.0, -150.0, 1e30, -1e30,
    ]);
    xs.extend([
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        f32::MIN_POSITIVE,
        f32::MAX,
        f32::MIN,
    ]);
    xs
}

/// JIT results of `op` on `xs`.
fn jit(op: UnaryOp, xs: &[f32]) -> Vec<f32> {
    let mut g = Graph::new();
    let x = g.input("x", vec![xs.len()]);
    let y = g.unary(op, x);
    g.add_output("y", y, Role::Value);
    let mut k = compile(&g, &JitOptions::default()).expect("compiles");
    let env = HashMap::from([("x".to_string(), Tensor::new(vec![xs.len()], xs.to_vec()))]);
    k.run(&env).expect("runs").remove(0).data
}

/// Spacing of f32 values at `r` (subnormal spacing at the bottom).
fn ulp(r: f32) -> f64 {
    let a = r.abs();
    if a == f32::MAX {
        return f64::from(f32::MAX - f32::from_bits(f32::MAX.to_bits() - 1));
    }
    f64::from(f32::from_bits(a.to_bits() + 1) - a).max(f64::from(f32::from_bits(1)))
}

/// Max error in ulp of `op` against `reference`; panics on a wrong special value.
fn max_ulp(op: UnaryOp, reference: fn(f64) -> f64) -> f64 {
    let xs = inputs();
    let got = jit(op, &xs);
    let mut worst = (0.0, 0.0f32);
    for (&x, &y) in xs.iter().zip(&got) {
        let want = reference(f64::from(x));
        let r = want as f32;
        if r.is_nan() || r.is_infinite() || y.is_nan() || y.is_infinite() {
            let same = (r.is_nan() && y.is_nan()) || r == y;
            assert!(same, "{op:?}({x:e}) = {y:e}, want {r:e}");
            continue;
        }
        let err = (f64::from(y) - want).abs() / ulp(r);
        if err > worst.0 {
            worst = (err, x);
        }
    }
    eprintln!("{op:?}: max error {:.2} ulp at x = {:e}", worst.0, worst.1);
    worst.0
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

#[test]
fn exp_is_within_2_ulp_everywhere() {
    assert!(max_ulp(UnaryOp::Exp, f64::exp) <= 2.0);
}

#[test]
fn log_is_within_2_ulp_everywhere_including_subnormals() {
    assert!(max_ulp(UnaryOp::Log, f64::ln) <= 2.0);
}

#[test]
fn log1p_is_within_3_ulp_everywhere() {
    assert!(max_ulp(UnaryOp::Log1p, f64::ln_1p) <= 3.0);
}

#[test]
fn tanh_is_within_3_ulp_everywhere() {
    assert!(max_ulp(UnaryOp::Tanh, f64::tanh) <= 3.0);
}

#[test]
fn sigmoid_is_within_3_ulp_everywhere() {
    assert!(max_ulp(UnaryOp::Sigmoid, sigmoid) <= 3.0);
}

#[test]
fn saturating_tails_are_exact() {
    let xs = [
        30.0,
        -30.0,
        20.0,
        -20.0,
        1e-40,
        f32::INFINITY,
        f32::NEG_INFINITY,
    ];
    let s = jit(UnaryOp::Sigmoid, &xs);
    let t = jit(UnaryOp::Tanh, &xs);
    let l = jit(UnaryOp::Log, &xs);
    assert_eq!(s[0], 1.0);
    assert!((f64::from(s[1]) - sigmoid(-30.0)).abs() <= 2.0 * ulp(sigmoid(-30.0) as f32));
    assert_eq!((t[2], t[3]), (1.0, -1.0));
    assert_eq!((s[5], s[6], t[5], t[6]), (1.0, 0.0, 1.0, -1.0));
    // ln(1e-40) = −92.1034 (a subnormal argument)
    assert!((l[4] - (-92.103_4)).abs() < 1e-4);
    assert_eq!(l[5], f32::INFINITY);
    assert!(l[6].is_nan());
}
