//! The image layers (`conv2d`, `maxpool`, `avgpool`, `global_avgpool`, `flatten`): their
//! arguments, and the shapes they read and write, with a diagnostic naming both shapes
//! whenever a window does not fit or a layer meets the wrong rank.
//!
//! Images are channels last, `[H, W, C]`, so a CSV row read row-major is already an image
//! and dense, norm and activation layers keep reading the last axis as their features.

use super::args::{bind, bool_arg, int_in_bounds, int_value, type_error, Bound};
use super::attrs::{activation_value, init_value};
use super::layers::{Expander, MAX_UNITS};
use crate::diag::Diagnostic;
use crate::model::{Activation, Conv2d, Init, LayerKind, Padding, Pool2d, PoolOp};
use crate::span::Span;
use crate::syntax::ast::{Expr, ExprKind, LayerStmt};

/// The parameters of each image layer, in positional order.
pub fn spatial_params(kind: &str) -> &'static [&'static str] {
    match kind {
        "conv2d" => &[
            "filters",
            "kernel",
            "stride",
            "padding",
            "dilation",
            "act",
            "init",
            "bias",
            "bias_init",
        ],
        "maxpool" | "avgpool" => &["kernel", "stride"],
        _ => &[],
    }
}

/// The longest kernel, stride or dilation netc accepts along one axis.
const MAX_WINDOW: u64 = 4096;

