//! Matrix products: small ones as generated loops (f32x4 register tiles of up to 4 rows when
//! B's rows are contiguous, f32x4 dot products when A's rows and B's columns are), large ones as
//! a call into the library GEMM (`host::netc_sgemm`), whose fixed cost per call only pays off
//! above the crossover.

use super::emit::{mem, FnLower, LANES};
use super::math::{mul_add, Import};
use super::program::{Access, Affine, MatMulCall};
use cranelift::prelude::*;

/// Rows of C computed together, sharing each loaded vector of B.
const TILE_ROWS: usize = 4;

/// Generated loops that cannot use f32x4 (A and B both transposed) run at a fraction of the
/// vector tiles' speed, so their crossover is this much lower.
const SCALAR_CROSSOVER_DIVISOR: usize = 16;

pub(crate) fn matmul(f: &mut FnLower, mm: &MatMulCall) {
    let [_, csa] = [mm.a.at.strides[0], mm.a.at.strides[1]];
    let [rsb, csb] = [mm.b.at.strides[0], mm.b.at.strides[1]];
    let tiles = mm.n >= LANES && csb == 1;
    let dots = mm.k >= LANES && csa == 1 && rsb == 1;
    let limit = if tiles || dots {
        f.inline_gemm_macs
    } else {
        f.inline_gemm_macs / SCALAR_CROSSOVER_DIVISOR
    };
    if mm.m * mm.k * mm.n > limit {
        return call_library(f, mm);
    }
    let c = Access {
        buf: mm.c,
        at: Affine {
            offset: 0,
            strides: vec![mm.n, 1],
        },
    };
    if tiles {
        let full = mm.m - mm.m % TILE_ROWS;
        f.counted(0, full, TILE_ROWS, &mut |f, i| {
            row_tile(f, mm, &c, i, TILE_ROWS)
        });
        if full < mm.m {
            let i = f.b.ins().iconst(types::I64, full as i64);
            row_tile(f, mm, &c, i, mm.m - full);
        }
    } else {
        f.counted(0, mm.m, 1, &mut |f, i| {
            f.counted(0, mm.n, 1, &mut |f, j| dot(f, mm, &c, i, j, dots));
        });
    }
}

/// C[i..i+rows, :] with the columns in f32x4 vectors: each B vector feeds `rows` FMAs.
fn row_tile(f: &mut FnLower, mm: &MatMulCall, c: &Access, i: Value, rows: usize) {
    let rows_i: Vec<Value> = (0..rows)
        .map(|r| f.b.ins().iadd_imm_s(i, r as i64))
        .collect();
    let vector_end = mm.n - mm.n % LANES;
    f.counted(0, vector_end, LANES, &mut |f, j| {
        let zero = f.b.ins().f32const(0.0);
        let zero = f.b.ins().splat(types::F32X4, zero);
        let accs: Vec<Variable> = (0..rows)
            .map(|_| {
                let v = f.b.declare_var(types::F32X4);
                f.b.def_var(v, zero);
                v
            })
            .collect();
        f.counted(0, mm.k, 1, &mut |f, k| {
            let pb = f.at(&mm.b, &[k, j]);
            let bv = f.b.ins().load(types::F32X4, mem(), pb, 0);
            for (r, acc) in accs.iter().enumerate() {
                let pa = f.at(&mm.a, &[rows_i[r], k]);
                let a = f.b.ins().load(types::F32, mem(), pa, 0);
                let av = f.b.ins().splat(types::F32X4, a);
                let old = f.b.use_var(*acc);
                let new = mul_add(f, av, bv, old);
                f.b.def_var(*acc, new);
            }
        });
        for (r, acc) in accs.iter().enumerate() {
            let pc = f.at(c, &[rows_i[r], j]);
            let v = f.b.use_var(*acc);
            f.b.ins().store(mem(), v, pc, 0);
        }
    });
    for &row in &rows_i {
        f.counted(vector_end, mm.n, 1, &mut |f, j| {
            dot(f, mm, c, row, j, false)
        });
    }
}

/// C[i, j] as one dot product over k, in f32x4 when A's row and B's column are contiguous.
fn dot(f: &mut FnLower, mm: &MatMulCall, c: &Access, i: Value, j: Value, vector: bool) {
    let acc = f.b.declare_var(types::F32);
    let zero = f.b.ins().f32const(0.0);
    f.b.def_var(acc, zero);
    let vector_end = if vector { mm.k - mm.k % LANES } else { 0 };
    if vector_end > 0 {
        let vacc = f.b.declare_var(types::F32X4);
        let vzero = f.b.ins().splat(types::F32X4, zero);
        f.b.def_var(vacc, vzero);
        f.counted(0, vector_end, LANES, &mut |f, k| {
            let pa = f.at(&mm.a, &[i, k]);
            let pb = f.at(&mm.b, &[k, j]);
            let a = f.b.ins().load(types::F32X4, mem(), pa, 0);
            let b = f.b.ins().load(types::F32X4, mem(), pb, 0);
            let old = f.b.use_var(vacc);
            let new = mul_add(f, a, b, old);
            f.b.def_var(vacc, new);
        });
        let v = f.b.use_var(vacc);
        let mut total = f.b.ins().extractlane(v, 0);
        for lane in 1..LANES as u8 {
            let x = f.b.ins().extractlane(v, lane);
            total = f.b.ins().fadd(total, x);
        }
        f.b.def_var(acc, total);
    }
    f.counted(vector_end, mm.k, 1, &mut |f, k| {
        let pa = f.at(&mm.a, &[i, k]);
        let pb = f.at(&mm.b, &[k, j]);
        let a = f.b.ins().load(types::F32, mem(), pa, 0);
        let b = f.b.ins().load(types::F32, mem(), pb, 0);
        let old = f.b.use_var(acc);
        let new = mul_add(f, a, b, old);
        f.b.def_var(acc, new);
    });
    let pc = f.at(c, &[i, j]);
    let v = f.b.use_var(acc);
    f.b.ins().store(mem(), v, pc, 0);
}

/// C = A·B through `netc_sgemm` (the `gemm` crate), strides passed as they are, on the
/// program's threads only when the product is large enough to pay for them.
fn call_library(f: &mut FnLower, mm: &MatMulCall) {
    let sgemm = f.import(Import::Sgemm);
    let a = f.base(&mm.a);
    let b = f.base(&mm.b);
    let c = f.address(mm.c, 0);
    let dims = [
        mm.m,
        mm.k,
        mm.n,
        mm.a.at.strides[0],
        mm.a.at.strides[1],
        mm.b.at.strides[0],
        mm.b.at.strides[1],
        super::gemm_threads_for(mm.m * mm.k * mm.n, f.gemm_threads, f.threaded_gemm_macs),
    ]
    .map(|d| f.b.ins().iconst(types::I64, d as i64));
    let args = [
        dims[0], dims[1], dims[2], a, dims[3], dims[4], b, dims[5], dims[6], c, dims[7],
    ];
    f.b.ins().call(sgemm, &args);
}
