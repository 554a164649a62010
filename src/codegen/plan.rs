//! Lowering a graph to a schedule of loop nests over arena buffers. Views (broadcast, transpose,
//! slice, reshape) become strided accesses, single-use elementwise chains fuse into one
//! expression, and a reduction accumulates inside the loop that computes its input.
//!
//! This stage knows nothing of Cranelift: it decides *what* loops run, `emit` decides *how*.

use super::program::{
    for_each_affine, Access, Affine, BufId, Buffer, Expr, LoopNest, MaskExpr, MatMulCall,
    OutputSlot, Plan, Step, StoreMode,
};
use super::CodegenError;
use crate::ir::{numel, BinaryOp, Graph, Op, ReduceOp, UnaryOp, ValueId};

mod window;

/// Largest expression (in nodes) fused into one loop before a value is materialized.
const MAX_FUSED_NODES: usize = 48;

/// A matrix read transposed as the B of at least this many products is copied once,
/// transposed, and the products read the copy (see [`Lower::staged_transpose`]).
const STAGE_TRANSPOSED_USES: usize = 2;

/// Lowers `g` to a plan. Nodes no output depends on are skipped. With `in_place`, updates
/// that can write their parameter directly do so (see `update.rs`).
pub(crate) fn plan(g: &Graph, in_place: bool) -> Result<Plan, CodegenError> {
    let mut lower = Lower::new(g);
    for i in 0..g.nodes.len() {
        if lower.live[i] {
            lower.node(ValueId(i as u32))?;
        }
    }
    for o in &g.outputs {
        let (buf, offset) = lower.force_contiguous(o.value);
        lower.plan.buffers[buf].output = true;
        let shape = g.shape(o.value).to_vec();
        lower.plan.outputs.push(OutputSlot { buf, offset, shape });
    }
    if in_place {
        super::update::update_in_place(g, &mut lower.plan);
    }
    super::fuse::fuse(&mut lower.plan.steps);
    Ok(lower.plan)
}

/// Row-major strides of a shape.
pub(crate) fn row_major(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![0; shape.len()];
    let mut s = 1;
    for d in (0..shape.len()).rev() {
        strides[d] = s;
        s *= shape[d];
    }
    strides
}

struct Lower<'g> {
    g: &'g Graph,
    plan: Plan,
    live: Vec<bool>,
    uses: Vec<usize>,
    /// The not-yet-materialized value of each processed node, over its own shape.
    lazy: Vec<Option<Expr>>,
    /// How many products read each node as a transposed B.
    transposed_b_uses: Vec<usize>,
    /// The row-major transposed copy of such a node, once made.
    staged: std::collections::HashMap<ValueId, Access>,
}

impl<'g> Lower<'g> {
    fn new(g: &'g Graph) -> Lower<'g> {
        let n = g.nodes.len();
        let mut live = vec![false; n];
        let mut uses = vec![0; n];
        for o in &g.outputs {
            live[o.value.index()] = true;
            uses[o.value.index()] += 1;
        }
        for i in (0..n).rev() {
            if live[i] {
                for x in g.nodes[i].op.operands() {
                    live[x.index()] = true;
                    uses[x.index()] += 1;
                }
            }
        }
        let mut transposed_b_uses = vec![0; n];
        for (i, node) in g.nodes.iter().enumerate() {
            if let Op::MatMul {
                b, trans_b: true, ..
            } = node.op
            {
                transposed_b_uses[b.index()] += usize::from(live[i]);
            }
        }
        Lower {
            g,
            plan: Plan::default(),
            live,
            uses,
            lazy: vec![None; n],
            transposed_b_uses,
            staged: std::collections::HashMap::new(),
        }
    }

    fn shape(&self, v: ValueId) -> &'g [usize] {
        self.g.shape(v)
    }

    fn expr(&self, v: ValueId) -> Result<Expr, CodegenError> {
        self.lazy[v.index()].clone().ok_or(CodegenError::Malformed {
            node: v.index(),
            reason: "operand used before its definition".into(),
        })
    }

