//! Built-in synthetic data sets, generated from the seed: the same seed always gives the same
//! bytes. Parameters and shapes are listed in docs/data.md.

use std::f64::consts::PI;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use super::error::DataError;
use super::rng::{stream, Purpose};
use super::sequences;
use super::targets::{binary_column, encode_labels};
use super::Dataset;
use crate::ir::Tensor;
use crate::model::{Loss, Synthetic, SyntheticKind, Task};

/// The examples of a synthetic set before target encoding.
pub(super) struct Generated {
    /// Row-major `[n, width]`.
    pub(super) x: Vec<f64>,
    pub(super) width: usize,
    pub(super) targets: Targets,
}

pub(super) enum Targets {
    Labels { labels: Vec<usize>, classes: usize },
    Values { values: Vec<f64>, outputs: usize },
}

/// How a synthetic set is named in messages, e.g. ``synthetic set `moons` ``.
pub fn synthetic_name(kind: &SyntheticKind) -> String {
    let name = kind.name();
    format!("synthetic set `{name}`")
}

/// Generates all `set.n` examples (unsplit) from `seed`, targets encoded for `loss`.
pub fn generate(set: &Synthetic, seed: u64, loss: Loss) -> Result<Dataset, DataError> {
    let name = synthetic_name(&set.kind);
    validate(set).map_err(|message| DataError::BadSetting {
        source_name: name.clone(),
        message,
    })?;
    let mut rng = stream(seed, Purpose::Synthetic, 0);
    let noise = set.noise;
    let n = set.n;
    let generated = match &set.kind {
        SyntheticKind::Xor => xor(n, noise, &mut rng),
        SyntheticKind::Moons => moons(n, noise, &mut rng),
        SyntheticKind::Circles { factor } => circles(n, *factor, noise, &mut rng),
        SyntheticKind::Spirals { arms } => spirals(n, *arms, noise, &mut rng),
        SyntheticKind::Blobs { centers, dim } => blobs(n, *centers, *dim, noise, &mut rng),
        SyntheticKind::Sine => regression(
            n,
            1,
            noise,
            &mut rng,
            |x| vec![x[0].sin()],
            |r| r.random_range(-PI..PI),
        ),
        SyntheticKind::Polynomial { degree } => polynomial(n, *degree, noise, &mut rng),
        SyntheticKind::Parity { bits } => parity(n, *bits, noise, &mut rng),
        SyntheticKind::Teacher {
            dim,
            depth,
            width,
            outputs,
        } => {
            let teacher = TeacherNet::new(
                *dim,
                *depth,
                *width,
                *outputs,
                &mut stream(seed, Purpose::Teacher, 0),
            );
            regression(
                n,
                *dim,
                noise,
                &mut rng,
                |x| teacher.forward(x),
                |r| r.sample(StandardNormal),
            )
        }
        SyntheticKind::Adding { steps } => sequences::adding(n, *steps, noise, &mut rng),
        SyntheticKind::Memory { steps, symbols } => {
            sequences::memory(n, *steps, *symbols, noise, &mut rng)
        }
        SyntheticKind::TemporalOrder { steps } => {
            sequences::temporal_order(n, *steps, noise, &mut rng)
        }
        SyntheticKind::NoisySine { steps } => sequences::noisy_sine(n, *steps, noise, &mut rng),
    };
    encode(generated, &set.kind, loss, &name)
}

