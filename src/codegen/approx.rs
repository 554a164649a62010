//! Inline polynomial approximations of exp, log, log1p, tanh and sigmoid, for f32 and f32x4
//! alike (Cephes-style range reduction and coefficients). Each handles the whole float range:
//! overflow to ±∞, gradual underflow, log of subnormals, and NaN/∞ pass through. Their measured
//! errors are in docs/codegen.md and checked by tests/it/jit_math.rs.
// The coefficients are written as published (Cephes), not truncated to f32's shortest form.
#![allow(clippy::excessive_precision)]

use super::emit::FnLower;
use super::math::{abs, konst, mul_add};
use cranelift::prelude::*;

/// ln 2 split in a part exact in few bits and a correction (Cody–Waite).
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;

fn int_ty(vector: bool) -> Type {
    if vector {
        types::I32X4
    } else {
        types::I32
    }
}

fn float_ty(vector: bool) -> Type {
    if vector {
        types::F32X4
    } else {
        types::F32
    }
}

/// Integer constant of the lane type.
fn iconst(f: &mut FnLower, c: i32, vector: bool) -> Value {
    let x = f.b.ins().iconst(types::I32, i64::from(c));
    if vector {
        f.b.ins().splat(types::I32X4, x)
    } else {
        x
    }
}

fn bits_to_float(f: &mut FnLower, x: Value, vector: bool) -> Value {
    let flags = MemFlagsData::new().with_endianness(codegen::ir::Endianness::Little);
    f.b.ins().bitcast(float_ty(vector), flags, x)
}

fn float_to_bits(f: &mut FnLower, x: Value, vector: bool) -> Value {
    let flags = MemFlagsData::new().with_endianness(codegen::ir::Endianness::Little);
    f.b.ins().bitcast(int_ty(vector), flags, x)
}

/// Horner evaluation of Σ coeffs[i]·x^(n−1−i) (highest power first).
fn horner(f: &mut FnLower, x: Value, coeffs: &[f32], vector: bool) -> Value {
    let mut acc = konst(f, coeffs[0], vector);
    for &c in &coeffs[1..] {
        let c = konst(f, c, vector);
        acc = mul_add(f, acc, x, c);
    }
    acc
}

/// c ? t : e for a lane mask or scalar condition.
fn pick(f: &mut FnLower, c: Value, t: Value, e: Value, vector: bool) -> Value {
    if vector {
        let m = f.mask_as_f32x4(c);
        f.b.ins().bitselect(m, t, e)
    } else {
        f.b.ins().select(c, t, e)
    }
}

/// p · 2^k for an integer k in [−252, 254] given as i32 lanes, as two normal powers of two
/// multiplied, so that results in the subnormal range and overflow round like one multiply.
fn scale_by_pow2(f: &mut FnLower, p: Value, k: Value, vector: bool) -> Value {
    let half = f.b.ins().sshr_imm_s(k, 1);
    let rest = f.b.ins().isub(k, half);
    let bias = iconst(f, 127, vector);
    let mut out = p;
    for e in [half, rest] {
        let biased = f.b.ins().iadd(e, bias);
        let bits = f.b.ins().ishl_imm_s(biased, 23);
        let pow = bits_to_float(f, bits, vector);
        out = f.b.ins().fmul(out, pow);
    }
    out
}

/// x clamped to [lo, hi] by compare and select, so a NaN stays NaN (cheaper than `fmin`/`fmax`,
/// whose IEEE lowering on x64 is a long sequence).
fn clamp(f: &mut FnLower, x: Value, lo: f32, hi: f32, vector: bool) -> Value {
    let lo = konst(f, lo, vector);
    let hi = konst(f, hi, vector);
    let below = f.b.ins().fcmp(FloatCC::LessThan, x, lo);
    let x = pick(f, below, lo, x, vector);
    let above = f.b.ins().fcmp(FloatCC::GreaterThan, x, hi);
    pick(f, above, hi, x, vector)
}