    fn new_buffer(&mut self, len: usize, leaf: Option<String>) -> BufId {
        self.plan.buffers.push(Buffer {
            len,
            leaf,
            output: false,
        });
        self.plan.buffers.len() - 1
    }

    fn node(&mut self, v: ValueId) -> Result<(), CodegenError> {
        let node = &self.g.nodes[v.index()];
        let shape = node.shape.clone();
        let expr = match &node.op {
            Op::Input { name } | Op::Param { name } => self.leaf(name, &shape, v)?,
            Op::Const { value } => Expr::Const(*value as f32),
            Op::Unary { op, x } => Expr::Unary(*op, Box::new(self.expr(*x)?)),
            Op::Binary { op, a, b } => {
                Expr::Binary(*op, Box::new(self.expr(*a)?), Box::new(self.expr(*b)?))
            }
            Op::Compare { op, a, b } => {
                Expr::Compare(*op, Box::new(self.expr(*a)?), Box::new(self.expr(*b)?))
            }
            Op::Select {
                cond,
                on_true,
                on_false,
            } => Expr::Select(Box::new([
                self.expr(*cond)?,
                self.expr(*on_true)?,
                self.expr(*on_false)?,
            ])),
            Op::MatMul {
                a,
                b,
                trans_a,
                trans_b,
            } => self.matmul(*a, *b, *trans_a, *trans_b, &shape)?,
            Op::Reduce {
                op,
                x,
                axes,
                keep_dims,
            } => self.reduce(*op, *x, axes, *keep_dims, &shape)?,
            Op::Reshape { x } => self.reshape(*x, &shape)?,
            Op::Transpose { x, perm } => self.transpose(*x, perm)?,
            Op::Broadcast { x } => self.broadcast(*x, &shape)?,
            Op::Slice { x, axis, start, .. } => {
                let rank = shape.len();
                let mut starts = vec![0; rank];
                starts[*axis] = *start;
                let from: Vec<Option<usize>> = (0..rank).map(Some).collect();
                self.view(*x, &from, &starts, rank, false)?
            }
            Op::Concat { xs, axis } => self.concat(xs, *axis, &shape)?,
            Op::Windows { x, win } => self.windows(*x, win)?,
            Op::WindowsAdd { dy, win } => self.windows_add(*dy, win, &shape)?,
            Op::RandomMask {
                p,
                seed,
                stream,
                counter,
            } => {
                let counter = self.force(*counter);
                Expr::Mask(Box::new(MaskExpr {
                    p: *p,
                    seed: *seed,
                    stream: *stream,
                    counter: Access {
                        buf: counter.buf,
                        at: Affine {
                            offset: counter.at.offset,
                            strides: vec![0; shape.len()],
                        },
                    },
                    index: Affine {
                        offset: 0,
                        strides: row_major(&shape),
                    },
                }))
            }
        };
        let fusable =
            (self.uses[v.index()] <= 1 || is_cheap(&expr)) && count_nodes(&expr) <= MAX_FUSED_NODES;
        self.lazy[v.index()] = Some(expr);
        if !fusable && !is_leaf(self.lazy[v.index()].as_ref()) {
            self.materialize(v);
        }
        Ok(())
    }

    fn leaf(&mut self, name: &str, shape: &[usize], v: ValueId) -> Result<Expr, CodegenError> {
        let found = self.plan.leaves.iter().find(|(n, ..)| n == name).cloned();
        let buf = match found {
            Some((_, buf, s)) if s == shape => buf,
            Some((_, _, s)) => {
                return Err(CodegenError::Malformed {
                    node: v.index(),
                    reason: format!("leaf `{name}` appears with shapes {s:?} and {shape:?}"),
                })
            }
            None => {
                let buf = self.new_buffer(numel(shape), Some(name.to_owned()));
                self.plan
                    .leaves
                    .push((name.to_owned(), buf, shape.to_vec()));
                buf
            }
        };
        Ok(Expr::Load(Access {
            buf,
            at: Affine {
                offset: 0,
                strides: row_major(shape),
            },
        }))
    }