fn validate(set: &Synthetic) -> Result<(), String> {
    if set.n == 0 {
        return Err("n must be at least 1".to_string());
    }
    if !(set.noise.is_finite() && set.noise >= 0.0) {
        return Err(format!("noise = {} must be a finite number ≥ 0", set.noise));
    }
    match set.kind {
        SyntheticKind::Circles { factor } if !(factor > 0.0 && factor < 1.0) => Err(format!(
            "factor = {factor} (the inner circle's radius) must lie in (0, 1)"
        )),
        SyntheticKind::Spirals { arms } if arms < 2 => {
            Err(format!("arms = {arms} must be at least 2"))
        }
        SyntheticKind::Blobs { centers, dim } if centers < 1 || dim < 1 => Err(format!(
            "centers = {centers} and dim = {dim} must be at least 1"
        )),
        SyntheticKind::Parity { bits } if bits < 1 => Err("bits must be at least 1".to_string()),
        SyntheticKind::Adding { steps } | SyntheticKind::TemporalOrder { steps } if steps < 2 => {
            Err(format!(
                "steps = {steps} must be at least 2 (two marked steps)"
            ))
        }
        SyntheticKind::Memory { steps, symbols } if steps < 1 || symbols < 2 => Err(format!(
            "steps = {steps} must be at least 1 and symbols = {symbols} at least 2"
        )),
        SyntheticKind::NoisySine { steps } if steps < 1 => {
            Err("steps must be at least 1".to_string())
        }
        SyntheticKind::Teacher {
            dim,
            depth,
            width,
            outputs,
        } if dim < 1 || outputs < 1 || (depth > 0 && width < 1) => Err(format!(
            "teacher dim = {dim}, width = {width} and outputs = {outputs} must be at least 1"
        )),
        _ => Ok(()),
    }
}

/// Encodes the targets: one-hot for cross-entropy and mse, one 0/1 column for binary
/// cross-entropy; xor keeps its single 0/1 target under mse too (the classic truth table).
fn encode(
    generated: Generated,
    kind: &SyntheticKind,
    loss: Loss,
    name: &str,
) -> Result<Dataset, DataError> {
    let n = generated.x.len() / generated.width;
    let x = Tensor::new(
        vec![n, generated.width],
        generated.x.iter().map(|&v| v as f32).collect(),
    );
    let feature_names = (0..generated.width).map(|i| format!("x{i}")).collect();
    match generated.targets {
        Targets::Labels { labels, classes } => {
            let y = match (kind, loss) {
                (SyntheticKind::Xor, Loss::Mse) => binary_column(&labels),
                _ => encode_labels(&labels, classes, loss, name, "class")?,
            };
            let classes = Some((0..classes).map(|c| c.to_string()).collect());
            Ok(Dataset {
                x,
                y,
                labels: Some(labels),
                classes,
                task: Task::Classification,
                feature_names,
            })
        }
        Targets::Values { values, outputs } => {
            if loss != Loss::Mse {
                return Err(DataError::LossNeedsClasses {
                    source_name: name.to_string(),
                    loss: loss.name(),
                });
            }
            let y = Tensor::new(vec![n, outputs], values.iter().map(|&v| v as f32).collect());
            Ok(Dataset {
                x,
                y,
                labels: None,
                classes: None,
                task: Task::Regression,
                feature_names,
            })
        }
    }
}

fn gaussian(rng: &mut ChaCha8Rng) -> f64 {
    rng.sample(StandardNormal)
}

/// Appends `point` plus Gaussian noise of standard deviation `noise` on every coordinate.
fn push_noisy(x: &mut Vec<f64>, point: &[f64], noise: f64, rng: &mut ChaCha8Rng) {
    for &coordinate in point {
        let jitter = if noise > 0.0 {
            noise * gaussian(rng)
        } else {
            0.0
        };
        x.push(coordinate + jitter);
    }
}

/// The truth table (0,0)→0, (0,1)→1, (1,0)→1, (1,1)→0, repeated to `n` rows.
fn xor(n: usize, noise: f64, rng: &mut ChaCha8Rng) -> Generated {
    let mut x = Vec::with_capacity(2 * n);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let (a, b) = ((i >> 1) & 1, i & 1);
        push_noisy(&mut x, &[a as f64, b as f64], noise, rng);
        labels.push(a ^ b);
    }
    Generated {
        x,
        width: 2,
        targets: Targets::Labels { labels, classes: 2 },
    }
}

/// `count` evenly spaced values from `start` to `end`, with or without the end point.
fn linspace(start: f64, end: f64, count: usize, with_end: bool) -> impl Iterator<Item = f64> {
    let steps = if with_end {
        count.saturating_sub(1).max(1)
    } else {
        count.max(1)
    };
    (0..count).map(move |i| start + (end - start) * i as f64 / steps as f64)
}