/// eˣ: x = k·ln2 + r, |r| ≤ ln2/2, e^r by a degree-7 polynomial, times 2^k. k is rounded with
/// the 1.5·2²³ trick: adding it leaves round(t) in the low mantissa bits.
pub(crate) fn exp(f: &mut FnLower, x: Value, vector: bool) -> Value {
    let x = clamp(f, x, -150.0, 150.0, vector);
    let (p, shifted_bits) = exp_reduced(f, x, vector);
    let magic_bits = iconst(f, MAGIC_BITS, vector);
    let k = f.b.ins().isub(shifted_bits, magic_bits);
    scale_by_pow2(f, p, k, vector)
}

/// eˣ for x ≤ [`EXP_SMALL_MAX`] whose result stays normal (x ≥ −87, or NaN): the same
/// polynomial as [`exp`], scaled by one multiply with 2^k built straight from the rounding
/// trick's bits. Larger x give e^40; a NaN stays NaN. For tanh, whose argument is 2|x|.
fn exp_small(f: &mut FnLower, x: Value, vector: bool) -> Value {
    let hi = konst(f, EXP_SMALL_MAX, vector);
    let above = f.b.ins().fcmp(FloatCC::GreaterThan, x, hi);
    let x = pick(f, above, hi, x, vector);
    let (p, shifted_bits) = exp_reduced(f, x, vector);
    // (k + 127) << 23 with k = bits − MAGIC_BITS; the shift drops the magic's high bits.
    let biased = iconst(f, 127 - MAGIC_BITS, vector);
    let biased = f.b.ins().iadd(shifted_bits, biased);
    let bits = f.b.ins().ishl_imm_s(biased, 23);
    let pow = bits_to_float(f, bits, vector);
    f.b.ins().fmul(p, pow)
}

/// The bits of 1.5·2²³, the rounding constant of [`exp_reduced`].
const MAGIC_BITS: i32 = 0x4B40_0000;

/// Where [`exp_small`] clamps: tanh(20) is 1 in f32 with a margin, and 2^58 stays normal.
const EXP_SMALL_MAX: f32 = 40.0;

/// For x in [−150, 150] (or NaN): e^r of the reduced argument r = x − k·ln2, and the bits of
/// the rounding sum, whose low bits hold k (`bits − MAGIC_BITS`).
fn exp_reduced(f: &mut FnLower, x: Value, vector: bool) -> (Value, Value) {
    let log2e = konst(f, std::f32::consts::LOG2_E, vector);
    let magic = konst(f, 12_582_912.0, vector);
    let shifted = mul_add(f, x, log2e, magic);
    let k = f.b.ins().fsub(shifted, magic);
    let shifted_bits = float_to_bits(f, shifted, vector);
    let nk = f.b.ins().fneg(k);
    let (hi_c, lo_c) = (konst(f, LN2_HI, vector), konst(f, LN2_LO, vector));
    let r = mul_add(f, nk, hi_c, x);
    let r = mul_add(f, nk, lo_c, r);
    let coeffs = [
        1.987_569_1e-4,
        1.398_199_9e-3,
        8.333_452e-3,
        4.166_579_6e-2,
        1.666_666_5e-1,
        5.000_000_1e-1,
    ];
    let r2 = f.b.ins().fmul(r, r);
    let p = estrin6(f, r, r2, &coeffs, vector);
    let one = konst(f, 1.0, vector);
    let r1 = f.b.ins().fadd(r, one);
    (mul_add(f, p, r2, r1), shifted_bits)
}

/// Σ coeffs[i]·x^(5−i) (highest power first) in Estrin's form, (c₁x + c₀) + x²((c₃x + c₂) +
/// x²(c₅x + c₄)): three multiply-adds deep instead of Horner's five. Elementwise loops run
/// several iterations at once, and the exponential's dependency chain was what bounded tanh.
fn estrin6(f: &mut FnLower, x: Value, x2: Value, coeffs: &[f32; 6], vector: bool) -> Value {
    let pair = |f: &mut FnLower, hi: f32, lo: f32| {
        let (hi, lo) = (konst(f, hi, vector), konst(f, lo, vector));
        mul_add(f, hi, x, lo)
    };
    let q2 = pair(f, coeffs[0], coeffs[1]);
    let q1 = pair(f, coeffs[2], coeffs[3]);
    let q0 = pair(f, coeffs[4], coeffs[5]);
    let t = mul_add(f, q2, x2, q1);
    mul_add(f, t, x2, q0)
}

