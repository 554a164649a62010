//! Small cases whose derivative is worked out by hand (written in a comment above each), the
//! conventions of mod.rs at ties and kinks, origins on the backward pass, and proof that the
//! gradient check's tolerance catches a wrong rule.

use netc::autodiff::grad;
use netc::gradcheck::{analytic_gradients, compare, Options};
use netc::ir::interp::run;
use netc::ir::{BinaryOp, Graph, Op, ReduceOp, Role, Shape, Tensor, UnaryOp, ValueId};
use std::collections::HashMap;

/// ∂loss/∂x for each x in `wrt`, evaluated at `inputs` (name, shape, data).
fn gradients(
    g: &Graph,
    loss: ValueId,
    wrt: &[ValueId],
    inputs: &[(&str, Shape, Vec<f64>)],
) -> Vec<Vec<f64>> {
    let mut g = g.clone();
    g.outputs.clear();
    for (i, d) in grad(&mut g, loss, wrt).into_iter().enumerate() {
        g.add_output(format!("d{i}"), d, Role::Value);
    }
    let env: HashMap<String, Tensor<f64>> = (inputs.iter())
        .map(|(n, s, d)| (n.to_string(), Tensor::new(s.clone(), d.clone())))
        .collect();
    run(&g, &env)
        .expect("runs")
        .into_iter()
        .map(|t| t.data)
        .collect()
}

fn assert_close(got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert!(
            (g - w).abs() < 1e-12 * w.abs().max(1.0),
            "got {got:?}, want {want:?}"
        );
    }
}

