//! Rust functions that generated code calls by name: the library matrix product and scalar
//! math. Each is `extern "C"` so Cranelift's default call convention reaches it.

use super::math::Import;

impl Import {
    /// The symbol name and address the JIT resolves this import to.
    pub(crate) fn symbol(self) -> (&'static str, *const u8) {
        match self {
            Import::Sgemm => ("netc_sgemm", netc_sgemm as *const u8),
            Import::Exp => ("netc_expf", netc_expf as *const u8),
            Import::Log => ("netc_logf", netc_logf as *const u8),
            Import::Log1p => ("netc_log1pf", netc_log1pf as *const u8),
            Import::Tanh => ("netc_tanhf", netc_tanhf as *const u8),
            Import::Sigmoid => ("netc_sigmoidf", netc_sigmoidf as *const u8),
            Import::Erf => ("netc_erff", netc_erff as *const u8),
        }
    }
}

/// C = A·B (C overwritten, row-major m×n), A and B read through arbitrary element strides,
/// on `threads` threads of rayon's global pool when it is more than 1.
///
/// # Safety
/// The pointers must address arena memory holding every element the strides reach; generated
/// code passes offsets from the memory plan, which sized the arena for them.
#[allow(clippy::too_many_arguments)]
unsafe extern "C" fn netc_sgemm(
    m: usize,
    k: usize,
    n: usize,
    a: *const f32,
    rsa: isize,
    csa: isize,
    b: *const f32,
    rsb: isize,
    csb: isize,
    c: *mut f32,
    threads: usize,
) {
    let parallelism = if threads > 1 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: forwarded from this function's contract; `c` is a fresh row-major m×n buffer
    // that overlaps neither input (the memory plan keeps operands alive during the call).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c,
            1,
            n as isize,
            false,
            a,
            csa,
            rsa,
            b,
            csb,
            rsb,
            0.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

extern "C" fn netc_expf(x: f32) -> f32 {
    x.exp()
}

extern "C" fn netc_logf(x: f32) -> f32 {
    x.ln()
}

extern "C" fn netc_log1pf(x: f32) -> f32 {
    x.ln_1p()
}

extern "C" fn netc_tanhf(x: f32) -> f32 {
    x.tanh()
}

/// 1 / (1 + e⁻ˣ) in the interpreter's overflow-free form.
extern "C" fn netc_sigmoidf(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

extern "C" fn netc_erff(x: f32) -> f32 {
    crate::ir::interp::erf_f64(f64::from(x)) as f32
}
