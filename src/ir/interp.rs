//! The reference interpreter: runs any IR program, simply and obviously correct, in f32 or f64.
//!
//! It is the oracle every faster path (the Cranelift JIT) is tested against, so each op is
//! written the plainest way that is still fast enough to train small nets on. The graph is
//! verified first; after that, evaluation cannot fail.

use super::verify::{verify, VerifyError};
use super::{
    mask_uniform, numel, BinaryOp, CmpOp, Graph, Op, ReduceOp, Tensor, UnaryOp, ValueId, Window2d,
};
use std::collections::HashMap;
use std::fmt::Debug;
use std::ops::{Add, Div, Mul, Neg, Sub};

/// A number type the interpreter computes in: f32 (the runtime's storage) or f64 (the oracle
/// for finite differences).
pub trait Element:
    Copy
    + Debug
    + Default
    + PartialEq
    + PartialOrd
    + Send
    + Sync
    + 'static
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
{
    const ZERO: Self;
    const ONE: Self;
    const NEG_INFINITY: Self;
    fn from_f64(v: f64) -> Self;
    fn to_f64(self) -> f64;
    fn exp(self) -> Self;
    fn ln(self) -> Self;
    fn ln_1p(self) -> Self;
    fn tanh(self) -> Self;
    fn sqrt(self) -> Self;
    fn abs(self) -> Self;
    /// The error function (f32 computes it in f64 and rounds: std has no `erf`).
    fn erf(self) -> Self;
    fn is_finite(self) -> bool;
    fn is_nan(self) -> bool;
}

macro_rules! impl_element {
    ($t:ty) => {
        impl Element for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const NEG_INFINITY: Self = <$t>::NEG_INFINITY;
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            fn to_f64(self) -> f64 {
                f64::from(self)
            }
            fn exp(self) -> Self {
                <$t>::exp(self)
            }
            fn ln(self) -> Self {
                <$t>::ln(self)
            }
            fn ln_1p(self) -> Self {
                <$t>::ln_1p(self)
            }
            fn tanh(self) -> Self {
                <$t>::tanh(self)
            }
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
            fn erf(self) -> Self {
                erf_f64(f64::from(self)) as $t
            }
            fn is_finite(self) -> bool {
                <$t>::is_finite(self)
            }
            fn is_nan(self) -> bool {
                <$t>::is_nan(self)
            }
        }
    };
}
impl_element!(f32);
impl_element!(f64);

