//! Convolution and pooling as IR: pure graph builders over channels-last [N, H, W, C] tensors,
//! each the sliding windows ([`Graph::windows`]) followed by ops that already exist — a matrix
//! product for the convolution (im2col), a max or mean over the window axes for pooling — so
//! their gradients, the JIT's GEMM and the probes need nothing new.

use crate::ir::{Graph, ReduceOp, ValueId, Window2d};

/// x [N,H,W,C] (channels last), weight [F, C, KH, KW] (PyTorch's nn.Conv2d layout) → [N,OH,OW,F]; no bias.
pub fn conv2d(g: &mut Graph, x: ValueId, weight: ValueId, win: &Window2d) -> ValueId {
    let cols = g.windows(x, win);
    let &[n, oh, ow, kh, kw, c] = g.shape(cols) else {
        unreachable!("windows are of rank 6")
    };
    let filters = g.shape(weight)[0];
    assert_eq!(
        g.shape(weight),
        [filters, c, kh, kw],
        "IR builder: conv2d weight for {c} channels and a {kh}×{kw} kernel"
    );
    let filters_by_taps = weight_matrix(g, weight);
    let (pixels, taps) = (n * oh * ow, kh * kw * c);
    let y = if win.pixels_inner(c, ow) {
        // Windows as [KH, KW, C, N, OH, OW]: rows of pixels, copied in long contiguous runs.
        let by_tap = g.transpose(cols, vec![3, 4, 5, 0, 1, 2]);
        let cols_t = g.reshape(by_tap, vec![taps, pixels]);
        g.matmul(cols_t, filters_by_taps, true, true)
    } else {
        // Rows are output pixels, columns the taps (p, q, c) in the windows' own order.
        let cols = g.reshape(cols, vec![pixels, taps]);
        g.matmul(cols, filters_by_taps, false, true)
    };
    g.reshape(y, vec![n, oh, ow, filters])
}

/// The weight [F, C, KH, KW] as [F, KH·KW·C]: permuted to [F, KH, KW, C] so its columns are
/// the taps in the windows' order, for the product to use transposed.
fn weight_matrix(g: &mut Graph, weight: ValueId) -> ValueId {
    let &[filters, c, kh, kw] = g.shape(weight) else {
        unreachable!("the shape was checked by conv2d")
    };
    let taps_last = g.transpose(weight, vec![0, 2, 3, 1]);
    g.reshape(taps_last, vec![filters, kh * kw * c])
}

/// Max pooling (no padding; the gradient goes to the window's maximum) → [N,OH,OW,C]
///
/// Where several taps of one window tie for the maximum, they share its gradient evenly (the
/// rule of [`ReduceOp::Max`]); PyTorch gives all of it to the first of them instead. The two
/// agree whenever a window's maximum is unique, as it almost surely is for real-valued data.
pub fn max_pool2d(g: &mut Graph, x: ValueId, win: &Window2d) -> ValueId {
    assert_eq!(
        win.padding, [0; 4],
        "IR builder: max pooling pads nothing (zeros would compete with the maximum)"
    );
    let taps = g.windows(x, win);
    g.reduce(ReduceOp::Max, taps, &[3, 4], false)
}

/// Average pooling (count excludes nothing: padding is zero and counted, as PyTorch's default count_include_pad=True) → [N,OH,OW,C]
pub fn avg_pool2d(g: &mut Graph, x: ValueId, win: &Window2d) -> ValueId {
    let taps = g.windows(x, win);
    g.reduce(ReduceOp::Mean, taps, &[3, 4], false)
}
