//! The image layers' settings in the checked model: a convolution's window and padding, and
//! a pooling window. Sizes are (height, width); images are `[H, W, C]`, channels last.

use super::{Activation, Init};
use serde::{Deserialize, Serialize};

/// A 2-D convolution's settings. Every size is given as (height, width).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Conv2d {
    pub filters: usize,
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub dilation: [usize; 2],
    pub padding: Padding,
    pub bias: bool,
    pub act: Activation,
    pub init: Init,
    pub bias_init: Init,
}

impl Conv2d {
    /// The zero padding (top, bottom, left, right) this convolution adds.
    pub fn pads(&self) -> [usize; 4] {
        self.padding.pads(self.kernel, self.dilation)
    }

    /// Its weight's shape over `channels` input channels: `[F, C, KH, KW]`, PyTorch's layout.
    pub fn weight_shape(&self, channels: usize) -> Vec<usize> {
        vec![self.filters, channels, self.kernel[0], self.kernel[1]]
    }

    /// (fan_in, fan_out) of its weight, as PyTorch computes them: C·KH·KW and F·KH·KW.
    pub fn fans(&self, channels: usize) -> (usize, usize) {
        crate::init::fans(&self.weight_shape(channels))
    }
}

/// How a convolution pads its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Padding {
    /// No padding: the window only visits positions where it fits.
    Valid,
    /// Output as large as the input (stride 1): dilation·(kernel − 1) zeros in all, the odd
    /// one at the bottom and right, as PyTorch's `padding='same'` does for even kernels.
    Same,
    /// This many zeros on both sides of (height, width).
    Explicit([usize; 2]),
}

impl Padding {
    /// The padding (top, bottom, left, right) for a window of `kernel` taps `dilation` apart.
    pub fn pads(&self, kernel: [usize; 2], dilation: [usize; 2]) -> [usize; 4] {
        match *self {
            Padding::Valid => [0; 4],
            Padding::Same => {
                let total = |axis: usize| dilation[axis] * kernel[axis].saturating_sub(1);
                let (h, w) = (total(0), total(1));
                [h / 2, h - h / 2, w / 2, w - w / 2]
            }
            Padding::Explicit([h, w]) => [h, h, w, w],
        }
    }
}

/// A pooling layer's settings (no padding: windows that do not fit are dropped, as PyTorch's
/// default `ceil_mode=False`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pool2d {
    pub op: PoolOp,
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
}

/// What a pooling window keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PoolOp {
    Max,
    Avg,
}
