//! Cranelift code for a [`Plan`]: each loop nest becomes nested counted loops whose innermost
//! level runs on f32x4 vectors (with a scalar tail) when every access there is contiguous or
//! broadcast; reductions keep their accumulator in a register; matrix products call the library
//! GEMM through an imported symbol. A shared kernel (`launch.rs`) finds its buffers at the
//! addresses its launch passes; a function of steps used once has their offsets as constants.

use super::launch::{self, Schedule, Unit};
use super::math::{self, Import};
use super::matmul;
use super::memory::Layout;
use super::program::{
    for_each_affine, Access, Affine, Body, Expr, LoopNest, Plan, Step, StoreMode,
};
use super::CodegenError;
use cranelift::codegen::ir::{Endianness, FuncRef};
use cranelift::prelude::*;
use cranelift_jit::JITModule;
use cranelift_module::{FuncId, Module};
use std::collections::HashMap;

/// Lanes of the vector type Cranelift's x64 backend supports (128 bits of f32).
pub(crate) const LANES: usize = 4;

/// Choices of code generation that hold for a whole program.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    /// The host has AVX and FMA, so `fma` is one instruction.
    pub fma: bool,
    /// Call the Rust math functions instead of the inline approximations.
    pub libm: bool,
    /// Largest product (in multiply-adds) generated inline rather than sent to the library.
    pub inline_gemm_macs: usize,
    /// Threads the library products may use.
    pub gemm_threads: usize,
    /// Smallest library product (in multiply-adds) that uses them.
    pub threaded_gemm_macs: usize,
}

/// What text to keep while compiling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Listing {
    None,
    /// The Cranelift IR of every function.
    Clif,
    /// The machine code of every function, as Cranelift disassembles it.
    Asm,
}

/// The functions of a compiled plan and their listing if asked for. Every function has the
/// signature `fn(arena: *mut f32, params: *const i64)`.
pub(crate) struct Emitted {
    /// Shared kernels, by kernel number.
    pub kernels: Vec<FuncId>,
    /// The function of each `Unit::Inline`, in schedule order.
    pub inline: Vec<FuncId>,
    pub listing: String,
}

/// Where a function finds its buffers.
enum Bases<'a> {
    /// At constant offsets from the arena (`Layout::offsets`, by buffer).
    Arena { arena: Value, offsets: &'a [usize] },
    /// At the address of each parameter (a buffer number is a parameter number).
    Params(Vec<Value>),
}

/// Defines every shared kernel of `schedule` and one function per inline unit in `module`.
pub(crate) fn emit(
    module: &mut JITModule,
    imports: &HashMap<Import, FuncId>,
    plan: &Plan,
    schedule: &Schedule,
    layout: &Layout,
    settings: Settings,
    listing: Listing,
) -> Result<Emitted, CodegenError> {
    let mut e = Emitter {
        module,
        imports,
        settings,
        listing,
        ctx: None,
        fctx: FunctionBuilderContext::new(),
        text: String::new(),
    };
    let mut kernels = Vec::with_capacity(schedule.kernels.len());
    for (k, kernel) in schedule.kernels.iter().enumerate() {
        let name = format!("netc_kernel_{k}");
        let note = format!(
            "launched {} times, {} parameters: {}",
            kernel.uses,
            kernel.params,
            kernel.step.describe()
        );
        let body = Addressing::Params(kernel.params);
        kernels.push(e.define(&name, &note, std::slice::from_ref(&kernel.step), body)?);
    }
    let mut inline = Vec::new();
    for unit in &schedule.units {
        if let Unit::Inline(steps) = unit {
            let name = format!("netc_step_{}", inline.len());
            let note = format!("steps {steps:?}, constant offsets");
            let body = Addressing::Arena(&layout.offsets);
            inline.push(e.define(&name, &note, &plan.steps[steps.clone()], body)?);
        }
    }
    if listing != Listing::None {
        let names: Vec<String> = (0..inline.len())
            .map(|i| format!("netc_step_{i}"))
            .collect();
        e.text.push_str(&launch::describe(schedule, layout, &names));
    }
    Ok(Emitted {
        kernels,
        inline,
        listing: e.text,
    })
}

/// How a function being defined addresses its buffers.
#[derive(Clone, Copy)]
enum Addressing<'a> {
    Arena(&'a [usize]),
    /// This many parameters.
    Params(usize),
}

/// The state shared by every function of one compilation.
struct Emitter<'a> {
    module: &'a mut JITModule,
    imports: &'a HashMap<Import, FuncId>,
    settings: Settings,
    listing: Listing,
    ctx: Option<cranelift::codegen::Context>,
    fctx: FunctionBuilderContext,
    text: String,
}

