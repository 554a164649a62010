//! The activation family: every activation's name, aliases, parameters with their defaults
//! and ranges, and the properties other stages read (φ and φ′ in f64, the bound on |φ′|, how
//! its units saturate), so a new activation is one variant here and the compiler names the
//! rest.

use crate::diag::Diagnostic;
use crate::model::Activation;
use crate::probe::Squashing;
use crate::sema::args::{float_arg, Bound, Range};

/// How the saturation probe judges an activation's units, for the activations that have such
/// a notion.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Saturation {
    /// Saturated where the slope is a small fraction of its largest; the band is defined
    /// once, in [`Squashing`] (sigmoid, tanh, softsign).
    Squashes(Squashing),
    /// Dead when no example of the batch gives the unit a positive output (relu).
    Dead,
}

impl Activation {
    /// Every activation, with its parameters at the language's defaults.
    pub const ALL: [Activation; 15] = [
        Activation::Identity,
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Relu,
        Activation::LeakyRelu { alpha: 0.01 },
        Activation::Prelu { init: 0.25 },
        Activation::Elu { alpha: 1.0 },
        Activation::Selu,
        Activation::Swish,
        Activation::Mish,
        Activation::Gelu,
        Activation::Softplus,
        Activation::Softsign,
        Activation::Hardswish,
        Activation::Softmax,
    ];

