//! Loop nests in CLIF: each nest becomes nested counted loops whose innermost level runs on
//! f32x4 vectors (with a scalar tail) when every access there is contiguous or broadcast;
//! reductions keep their accumulators in registers (two sets a trip when the body is short),
//! sums of products accumulate with one FMA, and elements every point reads are loaded once
//! before the loops. `emit.rs` owns the functions and addressing; this file the loops.

use super::emit::{mem, FnLower, LANES};
use super::math;
use super::program::{for_each_affine, Access, Affine, Body, Expr, LoopNest, StoreMode};
use cranelift::prelude::*;

impl FnLower<'_, '_> {
    /// One loop nest, its axes collapsed first.
    pub(super) fn loop_nest(&mut self, l: &LoopNest) {
        let l = &collapse(l);
        if l.space.is_empty() {
            self.locals.clear();
            for body in &l.bodies {
                let v = self.expr(&body.expr, &[], false);
                self.locals.push(v);
                self.store(&body.dst, &[], v, body.mode, false);
            }
            return;
        }
        let whole: Vec<Option<(Variable, Variable)>> = l
            .bodies
            .iter()
            .map(|b| reduces_whole_nest(b).then(|| self.accumulators(b.mode)))
            .collect();
        self.hoist_invariant_loads(l);
        self.outer(l, 0, &mut Vec::new(), &whole);
        self.invariant.clear();
        for (body, acc) in l.bodies.iter().zip(&whole) {
            if let Some((scalar, vacc)) = acc {
                self.fold_lanes(body.mode, *vacc, *scalar);
                let total = self.b.use_var(*scalar);
                // Every stride of the destination is 0, so no index is read.
                self.store(&body.dst, &[], total, body.mode, false);
            }
        }
    }

    /// Fills [`FnLower::invariant`] for nest `l` (its space is not empty).
    fn hoist_invariant_loads(&mut self, l: &Nest) {
        let written: Vec<usize> = l.bodies.iter().map(|b| b.dst.buf).collect();
        let mut loads = Vec::new();
        for body in &l.bodies {
            invariant_loads(&body.expr, &mut loads);
        }
        for a in loads {
            let key = (a.buf, a.at.offset);
            if written.contains(&a.buf) || self.invariant.contains_key(&key) {
                continue;
            }
            let p = self.base(a);
            let x = self.b.ins().load(types::F32, mem(), p, 0);
            let v = self.b.ins().splat(types::F32X4, x);
            self.invariant.insert(key, (x, v));
        }
    }

    fn outer(
        &mut self,
        l: &Nest,
        d: usize,
        idx: &mut Vec<Value>,
        whole: &[Option<(Variable, Variable)>],
    ) {
        if d + 1 == l.space.len() {
            self.inner(l, idx, whole);
            return;
        }
        self.counted(0, l.space[d], 1, &mut |s, i| {
            idx.push(i);
            s.outer(l, d + 1, idx, whole);
            idx.pop();
        });
    }

