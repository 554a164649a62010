//! The reference interpreter on small hand-computed programs, its errors, and its speed.

use netc::ir::interp::{run, run_all, InterpError};
use netc::ir::{BinaryOp, CmpOp, Graph, ReduceOp, Role, Tensor, UnaryOp};
use std::collections::HashMap;

fn env64(pairs: &[(&str, Vec<usize>, Vec<f64>)]) -> HashMap<String, Tensor<f64>> {
    (pairs.iter())
        .map(|(n, s, d)| (n.to_string(), Tensor::new(s.clone(), d.clone())))
        .collect()
}

/// Runs `g` in f64 and returns its single output's data.
fn eval(g: &Graph, env: &HashMap<String, Tensor<f64>>) -> Vec<f64> {
    run(g, env).expect("program runs").remove(0).data
}

#[test]
fn matmul_with_every_transpose_flag() {
    // a = [[1,2],[3,4]], b = [[5,6],[7,8]]
    let env = env64(&[
        ("a", vec![2, 2], vec![1.0, 2.0, 3.0, 4.0]),
        ("b", vec![2, 2], vec![5.0, 6.0, 7.0, 8.0]),
    ]);
    let cases = [
        (false, false, [19.0, 22.0, 43.0, 50.0]), // a·b
        (true, false, [26.0, 30.0, 38.0, 44.0]),  // aᵀ·b
        (false, true, [17.0, 23.0, 39.0, 53.0]),  // a·bᵀ
        (true, true, [23.0, 31.0, 34.0, 46.0]),   // aᵀ·bᵀ
    ];
    for (ta, tb, want) in cases {
        let mut g = Graph::new();
        let a = g.input("a", vec![2, 2]);
        let b = g.input("b", vec![2, 2]);
        let c = g.matmul(a, b, ta, tb);
        g.add_output("c", c, Role::Value);
        assert_eq!(eval(&g, &env), want, "trans_a={ta} trans_b={tb}");
    }
}

#[test]
fn reductions_broadcast_transpose_slice_concat() {
    let x = vec![1.0, 5.0, 3.0, 4.0, 2.0, 6.0];
    let env = env64(&[("x", vec![2, 3], x)]);
    let mut g = Graph::new();
    let x = g.input("x", vec![2, 3]);
    let sum0 = g.reduce(ReduceOp::Sum, x, &[0], false);
    let mean1 = g.reduce(ReduceOp::Mean, x, &[1], true);
    let max1 = g.reduce(ReduceOp::Max, x, &[1], false);
    let bc = g.broadcast(mean1, vec![2, 3]);
    let t = g.transpose(x, vec![1, 0]);
    let s = g.slice(x, 1, 1, 2);
    let c = g.concat(&[s, x], 1);
    for (name, v) in [("sum0", sum0), ("mean1", mean1), ("max1", max1), ("bc", bc)] {
        g.add_output(name, v, Role::Value);
    }
    for (name, v) in [("t", t), ("s", s), ("c", c)] {
        g.add_output(name, v, Role::Value);
    }
    let out = run(&g, &env).expect("runs");
    assert_eq!(out[0].data, [5.0, 7.0, 9.0]);
    assert_eq!(
        (out[1].shape.clone(), out[1].data.clone()),
        (vec![2, 1], vec![3.0, 4.0])
    );
    assert_eq!(out[2].data, [5.0, 6.0]);
    assert_eq!(out[3].data, [3.0, 3.0, 3.0, 4.0, 4.0, 4.0]);
    assert_eq!(out[4].data, [1.0, 4.0, 5.0, 2.0, 3.0, 6.0]);
    assert_eq!(out[5].data, [5.0, 3.0, 2.0, 6.0]);
    assert_eq!(
        out[6].data,
        [5.0, 3.0, 1.0, 5.0, 3.0, 2.0, 6.0, 4.0, 2.0, 6.0]
    );
}

#[test]
fn elementwise_ops_follow_their_documented_meaning() {
    let env = env64(&[
        ("a", vec![3], vec![-1.0, 0.0, 2.0]),
        ("b", vec![3], vec![0.0, 0.0, 1.0]),
    ]);
    let mut g = Graph::new();
    let a = g.input("a", vec![3]);
    let b = g.input("b", vec![3]);
    let mx = g.binary(BinaryOp::Max, a, b);
    let ge = g.compare(CmpOp::Ge, a, b);
    let sel = g.select(ge, a, b);
    let sig = g.unary(UnaryOp::Sigmoid, a);
    let inv = g.unary(UnaryOp::Recip, b);
    let bad = g.unary(UnaryOp::IsNonFinite, inv);
    for (i, v) in [mx, ge, sel, sig, bad].into_iter().enumerate() {
        g.add_output(format!("o{i}"), v, Role::Value);
    }
    let out = run(&g, &env).expect("runs");
    assert_eq!(out[0].data, [0.0, 0.0, 2.0]);
    assert_eq!(out[1].data, [0.0, 1.0, 1.0]);
    assert_eq!(out[2].data, [0.0, 0.0, 2.0]);
    let s = 1.0 / (1.0 + 1f64.exp());
    assert!((out[3].data[0] - s).abs() < 1e-15);
    assert_eq!(out[4].data, [1.0, 1.0, 0.0]);
}

