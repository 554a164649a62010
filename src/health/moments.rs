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
            let (y, dy) = act.value_and_slope(z, width);
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
