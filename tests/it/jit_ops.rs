//! The JIT on small graphs whose results are computed by hand (or by a plain Rust loop written
//! next to them): one test per op family, plus the run-time contract (errors, updates).

use netc::codegen::{compile, CodegenError, JitOptions};
use netc::ir::interp;
use netc::ir::{mask_uniform, BinaryOp, CmpOp, Graph, ReduceOp, Role, Tensor, UnaryOp};
use std::collections::HashMap;

fn iota(shape: &[usize], scale: f32, shift: f32) -> Tensor<f32> {
    let n: usize = shape.iter().product();
    Tensor::new(
        shape.to_vec(),
        (0..n).map(|i| i as f32 * scale + shift).collect(),
    )
}

/// Compiles `g`, runs it on `inputs` and returns every output.
fn run(g: &Graph, inputs: &[(&str, Tensor<f32>)]) -> Vec<Tensor<f32>> {
    let env: HashMap<String, Tensor<f32>> = inputs
        .iter()
        .map(|(n, t)| (n.to_string(), t.clone()))
        .collect();
    let mut k = compile(g, &verified()).expect("compiles");
    k.run(&env).expect("runs")
}

fn assert_close(got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let ok = (g - w).abs() <= tol * (1.0 + w.abs()) || (g.is_nan() && w.is_nan()) || g == w;
        assert!(
            ok,
            "element {i}: got {g}, want {w}\n got {got:?}\nwant {want:?}"
        );
    }
}

#[test]
fn broadcast_add_over_rows_with_tail() {
    // y[i][j] = x[i][j] + b[j], 3×7: one f32x4 step and a scalar tail of 3 per row.
    let mut g = Graph::new();
    let x = g.input("x", vec![3, 7]);
    let b = g.param("b", vec![7]);
    let y = g.add(x, b);
    g.add_output("y", y, Role::Value);
    let (xv, bv) = (iota(&[3, 7], 1.0, 0.0), iota(&[7], 10.0, 0.5));
    let out = run(&g, &[("x", xv.clone()), ("b", bv.clone())]);
    let want: Vec<f32> = (0..21).map(|i| xv.data[i] + bv.data[i % 7]).collect();
    assert_eq!(out[0].shape, vec![3, 7]);
    assert_close(&out[0].data, &want, 0.0);
}

type ScalarFn = fn(f32) -> f32;

#[test]
fn every_unary_op_matches_std() {
    let xs: Vec<f32> = vec![
        -3.0, -1.5, -0.2, 0.0, 0.3, 0.9, 2.5, 7.0, 1e-30, 40.0, -40.0,
    ];
    let cases: [(UnaryOp, ScalarFn); 12] = [
        (UnaryOp::Neg, |x| -x),
        (UnaryOp::Exp, f32::exp),
        (UnaryOp::Log, f32::ln),
        (UnaryOp::Log1p, f32::ln_1p),
        (UnaryOp::Tanh, f32::tanh),
        (UnaryOp::Sigmoid, |x| 1.0 / (1.0 + (-x).exp())),
        (UnaryOp::Sqrt, f32::sqrt),
        (UnaryOp::Rsqrt, |x| 1.0 / x.sqrt()),
        (UnaryOp::Recip, |x| 1.0 / x),
        (UnaryOp::Abs, f32::abs),
        (UnaryOp::Square, |x| x * x),
        (UnaryOp::IsNonFinite, |x| {
            f32::from(u8::from(!x.is_finite()))
        }),
    ];
    for (op, f) in cases {
        let mut g = Graph::new();
        let x = g.input("x", vec![xs.len()]);
        let y = g.unary(op, x);
        g.add_output("y", y, Role::Value);
        let out = run(&g, &[("x", Tensor::new(vec![xs.len()], xs.clone()))]);
        let want: Vec<f32> = xs.iter().map(|&x| f(x)).collect();
        eprintln!("{op:?}");
        assert_close(&out[0].data, &want, 3e-6);
    }
}