    /// Writes the lazy value of `v` to a fresh row-major buffer; `v` becomes a plain load of it.
    fn materialize(&mut self, v: ValueId) -> Access {
        let shape = self.shape(v).to_vec();
        let buf = self.new_buffer(numel(&shape), None);
        let dst = Access {
            buf,
            at: Affine {
                offset: 0,
                strides: row_major(&shape),
            },
        };
        let expr = self.lazy[v.index()]
            .replace(Expr::Load(dst.clone()))
            .unwrap_or(Expr::Const(0.0));
        self.plan.steps.push(Step::Loop(LoopNest {
            space: shape,
            expr,
            dst: dst.clone(),
            mode: StoreMode::Assign,
            fused: Vec::new(),
        }));
        dst
    }

    /// A strided access to the value of `v`, materializing it if it is not one already.
    fn force(&mut self, v: ValueId) -> Access {
        match &self.lazy[v.index()] {
            Some(Expr::Load(a)) => a.clone(),
            _ => self.materialize(v),
        }
    }

    /// The buffer and offset of `v`'s row-major elements.
    fn force_contiguous(&mut self, v: ValueId) -> (BufId, usize) {
        let rm = row_major(self.shape(v));
        let a = self.force(v);
        if is_contiguous(&a.at, self.shape(v), &rm) {
            return (a.buf, a.at.offset);
        }
        let a = self.materialize(v);
        (a.buf, 0)
    }

    /// `v` seen through an index map: producer axis d reads consumer axis `from[d]` (or 0 if
    /// `None`) plus `starts[d]`.
    fn view(
        &mut self,
        x: ValueId,
        from: &[Option<usize>],
        starts: &[usize],
        rank: usize,
        expands: bool,
    ) -> Result<Expr, CodegenError> {
        if expands && !is_leaf(self.lazy[x.index()].as_ref()) {
            self.materialize(x);
        }
        let mut e = self.expr(x)?;
        for_each_affine(&mut e, &mut |a| {
            let mut strides = vec![0; rank];
            let mut offset = a.offset;
            for (d, &s) in a.strides.iter().enumerate() {
                offset += s * starts[d];
                if let Some(c) = from[d] {
                    strides[c] += s;
                }
            }
            *a = Affine { offset, strides };
        });
        Ok(e)
    }

    fn transpose(&mut self, x: ValueId, perm: &[usize]) -> Result<Expr, CodegenError> {
        let mut from = vec![None; perm.len()];
        for (i, &p) in perm.iter().enumerate() {
            from[p] = Some(i);
        }
        self.view(x, &from, &vec![0; perm.len()], perm.len(), false)
    }

    /// Stretched axes read index 0; missing leading axes are not read at all.
    fn broadcast(&mut self, x: ValueId, shape: &[usize]) -> Result<Expr, CodegenError> {
        let xs = self.shape(x);
        let lead = shape.len() - xs.len();
        let from: Vec<Option<usize>> = (0..xs.len())
            .map(|d| (xs[d] == shape[d + lead]).then_some(d + lead))
            .collect();
        let expands = numel(shape) > numel(xs);
        self.view(x, &from, &vec![0; xs.len()], shape.len(), expands)
    }

    fn reshape(&mut self, x: ValueId, shape: &[usize]) -> Result<Expr, CodegenError> {
        let xs = self.shape(x);
        let rm = row_major(xs);
        let mut ok = true;
        if let Some(e) = self.lazy[x.index()].as_mut() {
            for_each_affine(e, &mut |a| {
                ok &= is_contiguous(a, xs, &rm) || is_constant(a)
            });
        }
        if !ok {
            self.materialize(x);
        }
        let mut e = self.expr(x)?;
        let out = row_major(shape);
        for_each_affine(&mut e, &mut |a| {
            let strides = if is_constant(a) {
                vec![0; shape.len()]
            } else {
                out.clone()
            };
            *a = Affine {
                offset: a.offset,
                strides,
            };
        });
        Ok(e)
    }

