//! Every op's vector-Jacobian rule against central finite differences in f64.
//!
//! Each case builds y = op(leaves…) and the scalar loss L = Σ y ⊙ r for a fixed random r, so
//! the adjoint reaching the op is not uniform (a transposed or misplaced gradient shows). The
//! tolerance is `gradcheck::Options::default()`: max relative error 1e-6 with denominator floor
//! 1e-3. Inputs stay away from kinks (|x| at 0, max/min ties) and outside each function's
//! singularities, by more than the finite-difference step.

use netc::autodiff::grad;
use netc::gradcheck::{gradcheck, Options};
use netc::ir::interp::run;
use netc::ir::verify::verify;
use netc::ir::{BinaryOp, CmpOp, Graph, ReduceOp, Role, Shape, Tensor, UnaryOp, ValueId};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;

/// A program under test, the point it is evaluated at, and the leaves to check.
struct Case {
    g: Graph,
    env: HashMap<String, Tensor<f64>>,
    rng: ChaCha8Rng,
    checked: Vec<String>,
}

impl Case {
    fn new(seed: u64) -> Case {
        Case {
            g: Graph::new(),
            env: HashMap::new(),
            rng: ChaCha8Rng::seed_from_u64(seed),
            checked: vec![],
        }
    }

    /// A checked input with values uniform in [lo, hi].
    fn leaf(&mut self, name: &str, shape: Shape, lo: f64, hi: f64) -> ValueId {
        let data = (0..shape.iter().product::<usize>())
            .map(|_| self.rng.random_range(lo..hi))
            .collect();
        self.env
            .insert(name.into(), Tensor::new(shape.clone(), data));
        self.checked.push(name.into());
        self.g.input(name, shape)
    }

    /// A checked parameter with values uniform in [-1, 1].
    fn param(&mut self, name: &str, shape: Shape) -> ValueId {
        let v = self.leaf(name, shape.clone(), -1.0, 1.0);
        self.g.nodes[v.index()].op = netc::ir::Op::Param { name: name.into() };
        v
    }

    /// Values with random signs and magnitudes in [lo, hi] (away from zero).
    fn signed_leaf(&mut self, name: &str, shape: Shape, lo: f64, hi: f64) -> ValueId {
        let v = self.leaf(name, shape, lo, hi);
        let t = self.env.get_mut(name).expect("just inserted");
        for (i, x) in t.data.iter_mut().enumerate() {
            if i % 2 == 1 {
                *x = -*x;
            }
        }
        v
    }

    /// L = Σ y ⊙ r, then the gradient check of every checked leaf.
    fn check(mut self, y: ValueId) {
        let shape = self.g.shape(y).to_vec();
        let data = (0..shape.iter().product::<usize>())
            .map(|_| self.rng.random_range(-1.0..1.0))
            .collect();
        self.env
            .insert("r".into(), Tensor::new(shape.clone(), data));
        let r = self.g.input("r", shape);
        let weighted = self.g.mul(y, r);
        let loss = self.g.reduce_all(ReduceOp::Sum, weighted);
        self.check_loss(loss);
    }

    fn check_loss(self, loss: ValueId) {
        let names: Vec<&str> = self.checked.iter().map(String::as_str).collect();
        let opts = Options::default();
        let report = gradcheck(&self.g, loss, &names, &self.env, &opts).expect("gradcheck runs");
        for leaf in &report {
            assert!(
                leaf.passes(&opts),
                "{leaf:?}\n{}",
                netc::ir::print::print(&self.g)
            );
        }
        // The backward program itself is well formed.
        let mut g = self.g.clone();
        let wrt: Vec<ValueId> = (0..g.len() as u32).map(ValueId).collect();
        grad(&mut g, loss, &wrt);
        verify(&g).expect("backward program verifies");
    }
}

fn check_unary(op: UnaryOp, lo: f64, hi: f64, signed: bool) {
    let mut c = Case::new(op as u64);
    let x = if signed {
        c.signed_leaf("x", vec![2, 3], lo, hi)
    } else {
        c.leaf("x", vec![2, 3], lo, hi)
    };
    let y = c.g.unary(op, x);
    c.check(y);
}