/// ln x for x > 0 (subnormals included); −∞ at 0, NaN below 0, ∞ at ∞, NaN stays NaN.
pub(crate) fn log(f: &mut FnLower, x: Value, vector: bool) -> Value {
    // Subnormals: scale into the normal range first and correct the exponent by 23.
    let min_normal = konst(f, f32::MIN_POSITIVE, vector);
    let tiny = f.b.ins().fcmp(FloatCC::LessThan, x, min_normal);
    let two23 = konst(f, 8_388_608.0, vector);
    let scaled = f.b.ins().fmul(x, two23);
    let xs = pick(f, tiny, scaled, x, vector);
    let (adj, zero) = (konst(f, -23.0, vector), konst(f, 0.0, vector));
    let e_adj = pick(f, tiny, adj, zero, vector);
    let bits = float_to_bits(f, xs, vector);
    let exp_bits = f.b.ins().ushr_imm_s(bits, 23);
    let mantissa_mask = iconst(f, 0x007F_FFFF, vector);
    let mantissa = f.b.ins().band(bits, mantissa_mask);
    let half_bits = iconst(f, 0x3F00_0000, vector);
    let m = f.b.ins().bor(mantissa, half_bits);
    let m = bits_to_float(f, m, vector); // in [0.5, 1)
    let bias = iconst(f, 126, vector);
    let e = f.b.ins().isub(exp_bits, bias);
    let e = f.b.ins().fcvt_from_sint(float_ty(vector), e);
    let e = f.b.ins().fadd(e, e_adj);
    // m < √½: use 2m − 1 and e − 1, so the polynomial sees [√½ − 1, √2 − 1).
    let sqrt_half = konst(f, std::f32::consts::FRAC_1_SQRT_2, vector);
    let low = f.b.ins().fcmp(FloatCC::LessThan, m, sqrt_half);
    let one = konst(f, 1.0, vector);
    let m2 = f.b.ins().fadd(m, m);
    let mm = pick(f, low, m2, m, vector);
    let m = f.b.ins().fsub(mm, one);
    let e_minus = f.b.ins().fsub(e, one);
    let e = pick(f, low, e_minus, e, vector);
    let coeffs = [
        7.037_683_6e-2,
        -1.151_461e-1,
        1.167_699_9e-1,
        -1.242_014_1e-1,
        1.424_932_3e-1,
        -1.666_805_8e-1,
        2.000_071_4e-1,
        -2.499_999_4e-1,
        3.333_333e-1,
    ];
    let p = horner(f, m, &coeffs, vector);
    let z = f.b.ins().fmul(m, m);
    let pm = f.b.ins().fmul(p, m);
    let y = f.b.ins().fmul(pm, z);
    let lo_c = konst(f, LN2_LO, vector);
    let y = mul_add(f, e, lo_c, y);
    let minus_half = konst(f, -0.5, vector);
    let y = mul_add(f, z, minus_half, y);
    let r = f.b.ins().fadd(m, y);
    let hi_c = konst(f, LN2_HI, vector);
    let r = mul_add(f, e, hi_c, r);
    log_specials(f, x, r, vector)
}