impl Emitter<'_> {
    /// Declares and defines one function running `steps` in order.
    fn define(
        &mut self,
        name: &str,
        note: &str,
        steps: &[Step],
        body: Addressing,
    ) -> Result<FuncId, CodegenError> {
        let cl = |e: cranelift_module::ModuleError| CodegenError::Cranelift(format!("{e:?}"));
        let mut ctx = self
            .ctx
            .take()
            .unwrap_or_else(|| self.module.make_context());
        let frontend = self.module.target_config();
        let ptr = frontend.pointer_type();
        ctx.func.signature.params.push(AbiParam::new(ptr));
        ctx.func.signature.params.push(AbiParam::new(ptr));
        let id = self
            .module
            .declare_function(name, cranelift_module::Linkage::Local, &ctx.func.signature)
            .map_err(cl)?;
        {
            let mut b = FunctionBuilder::new(&mut ctx.func, &mut self.fctx);
            let entry = b.create_block();
            b.append_block_params_for_function_params(entry);
            b.switch_to_block(entry);
            let (arena, params) = (b.block_params(entry)[0], b.block_params(entry)[1]);
            let bases = match body {
                Addressing::Arena(offsets) => Bases::Arena { arena, offsets },
                Addressing::Params(n) => Bases::Params(load_params(&mut b, arena, params, n)),
            };
            let s = self.settings;
            let mut f = FnLower {
                b,
                module: self.module,
                imports: self.imports,
                refs: HashMap::new(),
                bases,
                fma: s.fma,
                libm: s.libm,
                inline_gemm_macs: s.inline_gemm_macs,
                gemm_threads: s.gemm_threads,
                threaded_gemm_macs: s.threaded_gemm_macs,
                locals: Vec::new(),
                invariant: HashMap::new(),
            };
            for step in steps {
                f.step(step);
            }
            f.b.ins().return_(&[]);
            f.b.seal_all_blocks();
            f.b.finalize(frontend);
        }
        if self.listing == Listing::Clif {
            self.text
                .push_str(&format!("; {name}: {note}\n{}\n", ctx.func.display()));
        }
        ctx.set_disasm(self.listing == Listing::Asm);
        self.module
            .define_function(id, &mut ctx)
            .map_err(|e| CodegenError::Cranelift(format!("{e:?}")))?;
        if let Some(asm) = ctx.compiled_code().and_then(|c| c.vcode.as_ref()) {
            self.text.push_str(&format!("; {name}: {note}\n{asm}\n"));
        }
        self.module.clear_context(&mut ctx);
        self.ctx = Some(ctx);
        Ok(id)
    }
}

/// The address of each of a kernel's `n` buffers: the arena plus the byte offset the launch
/// table holds for it, loaded once at entry.
fn load_params(b: &mut FunctionBuilder, arena: Value, params: Value, n: usize) -> Vec<Value> {
    let flags = MemFlagsData::trusted().with_readonly();
    (0..n)
        .map(|i| {
            let off = b.ins().load(types::I64, flags, params, 8 * i as i32);
            b.ins().iadd(arena, off)
        })
        .collect()
}

/// The state of one function being built.
pub(crate) struct FnLower<'a, 'b> {
    pub b: FunctionBuilder<'b>,
    module: &'a mut JITModule,
    imports: &'a HashMap<Import, FuncId>,
    refs: HashMap<Import, FuncRef>,
    bases: Bases<'a>,
    pub fma: bool,
    /// Call the Rust math functions instead of the inline approximations.
    pub libm: bool,
    /// Products of at most this many multiply-adds run as generated loops, larger ones call
    /// the library GEMM.
    pub inline_gemm_macs: usize,
    /// Threads the library products may use.
    pub gemm_threads: usize,
    /// Library products of fewer multiply-adds than this run on one thread.
    pub threaded_gemm_macs: usize,
    /// The values the bodies of the nest being emitted computed at the current point, in body
    /// order: what [`Expr::Local`] reads.
    locals: Vec<Value>,
    /// Elements every point of the nest being emitted reads (a learning rate, a mean) and no
    /// body of it writes, loaded once before its loops: (buffer, offset) → (f32, f32x4).
    /// Cranelift does not hoist loads out of loops itself.
    invariant: HashMap<(usize, usize), (Value, Value)>,
}

/// Loads and stores into the arena: in bounds by construction of the memory plan.
pub(super) fn mem() -> MemFlagsData {
    MemFlagsData::new().with_notrap()
}

impl FnLower<'_, '_> {
    fn step(&mut self, step: &Step) {
        match step {
            Step::Loop(l) => self.loop_nest(&collapse(l)),
            Step::MatMul(mm) => matmul::matmul(self, mm),
        }
    }

    /// A reference to an imported Rust function, declared in this function on first use.
    pub fn import(&mut self, which: Import) -> FuncRef {
        if let Some(r) = self.refs.get(&which) {
            return *r;
        }
        let r = self
            .module
            .declare_func_in_func(self.imports[&which], self.b.func);
        self.refs.insert(which, r);
        r
    }

    /// The byte address of float `offset` of buffer `buf` (a parameter number in a shared
    /// kernel).
    pub(super) fn address(&mut self, buf: usize, offset: usize) -> Value {
        match &self.bases {
            Bases::Arena { arena, offsets } => {
                let bytes = 4 * (offsets[buf] + offset) as i64;
                self.b.ins().iadd_imm_s(*arena, bytes)
            }
            Bases::Params(p) if offset == 0 => p[buf],
            Bases::Params(p) => {
                let base = p[buf];
                self.b.ins().iadd_imm_s(base, 4 * offset as i64)
            }
        }
    }