#[test]
fn every_unary_op() {
    use UnaryOp::*;
    for (op, lo, hi, signed) in [
        (Neg, -2.0, 2.0, false),
        (Exp, -2.0, 2.0, false),
        (Log, 0.5, 3.0, false),
        (Log1p, -0.5, 2.0, false),
        (Tanh, -2.0, 2.0, false),
        (Sigmoid, -4.0, 4.0, false),
        (Sqrt, 0.3, 3.0, false),
        (Rsqrt, 0.3, 3.0, false),
        (Recip, 0.3, 3.0, true),
        (Abs, 0.1, 2.0, true),
        (Square, -2.0, 2.0, false),
        (Erf, -2.0, 2.0, false),
        (Relu, 0.1, 2.0, true),
        (Softplus, -4.0, 4.0, false),
        // A 0/1 flag: its gradient is zero, and so are the finite differences.
        (IsNonFinite, -2.0, 2.0, false),
    ] {
        check_unary(op, lo, hi, signed);
    }
}

#[test]
fn every_binary_op() {
    use BinaryOp::*;
    for op in [Add, Sub, Mul, Div, Max, Min] {
        let mut c = Case::new(100 + op as u64);
        let a = c.leaf("a", vec![3, 2], -2.0, 2.0);
        // b = a ± [0.1, 1): no ties for max/min, and b bounded away from 0 for div
        let gap = c.signed_leaf("gap", vec![3, 2], 0.1, 1.0);
        let b0 = c.g.add(a, gap);
        let b = match op {
            Div => {
                let sq = c.g.unary(UnaryOp::Square, b0);
                c.g.offset(sq, 0.5)
            }
            Add | Sub | Mul | Max | Min => b0,
        };
        let y = c.g.binary(op, a, b);
        c.check(y);
    }
}

#[test]
fn every_compare_op_has_zero_gradient_and_selects_route_it() {
    use CmpOp::*;
    for op in [Gt, Ge, Lt, Le, Eq] {
        let mut c = Case::new(200 + op as u64);
        let a = c.leaf("a", vec![4], -2.0, 2.0);
        let b = c.leaf("b", vec![4], -2.0, 2.0);
        let flag = c.g.compare(op, a, b);
        // L = Σ r ⊙ (flag · a + select(flag, a², b))
        let gated = c.g.mul(flag, a);
        let a2 = c.g.unary(UnaryOp::Square, a);
        let chosen = c.g.select(flag, a2, b);
        let y = c.g.add(gated, chosen);
        c.check(y);
    }
}

#[test]
fn matmul_with_every_transpose_flag() {
    for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
        let mut c = Case::new(300 + u64::from(ta) * 2 + u64::from(tb));
        let a_shape = if ta { vec![4, 3] } else { vec![3, 4] };
        let b_shape = if tb { vec![5, 4] } else { vec![4, 5] };
        let a = c.param("a", a_shape);
        let b = c.param("b", b_shape);
        let y = c.g.matmul(a, b, ta, tb);
        c.check(y);
    }
}

#[test]
fn every_reduction_over_several_axes() {
    use ReduceOp::*;
    for op in [Sum, Mean, Max] {
        for (axes, keep) in [
            (vec![0], false),
            (vec![1], true),
            (vec![0, 2], false),
            (vec![0, 1, 2], true),
        ] {
            let mut c = Case::new(400 + op as u64);
            // distinct values, so the maximum is unique and stays so under the nudge
            let x = c.leaf("x", vec![2, 3, 4], -2.0, 2.0);
            let y = c.g.reduce(op, x, &axes, keep);
            c.check(y);
        }
    }
}

#[test]
fn reshape_transpose_broadcast() {
    let mut c = Case::new(500);
    let x = c.leaf("x", vec![2, 3, 4], -1.0, 1.0);
    let r = c.g.reshape(x, vec![6, 4]);
    let r = c.g.unary(UnaryOp::Tanh, r);
    let back = c.g.reshape(r, vec![2, 3, 4]);
    let y = c.g.transpose(back, vec![2, 0, 1]);
    c.check(y);

    for (from, to) in [
        (vec![], vec![2, 3]),
        (vec![3], vec![2, 3]),
        (vec![2, 1], vec![2, 3]),
        (vec![1, 3], vec![4, 2, 3]),
        (vec![2, 1, 1], vec![2, 3, 4]),
    ] {
        let mut c = Case::new(501);
        let x = c.leaf("x", from, -1.0, 1.0);
        let y = c.g.broadcast(x, to);
        c.check(y);
    }
}