fn sigma(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

#[test]
fn swish() {
    // d/dx x·σ(x) = σ(x)(1 + x(1 − σ(x)))
    let xs = vec![-2.0, -0.5, 0.0, 1.5];
    let mut g = Graph::new();
    let x = g.input("x", vec![4]);
    let s = g.unary(UnaryOp::Sigmoid, x);
    let y = g.mul(x, s);
    let l = g.reduce_all(ReduceOp::Sum, y);
    let d = gradients(&g, l, &[x], &[("x", vec![4], xs.clone())]);
    let want: Vec<f64> = xs
        .iter()
        .map(|&x| sigma(x) * (1.0 + x * (1.0 - sigma(x))))
        .collect();
    assert_close(&d[0], &want);
}

#[test]
fn a_value_used_twice_sums_its_adjoints() {
    // d/dx (x² + 3x) = 2x + 3
    let mut g = Graph::new();
    let x = g.input("x", vec![3]);
    let sq = g.unary(UnaryOp::Square, x);
    let three_x = g.scale(x, 3.0);
    let y = g.add(sq, three_x);
    let l = g.reduce_all(ReduceOp::Sum, y);
    let d = gradients(&g, l, &[x], &[("x", vec![3], vec![-1.0, 0.0, 2.0])]);
    assert_close(&d[0], &[1.0, 3.0, 7.0]);
}

#[test]
fn softmax_cross_entropy() {
    // L = log Σⱼ e^zⱼ − z_t  ⇒  ∂L/∂zᵢ = softmax(z)ᵢ − [i = t]
    let z = vec![1.0, 2.0, 0.5];
    let mut g = Graph::new();
    let zv = g.input("z", vec![3]);
    let onehot = g.input("t", vec![3]);
    let e = g.unary(UnaryOp::Exp, zv);
    let s = g.reduce_all(ReduceOp::Sum, e);
    let lse = g.unary(UnaryOp::Log, s);
    let picked = g.mul(zv, onehot);
    let zt = g.reduce_all(ReduceOp::Sum, picked);
    let l = g.sub(lse, zt);
    let inputs = [
        ("z", vec![3], z.clone()),
        ("t", vec![3], vec![0.0, 1.0, 0.0]),
    ];
    let d = gradients(&g, l, &[zv], &inputs);
    let total: f64 = z.iter().map(|v| v.exp()).sum();
    let want: Vec<f64> = (z.iter().enumerate())
        .map(|(i, v)| v.exp() / total - if i == 1 { 1.0 } else { 0.0 })
        .collect();
    assert_close(&d[0], &want);
}

#[test]
fn exact_gelu() {
    // gelu x = x·Φ(x), Φ(x) = (1 + erf(x/√2))/2  ⇒  d/dx = Φ(x) + x·e^(−x²/2)/√(2π)
    let xs = vec![-1.0, 0.3, 2.0];
    let mut g = Graph::new();
    let x = g.input("x", vec![3]);
    let scaled = g.scale(x, std::f64::consts::FRAC_1_SQRT_2);
    let erf = g.unary(UnaryOp::Erf, scaled);
    let one_plus = g.offset(erf, 1.0);
    let phi = g.scale(one_plus, 0.5);
    let y = g.mul(x, phi);
    let l = g.reduce_all(ReduceOp::Sum, y);
    let d = gradients(&g, l, &[x], &[("x", vec![3], xs.clone())]);
    let erf = netc::ir::interp::erf_f64;
    let want: Vec<f64> = (xs.iter())
        .map(|&x| {
            let pdf = (-x * x / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt();
            0.5 * (1.0 + erf(x / std::f64::consts::SQRT_2)) + x * pdf
        })
        .collect();
    assert_close(&d[0], &want);
}

#[test]
fn dense_layer() {
    // L = Σ x·Wᵀ + b with x [2, 3], W [4, 3], b [4]:
    // ∂L/∂W[o, i] = Σₙ x[n, i] (column sums of x), ∂L/∂b = batch size, ∂L/∂x[n, i] = Σₒ W[o, i]
    let mut g = Graph::new();
    let x = g.input("x", vec![2, 3]);
    let w = g.param("w", vec![4, 3]);
    let b = g.param("b", vec![4]);
    let xw = g.matmul(x, w, false, true);
    let y = g.add(xw, b);
    let l = g.reduce_all(ReduceOp::Sum, y);
    let xs = vec![1.0, 2.0, 3.0, -1.0, 0.5, 4.0];
    let ws: Vec<f64> = (0..12).map(|i| i as f64 * 0.1).collect();
    let inputs = [
        ("x", vec![2, 3], xs),
        ("w", vec![4, 3], ws),
        ("b", vec![4], vec![0.0; 4]),
    ];
    let d = gradients(&g, l, &[w, b, x], &inputs);
    assert_close(&d[0], &[0.0, 2.5, 7.0].repeat(4));
    assert_close(&d[1], &[2.0; 4]);
    assert_close(&d[2], &[1.8, 2.2, 2.6].repeat(2));
}

#[test]
fn mean_and_sqrt() {
    // d/dx mean(√x) = 1/(n·2√x): at x = [4, 1, 16, 0.25] with n = 4 → [1/16, 1/8, 1/32, 1/4]
    let mut g = Graph::new();
    let x = g.input("x", vec![2, 2]);
    let r = g.unary(UnaryOp::Sqrt, x);
    let l = g.reduce_all(ReduceOp::Mean, r);
    let d = gradients(
        &g,
        l,
        &[x],
        &[("x", vec![2, 2], vec![4.0, 1.0, 16.0, 0.25])],
    );
    assert_close(&d[0], &[1.0 / 16.0, 1.0 / 8.0, 1.0 / 32.0, 0.25]);
}

#[test]
fn ties_and_kinks_follow_the_documented_conventions() {
    // max(a, b) and min(a, b) at a = b: each operand gets half (PyTorch's torch.maximum);
    // off the tie all of it goes to the picked operand
    for op in [BinaryOp::Max, BinaryOp::Min] {
        let mut g = Graph::new();
        let a = g.input("a", vec![3]);
        let b = g.input("b", vec![3]);
        let y = g.binary(op, a, b);
        let l = g.reduce_all(ReduceOp::Sum, y);
        let inputs = [
            ("a", vec![3], vec![1.0, 2.0, 5.0]),
            ("b", vec![3], vec![1.0, 2.0, 4.0]),
        ];
        let d = gradients(&g, l, &[a, b], &inputs);
        let a_wins = if op == BinaryOp::Max { 1.0 } else { 0.0 };
        assert_close(&d[0], &[0.5, 0.5, a_wins]);
        assert_close(&d[1], &[0.5, 0.5, 1.0 - a_wins]);
    }
    // reduce_max: the k positions equal to the maximum share the gradient, 1/k each
    let mut g = Graph::new();
    let x = g.input("x", vec![4]);
    let m = g.reduce_all(ReduceOp::Max, x);
    let d = gradients(&g, m, &[x], &[("x", vec![4], vec![1.0, 3.0, 3.0, -2.0])]);
    assert_close(&d[0], &[0.0, 0.5, 0.5, 0.0]);
    // |x| has gradient sign x, which is 0 at 0
    let mut g = Graph::new();
    let x = g.input("x", vec![3]);
    let a = g.unary(UnaryOp::Abs, x);
    let l = g.reduce_all(ReduceOp::Sum, a);
    let d = gradients(&g, l, &[x], &[("x", vec![3], vec![-2.0, 0.0, 5.0])]);
    assert_close(&d[0], &[-1.0, 0.0, 1.0]);
    // relu′(x) = 1 where x > 0, else 0: relu′(0) = 0 (PyTorch's x > 0)
    let mut g = Graph::new();
    let x = g.input("x", vec![3]);
    let r = g.unary(UnaryOp::Relu, x);
    let l = g.reduce_all(ReduceOp::Sum, r);
    let d = gradients(&g, l, &[x], &[("x", vec![3], vec![-2.0, 0.0, 5.0])]);
    assert_close(&d[0], &[0.0, 0.0, 1.0]);
    // softplus′(x) = σ(x): σ(0) = 0.5, where the stable form max(x, 0) + ln(1 + e^−|x|) kinks
    let mut g = Graph::new();
    let x = g.input("x", vec![3]);
    let s = g.unary(UnaryOp::Softplus, x);
    let l = g.reduce_all(ReduceOp::Sum, s);
    let d = gradients(&g, l, &[x], &[("x", vec![3], vec![-2.0, 0.0, 5.0])]);
    assert_close(&d[0], &[sigma(-2.0), 0.5, sigma(5.0)]);
}

#[test]
fn backward_nodes_carry_the_origin_of_the_forward_node() {
    let mut g = Graph::new();
    let x = g.input("x", vec![3]);
    g.set_origin(Some(netc::span::Span::new(5, 9)), Some("act"));
    let t = g.unary(UnaryOp::Tanh, x);
    g.set_origin(Some(netc::span::Span::new(20, 30)), Some("loss"));
    let l = g.reduce_all(ReduceOp::Sum, t);
    g.set_origin(None, Some("glue"));
    let forward_len = g.len();
    grad(&mut g, l, &[x]);
    let backward = &g.nodes[forward_len..];
    // tanh's rule squares y = tanh x: that node belongs to the layer `act`
    let square = backward
        .iter()
        .find(|n| {
            matches!(
                n.op,
                Op::Unary {
                    op: UnaryOp::Square,
                    ..
                }
            )
        })
        .expect("tanh's rule uses y²");
    assert_eq!(square.origin.layer.as_deref(), Some("act"));
    assert_eq!(square.origin.span, Some(netc::span::Span::new(5, 9)));
    assert!(backward.iter().all(|n| n.origin.layer.is_some()));
    // and the builder's own origin is restored afterwards
    assert_eq!(g.origin().layer.as_deref(), Some("glue"));
}

/// A small network whose loss exercises most rules.
fn network() -> (Graph, ValueId, HashMap<String, Tensor<f64>>) {
    let mut g = Graph::new();
    let x = g.input("x", vec![3, 4]);
    let w = g.param("w", vec![5, 4]);
    let b = g.param("b", vec![5]);
    let h = g.matmul(x, w, false, true);
    let h = g.add(h, b);
    let a = g.unary(UnaryOp::Tanh, h);
    let s = g.unary(UnaryOp::Sigmoid, a);
    let e = g.unary(UnaryOp::Exp, s);
    let m = g.reduce(ReduceOp::Mean, e, &[1], false);
    let sq = g.unary(UnaryOp::Square, m);
    let l = g.reduce_all(ReduceOp::Sum, sq);
    let data = |n: usize, k: f64| (0..n).map(|i| (i as f64 * k).sin()).collect::<Vec<_>>();
    let env = [
        ("x".to_string(), Tensor::new(vec![3, 4], data(12, 0.9))),
        ("w".to_string(), Tensor::new(vec![5, 4], data(20, 1.7))),
        ("b".to_string(), Tensor::new(vec![5], data(5, 2.3))),
    ]
    .into();
    (g, l, env)
}

#[test]
fn a_hand_made_wrong_gradient_fails_the_check() {
    // the right rule d/dx x·σ(x) = σ(x)(1 + x(1 − σ(x))) passes; forgetting the "1 −" fails
    let xs = vec![-1.5, -0.2, 0.7, 2.0];
    let mut g = Graph::new();
    let x = g.input("x", vec![4]);
    let s = g.unary(UnaryOp::Sigmoid, x);
    let y = g.mul(x, s);
    let l = g.reduce_all(ReduceOp::Sum, y);
    let env: HashMap<String, Tensor<f64>> =
        [("x".to_string(), Tensor::new(vec![4], xs.clone()))].into();
    let right: Vec<f64> = xs
        .iter()
        .map(|&x| sigma(x) * (1.0 + x * (1.0 - sigma(x))))
        .collect();
    let wrong: Vec<f64> = xs
        .iter()
        .map(|&x| sigma(x) * (1.0 + x * sigma(x)))
        .collect();
    let opts = Options::default();
    let check = |d: Vec<f64>| {
        let analytic = [Tensor::new(vec![4], d)];
        compare(&g, l, &["x"], &env, &analytic, &opts).expect("runs")[0].passes(&opts)
    };
    assert!(check(right));
    assert!(!check(wrong));
}

#[test]
fn every_one_percent_error_in_a_backward_constant_fails_the_check() {
    // Mutation test of the tolerance: scale one constant of the backward program by 1.01 (a
    // rule off by 1%) or swap one add/sub in it; whenever that changes a gradient, the check
    // must fail.
    let (g, l, env) = network();
    let opts = Options::default();
    let names = ["x", "w", "b"];
    let correct = analytic_gradients(&g, l, &names, &env).expect("runs");
    let baseline = compare(&g, l, &names, &env, &correct, &opts).expect("runs");
    assert!(
        baseline.iter().all(|leaf| leaf.passes(&opts)),
        "{baseline:?}"
    );

    let mut with_grad = g.clone();
    let leaves: Vec<ValueId> = (0..3).map(ValueId).collect();
    for (name, d) in names.iter().zip(grad(&mut with_grad, l, &leaves)) {
        with_grad.add_output(format!("d{name}"), d, Role::Value);
    }
    let mut caught = 0;
    for i in g.len()..with_grad.len() {
        let mut mutant = with_grad.clone();
        let op = &mut mutant.nodes[i].op;
        let changed = if let Op::Const { value } = op {
            *value *= 1.01;
            *value != 0.0
        } else if let Op::Binary { op: kind, .. } = op {
            let swapped = match kind {
                BinaryOp::Add => Some(BinaryOp::Sub),
                BinaryOp::Sub => Some(BinaryOp::Add),
                BinaryOp::Mul | BinaryOp::Div | BinaryOp::Max | BinaryOp::Min => None,
            };
            swapped.map(|s| *kind = s).is_some()
        } else {
            false
        };
        if !changed {
            continue;
        }
        let analytic = run(&mutant, &env).expect("runs");
        let differs = analytic.iter().zip(&correct).any(|(m, c)| {
            m.data
                .iter()
                .zip(&c.data)
                .any(|(a, b)| (a - b).abs() > 1e-9 * b.abs().max(1e-3))
        });
        if differs {
            let report = compare(&g, l, &names, &env, &analytic, &opts).expect("runs");
            assert!(
                report.iter().any(|leaf| !leaf.passes(&opts)),
                "mutant {i} slipped through: {report:?}"
            );
            caught += 1;
        }
    }
    assert!(caught >= 5, "only {caught} mutants changed a gradient");
}
