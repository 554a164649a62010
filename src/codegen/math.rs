//! Elementwise arithmetic in CLIF, for scalars (f32) and vectors (f32x4) alike: the op table of
//! the JIT. exp, log, log1p, tanh and sigmoid are inline approximations (`approx.rs`) unless
//! `JitOptions::libm_math` asks for calls to the Rust functions of `host.rs` (per lane for
//! vectors); erf is always such a call.

use super::approx;
use super::emit::{FnLower, LANES};
use super::program::MaskExpr;
use crate::ir::{BinaryOp, CmpOp, UnaryOp};
use cranelift::prelude::*;

/// Rust functions the generated code may call (registered with the JIT by name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Import {
    Sgemm,
    Exp,
    Log,
    Log1p,
    Tanh,
    Sigmoid,
    Erf,
}

impl Import {
    pub const ALL: [Import; 7] = [
        Import::Sgemm,
        Import::Exp,
        Import::Log,
        Import::Log1p,
        Import::Tanh,
        Import::Sigmoid,
        Import::Erf,
    ];
}

pub(crate) fn unary(f: &mut FnLower, op: UnaryOp, x: Value, vector: bool) -> Value {
    match op {
        UnaryOp::Neg => f.b.ins().fneg(x),
        UnaryOp::Exp if !f.libm => approx::exp(f, x, vector),
        UnaryOp::Log if !f.libm => approx::log(f, x, vector),
        UnaryOp::Log1p if !f.libm => approx::log1p(f, x, vector),
        UnaryOp::Tanh if !f.libm => approx::tanh(f, x, vector),
        UnaryOp::Sigmoid if !f.libm => approx::sigmoid(f, x, vector),
        UnaryOp::Exp => call_lanes(f, Import::Exp, x, vector),
        UnaryOp::Log => call_lanes(f, Import::Log, x, vector),
        UnaryOp::Log1p => call_lanes(f, Import::Log1p, x, vector),
        UnaryOp::Tanh => call_lanes(f, Import::Tanh, x, vector),
        UnaryOp::Sigmoid => call_lanes(f, Import::Sigmoid, x, vector),
        UnaryOp::Erf => call_lanes(f, Import::Erf, x, vector),
        UnaryOp::Relu => {
            let zero = konst(f, 0.0, vector);
            max(f, x, zero)
        }
        UnaryOp::Softplus => softplus(f, x, vector),
        UnaryOp::Sqrt => f.b.ins().sqrt(x),
        UnaryOp::Rsqrt => {
            let s = f.b.ins().sqrt(x);
            recip(f, s, vector)
        }
        UnaryOp::Recip => recip(f, x, vector),
        UnaryOp::Abs => abs(f, x, vector),
        UnaryOp::Square => f.b.ins().fmul(x, x),
        UnaryOp::IsNonFinite => {
            // x − x is 0 for finite x and NaN for NaN and ±∞.
            let d = f.b.ins().fsub(x, x);
            let zero = konst(f, 0.0, vector);
            let one = konst(f, 1.0, vector);
            let c = f.b.ins().fcmp(FloatCC::Unordered, d, d);
            pick(f, c, one, zero, vector)
        }
    }
}

pub(crate) fn binary(f: &mut FnLower, op: BinaryOp, a: Value, b: Value) -> Value {
    match op {
        BinaryOp::Add => f.b.ins().fadd(a, b),
        BinaryOp::Sub => f.b.ins().fsub(a, b),
        BinaryOp::Mul => f.b.ins().fmul(a, b),
        BinaryOp::Div => f.b.ins().fdiv(a, b),
        BinaryOp::Max => max(f, a, b),
        BinaryOp::Min => min(f, a, b),
    }
}

/// 1.0 where `a op b`, else 0.0 (false whenever a NaN is involved, as in Rust).
pub(crate) fn compare(f: &mut FnLower, op: CmpOp, a: Value, b: Value, vector: bool) -> Value {
    let cc = match op {
        CmpOp::Gt => FloatCC::GreaterThan,
        CmpOp::Ge => FloatCC::GreaterThanOrEqual,
        CmpOp::Lt => FloatCC::LessThan,
        CmpOp::Le => FloatCC::LessThanOrEqual,
        CmpOp::Eq => FloatCC::Equal,
    };
    let c = f.b.ins().fcmp(cc, a, b);
    let one = konst(f, 1.0, vector);
    if vector {
        // All-ones lanes and 1.0 give 1.0, zero lanes 0.0: one `andps`, not a blend.
        let m = f.mask_as_f32x4(c);
        f.b.ins().band(m, one)
    } else {
        let zero = konst(f, 0.0, vector);
        f.b.ins().select(c, one, zero)
    }
}

/// cond ≠ 0 ? t : e (a NaN condition counts as true, as `cond != 0.0` does in Rust).
pub(crate) fn select_nonzero(f: &mut FnLower, c: Value, t: Value, e: Value, vector: bool) -> Value {
    let zero = konst(f, 0.0, vector);
    let nonzero = f.b.ins().fcmp(FloatCC::NotEqual, c, zero);
    pick(f, nonzero, t, e, vector)
}

/// max(a, b) as the interpreter defines it: `a` on ties, NaN from either side propagates.
pub(crate) fn max(f: &mut FnLower, a: Value, b: Value) -> Value {
    min_max(f, a, b, FloatCC::UnorderedOrLessThan)
}

/// min(a, b) as the interpreter defines it: `a` on ties, NaN from either side propagates.
pub(crate) fn min(f: &mut FnLower, a: Value, b: Value) -> Value {
    min_max(f, a, b, FloatCC::UnorderedOrGreaterThan)
}

