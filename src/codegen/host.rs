//! Rust functions that generated code calls by name: the library matrix product and scalar
//! math. Each is `extern "C"` so Cranelift's default call convention reaches it.
#![allow(unsafe_code)]

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
    let (a, b) = ((a, rsa, csa), (b, rsb, csb));
    if n < THIN_COLUMNS && m >= THIN_MIN_ROWS && rsa == 1 {
        // A thin C (an input weight's gradient with 2 input features: Aᵀ·B of 512×3200×2)
        // written row-major makes the library work on Cᵀ, whose 2 rows fill 2 of its kernel's
        // 16 lanes; written column-major into a scratch buffer, with A's columns contiguous
        // as its kernel wants them, it runs 6× faster (573 → 89 µs), and the transpose back
        // touches only m·n elements. (With A row-major the library would repack A: slower.)
        THIN_C.with_borrow_mut(|scratch| {
            scratch.clear();
            scratch.resize(m * n, 0.0);
            let col_major = scratch.as_mut_ptr();
            // SAFETY: the scratch holds m·n floats, column-major (column stride m); the
            // inputs are as this function's contract says.
            unsafe { product([m, k, n], a, b, (col_major, 1, m as isize), threads) };
            for i in 0..m {
                for j in 0..n {
                    // SAFETY: `c` is the m×n row-major output (this function's contract).
                    unsafe { *c.add(i * n + j) = scratch[j * m + i] };
                }
            }
        });
    } else {
        // SAFETY: forwarded from this function's contract, C row-major.
        unsafe { product([m, k, n], a, b, (c, n as isize, 1), threads) };
    }
}

/// C with fewer columns than this (and at least [`THIN_MIN_ROWS`] rows) is computed
/// column-major, then transposed.
const THIN_COLUMNS: usize = 4;
const THIN_MIN_ROWS: usize = 64;

thread_local! {
    /// The column-major C of a thin product; grown to the largest, never shrunk.
    static THIN_C: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A matrix operand: its first element, then the element strides from one row to the next
/// and from one column to the next.
type Operand<P> = (P, isize, isize);

/// C = A·B for an m×k A and a k×n B (`[m, k, n]`), each matrix an [`Operand`].
///
/// # Safety
/// As [`netc_sgemm`], for a C of m×n elements at its strides that overlaps neither input (the
/// memory plan keeps operands alive during the call).
unsafe fn product(
    [m, k, n]: [usize; 3],
    (a, rsa, csa): Operand<*const f32>,
    (b, rsb, csb): Operand<*const f32>,
    (c, rsc, csc): Operand<*mut f32>,
    threads: usize,
) {
    let parallelism = if threads > 1 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: forwarded from this function's contract.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c,
            csc,
            rsc,
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