impl Expander<'_> {
    /// `conv2d filters, kernel, stride, padding, dilation, act, init, bias, bias_init`.
    pub(super) fn conv2d(&mut self, layer: &LayerStmt) -> Option<LayerKind> {
        let b = bind(
            self.diags,
            "conv2d",
            layer.kind.span,
            &layer.args,
            spatial_params("conv2d"),
        );
        let filters = super::args::int_arg(self.diags, &b, "filters", None, (1, MAX_UNITS));
        let kernel = pair_arg(self.diags, &b, "kernel", Some(3), (1, MAX_WINDOW));
        let stride = pair_arg(self.diags, &b, "stride", Some(1), (1, MAX_WINDOW));
        let dilation = pair_arg(self.diags, &b, "dilation", Some(1), (1, MAX_WINDOW));
        let padding = padding_arg(self.diags, &b);
        let act = b.get("act").map_or(Some(Activation::Identity), |e| {
            activation_value(self.diags, e)
        });
        // PyTorch's default for Conv2d weights is kaiming_uniform(a = √5); netc's default
        // is the same Xavier/Glorot uniform as `dense`, so one rule holds for both.
        let init = b
            .get("init")
            .map_or(Some(Init::XavierUniform { gain: 1.0 }), |e| {
                init_value(self.diags, e)
            });
        let bias = bool_arg(self.diags, &b, "bias", true);
        let bias_init = b
            .get("bias_init")
            .map_or(Some(Init::Zeros), |e| init_value(self.diags, e));
        let conv = Conv2d {
            filters: filters? as usize,
            kernel: kernel?,
            stride: stride?,
            dilation: dilation?,
            padding: padding?,
            bias: bias?,
            act: act?,
            init: init?,
            bias_init: bias_init?,
        };
        self.check_same_padding(&b, &conv)?;
        Some(LayerKind::Conv2d(conv))
    }

    /// `maxpool kernel, stride` and `avgpool kernel, stride`; the stride defaults to the kernel.
    pub(super) fn pool2d(&mut self, layer: &LayerStmt, op: PoolOp) -> Option<LayerKind> {
        let what = layer.kind.text.as_str();
        let b = bind(
            self.diags,
            what,
            layer.kind.span,
            &layer.args,
            spatial_params(what),
        );
        let kernel = pair_arg(self.diags, &b, "kernel", None, (1, MAX_WINDOW))?;
        let stride = match b.get("stride") {
            Some(_) => pair_arg(self.diags, &b, "stride", None, (1, MAX_WINDOW))?,
            None => kernel,
        };
        Some(LayerKind::Pool2d(Pool2d { op, kernel, stride }))
    }

    /// `global_avgpool` and `flatten` take no arguments.
    pub(super) fn no_arguments(&mut self, layer: &LayerStmt, kind: LayerKind) -> Option<LayerKind> {
        let before = self.diags.len();
        bind(
            self.diags,
            &layer.kind.text,
            layer.kind.span,
            &layer.args,
            &[],
        );
        (self.diags.len() == before).then_some(kind)
    }

    /// `padding = same` with a stride above 1 is refused (PyTorch refuses it too: the output
    /// size would depend on which side gets the extra zeros); with an even kernel it pads
    /// one more zero at the bottom and right, as PyTorch does, and says so.
    fn check_same_padding(&mut self, b: &Bound<'_>, conv: &Conv2d) -> Option<()> {
        if conv.padding != Padding::Same {
            return Some(());
        }
        let span = b.get("padding").map_or(b.span, |e| e.span);
        if conv.stride != [1, 1] {
            self.diags.push(
                Diagnostic::error(
                    "netc::arg::same_padding_stride",
                    span,
                    format!(
                        "`padding = same` keeps the input's size, which a stride of {} cannot",
                        size(conv.stride)
                    ),
                )
                .with_label("needs stride 1")
                .with_related(
                    b.get("stride").map_or(b.span, |e| e.span),
                    format!("the stride is {}", size(conv.stride)),
                )
                .with_help(
                    "give the padding as a number (`padding = 1` for a 3×3 kernel halves the \
                     size with stride 2); PyTorch refuses `padding='same'` with a stride too",
                ),
            );
            return None;
        }
        let pads = conv.pads();
        if pads[0] != pads[1] || pads[2] != pads[3] {
            self.diags.push(
                Diagnostic::warning(
                    "netc::lint::asymmetric_padding",
                    span,
                    format!(
                        "with the even kernel {}, `padding = same` pads {} above, {} below, {} \
                         left and {} right",
                        size(conv.kernel),
                        pads[0],
                        pads[1],
                        pads[2],
                        pads[3]
                    ),
                )
                .with_label("padded unevenly")
                .with_help(
                    "the extra zero goes to the bottom and right, as PyTorch's \
                     `padding='same'` does; an odd kernel pads evenly",
                ),
            );
        }
        Some(())
    }

    /// The output shape of an image layer, or of `dense` (which must not meet an image);
    /// `None` after a diagnostic. Other kinds keep their shape rules in `layer.rs`.
    pub(super) fn spatial_out_shape(
        &mut self,
        kind: &LayerKind,
        layer: &LayerStmt,
        in_shape: &[usize],
    ) -> Option<Option<Vec<usize>>> {
        let what = layer.kind.text.as_str();
        let span = layer.kind.span;
        let out = match kind {
            // Rank 3 is always an image: sequences are [T, d].
            LayerKind::Dense { .. } if in_shape.len() == 3 => {
                self.diags.push(needs_flatten(what, span, in_shape));
                return None;
            }
            LayerKind::Conv2d(conv) => {
                let [h, w, _] = self.image(what, span, in_shape)?;
                let (oh, ow) = self.fit(
                    span,
                    in_shape,
                    Window {
                        kernel: conv.kernel,
                        stride: conv.stride,
                        dilation: conv.dilation,
                        pads: conv.pads(),
                        padding: conv.padding,
                    },
                    (h, w),
                )?;
                vec![oh, ow, conv.filters]
            }
            LayerKind::Pool2d(pool) => {
                let [h, w, c] = self.image(what, span, in_shape)?;
                let window = Window {
                    kernel: pool.kernel,
                    stride: pool.stride,
                    dilation: [1, 1],
                    pads: [0; 4],
                    padding: Padding::Valid,
                };
                let (oh, ow) = self.fit(span, in_shape, window, (h, w))?;
                vec![oh, ow, c]
            }
            LayerKind::GlobalAvgPool => {
                let [_, _, c] = self.image(what, span, in_shape)?;
                vec![c]
            }
            LayerKind::Flatten => vec![in_shape.iter().product()],
            LayerKind::Dense { .. }
            | LayerKind::Activation(_)
            | LayerKind::BatchNorm { .. }
            | LayerKind::LayerNorm { .. }
            | LayerKind::Dropout { .. }
            | LayerKind::Residual { .. }
            | LayerKind::Recurrent(_) => return Some(None),
        };
        Some(Some(out))
    }

    fn image(&mut self, what: &str, span: Span, in_shape: &[usize]) -> Option<[usize; 3]> {
        if let &[h, w, c] = in_shape {
            return Some([h, w, c]);
        }
        let help = if in_shape.len() == 1 {
            "declare the input as an image, `input x: [H, W, C]` (a CSV reads its rows as \
             images with `shape = [H, W, C]`), and keep image layers before `flatten`"
        } else {
            "image layers read `[H, W, C]` tensors, channels last"
        };
        self.diags.push(
            Diagnostic::error(
                "netc::shape::needs_image",
                span,
                format!("`{what}` reads an image [H, W, C], but its input is {in_shape:?}"),
            )
            .with_label(format!("the input here is {in_shape:?}"))
            .with_help(help),
        );
        None
    }

    /// (OH, OW) of `window` over an `h`×`w` input, or a diagnostic naming both.
    fn fit(
        &mut self,
        span: Span,
        in_shape: &[usize],
        window: Window,
        (h, w): (usize, usize),
    ) -> Option<(usize, usize)> {
        if let (Some(oh), Some(ow)) = (window.output_len(0, h), window.output_len(1, w)) {
            return Some((oh, ow));
        }
        let reach = window.reach();
        let spans = if reach != window.kernel {
            format!(
                " (with dilation {} it spans {})",
                size(window.dilation),
                size(reach)
            )
        } else {
            String::new()
        };
        self.diags.push(
            Diagnostic::error(
                "netc::shape::window_too_large",
                span,
                format!(
                    "kernel {}{spans} does not fit a {h}×{w} input with padding {}",
                    size(window.kernel),
                    padding_name(window.padding)
                ),
            )
            .with_label(format!("the input here is {in_shape:?}"))
            .with_help(
                "use a smaller kernel, pad the input (`padding = same`), or pool less before \
                 this layer",
            ),
        );
        None
    }
}