#[test]
fn erf_at_known_points() {
    // erf(0) = 0, erf(±0.5) = ±0.5204999, erf(1) = 0.8427008, erf(2) = 0.9953223, erf(∞) = 1
    let xs = vec![0.0, 0.5, -0.5, 1.0, 2.0, f32::INFINITY, 1e-4];
    let want = vec![
        0.0,
        0.520_499_9,
        -0.520_499_9,
        0.842_700_8,
        0.995_322_3,
        1.0,
        1.128_379_2e-4,
    ];
    let mut g = Graph::new();
    let x = g.input("x", vec![7]);
    let y = g.unary(UnaryOp::Erf, x);
    g.add_output("y", y, Role::Value);
    let out = run(&g, &[("x", Tensor::new(vec![7], xs))]);
    assert_close(&out[0].data, &want, 2e-7);
}

#[test]
fn non_finite_values_pass_through_and_are_flagged() {
    let xs = vec![f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 1.0, -0.0];
    let mut g = Graph::new();
    let x = g.input("x", vec![5]);
    let e = g.unary(UnaryOp::Exp, x);
    let flag = g.unary(UnaryOp::IsNonFinite, x);
    let any = g.reduce_all(ReduceOp::Max, flag);
    g.add_output("exp", e, Role::Value);
    g.add_output("flag", flag, Role::Value);
    g.add_output("any", any, Role::Value);
    let out = run(&g, &[("x", Tensor::new(vec![5], xs))]);
    assert_close(
        &out[0].data,
        &[f32::NAN, f32::INFINITY, 0.0, 1.0_f32.exp(), 1.0],
        0.0,
    );
    assert_eq!(out[1].data, vec![1.0, 1.0, 1.0, 0.0, 0.0]);
    assert_eq!(out[2].data, vec![1.0]);
}

#[test]
fn binary_compare_and_select() {
    let a = Tensor::new(vec![6], vec![1.0, -2.0, 3.0, 0.0, 5.0, -1.0]);
    let b = Tensor::new(vec![6], vec![1.0, 2.0, -3.0, 0.5, 4.0, -1.5]);
    let ops = [
        BinaryOp::Sub,
        BinaryOp::Div,
        BinaryOp::Max,
        BinaryOp::Min,
        BinaryOp::Mul,
    ];
    let mut g = Graph::new();
    let (x, y) = (g.input("a", vec![6]), g.input("b", vec![6]));
    for op in ops {
        let v = g.binary(op, x, y);
        g.add_output(format!("{op:?}"), v, Role::Value);
    }
    for op in [CmpOp::Gt, CmpOp::Ge, CmpOp::Lt, CmpOp::Le, CmpOp::Eq] {
        let v = g.compare(op, x, y);
        g.add_output(format!("{op:?}"), v, Role::Value);
    }
    let gt = g.compare(CmpOp::Gt, x, y);
    let s = g.select(gt, x, y);
    g.add_output("select", s, Role::Value);
    let out = run(&g, &[("a", a.clone()), ("b", b.clone())]);
    let zip = |f: fn(f32, f32) -> f32| -> Vec<f32> {
        a.data.iter().zip(&b.data).map(|(&p, &q)| f(p, q)).collect()
    };
    let want = [
        zip(|p, q| p - q),
        zip(|p, q| p / q),
        zip(|p, q| interp::binary(BinaryOp::Max, p, q)),
        zip(|p, q| interp::binary(BinaryOp::Min, p, q)),
        zip(|p, q| p * q),
        zip(|p, q| f32::from(u8::from(p > q))),
        zip(|p, q| f32::from(u8::from(p >= q))),
        zip(|p, q| f32::from(u8::from(p < q))),
        zip(|p, q| f32::from(u8::from(p <= q))),
        zip(|p, q| f32::from(u8::from(p == q))),
        zip(|p, q| if p > q { p } else { q }),
    ];
    for (o, w) in out.iter().zip(&want) {
        assert_close(&o.data, w, 1e-7);
    }
}

/// Plain triple loop for op(a)·op(b).
fn naive_matmul(a: &Tensor<f32>, b: &Tensor<f32>, ta: bool, tb: bool) -> Vec<f32> {
    let at = |i: usize, k: usize| {
        if ta {
            a.data[k * a.shape[1] + i]
        } else {
            a.data[i * a.shape[1] + k]
        }
    };
    let bt = |k: usize, j: usize| {
        if tb {
            b.data[j * b.shape[1] + k]
        } else {
            b.data[k * b.shape[1] + j]
        }
    };
    let (m, kk) = if ta {
        (a.shape[1], a.shape[0])
    } else {
        (a.shape[0], a.shape[1])
    };
    let n = if tb { b.shape[0] } else { b.shape[1] };
    let mut c = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            c[i * n + j] = (0..kk).map(|k| at(i, k) * bt(k, j)).sum();
        }
    }
    c
}

