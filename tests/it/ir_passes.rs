//! The simplification passes: each identity fires, unsafe ones do not, and on random programs
//! every pass keeps the outputs' values and leaves a graph the verifier accepts.

use crate::ir_common;

use ir_common::{build, close, steps};
use netc::ir::interp::run;
use netc::ir::passes::{cse, dce, fold_constants, optimize, simplify};
use netc::ir::verify::verify;
use netc::ir::{Graph, Op, ReduceOp, Role, Tensor, UnaryOp};
use proptest::prelude::*;
use std::collections::HashMap;

fn env(pairs: &[(&str, Vec<usize>, Vec<f64>)]) -> HashMap<String, Tensor<f64>> {
    (pairs.iter())
        .map(|(n, s, d)| (n.to_string(), Tensor::new(s.clone(), d.clone())))
        .collect()
}

/// The ops of a graph by their text names, for asserting what a pass left.
fn ops(g: &Graph) -> Vec<&'static str> {
    g.nodes
        .iter()
        .map(|n| netc::ir::print::op_name(&n.op))
        .collect()
}

#[test]
fn identities_disappear() {
    let mut g = Graph::new();
    let x = g.input("x", vec![2, 3]);
    let one = g.scalar(1.0);
    let zero = g.scalar(0.0);
    let a = g.mul(x, one); // x·1 (through a broadcast of a scalar constant)
    let b = g.add(zero, a); // 0 + x
    let c = g.sub(b, zero); // x − 0
    let d = g.div(c, one); // x / 1
    let e = g.unary(UnaryOp::Neg, d);
    let f = g.unary(UnaryOp::Neg, e); // −(−x)
    let r1 = g.reshape(f, vec![6]);
    let r2 = g.reshape(r1, vec![3, 2]);
    let r3 = g.reshape(r2, vec![2, 3]); // reshape of reshape back to x's shape
    let t1 = g.transpose(r3, vec![1, 0]);
    let t2 = g.transpose(t1, vec![1, 0]); // transpose of transpose
    g.add_output("y", t2, Role::Value);
    let opt = optimize(&g);
    verify(&opt).expect("verifies");
    assert_eq!(ops(&opt), ["input"], "{}", netc::ir::print::print(&opt));
    assert_eq!(opt.outputs[0].value, netc::ir::ValueId(0));
}

#[test]
fn times_zero_is_kept_because_nan_times_zero_is_nan() {
    let mut g = Graph::new();
    let x = g.input("x", vec![2]);
    let zero = g.constant(0.0, vec![2]);
    let y = g.mul(x, zero);
    g.add_output("y", y, Role::Value);
    let opt = optimize(&g);
    assert_eq!(ops(&opt), ["input", "const", "mul"]);
    let out = run(&opt, &env(&[("x", vec![2], vec![f64::NAN, 3.0])])).expect("runs");
    assert!(out[0].data[0].is_nan());
    assert_eq!(out[0].data[1], 0.0);
}

#[test]
fn constants_fold_including_broadcasts_of_scalars() {
    let mut g = Graph::new();
    let two = g.scalar(2.0);
    let wide = g.broadcast(two, vec![3, 4]);
    let e = g.unary(UnaryOp::Exp, wide);
    let s = g.reduce(ReduceOp::Sum, e, &[1], false);
    g.add_output("s", s, Role::Value);
    let folded = fold_constants(&g);
    verify(&folded).expect("verifies");
    let last = folded.node(folded.outputs[0].value);
    let want = 4.0 * 2f64.exp();
    assert!(matches!(last.op, Op::Const { value } if (value - want).abs() < 1e-12));
    assert_eq!(ops(&dce(&folded)), ["const"]);
}