    pub(super) fn base(&mut self, a: &Access) -> Value {
        self.address(a.buf, a.at.offset)
    }

    /// The integer index `offset + Σ idx_d · strides_d`.
    fn index(&mut self, at: &Affine, idx: &[Value]) -> Value {
        let mut sum = self.b.ins().iconst(types::I64, at.offset as i64);
        for (d, &s) in at.strides.iter().enumerate() {
            if s != 0 {
                let term = self.b.ins().imul_imm_s(idx[d], s as i64);
                sum = self.b.ins().iadd(sum, term);
            }
        }
        sum
    }

    /// The byte address of an access at a point of the iteration space.
    pub(super) fn at(&mut self, a: &Access, idx: &[Value]) -> Value {
        let base = self.address(a.buf, 0);
        let i = self.index(&a.at, idx);
        let bytes = self.b.ins().ishl_imm_s(i, 2);
        self.b.ins().iadd(base, bytes)
    }

    /// `for i in start..end step step { body(i) }` over i64.
    pub(super) fn counted(
        &mut self,
        start: usize,
        end: usize,
        step: usize,
        body: &mut dyn FnMut(&mut Self, Value),
    ) {
        if start >= end {
            return;
        }
        let var = self.b.declare_var(types::I64);
        let init = self.b.ins().iconst(types::I64, start as i64);
        self.b.def_var(var, init);
        let (header, body_block, exit) = (
            self.b.create_block(),
            self.b.create_block(),
            self.b.create_block(),
        );
        self.b.ins().jump(header, &[]);
        self.b.switch_to_block(header);
        let i = self.b.use_var(var);
        let more = self
            .b
            .ins()
            .icmp_imm_s(IntCC::SignedLessThan, i, end as i64);
        self.b.ins().brif(more, body_block, &[], exit, &[]);
        self.b.switch_to_block(body_block);
        body(self, i);
        let next = self.b.ins().iadd_imm_s(i, step as i64);
        self.b.def_var(var, next);
        self.b.ins().jump(header, &[]);
        self.b.switch_to_block(exit);
    }

    fn loop_nest(&mut self, l: &Nest) {
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

    /// The value of `e` at `idx` (a vector of the next 4 innermost points when `vector`).
    pub fn expr(&mut self, e: &Expr, idx: &[Value], vector: bool) -> Value {
        match e {
            Expr::Load(a) if a.at.strides.iter().all(|&s| s == 0) => {
                if let Some(&(x, v)) = self.invariant.get(&(a.buf, a.at.offset)) {
                    return if vector { v } else { x };
                }
                let p = self.base(a);
                let x = self.b.ins().load(types::F32, mem(), p, 0);
                self.splat_if(x, vector)
            }
            Expr::Load(a) => {
                let p = self.at(a, idx);
                let inner_stride = a.at.strides.last().copied().unwrap_or(0);
                if vector && inner_stride == 1 {
                    self.b.ins().load(types::F32X4, mem(), p, 0)
                } else {
                    let x = self.b.ins().load(types::F32, mem(), p, 0);
                    self.splat_if(x, vector)
                }
            }
            Expr::Const(c) => {
                let x = self.b.ins().f32const(*c);
                self.splat_if(x, vector)
            }
            Expr::Unary(op, x) => {
                let x = self.expr(x, idx, vector);
                math::unary(self, *op, x, vector)
            }
            Expr::Binary(op, a, b) => {
                let a = self.expr(a, idx, vector);
                let b = self.expr(b, idx, vector);
                math::binary(self, *op, a, b)
            }
            Expr::Compare(op, a, b) => {
                let a = self.expr(a, idx, vector);
                let b = self.expr(b, idx, vector);
                math::compare(self, *op, a, b, vector)
            }
            Expr::Select(abc) => {
                let c = self.expr(&abc[0], idx, vector);
                let t = self.expr(&abc[1], idx, vector);
                let f = self.expr(&abc[2], idx, vector);
                math::select_nonzero(self, c, t, f, vector)
            }
            Expr::Local(i) => self.locals[*i],
            Expr::Mask(m) => {
                let counter = self.at(&m.counter, idx);
                let counter = self.b.ins().load(types::F32, mem(), counter, 0);
                let index = self.index(&m.index, idx);
                math::mask(self, m, counter, index)
            }
        }
    }

    pub fn splat_if(&mut self, x: Value, vector: bool) -> Value {
        if vector {
            self.b.ins().splat(types::F32X4, x)
        } else {
            x
        }
    }

    /// Reinterprets a lane mask (i32x4) as f32x4 bits.
    pub fn mask_as_f32x4(&mut self, m: Value) -> Value {
        let flags = MemFlagsData::new().with_endianness(Endianness::Little);
        self.b.ins().bitcast(types::F32X4, flags, m)
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
