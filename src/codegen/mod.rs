//! The Cranelift JIT backend: compiles an [`ir::Graph`](crate::ir::Graph) to native code for
//! the host and runs it on one f32 arena.
//!
//! The pipeline, one module a stage: `plan` (graph → loop nests over buffers: views as strides,
//! fused elementwise chains, reductions inside their producer's loop) → `memory` (buffer
//! offsets in one arena, reusing dead temporaries) → `launch` (steps that compile to the same
//! code share one function: the kernel cache and launch table) → `emit` and `math` (Cranelift IR, f32x4
//! inner loops) → `kernel` (the compiled program, its arena, and the one place generated code is
//! called). `host` holds the Rust functions generated code imports (GEMM, scalar math).
//!
//! Architecture invariant: this is the only module with `unsafe`, allowed only in `kernel`
//! (which calls generated code and frees its memory) and `host` (the functions generated code
//! calls); it knows nothing of source text: a graph in, a kernel out.

mod approx;
mod emit;
mod fuse;
mod host;
mod kernel;
mod launch;
mod math;
mod matmul;
mod memory;
mod nest;
mod plan;
mod program;
mod swap;
mod update;

pub use kernel::Kernel;
pub use launch::KernelSharing;

use crate::ir::Graph;
use cranelift::prelude::*;
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{default_libcall_names, FuncId, Linkage, Module};
use math::Import;
use std::collections::HashMap;

/// How to compile.
#[derive(Debug, Clone, Default)]
pub struct JitOptions {
    /// Run Cranelift's IR verifier on every function (slower compiles; for tests).
    pub verify_clif: bool,
    /// Call Rust's libm for exp, log, log1p, tanh and sigmoid instead of the inline f32x4
    /// approximations (slower; bit-identical to the interpreter's f32 results).
    pub libm_math: bool,
    /// Matrix products of at most this many multiply-adds run as generated f32x4 loops,
    /// larger ones call the library GEMM; `None` is the measured crossover
    /// ([`INLINE_GEMM_MACS`]).
    pub inline_gemm_macs: Option<usize>,
    /// Let the loop computing a `Role::Update` output write its parameter's slot directly
    /// when nothing later reads the old value: [`Kernel::step`] then updates those parameters
    /// itself (call [`Kernel::apply_updates`] after it anyway, for the others). Saves a store
    /// and a copy of every parameter per training step. Off for evaluation-style use.
    pub update_in_place: bool,
    /// Threads for the large library matrix products (rayon's global pool); 0 or 1 is one
    /// thread. Only products of at least `threaded_gemm_macs` multiply-adds use them
    /// ([`gemm_threads_for`]); smaller ones run on the calling thread.
    pub gemm_threads: usize,
    /// The smallest library product (in multiply-adds) run on `gemm_threads` threads; `None`
    /// is the measured [`THREADED_GEMM_MACS`] (tests pass `Some(0)` to thread every product).
    pub threaded_gemm_macs: Option<usize>,
    /// Which steps share one generated function with the other steps that compile to the
    /// same code (the kernel cache, docs/codegen.md); by default every repeated step.
    pub kernel_sharing: KernelSharing,
}

/// The measured crossover (docs/codegen.md): below it the library's fixed cost per call
/// outweighs its faster kernel.
pub const INLINE_GEMM_MACS: usize = 2048;

/// The smallest library product (m·k·n multiply-adds) worth splitting over threads. Measured
/// with a release-mode timing of the `gemm` crate at 1 vs 2 threads (2 cores, load ≈ 2):
/// handing a product to rayon costs ≈ 15 µs, so 2 threads were 1.6–1.8× slower at 2^20
/// multiply-adds (16×256×256, 64×128×128) and 1.08× slower at 64×256×256 (2^22); from 2^24
/// (256×256×256, ≈ 300 µs) up to 512×2048×2048 they were within 1–7% of one thread on the
/// loaded machine, where the second core was busy. At 2^24 the fixed cost is ≈ 5% of the
/// product, so a free second core can only win. Re-measured on a quiet machine: a gate of
/// 2^22 (which threads W1's 64×784×256 and 64×256×256 products) made W1's two-thread step
/// 20–30% slower (1,190–1,356 against 963–1,046 µs, three interleaved runs).
pub const THREADED_GEMM_MACS: usize = 1 << 24;

