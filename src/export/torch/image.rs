//! The image layers in PyTorch's words. netc's images are channels last (`[N, H, W, C]`, so a
//! CSV row is an image as it is); PyTorch's convolutions want channels first. The exported
//! module permutes once at its input and keeps NCHW inside, permuting back only where netc's
//! order is visible: `flatten` (so the dense weights after it read the same features) and a
//! `layernorm` over the channels.

use super::python::{py_bool, Python};
use crate::model::{Conv2d, Layer, Padding, Pool2d, PoolOp};

/// The line that turns netc's `[N, H, W, C]` input into PyTorch's `[N, C, H, W]`.
pub(super) const TO_CHANNELS_FIRST: &str =
    "x = x.permute(0, 3, 1, 2)  # netc's images are [N, H, W, C]; PyTorch convolves [N, C, H, W]";

/// Does this layer read an image (rank 3 per example)?
pub(super) fn reads_image(layer: &Layer) -> bool {
    layer.in_shape.len() == 3
}

/// `nn.Conv2d` with netc's settings: its weight is `[F, C, KH, KW]` in both.
pub(super) fn declare_conv(py: &mut Python, attr: &str, layer: &Layer, conv: &Conv2d) {
    let channels = layer.in_shape.last().copied().unwrap_or(1);
    let padding = match conv.padding {
        // PyTorch pads an even kernel's extra zero at the bottom and right, as netc does.
        Padding::Same => "\"same\"".to_owned(),
        Padding::Valid => "0".to_owned(),
        Padding::Explicit(p) => pair(p),
    };
    py.line(format!(
        "{attr} = nn.Conv2d({channels}, {}, kernel_size={}, stride={}, padding={padding}, dilation={}, bias={})",
        conv.filters,
        pair(conv.kernel),
        pair(conv.stride),
        pair(conv.dilation),
        py_bool(conv.bias)
    ));
}

/// The 1×1 convolution a residual's skip uses when its body changes the channel count.
pub(super) fn declare_projection(py: &mut Python, attr: &str, layer: &Layer) {
    let channels = |shape: &[usize]| shape.last().copied().unwrap_or(1);
    py.line(format!(
        "{attr} = nn.Conv2d({}, {}, kernel_size=1, bias=False)  # the skip's projection",
        channels(&layer.in_shape),
        channels(&layer.out_shape)
    ));
}

/// `F.max_pool2d` or `F.avg_pool2d` of `h`.
pub(super) fn pool(pool: &Pool2d, h: &str) -> String {
    let function = match pool.op {
        PoolOp::Max => "F.max_pool2d",
        PoolOp::Avg => "F.avg_pool2d",
    };
    format!(
        "{function}({h}, kernel_size={}, stride={})",
        pair(pool.kernel),
        pair(pool.stride)
    )
}

/// The mean of each channel over the image.
pub(super) fn global_avgpool(h: &str) -> String {
    format!("{h}.mean(dim=(2, 3))")
}

/// netc's row-major `[H·W·C]` order (channels fastest): back to channels last, then flatten.
pub(super) fn flatten(layer: &Layer, h: &str) -> String {
    if reads_image(layer) {
        format!("{h}.permute(0, 2, 3, 1).flatten(1)")
    } else {
        h.to_owned()
    }
}

/// A layernorm over the channels of an NCHW image.
pub(super) fn layernorm(attr: &str, h: &str) -> String {
    format!("{attr}({h}.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)")
}

fn pair([h, w]: [usize; 2]) -> String {
    format!("({h}, {w})")
}