#[test]
fn cse_merges_and_dce_keeps_the_interface() {
    let mut g = Graph::new();
    let x = g.input("x", vec![3]);
    let unused = g.param("unused", vec![5]);
    let a = g.unary(UnaryOp::Tanh, x);
    let b = g.unary(UnaryOp::Tanh, x);
    let dead = g.unary(UnaryOp::Exp, unused);
    let y = g.add(a, b);
    g.add_output("y", y, Role::Value);
    let _ = dead;
    let merged = cse(&g);
    verify(&merged).expect("verifies");
    let pruned = dce(&merged);
    verify(&pruned).expect("verifies");
    assert_eq!(ops(&pruned), ["input", "param", "tanh", "add"]);
    assert_eq!(pruned.params(), [("unused", &[5usize][..])]);
}

#[test]
fn passes_keep_origins() {
    let mut g = Graph::new();
    let x = g.input("x", vec![3]);
    g.set_origin(Some(netc::span::Span::new(10, 20)), Some("dense1"));
    let one = g.scalar(1.0);
    let y = g.mul(x, one);
    let t = g.unary(UnaryOp::Tanh, y);
    g.add_output("t", t, Role::Value);
    let opt = optimize(&g);
    let tanh = opt.node(opt.outputs[0].value);
    assert_eq!(tanh.origin.layer.as_deref(), Some("dense1"));
    assert_eq!(tanh.origin.span, Some(netc::span::Span::new(10, 20)));
}

#[test]
fn optimizing_a_backward_program_pays_for_itself() {
    // dense → tanh → dense → mean square, with its gradients: the seed 1 and its broadcasts
    // fold away, 1·x disappears, and the repeated tanh² is computed once
    let mut g = Graph::new();
    let x = g.input("x", vec![4, 3]);
    let w1 = g.param("w1", vec![5, 3]);
    let w2 = g.param("w2", vec![2, 5]);
    let h = g.matmul(x, w1, false, true);
    let a = g.unary(UnaryOp::Tanh, h);
    let a2 = g.unary(UnaryOp::Square, a);
    let z = g.matmul(a, w2, false, true);
    let sq = g.unary(UnaryOp::Square, z);
    let l = g.reduce_all(ReduceOp::Mean, sq);
    let s = g.reduce_all(ReduceOp::Sum, a2);
    g.add_output("loss", l, Role::Loss);
    g.add_output("saturation", s, Role::Metric);
    let d = netc::autodiff::grad(&mut g, l, &[w1, w2]);
    g.add_output("dw1", d[0], Role::Value);
    g.add_output("dw2", d[1], Role::Value);
    let opt = optimize(&g);
    verify(&opt).expect("verifies");
    assert!(
        opt.len() + 6 <= g.len(),
        "{} → {} nodes",
        g.len(),
        opt.len()
    );
    let is_tanh = |v: netc::ir::ValueId| {
        matches!(
            opt.node(v).op,
            Op::Unary {
                op: UnaryOp::Tanh,
                ..
            }
        )
    };
    let squares_of_a = (opt.nodes.iter())
        .filter(|n| matches!(n.op, Op::Unary { op: UnaryOp::Square, x } if is_tanh(x)))
        .count();
    assert_eq!(squares_of_a, 1, "{}", netc::ir::print::print(&opt));
    let data = |n: usize| (0..n).map(|i| (i as f64 * 0.37).sin()).collect::<Vec<_>>();
    let e = env(&[
        ("x", vec![4, 3], data(12)),
        ("w1", vec![5, 3], data(15)),
        ("w2", vec![2, 5], data(10)),
    ]);
    let (before, after) = (run(&g, &e).expect("runs"), run(&opt, &e).expect("runs"));
    for (b, a) in before.iter().zip(&after) {
        assert!(close(&b.data, &a.data, 1e-12));
    }
}

#[test]
fn select_on_a_constant_condition_picks_its_branch() {
    let mut g = Graph::new();
    let a = g.input("a", vec![2]);
    let b = g.input("b", vec![2]);
    let yes = g.constant(1.0, vec![2]);
    let y = g.select(yes, a, b);
    g.add_output("y", y, Role::Value);
    let opt = optimize(&g);
    assert_eq!(opt.outputs[0].value, a);
}

