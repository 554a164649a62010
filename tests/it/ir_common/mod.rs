//! Random small well-shaped IR programs for property tests, kept in safe domains (log, sqrt,
//! rsqrt and recip only see square + 1; exp only sees tanh) so finite differences are exact
//! enough and nothing overflows. A program is built from a list of small numbers that proptest
//! generates and shrinks.

#![allow(dead_code)] // the property-test modules each use part of it

use netc::ir::{BinaryOp, Graph, ReduceOp, Shape, Tensor, UnaryOp, ValueId};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;

/// One step: which kind of op, and two choices (operand pick, axis, …).
pub type Step = (u8, u8, u8);

pub fn steps() -> impl Strategy<Value = Vec<Step>> {
    proptest::collection::vec((0u8..24, any::<u8>(), any::<u8>()), 1..10)
}

/// A built program: its scalar loss, its leaves and values for them.
pub struct Program {
    pub g: Graph,
    pub loss: ValueId,
    pub leaves: Vec<String>,
    pub env: HashMap<String, Tensor<f64>>,
}

struct Builder {
    g: Graph,
    pool: Vec<ValueId>,
    env: HashMap<String, Tensor<f64>>,
    leaves: Vec<String>,
    rng: ChaCha8Rng,
}

impl Builder {
    fn leaf(&mut self, shape: Shape, param: bool) -> ValueId {
        let name = format!("{}{}", if param { "w" } else { "x" }, self.leaves.len());
        let data = (0..shape.iter().product::<usize>())
            .map(|_| self.rng.random_range(-1.0..1.0))
            .collect();
        self.env
            .insert(name.clone(), Tensor::new(shape.clone(), data));
        self.leaves.push(name.clone());
        if param {
            self.g.param(name, shape)
        } else {
            self.g.input(name, shape)
        }
    }

    fn pick(&self, k: u8) -> ValueId {
        self.pool[usize::from(k) % self.pool.len()]
    }

    /// x², then + 1: a value ≥ 1, safe for log, sqrt, rsqrt, recip and division.
    fn positive(&mut self, x: ValueId) -> ValueId {
        let sq = self.g.unary(UnaryOp::Square, x);
        self.g.offset(sq, 1.0)
    }

    fn step(&mut self, (kind, p, q): Step) {
        let x = self.pick(p);
        let g = &mut self.g;
        let shape = g.shape(x).to_vec();
        let v = match kind {
            0 => g.unary(UnaryOp::Tanh, x),
            1 => g.unary(UnaryOp::Sigmoid, x),
            2 => {
                let t = g.unary(UnaryOp::Tanh, x);
                g.unary(UnaryOp::Exp, t)
            }
            3 => g.unary(UnaryOp::Erf, x),
            4 => g.unary(UnaryOp::Neg, x),
            5 => {
                let op = [UnaryOp::Log, UnaryOp::Sqrt, UnaryOp::Rsqrt, UnaryOp::Recip]
                    [usize::from(q) % 4];
                let pos = self.positive(x);
                self.g.unary(op, pos)
            }
            6 => {
                let pos = self.positive(x);
                self.g.unary(UnaryOp::Log1p, pos)
            }
            7..=9 => {
                let y = self.partner(&shape, q);
                let op = [BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul][usize::from(kind - 7)];
                self.g.binary(op, x, y)
            }
            10 => {
                let y = self.partner(&shape, q);
                let den = self.positive(y);
                self.g.div(x, den)
            }
            11 | 12 => self.matmul(x, q, kind == 12),
            13 | 14 => {
                let op = if kind == 13 {
                    ReduceOp::Sum
                } else {
                    ReduceOp::Mean
                };
                if shape.is_empty() {
                    x
                } else {
                    let axis = usize::from(q) % shape.len();
                    g.reduce(op, x, &[axis], q % 2 == 0)
                }
            }
            15 => {
                let mut to = shape.clone();
                to.insert(0, 2);
                g.broadcast(x, to)
            }
            16 => {
                let perm: Vec<usize> = (0..shape.len()).rev().collect();
                g.transpose(x, perm)
            }
            17 => match shape.iter().position(|&d| d > 1) {
                Some(axis) => {
                    let len = 1 + usize::from(q) % (shape[axis] - 1);
                    let start = usize::from(q / 16) % (shape[axis] - len + 1);
                    g.slice(x, axis, start, len)
                }
                None => x,
            },
            18 => {
                let y = self.partner(&shape, q);
                match shape.len() {
                    0 => x,
                    rank => self.g.concat(&[x, y], usize::from(q) % rank),
                }
            }
            19 => {
                let n = shape.iter().product::<usize>();
                g.reshape(x, vec![n])
            }
            20 => g.unary(UnaryOp::Square, x),
            // identities and duplicates for the passes to find
            21 => {
                let one = g.constant(1.0, vec![]);
                let y = g.mul(x, one);
                let zero = g.constant(0.0, shape.clone());
                g.add(zero, y)
            }
            22 => {
                let n = g.unary(UnaryOp::Neg, x);
                let nn = g.unary(UnaryOp::Neg, n);
                let n = shape.iter().product::<usize>();
                let flat = g.reshape(nn, vec![n]);
                let again = g.reshape(flat, vec![1, n]);
                g.reshape(again, shape)
            }
            _ => {
                let a = g.unary(UnaryOp::Tanh, x);
                let b = g.unary(UnaryOp::Tanh, x);
                let two = g.scalar(2.0);
                let bc = g.broadcast(two, shape);
                let ab = g.add(a, b);
                g.div(ab, bc)
            }
        };
        self.pool.push(v);
    }