/// How many threads a library product of `macs` multiply-adds gets when the program may use
/// `threads`: all of them from `gate` (normally [`THREADED_GEMM_MACS`]) on, one below. Shapes
/// are static, so this is decided once per product at compile time.
pub fn gemm_threads_for(macs: usize, threads: usize, gate: usize) -> usize {
    if macs >= gate {
        threads.max(1)
    } else {
        1
    }
}

/// Why a graph could not be compiled or run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CodegenError {
    #[error("node %{node} cannot be compiled: {reason}")]
    Malformed { node: usize, reason: String },
    #[error("the program is malformed: {0}")]
    Invalid(#[from] crate::ir::verify::VerifyError),
    #[error("Cranelift failed: {0}")]
    Cranelift(String),
    #[error("no value given for input `{name}`")]
    MissingInput { name: String },
    #[error("input `{name}` has shape {found:?}, the program expects {expected:?}")]
    ShapeMismatch {
        name: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
}

/// Compiles `g` for the host CPU.
pub fn compile(g: &Graph, opts: &JitOptions) -> Result<Kernel, CodegenError> {
    let Generated {
        mut module,
        plan,
        layout,
        schedule,
        emitted,
        swaps,
    } = generate(g, opts, emit::Listing::None)?;
    module
        .finalize_definitions()
        .map_err(|e| CodegenError::Cranelift(e.to_string()))?;
    // One table per parity (swap.rs): the swap table first (the functions of steps get a
    // pointer to it), then each launch's buffer windows.
    let mut params = [false, true].map(|odd| swaps.table(&layout, odd));
    let mut inline = emitted.inline.iter();
    let mut launches = Vec::with_capacity(schedule.units.len());
    for unit in &schedule.units {
        let (id, start) = match unit {
            launch::Unit::Inline(_) => (inline.next(), 0),
            launch::Unit::Launch { kernel, sites } => {
                let start = params[0].len();
                for (table, odd) in params.iter_mut().zip([false, true]) {
                    let at = |buf| swaps.at_parity(buf, odd);
                    table.extend(launch::byte_offsets(sites, &layout, at));
                }
                (emitted.kernels.get(*kernel), start)
            }
        };
        let id = id.ok_or_else(|| CodegenError::Cranelift("a launch has no function".into()))?;
        launches.push((module.get_finalized_function(*id), start));
    }
    Ok(Kernel::new(
        module, launches, params, g, &plan, &layout, &swaps,
    ))
}

/// The Cranelift IR the JIT generates for `g`: each shared kernel once, each function of
/// steps used once, then the launch table.
pub fn emit_clif(g: &Graph, opts: &JitOptions) -> Result<String, CodegenError> {
    listing(g, opts, emit::Listing::Clif)
}

/// The machine code the JIT generates for `g`, as Cranelift disassembles it, and the launch
/// table.
pub fn emit_asm(g: &Graph, opts: &JitOptions) -> Result<String, CodegenError> {
    listing(g, opts, emit::Listing::Asm)
}

fn listing(g: &Graph, opts: &JitOptions, which: emit::Listing) -> Result<String, CodegenError> {
    let Generated {
        module, emitted, ..
    } = generate(g, opts, which)?;
    kernel::discard_unfinalized(module);
    Ok(emitted.listing)
}

/// A graph taken through every stage before finalizing: its plan, memory layout, launch
/// schedule and the functions emitted into a fresh module.
struct Generated {
    module: JITModule,
    plan: program::Plan,
    layout: memory::Layout,
    schedule: launch::Schedule,
    emitted: emit::Emitted,
    swaps: swap::Swaps,
}

fn generate(g: &Graph, opts: &JitOptions, which: emit::Listing) -> Result<Generated, CodegenError> {
    crate::ir::verify::verify(g)?;
    let plan = plan::plan(g, opts.update_in_place)?;
    let layout = memory::layout(&plan);
    let schedule = launch::schedule(&plan, opts.kernel_sharing);
    let swaps = swap::Swaps::of(g, &plan);
    let (mut module, imports) = new_module(opts)?;
    let planned = emit::Planned {
        plan: &plan,
        schedule: &schedule,
        layout: &layout,
        swaps: &swaps,
    };
    let emitted = emit::emit(&mut module, &imports, &planned, settings(opts), which)?;
    Ok(Generated {
        module,
        plan,
        layout,
        schedule,
        emitted,
        swaps,
    })
}

fn settings(opts: &JitOptions) -> emit::Settings {
    emit::Settings {
        fma: host_has_fma(),
        libm: opts.libm_math,
        inline_gemm_macs: opts.inline_gemm_macs.unwrap_or(INLINE_GEMM_MACS),
        gemm_threads: opts.gemm_threads,
        threaded_gemm_macs: opts.threaded_gemm_macs.unwrap_or(THREADED_GEMM_MACS),
    }
}

/// Whether Cranelift turns `fma` into a real `vfmadd` here (it needs both AVX and FMA).
fn host_has_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx") && std::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// A JIT module for the host at `opt_level=speed`, with every [`Import`] declared.
fn new_module(opts: &JitOptions) -> Result<(JITModule, HashMap<Import, FuncId>), CodegenError> {
    let cl = |e: cranelift_module::ModuleError| CodegenError::Cranelift(e.to_string());
    let verifier = if opts.verify_clif { "true" } else { "false" };
    let flags = [("opt_level", "speed"), ("enable_verifier", verifier)];
    let mut builder = JITBuilder::with_flags(&flags, default_libcall_names()).map_err(cl)?;
    for import in Import::ALL {
        let (name, ptr) = import.symbol();
        builder.symbol(name, ptr);
    }
    let mut module = JITModule::new(builder);
    let mut imports = HashMap::new();
    for import in Import::ALL {
        let mut sig = module.make_signature();
        match import {
            Import::Sgemm => {
                sig.params.extend([AbiParam::new(types::I64); 11]);
            }
            Import::Exp
            | Import::Log
            | Import::Log1p
            | Import::Tanh
            | Import::Sigmoid
            | Import::Erf => {
                sig.params.push(AbiParam::new(types::F32));
                sig.returns.push(AbiParam::new(types::F32));
            }
        }
        let id = module
            .declare_function(import.symbol().0, Linkage::Import, &sig)
            .map_err(cl)?;
        imports.insert(import, id);
    }
    Ok((module, imports))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_products_stay_on_one_thread_large_ones_get_all() {
        // W1's 64×784×256 first layer is below the gate; a 256×1024×1024 product is above.
        assert_eq!(gemm_threads_for(64 * 784 * 256, 2, THREADED_GEMM_MACS), 1);
        assert_eq!(
            gemm_threads_for(THREADED_GEMM_MACS - 1, 4, THREADED_GEMM_MACS),
            1
        );
        assert_eq!(
            gemm_threads_for(THREADED_GEMM_MACS, 4, THREADED_GEMM_MACS),
            4
        );
        assert_eq!(
            gemm_threads_for(256 * 1024 * 1024, 2, THREADED_GEMM_MACS),
            2
        );
        // 0 threads means one, as in `JitOptions::gemm_threads`.
        assert_eq!(
            gemm_threads_for(256 * 1024 * 1024, 0, THREADED_GEMM_MACS),
            1
        );
    }
}