#[test]
fn matmul_in_all_four_layouts() {
    let (m, k, n) = (5, 3, 6);
    for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
        let sa = if ta { vec![k, m] } else { vec![m, k] };
        let sb = if tb { vec![n, k] } else { vec![k, n] };
        let mut g = Graph::new();
        let a = g.input("a", sa.clone());
        let b = g.input("b", sb.clone());
        let c = g.matmul(a, b, ta, tb);
        g.add_output("c", c, Role::Value);
        let (av, bv) = (iota(&sa, 0.25, -1.0), iota(&sb, -0.5, 2.0));
        let out = run(&g, &[("a", av.clone()), ("b", bv.clone())]);
        assert_eq!(out[0].shape, vec![m, n]);
        assert_close(&out[0].data, &naive_matmul(&av, &bv, ta, tb), 1e-6);
    }
}

#[test]
fn matmul_of_a_transposed_view() {
    // c = transpose(x)·w with the transpose as an explicit IR node: a strided operand.
    let mut g = Graph::new();
    let x = g.input("x", vec![4, 3]);
    let w = g.input("w", vec![4, 2]);
    let xt = g.transpose(x, vec![1, 0]);
    let c = g.matmul(xt, w, false, false);
    g.add_output("c", c, Role::Value);
    let (xv, wv) = (iota(&[4, 3], 1.0, 0.0), iota(&[4, 2], 0.5, 1.0));
    let out = run(&g, &[("x", xv.clone()), ("w", wv.clone())]);
    assert_close(&out[0].data, &naive_matmul(&xv, &wv, true, false), 1e-6);
}

/// Reduce a [2,3,5] tensor over `axes` by a plain loop.
fn naive_reduce(x: &Tensor<f32>, op: ReduceOp, axes: &[usize]) -> Vec<f32> {
    let s = &x.shape;
    let keep = |d: usize, i: usize| if axes.contains(&d) { 0 } else { i };
    let oshape: Vec<usize> = (0..3)
        .map(|d| if axes.contains(&d) { 1 } else { s[d] })
        .collect();
    let init = if op == ReduceOp::Max {
        f32::NEG_INFINITY
    } else {
        0.0
    };
    let mut out = vec![init; oshape.iter().product()];
    for i in 0..s[0] {
        for j in 0..s[1] {
            for k in 0..s[2] {
                let o = (keep(0, i) * oshape[1] + keep(1, j)) * oshape[2] + keep(2, k);
                let v = x.data[(i * s[1] + j) * s[2] + k];
                out[o] = if op == ReduceOp::Max {
                    out[o].max(v)
                } else {
                    out[o] + v
                };
            }
        }
    }
    let count: usize = axes.iter().map(|&a| s[a]).product();
    if op == ReduceOp::Mean {
        out.iter_mut().for_each(|v| *v /= count as f32);
    }
    out
}

#[test]
fn reduce_over_every_axis_set_with_and_without_keep_dims() {
    let xv = iota(&[2, 3, 5], 0.37, -4.0);
    let axis_sets: [&[usize]; 7] = [&[0], &[1], &[2], &[0, 1], &[0, 2], &[1, 2], &[0, 1, 2]];
    for op in [ReduceOp::Sum, ReduceOp::Mean, ReduceOp::Max] {
        for axes in axis_sets {
            for keep_dims in [false, true] {
                let mut g = Graph::new();
                let x = g.input("x", vec![2, 3, 5]);
                let sq = g.unary(UnaryOp::Square, x);
                let r = g.reduce(op, sq, axes, keep_dims);
                g.add_output("r", r, Role::Value);
                let out = run(&g, &[("x", xv.clone())]);
                let sqv = Tensor::new(xv.shape.clone(), xv.data.iter().map(|v| v * v).collect());
                assert_close(&out[0].data, &naive_reduce(&sqv, op, axes), 1e-6);
            }
        }
    }
}