    fn matmul(
        &mut self,
        a: ValueId,
        b: ValueId,
        trans_a: bool,
        trans_b: bool,
        shape: &[usize],
    ) -> Result<Expr, CodegenError> {
        let (m, n) = (shape[0], shape[1]);
        let k = if trans_a {
            self.shape(a)[0]
        } else {
            self.shape(a)[1]
        };
        let c = self.new_buffer(m * n, None);
        let out = Access {
            buf: c,
            at: Affine {
                offset: 0,
                strides: vec![n, 1],
            },
        };
        if k == 0 {
            self.plan.steps.push(Step::Loop(LoopNest {
                space: shape.to_vec(),
                expr: Expr::Const(0.0),
                dst: out.clone(),
                mode: StoreMode::Assign,
                fused: Vec::new(),
            }));
            return Ok(Expr::Load(out));
        }
        let mut a = self.force(a);
        if trans_a {
            a.at.strides.reverse();
        }
        let b = if trans_b && self.transposed_b_uses[b.index()] >= STAGE_TRANSPOSED_USES {
            self.staged_transpose(b)
        } else {
            let mut b = self.force(b);
            if trans_b {
                b.at.strides.reverse();
            }
            b
        };
        self.plan
            .steps
            .push(Step::MatMul(MatMulCall { m, k, n, a, b, c }));
        Ok(Expr::Load(out))
    }

    /// Bᵀ as a row-major buffer, copied at its first use. The library GEMM runs a product
    /// whose B is read down its columns ~1.5× slower (it repacks B on every call: 64×128×128
    /// 23 vs 20 µs, 256×1024×1024 7.6 vs 5.1 ms), so a matrix read that way by many products,
    /// such as a recurrent weight at every time step's h·W_hhᵀ, is transposed once instead.
    /// A parameter is never written during the step before its last read, so one copy serves
    /// every product.
    fn staged_transpose(&mut self, b: ValueId) -> Access {
        if let Some(a) = self.staged.get(&b) {
            return a.clone();
        }
        let (rows, cols) = (self.shape(b)[0], self.shape(b)[1]);
        let mut src = self.force(b);
        src.at.strides.reverse();
        let buf = self.new_buffer(rows * cols, None);
        let dst = Access {
            buf,
            at: Affine {
                offset: 0,
                strides: vec![rows, 1],
            },
        };
        self.plan.steps.push(Step::Loop(LoopNest {
            space: vec![cols, rows],
            expr: Expr::Load(src),
            dst: dst.clone(),
            mode: StoreMode::Assign,
            fused: Vec::new(),
        }));
        self.staged.insert(b, dst.clone());
        dst
    }

    fn reduce(
        &mut self,
        op: ReduceOp,
        x: ValueId,
        axes: &[usize],
        keep_dims: bool,
        shape: &[usize],
    ) -> Result<Expr, CodegenError> {
        let xs = self.shape(x).to_vec();
        let buf = self.new_buffer(numel(shape), None);
        let out = Access {
            buf,
            at: Affine {
                offset: 0,
                strides: row_major(shape),
            },
        };
        let whole = numel(shape) == 1;
        let (init, mode) = match (op, whole) {
            (ReduceOp::Sum | ReduceOp::Mean, false) => (0.0, StoreMode::Add),
            (ReduceOp::Max, false) => (f32::NEG_INFINITY, StoreMode::Max),
            (ReduceOp::Sum | ReduceOp::Mean, true) => (0.0, StoreMode::SumAll),
            (ReduceOp::Max, true) => (f32::NEG_INFINITY, StoreMode::MaxAll),
        };
        if !whole {
            let init_loop = LoopNest {
                space: shape.to_vec(),
                expr: Expr::Const(init),
                dst: out.clone(),
                mode: StoreMode::Assign,
                fused: Vec::new(),
            };
            self.plan.steps.push(Step::Loop(init_loop));
        }
        let strides = reduced_strides(xs.len(), axes, keep_dims, &out.at.strides);
        let acc = LoopNest {
            space: xs.clone(),
            expr: self.expr(x)?,
            dst: Access {
                buf,
                at: Affine { offset: 0, strides },
            },
            mode,
            fused: Vec::new(),
        };
        self.plan.steps.push(Step::Loop(acc));
        if op == ReduceOp::Mean {
            let count: usize = axes.iter().map(|&a| xs[a]).product();
            let mean = Expr::Binary(
                BinaryOp::Div,
                Box::new(Expr::Load(out.clone())),
                Box::new(Expr::Const(count as f32)),
            );
            self.plan.steps.push(Step::Loop(LoopNest {
                space: shape.to_vec(),
                expr: mean,
                dst: out.clone(),
                mode: StoreMode::Assign,
                fused: Vec::new(),
            }));
        }
        Ok(Expr::Load(out))
    }