/// Two interleaved half circles (scikit-learn's `make_moons`): class 0 the upper arc of the unit
/// circle, class 1 the lower arc shifted to (1, 0.5); ⌊n/2⌋ and ⌈n/2⌉ points.
fn moons(n: usize, noise: f64, rng: &mut ChaCha8Rng) -> Generated {
    let mut x = Vec::with_capacity(2 * n);
    let mut labels = Vec::with_capacity(n);
    for t in linspace(0.0, PI, n / 2, true) {
        push_noisy(&mut x, &[t.cos(), t.sin()], noise, rng);
        labels.push(0);
    }
    for t in linspace(0.0, PI, n - n / 2, true) {
        push_noisy(&mut x, &[1.0 - t.cos(), 0.5 - t.sin()], noise, rng);
        labels.push(1);
    }
    Generated {
        x,
        width: 2,
        targets: Targets::Labels { labels, classes: 2 },
    }
}

/// Two concentric circles (scikit-learn's `make_circles`): class 0 of radius 1, class 1 of
/// radius `factor`.
fn circles(n: usize, factor: f64, noise: f64, rng: &mut ChaCha8Rng) -> Generated {
    let mut x = Vec::with_capacity(2 * n);
    let mut labels = Vec::with_capacity(n);
    for (label, radius, count) in [(0, 1.0, n / 2), (1, factor, n - n / 2)] {
        for t in linspace(0.0, 2.0 * PI, count, false) {
            push_noisy(&mut x, &[radius * t.cos(), radius * t.sin()], noise, rng);
            labels.push(label);
        }
    }
    Generated {
        x,
        width: 2,
        targets: Targets::Labels { labels, classes: 2 },
    }
}

/// `arms` spirals from the origin to radius 1, each turning 4 radians, arm `j` rotated by
/// 2πj/arms; rows go round-robin over the arms so classes differ in size by at most one.
fn spirals(n: usize, arms: usize, noise: f64, rng: &mut ChaCha8Rng) -> Generated {
    let mut x = Vec::with_capacity(2 * n);
    let mut labels = Vec::with_capacity(n);
    let per_arm = n.div_ceil(arms);
    for i in 0..n {
        let (arm, position) = (i % arms, i / arms);
        let radius = (position as f64 + 0.5) / per_arm as f64;
        let angle = 2.0 * PI * arm as f64 / arms as f64 + 4.0 * radius;
        push_noisy(
            &mut x,
            &[radius * angle.cos(), radius * angle.sin()],
            noise,
            rng,
        );
        labels.push(arm);
    }
    Generated {
        x,
        width: 2,
        targets: Targets::Labels {
            labels,
            classes: arms,
        },
    }
}

/// `centers` Gaussian blobs in `dim` dimensions, centres uniform in [-10, 10]^dim, standard
/// deviation `noise`; rows go round-robin over the blobs.
fn blobs(n: usize, centers: usize, dim: usize, noise: f64, rng: &mut ChaCha8Rng) -> Generated {
    let middles: Vec<Vec<f64>> = (0..centers)
        .map(|_| (0..dim).map(|_| rng.random_range(-10.0..10.0)).collect())
        .collect();
    let mut x = Vec::with_capacity(dim * n);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let blob = i % centers;
        push_noisy(&mut x, &middles[blob], noise, rng);
        labels.push(blob);
    }
    Generated {
        x,
        width: dim,
        targets: Targets::Labels {
            labels,
            classes: centers,
        },
    }
}

/// A polynomial of `degree` with standard normal coefficients, on x uniform in [-1, 1].
fn polynomial(n: usize, degree: usize, noise: f64, rng: &mut ChaCha8Rng) -> Generated {
    let coefficients: Vec<f64> = (0..=degree).map(|_| gaussian(rng)).collect();
    let evaluate = |x: &[f64]| vec![coefficients.iter().rev().fold(0.0, |acc, c| acc * x[0] + c)];
    regression(n, 1, noise, rng, evaluate, |r| r.random_range(-1.0..1.0))
}