    /// The canonical name: what `fmt` writes and default layer names (`relu1`) start with.
    pub fn name(&self) -> &'static str {
        match self {
            Activation::Identity => "identity",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Relu => "relu",
            Activation::LeakyRelu { .. } => "leaky_relu",
            Activation::Prelu { .. } => "prelu",
            Activation::Elu { .. } => "elu",
            Activation::Selu => "selu",
            Activation::Swish => "swish",
            Activation::Mish => "mish",
            Activation::Gelu => "gelu",
            Activation::Softplus => "softplus",
            Activation::Softsign => "softsign",
            Activation::Hardswish => "hardswish",
            Activation::Softmax => "softmax",
        }
    }

    /// Other names that parse to the same activation.
    pub fn aliases(&self) -> &'static [&'static str] {
        match self {
            Activation::Swish => &["silu"],
            Activation::Identity
            | Activation::Sigmoid
            | Activation::Tanh
            | Activation::Relu
            | Activation::LeakyRelu { .. }
            | Activation::Prelu { .. }
            | Activation::Elu { .. }
            | Activation::Selu
            | Activation::Mish
            | Activation::Gelu
            | Activation::Softplus
            | Activation::Softsign
            | Activation::Hardswish
            | Activation::Softmax => &[],
        }
    }

    /// The parameters, in positional order.
    pub fn params(&self) -> &'static [&'static str] {
        match self {
            Activation::LeakyRelu { .. } | Activation::Elu { .. } => &["alpha"],
            Activation::Prelu { .. } => &["init"],
            Activation::Identity
            | Activation::Sigmoid
            | Activation::Tanh
            | Activation::Relu
            | Activation::Selu
            | Activation::Swish
            | Activation::Mish
            | Activation::Gelu
            | Activation::Softplus
            | Activation::Softsign
            | Activation::Hardswish
            | Activation::Softmax => &[],
        }
    }

    /// The activation a name or alias stands for, with default parameters.
    pub fn from_name(name: &str) -> Option<Activation> {
        Activation::ALL
            .into_iter()
            .find(|a| a.name() == name || a.aliases().contains(&name))
    }

    /// Every name that parses, canonical names and aliases, in `ALL`'s order.
    pub fn names() -> Vec<&'static str> {
        let all = Activation::ALL.iter();
        all.flat_map(|a| std::iter::once(a.name()).chain(a.aliases().iter().copied()))
            .collect()
    }

    /// Reads the arguments bound to this activation's [`Activation::params`], starting from
    /// `self`'s values as the defaults and checking each one's range.
    pub(in crate::sema) fn with_args(
        self,
        diags: &mut Vec<Diagnostic>,
        b: &Bound<'_>,
    ) -> Option<Activation> {
        let act = match self {
            Activation::LeakyRelu { alpha } => Activation::LeakyRelu {
                alpha: float_arg(diags, b, "alpha", Some(alpha), Range::NonNegative)?,
            },
            Activation::Prelu { init } => Activation::Prelu {
                init: float_arg(diags, b, "init", Some(init), Range::Any)?,
            },
            Activation::Elu { alpha } => Activation::Elu {
                alpha: float_arg(diags, b, "alpha", Some(alpha), Range::Positive)?,
            },
            Activation::Identity
            | Activation::Sigmoid
            | Activation::Tanh
            | Activation::Relu
            | Activation::Selu
            | Activation::Swish
            | Activation::Mish
            | Activation::Gelu
            | Activation::Softplus
            | Activation::Softsign
            | Activation::Hardswish
            | Activation::Softmax => self,
        };
        Some(act)
    }

    /// φ(z) and φ′(z) in f64, as the language defines the activation (PyTorch's choice of
    /// slope at a kink). `width` is the layer width, which only a softmax needs.
    pub fn value_and_slope(self, z: f64, width: usize) -> (f64, f64) {
        let sigmoid = |x: f64| 1.0 / (1.0 + (-x).exp());
        match self {
            Activation::Identity => (z, 1.0),
            Activation::Sigmoid => {
                let s = sigmoid(z);
                (s, s * (1.0 - s))
            }
            Activation::Tanh => {
                let t = z.tanh();
                (t, 1.0 - t * t)
            }
            Activation::Relu => (z.max(0.0), if z > 0.0 { 1.0 } else { 0.0 }),
            Activation::LeakyRelu { alpha } | Activation::Prelu { init: alpha } => {
                if z > 0.0 {
                    (z, 1.0)
                } else {
                    (alpha * z, alpha)
                }
            }
            Activation::Elu { alpha } => {
                if z > 0.0 {
                    (z, 1.0)
                } else {
                    (alpha * (z.exp() - 1.0), alpha * z.exp())
                }
            }
            Activation::Selu => {
                const ALPHA: f64 = 1.673_263_242_354_377_3;
                const SCALE: f64 = 1.050_700_987_355_480_5;
                if z > 0.0 {
                    (SCALE * z, SCALE)
                } else {
                    (SCALE * ALPHA * (z.exp() - 1.0), SCALE * ALPHA * z.exp())
                }
            }
            Activation::Swish => {
                let s = sigmoid(z);
                (z * s, s + z * s * (1.0 - s))
            }
            Activation::Mish => {
                let sp = softplus(z);
                let t = sp.tanh();
                (z * t, t + z * (1.0 - t * t) * sigmoid(z))
            }
            Activation::Gelu => {
                let cdf = 0.5 * (1.0 + erf(z / std::f64::consts::SQRT_2));
                let pdf = (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt();
                (z * cdf, cdf + z * pdf)
            }
            Activation::Softplus => (softplus(z), sigmoid(z)),
            Activation::Softsign => (z / (1.0 + z.abs()), 1.0 / (1.0 + z.abs()).powi(2)),
            Activation::Hardswish => match z {
                z if z < -3.0 => (0.0, 0.0),
                z if z > 3.0 => (z, 1.0),
                z => (z * (z + 3.0) / 6.0, z / 3.0 + 0.5),
            },
            // Mean-field view of a softmax over `width` similar logits: each output ≈ 1/width
            // and its own slope p(1 − p) ≈ 1/width; a rough figure, and only a hidden softmax
            // uses it.
            Activation::Softmax => {
                let p = 1.0 / width.max(1) as f64;
                (p, p * (1.0 - p))
            }
        }
    }

    /// γ, the bound on |φ′| the spectral prediction through time uses: 1 for tanh (and relu,
    /// whose slope is 0 or 1), 1/4 for sigmoid; `None` where no recurrent cell uses it.
    pub fn derivative_bound(self) -> Option<f64> {
        match self {
            Activation::Tanh | Activation::Relu | Activation::Identity => Some(1.0),
            Activation::Sigmoid => Some(0.25),
            Activation::LeakyRelu { .. }
            | Activation::Prelu { .. }
            | Activation::Elu { .. }
            | Activation::Selu
            | Activation::Swish
            | Activation::Mish
            | Activation::Gelu
            | Activation::Softplus
            | Activation::Softsign
            | Activation::Hardswish
            | Activation::Softmax => None,
        }
    }

    /// How the saturation probe judges this activation's units: saturated sigmoid and tanh
    /// units, dead relu units, `None` for activations without such a notion.
    pub fn saturation(self) -> Option<Saturation> {
        match self {
            Activation::Sigmoid => Some(Saturation::Squashes(Squashing::Sigmoid)),
            Activation::Tanh => Some(Saturation::Squashes(Squashing::Tanh)),
            Activation::Softsign => Some(Saturation::Squashes(Squashing::Softsign)),
            Activation::Relu => Some(Saturation::Dead),
            Activation::Identity
            | Activation::LeakyRelu { .. }
            | Activation::Prelu { .. }
            | Activation::Elu { .. }
            | Activation::Selu
            | Activation::Swish
            | Activation::Mish
            | Activation::Gelu
            | Activation::Softplus
            | Activation::Hardswish
            | Activation::Softmax => None,
        }
    }
}

fn softplus(z: f64) -> f64 {
    if z > 30.0 {
        z
    } else {
        z.exp().ln_1p()
    }
}

/// Abramowitz–Stegun 7.1.26 (|error| < 1.5e-7), enough for an expectation.
fn erf(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let y = 1.0 - poly * (-x * x).exp();
    if x >= 0.0 {
        y
    } else {
        -y
    }
}