#[test]
fn random_mask_is_reproducible_and_inverted() {
    let mut g = Graph::new();
    let step = g.input("step", vec![]);
    let m = g.random_mask(0.25, 7, 1, step, vec![1000]);
    g.add_output("m", m, Role::Value);
    let env = env64(&[("step", vec![], vec![3.0])]);
    let first = eval(&g, &env);
    assert_eq!(first, eval(&g, &env));
    let zeros = first.iter().filter(|&&v| v == 0.0).count();
    assert!(
        (180..320).contains(&zeros),
        "{zeros} of 1000 dropped at p = 0.25"
    );
    assert!(first
        .iter()
        .all(|&v| v == 0.0 || (v - 1.0 / 0.75).abs() < 1e-12));
    let env32: HashMap<String, Tensor<f32>> =
        env.iter().map(|(k, v)| (k.clone(), v.to_f32())).collect();
    let single = run(&g, &env32).expect("runs").remove(0).data;
    let agree = single
        .iter()
        .zip(&first)
        .all(|(&s, &d)| (s == 0.0) == (d == 0.0));
    assert!(agree, "f32 and f64 draw the same mask");
}

#[test]
fn missing_or_misshapen_leaves_are_errors_naming_them() {
    let mut g = Graph::new();
    let x = g.input("x", vec![2]);
    let w = g.param("w", vec![2]);
    let y = g.mul(x, w);
    g.add_output("y", y, Role::Value);
    let only_x = env64(&[("x", vec![2], vec![1.0, 2.0])]);
    assert!(matches!(run(&g, &only_x), Err(InterpError::Missing { name, .. }) if name == "w"));
    let wrong = env64(&[
        ("x", vec![2], vec![1.0, 2.0]),
        ("w", vec![3], vec![1.0, 2.0, 3.0]),
    ]);
    let err = run(&g, &wrong).expect_err("w has the wrong shape");
    assert!(err.to_string().contains("`w`"), "{err}");
    let mut lying = only_x.clone();
    lying.insert(
        "w".into(),
        Tensor {
            shape: vec![2],
            data: vec![1.0],
        },
    );
    assert!(matches!(
        run(&g, &lying),
        Err(InterpError::WrongLength { .. })
    ));
}

#[test]
fn run_all_gives_every_node() {
    let mut g = Graph::new();
    let x = g.input("x", vec![]);
    let y = g.unary(UnaryOp::Exp, x);
    g.add_output("y", y, Role::Value);
    let all = run_all(&g, &env64(&[("x", vec![], vec![0.0])])).expect("runs");
    assert_eq!(all.len(), 2);
    assert_eq!(all[1].data, [1.0]);
}

#[test]
fn f32_and_f64_agree() {
    let mut g = Graph::new();
    let x = g.input("x", vec![4, 8]);
    let w = g.param("w", vec![8, 5]);
    let h = g.matmul(x, w, false, false);
    let t = g.unary(UnaryOp::Tanh, h);
    let e = g.unary(UnaryOp::Erf, t);
    let l = g.reduce_all(ReduceOp::Mean, e);
    g.add_output("loss", l, Role::Loss);
    let data = |n: usize, k: f64| (0..n).map(|i| ((i as f64) * k).sin()).collect::<Vec<_>>();
    let env = env64(&[
        ("x", vec![4, 8], data(32, 0.7)),
        ("w", vec![8, 5], data(40, 1.3)),
    ]);
    let env32: HashMap<String, Tensor<f32>> =
        env.iter().map(|(k, v)| (k.clone(), v.to_f32())).collect();
    let d = eval(&g, &env)[0];
    let s = run(&g, &env32).expect("runs")[0].data[0];
    assert!((f64::from(s) - d).abs() < 1e-5, "f32 {s} vs f64 {d}");
}

#[test]
fn a_training_sized_matmul_is_exact() {
    let mut g = Graph::new();
    let a = g.input("a", vec![64, 64]);
    let b = g.input("b", vec![64, 128]);
    let c = g.matmul(a, b, false, false);
    g.add_output("c", c, Role::Value);
    let env: HashMap<String, Tensor<f32>> = [
        ("a".to_string(), Tensor::full(vec![64, 64], 0.5f32)),
        ("b".to_string(), Tensor::full(vec![64, 128], 0.25f32)),
    ]
    .into();
    // Speed is measured by benchmarks, never asserted in tests (typical here: ~0.1 ms).
    let out = run(&g, &env).expect("runs");
    assert!(
        out[0].data.iter().all(|&v| v == 8.0),
        "0.5·0.25 summed 64 times"
    );
}
