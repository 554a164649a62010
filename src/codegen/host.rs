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

/// C = A·B (C overwritten, row-major m×n), A and B read through arbitrary element strides.
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
) {
    // SAFETY: forwarded from this function's contract; `c` is a fresh row-major m×n buffer
    // that overlaps neither input (the memory plan keeps operands alive during the call).
    unsafe {
        matrixmultiply::sgemm(
            m, k, n, 1.0, a, rsa, csa, b, rsb, csb, 0.0, c, n as isize, 1,
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

extern "C" fn netc_sigmoidf(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

extern "C" fn netc_erff(x: f32) -> f32 {
    erf(f64::from(x)) as f32
}

/// The error function: its Taylor series below |x| = 0.5 (relative error < 1e-9), else
/// Abramowitz & Stegun 7.1.26 (absolute error < 1.5e-7); exact at ±∞, NaN-propagating.
pub(crate) fn erf(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    if x.abs() < 0.5 {
        // 2/√π · Σ (−1)ⁿ x^(2n+1) / (n! (2n+1))
        let (x2, mut term, mut sum) = (x * x, x, x);
        for n in 1..12 {
            term *= -x2 / f64::from(n);
            sum += term / f64::from(2 * n + 1);
        }
        return sum * std::f64::consts::FRAC_2_SQRT_PI;
    }
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let y = 1.0 - poly * (-x * x).exp();
    y.copysign(x)
}