/// `b` where `take_b(a, b)` (true also when either is NaN), except that a NaN `a` stays.
fn min_max(f: &mut FnLower, a: Value, b: Value, take_b: FloatCC) -> Value {
    let vector = f.b.func.dfg.value_type(a).is_vector();
    let c = f.b.ins().fcmp(take_b, a, b);
    let r = pick(f, c, b, a, vector);
    let a_nan = f.b.ins().fcmp(FloatCC::Unordered, a, a);
    pick(f, a_nan, a, r, vector)
}

/// ln(1 + eˣ) as the interpreter computes it: max(x, 0) + ln(1 + e^−|x|).
fn softplus(f: &mut FnLower, x: Value, vector: bool) -> Value {
    let zero = konst(f, 0.0, vector);
    let pos = max(f, x, zero);
    let abs = abs(f, x, vector);
    let neg_abs = f.b.ins().fneg(abs);
    let e = unary(f, UnaryOp::Exp, neg_abs, vector);
    let l = unary(f, UnaryOp::Log1p, e, vector);
    f.b.ins().fadd(pos, l)
}

/// c ? t : e for a scalar condition or a vector lane mask.
fn pick(f: &mut FnLower, c: Value, t: Value, e: Value, vector: bool) -> Value {
    if vector {
        let m = f.mask_as_f32x4(c);
        f.b.ins().bitselect(m, t, e)
    } else {
        f.b.ins().select(c, t, e)
    }
}

/// |x|. For f32x4 an `andps` with a constant mask: Cranelift's own vector `fabs` builds the
/// mask in registers each time (three instructions and one more live register).
pub(crate) fn abs(f: &mut FnLower, x: Value, vector: bool) -> Value {
    if vector {
        let mask = konst(f, f32::from_bits(0x7fff_ffff), vector);
        f.b.ins().band(x, mask)
    } else {
        f.b.ins().fabs(x)
    }
}

/// a·b + c, one rounding when the host has FMA (Cranelift calls `fmaf` per lane otherwise).
pub(crate) fn mul_add(f: &mut FnLower, a: Value, b: Value, c: Value) -> Value {
    if f.fma {
        f.b.ins().fma(a, b, c)
    } else {
        let p = f.b.ins().fmul(a, b);
        f.b.ins().fadd(p, c)
    }
}

pub(crate) fn konst(f: &mut FnLower, c: f32, vector: bool) -> Value {
    let x = f.b.ins().f32const(c);
    f.splat_if(x, vector)
}

fn recip(f: &mut FnLower, x: Value, vector: bool) -> Value {
    let one = konst(f, 1.0, vector);
    f.b.ins().fdiv(one, x)
}

/// Calls a scalar Rust function on `x`, lane by lane for a vector.
fn call_lanes(f: &mut FnLower, which: Import, x: Value, vector: bool) -> Value {
    let func = f.import(which);
    if !vector {
        let call = f.b.ins().call(func, &[x]);
        return f.b.inst_results(call)[0];
    }
    let mut out = x;
    for lane in 0..LANES as u8 {
        let xi = f.b.ins().extractlane(x, lane);
        let call = f.b.ins().call(func, &[xi]);
        let yi = f.b.inst_results(call)[0];
        out = f.b.ins().insertlane(out, yi, lane);
    }
    out
}

/// One dropout-mask element: exactly [`crate::ir::mask_uniform`] then the inverted-dropout
/// scale, in scalar integer code.
pub(crate) fn mask(f: &mut FnLower, m: &MaskExpr, counter: Value, index: Value) -> Value {
    let c32 = f.b.ins().fcvt_to_uint_sat(types::I32, counter);
    let c = f.b.ins().uextend(types::I64, c32);
    let sc = f.b.ins().bor_imm_s(c, (u64::from(m.stream) << 32) as i64);
    let sc = f.b.ins().imul_imm_s(sc, 0x9E37_79B9_7F4A_7C15_u64 as i64);
    let mut h = f.b.ins().bxor_imm_s(sc, m.seed as i64);
    let i32bits = f.b.ins().band_imm_s(index, 0xFFFF_FFFF);
    let ih =
        f.b.ins()
            .imul_imm_s(i32bits, 0xD1B5_4A32_D192_ED03_u64 as i64);
    h = f.b.ins().bxor(h, ih);
    for (shift, k) in [(30, 0xBF58_476D_1CE4_E5B9_u64), (27, 0x94D0_49BB_1331_11EB)] {
        let s = f.b.ins().ushr_imm_s(h, shift);
        let x = f.b.ins().bxor(h, s);
        h = f.b.ins().imul_imm_s(x, k as i64);
    }
    let s = f.b.ins().ushr_imm_s(h, 31);
    h = f.b.ins().bxor(h, s);
    let top = f.b.ins().ushr_imm_s(h, 40);
    // u = top · 2⁻²⁴ is dropped when u < p (compared in f64): top < ⌈p · 2²⁴⌉ exactly.
    let threshold = (m.p * (1u64 << 24) as f64)
        .ceil()
        .clamp(0.0, (1u64 << 25) as f64);
    let dropped =
        f.b.ins()
            .icmp_imm_s(IntCC::UnsignedLessThan, top, threshold as i64);
    let keep_scale = f.b.ins().f32const(keep_scale(m.p));
    let zero = f.b.ins().f32const(0.0);
    f.b.ins().select(dropped, zero, keep_scale)
}

/// The value of a kept mask element, 1/(1−p).
pub(crate) fn keep_scale(p: f64) -> f32 {
    (1.0 / (1.0 - p)) as f32
}
