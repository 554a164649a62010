//! The numbers mean-field theory needs, estimated by sampling: the second moment of an
//! initializer, and E[φ(z)], E[φ(z)²], E[φ'(z)²] of an activation for z ~ N(0, q).
//!
//! The samples are a fixed, seeded set of standard normals, so predictions are deterministic.

use crate::model::{Activation, FanMode, Init};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// How many standard normal samples each expectation averages.
pub const SAMPLES: usize = 20_000;

/// A fixed set of standard normal samples (seeded), shared by every expectation.
pub struct Gaussian {
    samples: Vec<f64>,
}

/// E[φ(z)], E[φ(z)²] and E[φ'(z)²] for z ~ N(0, q).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ActMoments {
    pub mean: f64,
    pub second: f64,
    pub slope_sq: f64,
}

impl Gaussian {
    pub fn new() -> Gaussian {
        let mut rng = ChaCha8Rng::seed_from_u64(0x6e65_7463);
        let samples = (0..SAMPLES)
            .map(|_| StandardNormal.sample(&mut rng))
            .collect();
        Gaussian { samples }
    }

    /// The moments of φ over z ~ N(0, q); `width` is the layer width (softmax needs it).
    pub fn moments(&self, act: Activation, q: f64, width: usize) -> ActMoments {
        let sd = q.max(0.0).sqrt();
        let (mut mean, mut second, mut slope_sq) = (0.0, 0.0, 0.0);
        for &s in &self.samples {
            let z = sd * s;
            let (y, dy) = value_and_slope(act, z, width);
            mean += y;
            second += y * y;
            slope_sq += dy * dy;
        }
        let n = self.samples.len() as f64;
        ActMoments {
            mean: mean / n,
            second: second / n,
            slope_sq: slope_sq / n,
        }
    }
}

impl Default for Gaussian {
    fn default() -> Gaussian {
        Gaussian::new()
    }
}

/// φ(z) and φ'(z) in f64, as the language defines each activation.
pub fn value_and_slope(act: Activation, z: f64, width: usize) -> (f64, f64) {
    let sigmoid = |x: f64| 1.0 / (1.0 + (-x).exp());
    match act {
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
        // Mean-field view of a softmax over `width` similar logits: each output ≈ 1/width and
        // its own slope p(1 − p) ≈ 1/width; a rough figure, and only a hidden softmax uses it.
        Activation::Softmax => {
            let p = 1.0 / width.max(1) as f64;
            (p, p * (1.0 - p))
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

/// E[w²] of one weight drawn from `init` for a weight of the given fans (the variance plus
/// the squared mean). Orthogonal and identity matrices are treated by their row norms.
pub fn init_second_moment(init: &Init, fan_in: usize, fan_out: usize) -> f64 {
    let (fi, fo) = (fan_in.max(1) as f64, fan_out.max(1) as f64);
    match *init {
        Init::Zeros => 0.0,
        Init::Constant(c) => c * c,
        Init::Normal { mean, std } => std * std + mean * mean,
        Init::Uniform { low, high } => (low * low + low * high + high * high) / 3.0,
        Init::XavierUniform { gain } | Init::XavierNormal { gain } => gain * gain * 2.0 / (fi + fo),
        Init::HeUniform { mode } | Init::HeNormal { mode } => 2.0 / fan(mode, fi, fo),
        Init::LecunNormal | Init::LecunUniform => 1.0 / fi,
        // gain² (or scale²) on min(fan_in, fan_out) unit directions, spread over every entry.
        Init::Orthogonal { gain: s } | Init::Identity { scale: s } => s * s / fi.max(fo),
    }
}

fn fan(mode: FanMode, fan_in: f64, fan_out: f64) -> f64 {
    match mode {
        FanMode::FanIn => fan_in,
        FanMode::FanOut => fan_out,
    }
}