/// The IEEE results of ln at 0, negatives, ∞ and NaN, where the bit tricks do not apply.
fn log_specials(f: &mut FnLower, x: Value, r: Value, vector: bool) -> Value {
    let zero = konst(f, 0.0, vector);
    let inf = konst(f, f32::INFINITY, vector);
    let is_zero = f.b.ins().fcmp(FloatCC::Equal, x, zero);
    let neg_inf = konst(f, f32::NEG_INFINITY, vector);
    let r = pick(f, is_zero, neg_inf, r, vector);
    let is_inf = f.b.ins().fcmp(FloatCC::Equal, x, inf);
    let r = pick(f, is_inf, inf, r, vector);
    // x < 0 or NaN: NaN (x − x + (0/0) is avoided; use the canonical NaN constant).
    let nan = konst(f, f32::NAN, vector);
    let bad = f.b.ins().fcmp(FloatCC::UnorderedOrLessThan, x, zero);
    pick(f, bad, nan, r, vector)
}

/// ln(1 + x) accurate for small x: log(u)·x/(u − 1) with u = 1 + x (exact when u = 1).
pub(crate) fn log1p(f: &mut FnLower, x: Value, vector: bool) -> Value {
    let one = konst(f, 1.0, vector);
    let u = f.b.ins().fadd(x, one);
    let lu = log(f, u, vector);
    let um1 = f.b.ins().fsub(u, one);
    let ratio = f.b.ins().fdiv(x, um1);
    let corrected = f.b.ins().fmul(lu, ratio);
    let exact = f.b.ins().fcmp(FloatCC::Equal, u, one);
    let r = pick(f, exact, x, corrected, vector);
    let inf = konst(f, f32::INFINITY, vector);
    let is_inf = f.b.ins().fcmp(FloatCC::Equal, x, inf);
    pick(f, is_inf, inf, r, vector)
}

/// tanh x: an odd polynomial below |x| = 0.625, else 1 − 2/(e^{2|x|} + 1), sign restored.
pub(crate) fn tanh(f: &mut FnLower, x: Value, vector: bool) -> Value {
    let ax = abs(f, x, vector);
    let two_ax = f.b.ins().fadd(ax, ax);
    let e = exp_small(f, two_ax, vector);
    let one = konst(f, 1.0, vector);
    let two = konst(f, 2.0, vector);
    let d = f.b.ins().fadd(e, one);
    let q = f.b.ins().fdiv(two, d);
    let big = f.b.ins().fsub(one, q);
    let big = copysign(f, big, x, vector);
    let z = f.b.ins().fmul(x, x);
    let coeffs = [
        -5.704_988_7e-3,
        2.063_908_9e-2,
        -5.373_971_6e-2,
        1.333_144_2e-1,
        -3.333_328_2e-1,
    ];
    let p = horner(f, z, &coeffs, vector);
    let pz = f.b.ins().fmul(p, z);
    let small = mul_add(f, pz, x, x);
    let cut = konst(f, 0.625, vector);
    let is_small = f.b.ins().fcmp(FloatCC::LessThan, ax, cut);
    pick(f, is_small, small, big, vector)
}

/// `mag` (≥ 0 or NaN) with the sign of `sign`. For f32x4 `mag | (sign & −0.0)`: two
/// instructions where a bit select takes three (x64 has no vector `fcopysign`).
fn copysign(f: &mut FnLower, mag: Value, sign: Value, vector: bool) -> Value {
    if vector {
        let sign_bit = konst(f, -0.0, vector);
        let sign = f.b.ins().band(sign, sign_bit);
        f.b.ins().bor(mag, sign)
    } else {
        f.b.ins().fcopysign(mag, sign)
    }
}

/// 1/(1 + e⁻ˣ) for x ≥ 0 and eˣ/(1 + eˣ) below, so neither tail overflows: exactly 0 and 1
/// only where the true value rounds there, NaN stays NaN.
pub(crate) fn sigmoid(f: &mut FnLower, x: Value, vector: bool) -> Value {
    let ax = abs(f, x, vector);
    let nax = f.b.ins().fneg(ax);
    let e = exp(f, nax, vector);
    let one = konst(f, 1.0, vector);
    let zero = konst(f, 0.0, vector);
    let d = f.b.ins().fadd(e, one);
    let negative = f.b.ins().fcmp(FloatCC::LessThan, x, zero);
    let num = pick(f, negative, e, one, vector);
    f.b.ins().fdiv(num, d)
}