/// A window as the shape rule needs it (a conv's or a pool's).
#[derive(Clone, Copy)]
struct Window {
    kernel: [usize; 2],
    stride: [usize; 2],
    dilation: [usize; 2],
    pads: [usize; 4],
    padding: Padding,
}

impl Window {
    /// The extent of one window along each axis: dilation·(kernel − 1) + 1.
    fn reach(&self) -> [usize; 2] {
        [0, 1].map(|axis| {
            self.dilation[axis]
                .saturating_mul(self.kernel[axis].saturating_sub(1))
                .saturating_add(1)
        })
    }

    /// PyTorch's ⌊(len + pads − reach) / stride⌋ + 1, or `None` when the window does not fit.
    fn output_len(&self, axis: usize, len: usize) -> Option<usize> {
        let padded = len + self.pads[2 * axis] + self.pads[2 * axis + 1];
        let room = padded.checked_sub(self.reach()[axis])?;
        Some(room / self.stride[axis].max(1) + 1)
    }
}

/// The output size of `window` (PyTorch's formula) over `h`×`w`, for the tests that hold the
/// checker and the IR's own rule to the same answer.
pub fn window_output_hw(
    kernel: [usize; 2],
    stride: [usize; 2],
    dilation: [usize; 2],
    pads: [usize; 4],
    (h, w): (usize, usize),
) -> Option<(usize, usize)> {
    let window = Window {
        kernel,
        stride,
        dilation,
        pads,
        padding: Padding::Valid,
    };
    Some((window.output_len(0, h)?, window.output_len(1, w)?))
}

fn needs_flatten(what: &str, span: Span, in_shape: &[usize]) -> Diagnostic {
    Diagnostic::error(
        "netc::shape::needs_flatten",
        span,
        format!("`{what}` reads a vector, but its input is the image {in_shape:?}"),
    )
    .with_label(format!("the input here is {in_shape:?}"))
    .with_help(format!(
        "add `flatten` before it (to {} values) or `global_avgpool` (to {})",
        in_shape.iter().product::<usize>(),
        in_shape.last().copied().unwrap_or(0)
    ))
}

/// `3` for a square size, `3×5` otherwise.
fn size([h, w]: [usize; 2]) -> String {
    if h == w {
        h.to_string()
    } else {
        format!("{h}×{w}")
    }
}

fn padding_name(padding: Padding) -> String {
    match padding {
        Padding::Valid => "valid".to_string(),
        Padding::Same => "same".to_string(),
        Padding::Explicit(p) => size(p),
    }
}

/// A size given as `N` (both axes) or `[H, W]`.
fn pair_arg(
    diags: &mut Vec<Diagnostic>,
    b: &Bound<'_>,
    param: &str,
    default: Option<usize>,
    bounds: (u64, u64),
) -> Option<[usize; 2]> {
    let Some(expr) = b.get(param) else {
        if let Some(n) = default {
            return Some([n, n]);
        }
        // Reports the missing argument (no value, no default).
        super::args::int_arg(diags, b, param, None, bounds);
        return None;
    };
    pair_value(diags, expr, &format!("`{param}` of `{}`", b.what), bounds)
}

fn pair_value(
    diags: &mut Vec<Diagnostic>,
    expr: &Expr,
    what: &str,
    bounds: (u64, u64),
) -> Option<[usize; 2]> {
    let one = |diags: &mut Vec<Diagnostic>, e: &Expr| {
        let v = int_value(diags, e, what)?;
        int_in_bounds(diags, e.span, what, v, bounds).map(|v| v as usize)
    };
    match &expr.kind {
        ExprKind::List(items) if items.len() == 2 => {
            let h = one(diags, &items[0]);
            let w = one(diags, &items[1]);
            Some([h?, w?])
        }
        ExprKind::List(_) => {
            diags.push(type_error(
                expr,
                what,
                "one number, or two as [height, width]",
            ));
            None
        }
        ExprKind::Number(_) | ExprKind::Str(_) | ExprKind::Name(_) | ExprKind::Call { .. } => {
            one(diags, expr).map(|n| [n, n])
        }
    }
}

/// `padding = same | valid | N | [PH, PW]`; the default is `valid`, as PyTorch's `padding=0`.
fn padding_arg(diags: &mut Vec<Diagnostic>, b: &Bound<'_>) -> Option<Padding> {
    let Some(expr) = b.get("padding") else {
        return Some(Padding::Valid);
    };
    match &expr.kind {
        ExprKind::Name(n) if n == "same" => Some(Padding::Same),
        ExprKind::Name(n) if n == "valid" => Some(Padding::Valid),
        ExprKind::Name(_) | ExprKind::Str(_) | ExprKind::Call { .. } => {
            diags.push(type_error(
                expr,
                "`padding` of `conv2d`",
                "`same`, `valid`, a number or [height, width]",
            ));
            None
        }
        ExprKind::Number(_) | ExprKind::List(_) => {
            pair_value(diags, expr, "`padding` of `conv2d`", (0, MAX_WINDOW)).map(Padding::Explicit)
        }
    }
}
