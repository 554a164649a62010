//! Sliding windows as loop nests: [`Op::Windows`](crate::ir::Op::Windows) is a strided view
//! (padding first copies the input into a zero-bordered buffer), and
//! [`Op::WindowsAdd`](crate::ir::Op::WindowsAdd) is a scatter-add loop whose destination walks
//! the same strides. A reshape of the view to im2col's matrix materializes it, through the arena
//! like any temporary, so its buffer is reused once the product has read it.

use super::{
    for_each_affine, is_leaf, row_major, Access, Affine, CodegenError, Expr, LoopNest, Lower, Step,
    StoreMode,
};
use crate::ir::{numel, ValueId, Window2d};

impl Lower<'_> {
    /// The windows of `x` ([N, H, W, C]) as a view over [N, OH, OW, KH, KW, C].
    pub(super) fn windows(&mut self, x: ValueId, win: &Window2d) -> Result<Expr, CodegenError> {
        let source = if win.padding == [0; 4] {
            // Every element is read by up to KH·KW windows: compute it once.
            if !is_leaf(self.lazy[x.index()].as_ref()) {
                self.materialize(x);
            }
            self.expr(x)?
        } else {
            let padded = padded_shape(self.shape(x), win);
            let buf = self.zeroed(&padded);
            let interior = interior(buf, &padded, win);
            let step = LoopNest {
                space: self.shape(x).to_vec(),
                expr: self.expr(x)?,
                dst: interior,
                mode: StoreMode::Assign,
                fused: Vec::new(),
            };
            self.plan.steps.push(Step::Loop(step));
            Expr::Load(Access {
                buf,
                at: Affine {
                    offset: 0,
                    strides: row_major(&padded),
                },
            })
        };
        let mut view = source;
        for_each_affine(&mut view, &mut |a| {
            a.strides = window_strides(&a.strides, win)
        });
        Ok(view)
    }

    /// `dy` ([N, OH, OW, KH, KW, C]) added onto a zeroed [N, H, W, C] (`shape`) at the
    /// positions its windows read; with padding, onto a zero-bordered buffer whose interior is
    /// the result (taps in the border are simply never read).
    pub(super) fn windows_add(
        &mut self,
        dy: ValueId,
        win: &Window2d,
        shape: &[usize],
    ) -> Result<Expr, CodegenError> {
        let padded = padded_shape(shape, win);
        let buf = self.zeroed(&padded);
        let rm = row_major(&padded);
        let mut scatter = LoopNest {
            space: self.shape(dy).to_vec(),
            expr: self.expr(dy)?,
            dst: Access {
                buf,
                at: Affine {
                    offset: 0,
                    strides: window_strides(&rm, win),
                },
            },
            mode: StoreMode::Add,
            fused: Vec::new(),
        };
        let out_width = scatter.space[2];
        if win.pixels_inner(shape[3], out_width) {
            // Taps outer, pixels inner (a sum: any order of the points gives it).
            let order = |xs: &[usize]| [3, 4, 5, 0, 1, 2].map(|d| xs[d]).to_vec();
            scatter.space = order(&scatter.space);
            scatter.dst.at.strides = order(&scatter.dst.at.strides);
            for_each_affine(&mut scatter.expr, &mut |a| a.strides = order(&a.strides));
        }
        self.plan.steps.push(Step::Loop(scatter));
        Ok(Expr::Load(interior(buf, &padded, win)))
    }

    /// A fresh buffer of `shape`, filled with zeros by a loop of its own.
    fn zeroed(&mut self, shape: &[usize]) -> usize {
        let buf = self.new_buffer(numel(shape), None);
        let fill = LoopNest {
            space: shape.to_vec(),
            expr: Expr::Const(0.0),
            dst: Access {
                buf,
                at: Affine {
                    offset: 0,
                    strides: row_major(shape),
                },
            },
            mode: StoreMode::Assign,
            fused: Vec::new(),
        };
        self.plan.steps.push(Step::Loop(fill));
        buf
    }
}

/// [N, top + H + bottom, left + W + right, C].
fn padded_shape(x: &[usize], win: &Window2d) -> Vec<usize> {
    let [top, bottom, left, right] = win.padding;
    vec![x[0], top + x[1] + bottom, left + x[2] + right, x[3]]
}

/// The unpadded [N, H, W, C] part of a padded buffer, as an access over [N, H, W, C].
fn interior(buf: usize, padded: &[usize], win: &Window2d) -> Access {
    let strides = row_major(padded);
    let [top, _, left, _] = win.padding;
    Access {
        buf,
        at: Affine {
            offset: top * strides[1] + left * strides[2],
            strides,
        },
    }
}

/// Strides over [N, OH, OW, KH, KW, C] of an [N, H, W, C] access with `s`: the window at
/// (i, j) starts at row i·sh, column j·sw, and tap (p, q) is p·dh rows and q·dw columns on.
fn window_strides(s: &[usize], win: &Window2d) -> Vec<usize> {
    let [sh, sw] = win.stride;
    let [dh, dw] = win.dilation;
    vec![s[0], s[1] * sh, s[2] * sw, s[1] * dh, s[2] * dw, s[3]]
}