    /// The innermost loop: f32x4 over the largest multiple of 4, then a scalar tail. A body
    /// reducing along this axis keeps its partial result in registers (a vector accumulator,
    /// then a scalar one) and combines it with memory once per row; one reducing the whole
    /// nest (`whole`) keeps accumulating across rows; the others store every element. When a
    /// body accumulates, the vector loop handles two vectors a trip with a second set of
    /// accumulators, so the chain of dependent adds does not bound the loop's speed.
    fn inner(&mut self, l: &Nest, idx: &mut Vec<Value>, whole: &[Option<(Variable, Variable)>]) {
        let n = *l.space.last().unwrap_or(&1);
        let vector = n >= LANES && l.bodies.iter().all(vectorizable);
        let vector_end = if vector { n - n % LANES } else { 0 };
        let mut row_accs: Vec<Option<(Variable, Variable)>> = Vec::new();
        for body in &l.bodies {
            let per_row = reduces_in_register(body) && !reduces_whole_nest(body);
            row_accs.push(per_row.then(|| self.accumulators(body.mode)));
        }
        let accs: Vec<Option<(Variable, Variable)>> =
            row_accs.iter().zip(whole).map(|(r, w)| r.or(*w)).collect();
        let pairs = vector_end >= 2 * LANES && accs.iter().any(Option::is_some);
        let pair_end = if pairs { n - n % (2 * LANES) } else { 0 };
        let second: Vec<Option<(Variable, Variable)>> = l
            .bodies
            .iter()
            .zip(&accs)
            .map(|(b, a)| a.filter(|_| pairs).map(|_| self.accumulators(b.mode)))
            .collect();
        self.counted(0, pair_end, 2 * LANES, &mut |s, i| {
            s.point(l, idx, i, true, &accs);
            let next = s.b.ins().iadd_imm_s(i, LANES as i64);
            s.point(l, idx, next, true, &second);
        });
        for (start, end, step, vector) in [
            (pair_end, vector_end, LANES, true),
            (vector_end, n, 1, false),
        ] {
            self.counted(start, end, step, &mut |s, i| {
                s.point(l, idx, i, vector, &accs)
            });
        }
        for ((body, acc), extra) in l.bodies.iter().zip(&accs).zip(&second) {
            if let (Some((_, vacc)), Some((_, vextra))) = (acc, extra) {
                let (a, b) = (self.b.use_var(*vacc), self.b.use_var(*vextra));
                let merged = self.combine(body.mode, a, b);
                self.b.def_var(*vacc, merged);
            }
        }
        let zero = self.b.ins().iconst(types::I64, 0);
        idx.push(zero);
        for (body, acc) in l.bodies.iter().zip(&row_accs) {
            if let Some((scalar, vacc)) = acc {
                self.fold_lanes(body.mode, *vacc, *scalar);
                let total = self.b.use_var(*scalar);
                self.store(&body.dst, idx, total, body.mode, false);
            }
        }
        idx.pop();
    }

    /// Every body of the nest at innermost index `i` (4 points when `vector`): accumulating
    /// bodies add to `accs`, the others store.
    fn point(
        &mut self,
        l: &Nest,
        idx: &mut Vec<Value>,
        i: Value,
        vector: bool,
        accs: &[Option<(Variable, Variable)>],
    ) {
        idx.push(i);
        self.locals.clear();
        for (body, acc) in l.bodies.iter().zip(accs) {
            match acc {
                Some((scalar, vacc)) => {
                    let var = if vector { *vacc } else { *scalar };
                    let old = self.b.use_var(var);
                    let sum = matches!(body.mode, StoreMode::Add | StoreMode::SumAll);
                    let new = match product(&body.expr) {
                        // acc + a·b in one FMA (sums of squares are most of the probes).
                        Some((a, b)) if sum && self.fma => {
                            let a = self.expr(a, idx, vector);
                            let b = match b {
                                Some(b) => self.expr(b, idx, vector),
                                None => a,
                            };
                            math::mul_add(self, a, b, old)
                        }
                        _ => {
                            let v = self.expr(&body.expr, idx, vector);
                            self.combine(body.mode, old, v)
                        }
                    };
                    self.b.def_var(var, new);
                    // Only `Assign` bodies are read as locals; keep the numbering.
                    self.locals.push(new);
                }
                None => {
                    let v = self.expr(&body.expr, idx, vector);
                    self.locals.push(v);
                    self.store(&body.dst, idx, v, body.mode, vector);
                }
            }
        }
        idx.pop();
    }

    /// A scalar and a vector accumulator, both holding the identity of `mode`.
    fn accumulators(&mut self, mode: StoreMode) -> (Variable, Variable) {
        let identity = match mode {
            StoreMode::Max | StoreMode::MaxAll => f32::NEG_INFINITY,
            StoreMode::Assign | StoreMode::Add | StoreMode::SumAll => 0.0,
        };
        let (scalar, vector) = (
            self.b.declare_var(types::F32),
            self.b.declare_var(types::F32X4),
        );
        let init = self.b.ins().f32const(identity);
        self.b.def_var(scalar, init);
        let vinit = self.b.ins().splat(types::F32X4, init);
        self.b.def_var(vector, vinit);
        (scalar, vector)
    }

    /// scalar ⊕= the lanes of the vector accumulator.
    fn fold_lanes(&mut self, mode: StoreMode, vacc: Variable, scalar: Variable) {
        let v = self.b.use_var(vacc);
        let mut total = self.b.use_var(scalar);
        for lane in 0..LANES as u8 {
            let x = self.b.ins().extractlane(v, lane);
            total = self.combine(mode, total, x);
        }
        self.b.def_var(scalar, total);
    }