/// Why a program could not run. Each variant names what was wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InterpError {
    #[error("no value supplied for {kind} `{name}`")]
    Missing { kind: &'static str, name: String },
    #[error("{kind} `{name}` has shape {found:?} but the program expects {expected:?}")]
    WrongShape {
        kind: &'static str,
        name: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    #[error("{kind} `{name}` of shape {shape:?} holds {found} values, not {expected}")]
    WrongLength {
        kind: &'static str,
        name: String,
        shape: Vec<usize>,
        expected: usize,
        found: usize,
    },
    #[error("the program is malformed: {0}")]
    Invalid(#[from] VerifyError),
}

/// The values of `g.outputs`, in order. `env` holds every `Input` and `Param` by name.
pub fn run<T: Element>(
    g: &Graph,
    env: &HashMap<String, Tensor<T>>,
) -> Result<Vec<Tensor<T>>, InterpError> {
    let values = run_all(g, env)?;
    Ok(g.outputs
        .iter()
        .map(|o| values[o.value.index()].clone())
        .collect())
}

/// The value of every node, indexed by [`ValueId::index`] (for debugging and probes).
pub fn run_all<T: Element>(
    g: &Graph,
    env: &HashMap<String, Tensor<T>>,
) -> Result<Vec<Tensor<T>>, InterpError> {
    verify(g)?;
    let mut values: Vec<Tensor<T>> = Vec::with_capacity(g.len());
    for node in &g.nodes {
        let data = eval(&node.op, &node.shape, &values, env)?;
        values.push(Tensor {
            shape: node.shape.clone(),
            data,
        });
    }
    Ok(values)
}

/// One node's value from its operands' values (already computed: the graph is topological).
fn eval<T: Element>(
    op: &Op,
    shape: &[usize],
    values: &[Tensor<T>],
    env: &HashMap<String, Tensor<T>>,
) -> Result<Vec<T>, InterpError> {
    let val = |v: &ValueId| &values[v.index()];
    let data = match op {
        Op::Input { name } => leaf("input", name, shape, env)?,
        Op::Param { name } => leaf("param", name, shape, env)?,
        Op::Const { value } => vec![T::from_f64(*value); numel(shape)],
        Op::Unary { op, x } => val(x).data.iter().map(|&v| unary(*op, v)).collect(),
        Op::Binary { op, a, b } => zip(val(a), val(b), |x, y| binary(*op, x, y)),
        Op::Compare { op, a, b } => zip(val(a), val(b), |x, y| compare(*op, x, y)),
        Op::Select {
            cond,
            on_true,
            on_false,
        } => (val(cond).data.iter())
            .zip(&val(on_true).data)
            .zip(&val(on_false).data)
            .map(|((&c, &t), &f)| if c != T::ZERO { t } else { f })
            .collect(),
        Op::MatMul {
            a,
            b,
            trans_a,
            trans_b,
        } => matmul(val(a), val(b), *trans_a, *trans_b),
        Op::Reduce { op, x, axes, .. } => reduce(*op, val(x), axes),
        Op::Reshape { x } => val(x).data.clone(),
        Op::Transpose { x, perm } => transpose(val(x), perm),
        Op::Broadcast { x } => broadcast(val(x), shape),
        Op::Slice {
            x,
            axis,
            start,
            len,
        } => slice(val(x), *axis, *start, *len),
        Op::Concat { xs, axis } => concat(&xs.iter().map(val).collect::<Vec<_>>(), *axis),
        Op::Windows { x, win } => windows(val(x), win),
        Op::WindowsAdd { dy, win } => windows_add(val(dy), win, shape),
        Op::RandomMask {
            p,
            seed,
            stream,
            counter,
        } => random_mask(*p, *seed, *stream, val(counter).data[0], numel(shape)),
    };
    Ok(data)
}

fn leaf<T: Element>(
    kind: &'static str,
    name: &str,
    shape: &[usize],
    env: &HashMap<String, Tensor<T>>,
) -> Result<Vec<T>, InterpError> {
    let t = env.get(name).ok_or_else(|| InterpError::Missing {
        kind,
        name: name.to_owned(),
    })?;
    if t.shape != shape {
        return Err(InterpError::WrongShape {
            kind,
            name: name.to_owned(),
            expected: shape.to_vec(),
            found: t.shape.clone(),
        });
    }
    if t.data.len() != numel(shape) {
        return Err(InterpError::WrongLength {
            kind,
            name: name.to_owned(),
            shape: shape.to_vec(),
            expected: numel(shape),
            found: t.data.len(),
        });
    }
    Ok(t.data.clone())
}

/// One elementwise unary function, exactly as documented on [`UnaryOp`].
pub fn unary<T: Element>(op: UnaryOp, x: T) -> T {
    match op {
        UnaryOp::Neg => -x,
        UnaryOp::Exp => x.exp(),
        UnaryOp::Log => x.ln(),
        UnaryOp::Log1p => x.ln_1p(),
        UnaryOp::Tanh => x.tanh(),
        UnaryOp::Sigmoid => sigmoid(x),
        UnaryOp::Sqrt => x.sqrt(),
        UnaryOp::Rsqrt => T::ONE / x.sqrt(),
        UnaryOp::Recip => T::ONE / x,
        UnaryOp::Abs => x.abs(),
        UnaryOp::Square => x * x,
        UnaryOp::Erf => x.erf(),
        UnaryOp::Relu => binary(BinaryOp::Max, x, T::ZERO),
        UnaryOp::Softplus => softplus(x),
        UnaryOp::IsNonFinite => flag(!x.is_finite()),
    }
}

/// 1 / (1 + e⁻ˣ), computed without overflow for large |x|.
fn sigmoid<T: Element>(x: T) -> T {
    if x >= T::ZERO {
        T::ONE / (T::ONE + (-x).exp())
    } else {
        let e = x.exp();
        e / (T::ONE + e)
    }
}

/// ln(1 + eˣ) = max(x, 0) + ln(1 + e^−|x|): no overflow for large x, no loss for very
/// negative x. The JIT evaluates the same composition (`codegen/math.rs`).
fn softplus<T: Element>(x: T) -> T {
    binary(BinaryOp::Max, x, T::ZERO) + (-x.abs()).exp().ln_1p()
}

/// One elementwise binary function. Max and Min propagate NaN and pick `a` on ties.
pub fn binary<T: Element>(op: BinaryOp, a: T, b: T) -> T {
    match op {
        BinaryOp::Add => a + b,
        BinaryOp::Sub => a - b,
        BinaryOp::Mul => a * b,
        BinaryOp::Div => a / b,
        BinaryOp::Max => {
            if a >= b || a.is_nan() {
                a
            } else {
                b
            }
        }
        BinaryOp::Min => {
            if a <= b || a.is_nan() {
                a
            } else {
                b
            }
        }
    }
}

/// One comparison: 1.0 where true, 0.0 where false (IEEE: any comparison with NaN is false).
pub fn compare<T: Element>(op: CmpOp, a: T, b: T) -> T {
    flag(match op {
        CmpOp::Gt => a > b,
        CmpOp::Ge => a >= b,
        CmpOp::Lt => a < b,
        CmpOp::Le => a <= b,
        CmpOp::Eq => a == b,
    })
}

fn flag<T: Element>(b: bool) -> T {
    if b {
        T::ONE
    } else {
        T::ZERO
    }
}

fn zip<T: Element>(a: &Tensor<T>, b: &Tensor<T>, f: impl Fn(T, T) -> T) -> Vec<T> {
    a.data.iter().zip(&b.data).map(|(&x, &y)| f(x, y)).collect()
}

/// Row-major strides of a shape.
pub(crate) fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// Calls `f(offset)` for every index of `shape` in row-major order, where offset is
/// Σ index[i]·strides[i]: the one loop behind broadcast, transpose and reduce.
fn for_each_offset(shape: &[usize], strides: &[usize], mut f: impl FnMut(usize)) {
    let n = numel(shape);
    let mut coord = vec![0usize; shape.len()];
    let mut offset = 0;
    for _ in 0..n {
        f(offset);
        for ax in (0..shape.len()).rev() {
            coord[ax] += 1;
            offset += strides[ax];
            if coord[ax] < shape[ax] {
                break;
            }
            offset -= strides[ax] * shape[ax];
            coord[ax] = 0;
        }
    }
}

/// op(a)·op(b) with the i-k-j loop order, so the inner loop streams rows of both.
fn matmul<T: Element>(a: &Tensor<T>, b: &Tensor<T>, trans_a: bool, trans_b: bool) -> Vec<T> {
    let a = if trans_a { transposed_2d(a) } else { a.clone() };
    let b = if trans_b { transposed_2d(b) } else { b.clone() };
    let (m, k, n) = (a.shape[0], a.shape[1], b.shape[1]);
    let mut c = vec![T::ZERO; m * n];
    for i in 0..m {
        let row = &mut c[i * n..(i + 1) * n];
        for kk in 0..k {
            let a_ik = a.data[i * k + kk];
            let b_row = &b.data[kk * n..(kk + 1) * n];
            for (c_ij, &b_kj) in row.iter_mut().zip(b_row) {
                *c_ij = *c_ij + a_ik * b_kj;
            }
        }
    }
    c
}

fn transposed_2d<T: Element>(x: &Tensor<T>) -> Tensor<T> {
    let shape = vec![x.shape[1], x.shape[0]];
    Tensor {
        data: transpose(x, &[1, 0]),
        shape,
    }
}

fn reduce<T: Element>(op: ReduceOp, x: &Tensor<T>, axes: &[usize]) -> Vec<T> {
    // Strides of the output seen from the input: zero along reduced axes.
    let kept: Vec<usize> = (x.shape.iter().enumerate())
        .map(|(i, &d)| if axes.contains(&i) { 1 } else { d })
        .collect();
    let mut out_strides = strides(&kept);
    for &a in axes {
        out_strides[a] = 0;
    }
    let init = match op {
        ReduceOp::Sum | ReduceOp::Mean => T::ZERO,
        ReduceOp::Max => T::NEG_INFINITY,
    };
    let mut out = vec![init; numel(&kept)];
    let mut input = x.data.iter();
    for_each_offset(&x.shape, &out_strides, |o| {
        let v = *input.next().expect("input and index space have equal size");
        out[o] = match op {
            ReduceOp::Sum | ReduceOp::Mean => out[o] + v,
            ReduceOp::Max => binary(BinaryOp::Max, out[o], v),
        };
    });
    if op == ReduceOp::Mean {
        let count = T::from_f64((numel(&x.shape) / out.len().max(1)) as f64);
        out.iter_mut().for_each(|v| *v = *v / count);
    }
    out
}

/// Output axis i is input axis perm[i].
fn transpose<T: Element>(x: &Tensor<T>, perm: &[usize]) -> Vec<T> {
    let in_strides = strides(&x.shape);
    let out_shape: Vec<usize> = perm.iter().map(|&p| x.shape[p]).collect();
    let gather: Vec<usize> = perm.iter().map(|&p| in_strides[p]).collect();
    let mut out = Vec::with_capacity(x.data.len());
    for_each_offset(&out_shape, &gather, |o| out.push(x.data[o]));
    out
}

fn broadcast<T: Element>(x: &Tensor<T>, shape: &[usize]) -> Vec<T> {
    let lead = shape.len() - x.shape.len();
    let in_strides = strides(&x.shape);
    let gather: Vec<usize> = (0..shape.len())
        .map(|i| match i.checked_sub(lead) {
            Some(j) if x.shape[j] != 1 => in_strides[j],
            Some(_) | None => 0,
        })
        .collect();
    let mut out = Vec::with_capacity(numel(shape));
    for_each_offset(shape, &gather, |o| out.push(x.data[o]));
    out
}

/// (outer, size of axis, inner) for row-major slicing along `axis`.
fn split_at_axis(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    (
        numel(&shape[..axis]),
        shape[axis],
        numel(&shape[axis + 1..]),
    )
}

fn slice<T: Element>(x: &Tensor<T>, axis: usize, start: usize, len: usize) -> Vec<T> {
    let (outer, dim, inner) = split_at_axis(&x.shape, axis);
    let mut out = Vec::with_capacity(outer * len * inner);
    for o in 0..outer {
        let base = (o * dim + start) * inner;
        out.extend_from_slice(&x.data[base..base + len * inner]);
    }
    out
}

fn concat<T: Element>(xs: &[&Tensor<T>], axis: usize) -> Vec<T> {
    let (outer, _, inner) = split_at_axis(&xs[0].shape, axis);
    let mut out = Vec::new();
    for o in 0..outer {
        for x in xs {
            let chunk = x.shape[axis] * inner;
            out.extend_from_slice(&x.data[o * chunk..(o + 1) * chunk]);
        }
    }
    out
}

/// Calls `f(window offset, Some(input offset))` for every element of the windows of an
/// [N, H, W, C] tensor, in row-major order of [N, OH, OW, KH, KW, C], with `None` for taps in
/// the padding: the one index rule of [`windows`] and [`windows_add`].
fn for_each_tap(x_shape: &[usize], win: &Window2d, mut f: impl FnMut(usize, Option<usize>)) {
    let (n, h, w, c) = (x_shape[0], x_shape[1], x_shape[2], x_shape[3]);
    let (oh, ow) = win.output_hw(h, w).unwrap_or((0, 0));
    let mut at = 0;
    for b in 0..n {
        for i in 0..oh {
            for j in 0..ow {
                for p in 0..win.kernel[0] {
                    for q in 0..win.kernel[1] {
                        let row = win.source(0, i, p, h);
                        let col = win.source(1, j, q, w);
                        for ch in 0..c {
                            let from = row.zip(col).map(|(r, s)| ((b * h + r) * w + s) * c + ch);
                            f(at, from);
                            at += 1;
                        }
                    }
                }
            }
        }
    }
}

fn windows<T: Element>(x: &Tensor<T>, win: &Window2d) -> Vec<T> {
    let mut out = Vec::new();
    for_each_tap(&x.shape, win, |_, from| {
        out.push(from.map_or(T::ZERO, |i| x.data[i]));
    });
    out
}

fn windows_add<T: Element>(dy: &Tensor<T>, win: &Window2d, x_shape: &[usize]) -> Vec<T> {
    let mut dx = vec![T::ZERO; numel(x_shape)];
    for_each_tap(x_shape, win, |at, from| {
        if let Some(i) = from {
            dx[i] = dx[i] + dy.data[at];
        }
    });
    dx
}

/// Inverted-dropout mask: 0 with probability p, else 1/(1-p). The counter is read as a u32
/// from its f32 value, so f32 and f64 runs draw the same mask.
fn random_mask<T: Element>(p: f64, seed: u64, stream: u32, counter: T, n: usize) -> Vec<T> {
    let counter = counter.to_f64() as f32 as u32;
    let keep = T::from_f64(1.0 / (1.0 - p));
    (0..n)
        .map(|i| {
            let u = mask_uniform(seed, stream, counter, i as u32);
            if f64::from(u) < p {
                T::ZERO
            } else {
                keep
            }
        })
        .collect()
}

/// The error function in f64, to about 1e-15: the everywhere-positive series
/// erf x = 2/√π · e^(−x²) · Σₙ 2ⁿ x^(2n+1) / (1·3·…·(2n+1)), which has no cancellation;
/// |x| ≥ 6 rounds to ±1.
pub fn erf_f64(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    if x.abs() >= 6.0 {
        return x.signum();
    }
    let x2 = x * x;
    let mut term = x;
    let mut sum = x;
    let mut n = 0.0;
    while term.abs() > sum.abs() * 1e-17 {
        n += 1.0;
        term *= 2.0 * x2 / (2.0 * n + 1.0);
        sum += term;
    }
    2.0 / std::f64::consts::PI.sqrt() * (-x2).exp() * sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_matches_known_values() {
        // erf(0.5), erf(1), erf(2) to 16 digits (Abramowitz & Stegun table 7.1).
        for (x, want) in [
            (0.5, 0.520_499_877_813_046_5),
            (1.0, 0.842_700_792_949_714_9),
            (2.0, 0.995_322_265_018_952_7),
            (-1.0, -0.842_700_792_949_714_9),
            (0.0, 0.0),
        ] {
            assert!(
                (erf_f64(x) - want).abs() < 1e-15,
                "erf({x}) = {}",
                erf_f64(x)
            );
        }
    }

    #[test]
    fn strides_are_row_major() {
        assert_eq!(strides(&[2, 3, 4]), vec![12, 4, 1]);
        assert_eq!(strides(&[]), Vec::<usize>::new());
    }
}
