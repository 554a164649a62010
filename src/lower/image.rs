//! Lowering of the image layers: a convolution is `lower::conv::conv2d` plus its bias and
//! activation; pooling is `lower::conv`'s; `global_avgpool` and `flatten` are a Reduce and a
//! Reshape; a residual's projection over an image is a 1×1 convolution, done as a matmul over
//! the pixels. Activations are `[B, H, W, C]`, channels last.

use super::layers::Lowering;
use super::ParamKind;
use crate::ir::{ReduceOp, ValueId, Window2d};
use crate::model::{Conv2d, Init, Layer, Pool2d, PoolOp};

impl Lowering<'_> {
    /// z = conv(x, W) + b with W `[F, C, KH, KW]` and b `[F]` (PyTorch's names and layouts);
    /// returns z (before the activation) and the parameters' names.
    pub(super) fn conv2d(
        &mut self,
        layer: &Layer,
        h: ValueId,
        conv: &Conv2d,
    ) -> (ValueId, String, Option<String>) {
        let channels = self.graph.shape(h).last().copied().unwrap_or(1);
        let (fan_in, fan_out) = conv.fans(channels);
        let w_name = format!("{}.weight", layer.name);
        let w = self.new_param(
            &w_name,
            conv.weight_shape(channels),
            conv.init,
            fan_in,
            fan_out,
            ParamKind::Weight,
            layer,
        );
        let window = Window2d {
            kernel: conv.kernel,
            stride: conv.stride,
            dilation: conv.dilation,
            padding: conv.pads(),
        };
        let mut z = super::conv::conv2d(&mut self.graph, h, w, &window);
        let mut b_name = None;
        if conv.bias {
            let name = format!("{}.bias", layer.name);
            // A bias takes its layer's weight's fans, as PyTorch's `nn.Conv2d` does.
            let b = self.new_param(
                &name,
                vec![conv.filters],
                conv.bias_init,
                fan_in,
                fan_out,
                ParamKind::Bias,
                layer,
            );
            z = self.graph.add(z, b);
            b_name = Some(name);
        }
        (z, w_name, b_name)
    }

    /// Max or average pooling of each channel.
    pub(super) fn pool2d(&mut self, h: ValueId, pool: &Pool2d) -> ValueId {
        let window = Window2d {
            kernel: pool.kernel,
            stride: pool.stride,
            dilation: [1, 1],
            padding: [0; 4],
        };
        match pool.op {
            PoolOp::Max => super::conv::max_pool2d(&mut self.graph, h, &window),
            PoolOp::Avg => super::conv::avg_pool2d(&mut self.graph, h, &window),
        }
    }

    /// `[B, H, W, C]` → `[B, C]`: each channel's mean over the image.
    pub(super) fn global_avgpool(&mut self, h: ValueId) -> ValueId {
        self.graph.reduce(ReduceOp::Mean, h, &[1, 2], false)
    }

    /// `[B, d...]` → `[B, ∏d]`, row-major: for an image, channels fastest.
    pub(super) fn flatten(&mut self, h: ValueId) -> ValueId {
        let shape = self.graph.shape(h).to_vec();
        let features = shape[1..].iter().product();
        self.graph.reshape(h, vec![shape[0], features])
    }

    /// A residual's skip over an image whose body changes the channels: a 1×1 convolution
    /// with weight `[F, C, 1, 1]` (so PyTorch's `nn.Conv2d(C, F, 1)` loads it), computed as
    /// one matmul over all B·H·W pixels.
    pub(super) fn projection_1x1(
        &mut self,
        layer: &Layer,
        h: ValueId,
        filters: usize,
        init: Init,
    ) -> (ValueId, String) {
        let shape = self.graph.shape(h).to_vec();
        let (pixels, channels) = (shape[..3].iter().product(), shape[3]);
        let w_name = format!("{}.weight", layer.name);
        let w = self.new_param(
            &w_name,
            vec![filters, channels, 1, 1],
            init,
            channels,
            filters,
            ParamKind::Weight,
            layer,
        );
        let g = &mut self.graph;
        let rows = g.reshape(h, vec![pixels, channels]);
        let matrix = g.reshape(w, vec![filters, channels]);
        let z = g.matmul(rows, matrix, false, true);
        let z = g.reshape(z, vec![shape[0], shape[1], shape[2], filters]);
        (z, w_name)
    }
}