    /// dst ⊕= v at `idx`.
    fn store(&mut self, dst: &Access, idx: &[Value], v: Value, mode: StoreMode, vector: bool) {
        let p = self.at(dst, idx);
        let ty = if vector { types::F32X4 } else { types::F32 };
        let v = match mode {
            // A whole-nest reduction stores its finished value once.
            StoreMode::Assign | StoreMode::SumAll | StoreMode::MaxAll => v,
            StoreMode::Add | StoreMode::Max => {
                let old = self.b.ins().load(ty, mem(), p, 0);
                self.combine(mode, old, v)
            }
        };
        self.b.ins().store(mem(), v, p, 0);
    }

    fn combine(&mut self, mode: StoreMode, acc: Value, v: Value) -> Value {
        match mode {
            StoreMode::Assign => v,
            StoreMode::Add | StoreMode::SumAll => self.b.ins().fadd(acc, v),
            StoreMode::Max | StoreMode::MaxAll => math::max(self, acc, v),
        }
    }
}

/// A loop nest after [`collapse`]: its space and every body over it.
struct Nest {
    space: Vec<usize>,
    bodies: Vec<Body>,
}

/// The factors of a product: `a·b` as (a, Some(b)), `x²` as (x, None).
fn product(e: &Expr) -> Option<(&Expr, Option<&Expr>)> {
    match e {
        Expr::Binary(crate::ir::BinaryOp::Mul, a, b) => Some((a, Some(b))),
        Expr::Unary(crate::ir::UnaryOp::Square, x) => Some((x, None)),
        _ => None,
    }
}

/// Every load of one element at all points of a nest (all strides 0) in `e`.
fn invariant_loads<'e>(e: &'e Expr, out: &mut Vec<&'e Access>) {
    match e {
        Expr::Load(a) if a.at.strides.iter().all(|&s| s == 0) => out.push(a),
        Expr::Load(_) | Expr::Const(_) | Expr::Local(_) | Expr::Mask(_) => {}
        Expr::Unary(_, x) => invariant_loads(x, out),
        Expr::Binary(_, a, b) | Expr::Compare(_, a, b) => {
            invariant_loads(a, out);
            invariant_loads(b, out);
        }
        Expr::Select(abc) => abc.iter().for_each(|x| invariant_loads(x, out)),
    }
}

/// Whether a body accumulates along the innermost axis (its destination does not move there).
fn reduces_in_register(b: &Body) -> bool {
    b.mode != StoreMode::Assign && b.dst.at.strides.last() == Some(&0)
}

/// Whether a body reduces the whole nest into one element it overwrites.
fn reduces_whole_nest(b: &Body) -> bool {
    matches!(b.mode, StoreMode::SumAll | StoreMode::MaxAll)
}

/// Whether a body's innermost level can run on f32x4: contiguous or broadcast loads, no mask
/// (its hash is scalar integer code), and a contiguous store (or a register accumulator).
fn vectorizable(b: &Body) -> bool {
    let mut ok = reduces_in_register(b) || b.dst.at.strides.last() == Some(&1);
    let mut e = b.expr.clone();
    for_each_affine(&mut e, &mut |a| {
        ok &= a.strides.last().is_some_and(|&s| s <= 1)
    });
    ok && !b.expr.has_mask()
}

/// Drops size-1 axes and merges adjacent axes that every access walks contiguously, so an
/// elementwise chain over any shape becomes one flat loop.
fn collapse(l: &LoopNest) -> Nest {
    let mut bodies = l.bodies();
    let mut all = Vec::new();
    for b in &mut bodies {
        all.push(b.dst.at.clone());
        for_each_affine(&mut b.expr, &mut |a| all.push(a.clone()));
    }
    // (merged size, innermost original axis) of each kept axis, outer to inner.
    let mut groups: Vec<(usize, usize)> = Vec::new();
    for d in 0..l.space.len() {
        if l.space[d] == 1 {
            continue;
        }
        if let Some((size, inner)) = groups.last_mut() {
            let inner_axis = *inner;
            if all
                .iter()
                .all(|a| a.strides[inner_axis] == a.strides[d] * l.space[d])
            {
                *size *= l.space[d];
                *inner = d;
                continue;
            }
        }
        groups.push((l.space[d], d));
    }
    let remap = |a: &mut Affine| {
        a.strides = groups.iter().map(|&(_, d)| a.strides[d]).collect();
    };
    for b in &mut bodies {
        for_each_affine(&mut b.expr, &mut |a| remap(a));
        remap(&mut b.dst.at);
    }
    Nest {
        space: groups.iter().map(|&(n, _)| n).collect(),
        bodies,
    }
}