#[test]
fn slice_and_concat() {
    for (axis, start, len) in [(0, 1, 2), (1, 0, 2), (1, 2, 3), (2, 1, 1)] {
        let mut c = Case::new(600 + start as u64);
        let x = c.leaf("x", vec![4, 5, 3], -1.0, 1.0);
        let y = c.g.slice(x, axis, start, len);
        c.check(y);
    }
    for axis in [0, 1] {
        let mut c = Case::new(610);
        let a = c.leaf("a", vec![2, 3], -1.0, 1.0);
        let b = c.leaf("b", vec![2, 3], -1.0, 1.0);
        let sq = c.g.unary(UnaryOp::Square, a);
        // a appears twice: its adjoint is the sum of both pieces' contributions
        let y = c.g.concat(&[a, b, sq], axis);
        c.check(y);
    }
}

#[test]
fn random_mask_scales_the_gradient_and_leaves_the_counter_alone() {
    let mut c = Case::new(700);
    let x = c.leaf("x", vec![4, 4], -1.0, 1.0);
    let step = c.leaf("step", vec![], 3.5, 3.5 + 1e-9);
    let mask = c.g.random_mask(0.5, 42, 0, step, vec![4, 4]);
    let y = c.g.mul(x, mask);
    c.check(y);
}

#[test]
fn params_and_constants_as_leaves() {
    let mut c = Case::new(800);
    let w = c.param("w", vec![3]);
    let k = c.g.constant(2.5, vec![3]);
    let wk = c.g.mul(w, k);
    let y = c.g.add(wk, w);
    c.check(y);
}

#[test]
fn a_small_network_end_to_end() {
    // dense → tanh → dense → log-softmax cross-entropy, the shape of a real training loss
    let mut c = Case::new(900);
    let x = c.leaf("x", vec![5, 4], -1.0, 1.0);
    let w1 = c.param("w1", vec![6, 4]);
    let b1 = c.param("b1", vec![6]);
    let w2 = c.param("w2", vec![3, 6]);
    let h = c.g.matmul(x, w1, false, true);
    let h = c.g.add(h, b1);
    let h = c.g.unary(UnaryOp::Tanh, h);
    let z = c.g.matmul(h, w2, false, true);
    let zmax = c.g.reduce(ReduceOp::Max, z, &[1], true);
    let shifted = c.g.sub(z, zmax);
    let e = c.g.unary(UnaryOp::Exp, shifted);
    let s = c.g.reduce(ReduceOp::Sum, e, &[1], true);
    let lse = c.g.unary(UnaryOp::Log, s);
    let logp = c.g.sub(shifted, lse);
    let onehot = c.g.input("onehot", vec![5, 3]);
    let mut t = vec![0.0; 15];
    for row in 0..5 {
        t[row * 3 + row % 3] = 1.0;
    }
    c.env.insert("onehot".into(), Tensor::new(vec![5, 3], t));
    let picked = c.g.mul(logp, onehot);
    let total = c.g.reduce_all(ReduceOp::Mean, picked);
    let loss = c.g.unary(UnaryOp::Neg, total);
    c.check_loss(loss);
}

#[test]
fn gradients_of_intermediates_and_unreachable_values() {
    // L = Σ (2h)², h = x + 1: ∂L/∂h = 8h, and w (unused) gets a zero constant
    let mut g = Graph::new();
    let x = g.input("x", vec![3]);
    let w = g.param("w", vec![2]);
    let h = g.offset(x, 1.0);
    let y = g.scale(h, 2.0);
    let y2 = g.unary(UnaryOp::Square, y);
    let loss = g.reduce_all(ReduceOp::Sum, y2);
    let adj = grad(&mut g, loss, &[h, w]);
    g.add_output("dh", adj[0], Role::Value);
    g.add_output("dw", adj[1], Role::Value);
    let env: HashMap<String, Tensor<f64>> = [
        ("x".to_string(), Tensor::new(vec![3], vec![0.0, 1.0, -2.0])),
        ("w".to_string(), Tensor::new(vec![2], vec![5.0, 6.0])),
    ]
    .into();
    let out = run(&g, &env).expect("runs");
    assert_eq!(out[0].data, [8.0, 16.0, -8.0]);
    assert_eq!(out[1].data, [0.0, 0.0]);
}
