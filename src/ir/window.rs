//! The 2-D sliding window behind convolution and pooling, and the index rule its two ops share.
//!
//! [`Op::Windows`](super::Op::Windows) gathers every window of a channels-last `[N, H, W, C]`
//! tensor into `[N, OH, OW, KH, KW, C]` (im2col as a tensor, zero where a tap falls in the
//! padding); [`Op::WindowsAdd`](super::Op::WindowsAdd) is its transpose, scattering such a
//! tensor back onto `[N, H, W, C]` and summing where windows overlap (col2im).

use serde::Serialize;

/// A 2-D sliding window over a channels-last [N, H, W, C] tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Window2d {
    /// Taps along (height, width).
    pub kernel: [usize; 2],
    /// Step between windows along (height, width).
    pub stride: [usize; 2],
    /// Step between the taps of one window along (height, width).
    pub dilation: [usize; 2],
    /// zero padding: top, bottom, left, right
    pub padding: [usize; 4],
}

impl Window2d {
    /// (OH, OW) for an H×W input, or None when the window does not fit.
    pub fn output_hw(&self, h: usize, w: usize) -> Option<(usize, usize)> {
        let oh = self.output_len(0, h)?;
        let ow = self.output_len(1, w)?;
        Some((oh, ow))
    }

    /// Why the window's attributes are unusable, if they are: every kernel, stride and
    /// dilation must be at least 1.
    pub fn fault(&self) -> Option<String> {
        let zero = |xs: [usize; 2]| xs.contains(&0);
        if zero(self.kernel) || zero(self.stride) || zero(self.dilation) {
            return Some(format!(
                "kernel {:?}, stride {:?} and dilation {:?} must all be at least 1",
                self.kernel, self.stride, self.dilation
            ));
        }
        None
    }

    /// The shape [N, OH, OW, KH, KW, C] of the windows of an [N, H, W, C] tensor, or None when
    /// `x` is not of rank 4, the attributes are unusable or the window does not fit.
    pub fn windows_shape(&self, x: &[usize]) -> Option<Vec<usize>> {
        let &[n, h, w, c] = x else { return None };
        if self.fault().is_some() {
            return None;
        }
        let (oh, ow) = self.output_hw(h, w)?;
        Some(vec![n, oh, ow, self.kernel[0], self.kernel[1], c])
    }

    /// The input row (or column) read by output position `o` at tap `k` along `axis` (0 for
    /// height, 1 for width), or None when it falls in the padding. `len` is the input's size.
    pub fn source(&self, axis: usize, o: usize, k: usize, len: usize) -> Option<usize> {
        let at = o * self.stride[axis] + k * self.dilation[axis];
        let before = self.padding[2 * axis];
        at.checked_sub(before).filter(|&i| i < len)
    }

    /// Whether loops over the windows of a tensor with `channels` channels should walk the
    /// output pixels innermost (taps outer) rather than the taps: the taps of one window give
    /// contiguous runs of KW·C input values (C when dilated), for one channel 3 with a 3×3
    /// kernel, too short for the JIT's f32x4 loops, while a row of output pixels is one long
    /// run. Measured on the 8×8×1 → 16 layer of docs/performance.md (batch 64, "same"
    /// padding): copying the windows into the im2col matrix took 19.7 µs of CPU time laid out
    /// taps × pixels against 74.5 µs as pixels × taps. The threshold is two f32x4 vectors.
    pub fn pixels_inner(&self, channels: usize, out_width: usize) -> bool {
        let run = if self.dilation[1] == 1 {
            self.kernel[1] * channels
        } else {
            channels
        };
        run < 8 && out_width > run
    }

    /// The number of window positions along one axis: ⌊(len + pads − span) / stride⌋ + 1,
    /// where span = dilation·(kernel − 1) + 1 is the extent of one window.
    fn output_len(&self, axis: usize, len: usize) -> Option<usize> {
        let (k, s, d) = (self.kernel[axis], self.stride[axis], self.dilation[axis]);
        if k == 0 || s == 0 || d == 0 {
            return None;
        }
        let padded = len + self.padding[2 * axis] + self.padding[2 * axis + 1];
        let span = d.checked_mul(k - 1)?.checked_add(1)?;
        padded.checked_sub(span).map(|room| room / s + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn win(k: usize, s: usize, d: usize, p: usize) -> Window2d {
        Window2d {
            kernel: [k, k],
            stride: [s, s],
            dilation: [d, d],
            padding: [p; 4],
        }
    }

    #[test]
    fn output_sizes_follow_pytorch_formula() {
        // PyTorch: ⌊(H + 2p − d(k − 1) − 1)/s⌋ + 1
        assert_eq!(win(3, 1, 1, 0).output_hw(8, 8), Some((6, 6)));
        assert_eq!(win(3, 1, 1, 1).output_hw(8, 8), Some((8, 8)));
        assert_eq!(win(3, 2, 1, 1).output_hw(7, 5), Some((4, 3)));
        assert_eq!(win(3, 1, 2, 0).output_hw(5, 5), Some((1, 1)));
        assert_eq!(win(2, 3, 1, 0).output_hw(7, 7), Some((2, 2)));
        assert_eq!(win(5, 1, 1, 0).output_hw(4, 4), None);
        assert_eq!(win(3, 1, 2, 0).output_hw(4, 9), None);
        assert_eq!(win(0, 1, 1, 0).output_hw(4, 4), None);
    }

    #[test]
    fn taps_in_the_padding_have_no_source() {
        let w = win(3, 1, 1, 1);
        assert_eq!(w.source(0, 0, 0, 4), None);
        assert_eq!(w.source(0, 0, 1, 4), Some(0));
        assert_eq!(w.source(1, 3, 2, 4), None);
        assert_eq!(w.source(1, 3, 1, 4), Some(3));
    }
}
