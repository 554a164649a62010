//! Cranelift functions for a [`Plan`]: the module's shared kernels and functions of steps,
//! how each addresses its buffers, and the value of an expression at a point. A shared kernel
//! (`launch.rs`) finds its buffers at the addresses its launch passes; a function of steps
//! used once has their offsets as constants. Loop nests are lowered in `nest.rs`, matrix
//! products in `matmul.rs`.

use super::launch::{self, Schedule, Unit};
use super::math::{self, Import};
use super::matmul;
use super::memory::Layout;
use super::program::{Access, Affine, Expr, Plan, Step};
use super::swap::Swaps;
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
    /// Swapped parameter buffers (`swap.rs`) at the address the swap table gives, loaded at
    /// entry.
    Arena {
        arena: Value,
        offsets: &'a [usize],
        swapped: HashMap<usize, Value>,
    },
    /// At the address of each parameter (a buffer number is a parameter number).
    Params(Vec<Value>),
}

/// What the stages before code generation decided about a program.
pub(crate) struct Planned<'a> {
    pub plan: &'a Plan,
    pub schedule: &'a Schedule,
    pub layout: &'a Layout,
    pub swaps: &'a Swaps,
}

/// Defines every shared kernel of the schedule and one function per inline unit in `module`.
pub(crate) fn emit(
    module: &mut JITModule,
    imports: &HashMap<Import, FuncId>,
    planned: &Planned,
    settings: Settings,
    listing: Listing,
) -> Result<Emitted, CodegenError> {
    let Planned {
        plan,
        schedule,
        layout,
        swaps,
    } = *planned;
    let mut e = Emitter {
        module,
        imports,
        swaps,
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
    swaps: &'a Swaps,
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
                Addressing::Arena(offsets) => {
                    let flags = MemFlagsData::trusted().with_readonly();
                    let swapped = (self.swaps.touched(steps).into_iter())
                        .filter_map(|buf| {
                            let slot = self.swaps.slot(buf)?;
                            let off = b.ins().load(types::I64, flags, params, 8 * slot as i32);
                            Some((buf, b.ins().iadd(arena, off)))
                        })
                        .collect();
                    Bases::Arena {
                        arena,
                        offsets,
                        swapped,
                    }
                }
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
    pub(super) locals: Vec<Value>,
    /// Elements every point of the nest being emitted reads (a learning rate, a mean) and no
    /// body of it writes, loaded once before its loops: (buffer, offset) → (f32, f32x4).
    /// Cranelift does not hoist loads out of loops itself.
    pub(super) invariant: HashMap<(usize, usize), (Value, Value)>,
}

/// Loads and stores into the arena: in bounds by construction of the memory plan.
pub(super) fn mem() -> MemFlagsData {
    MemFlagsData::new().with_notrap()
}

impl FnLower<'_, '_> {
    fn step(&mut self, step: &Step) {
        match step {
            Step::Loop(l) => self.loop_nest(l),
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
            Bases::Arena { swapped, .. } if swapped.contains_key(&buf) => {
                let base = swapped[&buf];
                self.b.ins().iadd_imm_s(base, 4 * offset as i64)
            }
            Bases::Arena { arena, offsets, .. } => {
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