/// Regression rows: inputs from `draw`, targets `f(x)` plus Gaussian noise of std `noise`.
fn regression(
    n: usize,
    dim: usize,
    noise: f64,
    rng: &mut ChaCha8Rng,
    f: impl Fn(&[f64]) -> Vec<f64>,
    draw: impl Fn(&mut ChaCha8Rng) -> f64,
) -> Generated {
    let mut x = Vec::with_capacity(dim * n);
    let mut values = Vec::with_capacity(n);
    let mut outputs = 1;
    for _ in 0..n {
        let point: Vec<f64> = (0..dim).map(|_| draw(rng)).collect();
        let target = f(&point);
        outputs = target.len();
        x.extend_from_slice(&point);
        push_noisy(&mut values, &target, noise, rng);
    }
    Generated {
        x,
        width: dim,
        targets: Targets::Values { values, outputs },
    }
}

/// Parity of `bits` random bits given as ±1 inputs. Row `i` has parity `i mod 2` (its last bit
/// is set to make it so), so the classes are balanced and every pattern equally likely.
fn parity(n: usize, bits: usize, noise: f64, rng: &mut ChaCha8Rng) -> Generated {
    let mut x = Vec::with_capacity(bits * n);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let mut pattern: Vec<usize> = (0..bits)
            .map(|_| usize::from(rng.random::<bool>()))
            .collect();
        let label = i % 2;
        let ones_before_last: usize = pattern[..bits - 1].iter().sum();
        pattern[bits - 1] = (label + ones_before_last) % 2;
        let inputs: Vec<f64> = pattern
            .iter()
            .map(|&b| if b == 1 { 1.0 } else { -1.0 })
            .collect();
        push_noisy(&mut x, &inputs, noise, rng);
        labels.push(label);
    }
    Generated {
        x,
        width: bits,
        targets: Targets::Labels { labels, classes: 2 },
    }
}

/// A fixed random net: `depth` tanh layers of `width` (weights N(0, 2/fan_in), biases
/// N(0, 0.1²)), then a linear layer to `outputs` (weights N(0, 1/fan_in)).
struct TeacherNet {
    /// Per layer: weights `[out, in]` row-major, biases `[out]`.
    layers: Vec<(Vec<f64>, Vec<f64>)>,
}

impl TeacherNet {
    fn new(
        dim: usize,
        depth: usize,
        width: usize,
        outputs: usize,
        rng: &mut ChaCha8Rng,
    ) -> TeacherNet {
        let mut sizes = vec![dim];
        sizes.extend(std::iter::repeat_n(width, depth));
        sizes.push(outputs);
        let last = sizes.len() - 2;
        let layers = sizes
            .windows(2)
            .enumerate()
            .map(|(l, pair)| {
                let (fan_in, fan_out) = (pair[0], pair[1]);
                let gain = if l == last { 1.0 } else { 2.0 };
                let std = (gain / fan_in as f64).sqrt();
                let weights = (0..fan_in * fan_out).map(|_| std * gaussian(rng)).collect();
                let biases = (0..fan_out).map(|_| 0.1 * gaussian(rng)).collect();
                (weights, biases)
            })
            .collect();
        TeacherNet { layers }
    }

    fn forward(&self, input: &[f64]) -> Vec<f64> {
        let mut activation = input.to_vec();
        let last = self.layers.len() - 1;
        for (l, (weights, biases)) in self.layers.iter().enumerate() {
            let mut out: Vec<f64> = biases
                .iter()
                .enumerate()
                .map(|(o, b)| {
                    b + weights[o * activation.len()..(o + 1) * activation.len()]
                        .iter()
                        .zip(&activation)
                        .map(|(w, a)| w * a)
                        .sum::<f64>()
                })
                .collect();
            if l != last {
                out.iter_mut().for_each(|v| *v = v.tanh());
            }
            activation = out;
        }
        activation
    }
}