/// A pass as the tests see it.
type Pass = fn(&Graph) -> Graph;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_pass_preserves_values_and_verifies(steps in steps(), seed in 0u64..1000) {
        let p = build(&steps, seed);
        let before = run(&p.g, &p.env).expect("runs");
        let passes: [(&str, Pass); 5] = [
            ("dce", dce),
            ("cse", cse),
            ("fold_constants", fold_constants),
            ("simplify", simplify),
            ("optimize", optimize),
        ];
        for (name, pass) in passes {
            let after_pass = pass(&p.g);
            prop_assert!(verify(&after_pass).is_ok(), "{name}: {:?}", verify(&after_pass));
            prop_assert_eq!(&after_pass.outputs.len(), &p.g.outputs.len());
            let after = run(&after_pass, &p.env).expect("runs");
            prop_assert!(close(&before[0].data, &after[0].data, 1e-12), "{}", name);
        }
    }

    #[test]
    fn f32_and_f64_interpreters_agree(steps in steps(), seed in 0u64..1000) {
        let p = build(&steps, seed);
        let env32: HashMap<String, Tensor<f32>> =
            p.env.iter().map(|(k, v)| (k.clone(), v.to_f32())).collect();
        let wide = run(&p.g, &p.env).expect("runs");
        let narrow = run(&p.g, &env32).expect("runs")[0].to_f64();
        prop_assert!(close(&wide[0].data, &narrow.data, 1e-4), "{:?} vs {:?}", wide[0].data, narrow.data);
    }
}

/// The gradient of a split (an LSTM's four gates read out of one product) arrives as a sum of
/// zero-padded concatenations; it becomes one concatenation with the same values, and terms
/// whose parts overlap are left alone.
#[test]
fn a_sum_of_padded_parts_becomes_one_concatenation() {
    let mut g = Graph::new();
    let (a, b, c) = (
        g.input("a", vec![2, 1]),
        g.input("b", vec![2, 2]),
        g.input("c", vec![2, 1]),
    );
    let (z1, z2, z3) = (
        g.constant(0.0, vec![2, 1]),
        g.constant(0.0, vec![2, 2]),
        g.constant(0.0, vec![2, 3]),
    );
    let pa = g.concat(&[a, z3], 1); // [a 0 0 0]
    let pc = g.concat(&[z3, c], 1); // [0 0 0 c]
    let pb = g.concat(&[z1, b, z1], 1); // [0 b b 0]
    let s = g.add(pa, pc);
    let s = g.add(s, pb);
    let overlap = g.concat(&[z2, b], 1); // [0 0 b b] overlaps c
    let t = g.add(pc, overlap);
    g.add_output("s", s, Role::Value);
    g.add_output("t", t, Role::Value);
    let e = env(&[
        ("a", vec![2, 1], vec![1.0, 2.0]),
        ("b", vec![2, 2], vec![3.0, 4.0, 5.0, 6.0]),
        ("c", vec![2, 1], vec![7.0, 8.0]),
    ]);
    let opt = optimize(&g);
    assert!(verify(&opt).is_ok());
    let (before, after) = (run(&g, &e).expect("runs"), run(&opt, &e).expect("runs"));
    assert_eq!(before, after);
    assert_eq!(after[0].data, vec![1.0, 3.0, 4.0, 7.0, 2.0, 5.0, 6.0, 8.0]);
    let Op::Concat { xs, .. } = &opt.node(opt.outputs[0].value).op else {
        panic!("s is not one concatenation: {:?}", ops(&opt));
    };
    assert_eq!(xs, &[a, b, c]);
    assert!(
        matches!(opt.node(opt.outputs[1].value).op, Op::Binary { .. }),
        "overlapping parts are still added: {:?}",
        ops(&opt)
    );
}