    fn concat(
        &mut self,
        xs: &[ValueId],
        axis: usize,
        shape: &[usize],
    ) -> Result<Expr, CodegenError> {
        let buf = self.new_buffer(numel(shape), None);
        let strides = row_major(shape);
        let mut at = 0;
        for &x in xs {
            let part = self.shape(x).to_vec();
            let step = LoopNest {
                expr: self.expr(x)?,
                dst: Access {
                    buf,
                    at: Affine {
                        offset: at * strides[axis],
                        strides: strides.clone(),
                    },
                },
                mode: StoreMode::Assign,
                space: part.clone(),
                fused: Vec::new(),
            };
            self.plan.steps.push(Step::Loop(step));
            at += part[axis];
        }
        Ok(Expr::Load(Access {
            buf,
            at: Affine { offset: 0, strides },
        }))
    }
}

/// The output's strides seen from the input's iteration space: reduced axes do not move.
fn reduced_strides(rank: usize, axes: &[usize], keep_dims: bool, out: &[usize]) -> Vec<usize> {
    let mut strides = Vec::with_capacity(rank);
    let mut o = 0;
    for d in 0..rank {
        let reduced = axes.contains(&d);
        strides.push(if reduced { 0 } else { out[o] });
        if !reduced || keep_dims {
            o += 1;
        }
    }
    strides
}

/// One exact arithmetic op on loads and constants (`a²`, `|a|`, `a + b`): recomputing it in
/// each consumer costs less than storing it and loading it back, and keeps each consumer free
/// to fuse with the loop producing its operands.
fn is_cheap(e: &Expr) -> bool {
    let operand = |x: &Expr| matches!(x, Expr::Load(_) | Expr::Const(_));
    match e {
        Expr::Unary(op, x) => {
            matches!(op, UnaryOp::Square | UnaryOp::Abs | UnaryOp::Neg) && operand(x)
        }
        Expr::Binary(op, a, b) => {
            matches!(op, BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul) && operand(a) && operand(b)
        }
        Expr::Load(_)
        | Expr::Const(_)
        | Expr::Compare(..)
        | Expr::Select(_)
        | Expr::Mask(_)
        | Expr::Local(_) => false,
    }
}

fn is_leaf(e: Option<&Expr>) -> bool {
    matches!(e, Some(Expr::Load(_) | Expr::Const(_)))
}

fn is_constant(a: &Affine) -> bool {
    a.strides.iter().all(|&s| s == 0)
}

/// Whether `a` walks a shape in row-major order without gaps (size-1 axes may have any stride).
fn is_contiguous(a: &Affine, shape: &[usize], rm: &[usize]) -> bool {
    (0..shape.len()).all(|d| shape[d] == 1 || a.strides[d] == rm[d])
}

fn count_nodes(e: &Expr) -> usize {
    match e {
        Expr::Load(_) | Expr::Const(_) | Expr::Mask(_) | Expr::Local(_) => 1,
        Expr::Unary(_, x) => 1 + count_nodes(x),
        Expr::Binary(_, a, b) | Expr::Compare(_, a, b) => 1 + count_nodes(a) + count_nodes(b),
        Expr::Select(abc) => 1 + abc.iter().map(count_nodes).sum::<usize>(),
    }
}