#[test]
fn transpose_slice_concat_reshape() {
    let xv = iota(&[2, 3, 4], 1.0, 0.0);
    let mut g = Graph::new();
    let x = g.input("x", vec![2, 3, 4]);
    let t = g.transpose(x, vec![2, 0, 1]); // [4, 2, 3]
    let s = g.slice(x, 2, 1, 2); // [2, 3, 2]
    let c = g.concat(&[x, s], 2); // [2, 3, 6]
    let r = g.reshape(t, vec![8, 3]);
    g.add_output("t", t, Role::Value);
    g.add_output("s", s, Role::Value);
    g.add_output("c", c, Role::Value);
    g.add_output("r", r, Role::Value);
    let out = run(&g, &[("x", xv.clone())]);
    let at = |i: usize, j: usize, k: usize| xv.data[(i * 3 + j) * 4 + k];
    let mut t_want = vec![];
    for k in 0..4 {
        for i in 0..2 {
            for j in 0..3 {
                t_want.push(at(i, j, k));
            }
        }
    }
    let (mut s_want, mut c_want) = (vec![], vec![]);
    for i in 0..2 {
        for j in 0..3 {
            s_want.extend([at(i, j, 1), at(i, j, 2)]);
            c_want.extend((0..4).map(|k| at(i, j, k)));
            c_want.extend([at(i, j, 1), at(i, j, 2)]);
        }
    }
    assert_eq!(out[0].data, t_want);
    assert_eq!(out[1].data, s_want);
    assert_eq!(out[2].data, c_want);
    assert_eq!(out[3].data, t_want);
    assert_eq!(out[3].shape, vec![8, 3]);
}

#[test]
fn random_mask_matches_mask_uniform_bit_for_bit() {
    let (p, seed, stream) = (0.3, 0xDEAD_BEEF_u64, 7);
    let mut g = Graph::new();
    let counter = g.input("step", vec![]);
    let m = g.random_mask(p, seed, stream, counter, vec![3, 11]);
    g.add_output("m", m, Role::Value);
    let out = run(&g, &[("step", Tensor::scalar(42.0))]);
    let scale = (1.0 / (1.0 - p)) as f32;
    let want: Vec<f32> = (0..33)
        .map(|i| {
            if mask_uniform(seed, stream, 42, i) < p as f32 {
                0.0
            } else {
                scale
            }
        })
        .collect();
    assert_eq!(out[0].data, want);
}

#[test]
fn missing_or_misshapen_inputs_are_errors() {
    let mut g = Graph::new();
    let x = g.input("x", vec![2]);
    let y = g.unary(UnaryOp::Exp, x);
    g.add_output("y", y, Role::Value);
    let mut k = compile(&g, &verified()).expect("compiles");
    let err = k.run(&HashMap::new()).unwrap_err();
    assert_eq!(err, CodegenError::MissingInput { name: "x".into() });
    let env = HashMap::from([("x".to_string(), Tensor::new(vec![3], vec![0.0; 3]))]);
    assert!(matches!(
        k.run(&env),
        Err(CodegenError::ShapeMismatch { .. })
    ));
}

#[test]
fn updates_write_back_through_the_fast_path() {
    // w ← w − 0.5·w·x each step: after 3 steps w = w₀·(1 − 0.5x)³
    let mut g = Graph::new();
    let w = g.param("w", vec![5]);
    let x = g.input("x", vec![5]);
    let wx = g.mul(w, x);
    let d = g.scale(wx, 0.5);
    let nw = g.sub(w, d);
    g.add_output("w", nw, Role::Update { param: "w".into() });
    let mut k = compile(&g, &verified()).expect("compiles");
    let (ws, xs) = (k.leaf_slot("w").expect("w"), k.leaf_slot("x").expect("x"));
    k.leaf_mut(ws).copy_from_slice(&[1.0, 2.0, 3.0, 4.0, 5.0]);
    k.leaf_mut(xs).copy_from_slice(&[0.0, 1.0, 2.0, 0.5, 1.5]);
    for _ in 0..3 {
        k.step();
        k.apply_updates();
    }
    let want: Vec<f32> = [1.0f32, 2.0, 3.0, 4.0, 5.0]
        .iter()
        .zip([0.0f32, 1.0, 2.0, 0.5, 1.5])
        .map(|(w, x)| w * (1.0 - 0.5 * x).powi(3))
        .collect();
    assert_close(k.leaf(ws), &want, 1e-6);
}

/// Options for tests: Cranelift's verifier checks every generated function.
fn verified() -> JitOptions {
    JitOptions {
        verify_clif: true,
        ..JitOptions::default()
    }
}