    /// A value of `shape` to pair with: an earlier one if there is one, else a new input.
    fn partner(&mut self, shape: &[usize], q: u8) -> ValueId {
        let same: Vec<ValueId> = (self.pool.iter().copied())
            .filter(|&v| self.g.shape(v) == shape)
            .collect();
        if q % 3 != 0 && !same.is_empty() {
            same[usize::from(q) % same.len()]
        } else {
            self.leaf(shape.to_vec(), q % 2 == 0)
        }
    }

    /// x viewed as a matrix, times a new parameter (or, transposed, times itself).
    fn matmul(&mut self, x: ValueId, q: u8, transposed: bool) -> ValueId {
        let shape = self.g.shape(x).to_vec();
        let n = shape.iter().product::<usize>();
        let rows = shape.first().copied().unwrap_or(1).max(1);
        let m = self.g.reshape(x, vec![rows, n / rows]);
        if transposed {
            self.g.matmul(m, m, true, false)
        } else {
            let w = self.leaf(vec![n / rows, 1 + usize::from(q) % 3], true);
            self.g.matmul(m, w, false, false)
        }
    }
}

/// Builds the program of `steps`: L = Σ r ⊙ (last value) with a fixed random r.
pub fn build(steps: &[Step], seed: u64) -> Program {
    let mut b = Builder {
        g: Graph::new(),
        pool: vec![],
        env: HashMap::new(),
        leaves: vec![],
        rng: ChaCha8Rng::seed_from_u64(seed),
    };
    let x = b.leaf(vec![3, 4], false);
    let w = b.leaf(vec![3, 4], true);
    b.pool.extend([x, w]);
    for &s in steps {
        b.step(s);
    }
    let last = *b.pool.last().expect("the pool starts with two leaves");
    let shape = b.g.shape(last).to_vec();
    let data = (0..shape.iter().product::<usize>())
        .map(|_| b.rng.random_range(-1.0..1.0))
        .collect();
    b.env.insert("r".into(), Tensor::new(shape.clone(), data));
    let r = b.g.input("r", shape);
    let weighted = b.g.mul(last, r);
    let loss = b.g.reduce_all(ReduceOp::Sum, weighted);
    // every value contributes, so no leaf is trivially unreachable
    let mut total = loss;
    for &v in &b.pool {
        let s = b.g.reduce_all(ReduceOp::Mean, v);
        total = b.g.add(total, s);
    }
    b.g.add_output("loss", total, netc::ir::Role::Loss);
    Program {
        g: b.g,
        loss: total,
        leaves: b.leaves,
        env: b.env,
    }
}

/// `a` and `b` agree within `tol`, relative to max(1, |value|).
pub fn close(a: &[f64], b: &[f64], tol: f64) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            (x.is_nan() && y.is_nan()) || (x - y).abs() <= tol * x.abs().max(y.abs()).max(1.0)
        })
}
