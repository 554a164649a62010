//! The built-in sequence tasks for recurrent nets, each example flattened to `steps × width`
//! values (step-major), generated from the seed. docs/data.md lists their shapes.

use std::f64::consts::PI;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use super::synthetic::{Generated, Targets};

/// The adding problem (Hochreiter & Schmidhuber 1997; Le et al. 2015): each step holds a value
/// in U(0, 1) and a marker; exactly two steps are marked, one in each half of the sequence;
/// the target is the sum of the two marked values. Inputs per step: (value, marker).
pub(super) fn adding(n: usize, steps: usize, noise: f64, rng: &mut ChaCha8Rng) -> Generated {
    let mut x = Vec::with_capacity(n * steps * 2);
    let mut values = Vec::with_capacity(n);
    let half = (steps / 2).max(1);
    for _ in 0..n {
        let first = rng.random_range(0..half);
        let second = if steps > 1 {
            rng.random_range(half.min(steps - 1)..steps)
        } else {
            0
        };
        let mut sum = 0.0;
        for t in 0..steps {
            let value: f64 = rng.random_range(0.0..1.0);
            let marked = t == first || t == second;
            if marked {
                sum += value;
            }
            x.push(value);
            x.push(f64::from(u8::from(marked)));
        }
        values.push(sum + noise * gaussian(rng));
    }
    Generated {
        x,
        width: steps * 2,
        targets: Targets::Values { values, outputs: 1 },
    }
}

/// The memory task: a one-hot symbol (of `symbols`) at step 0, then blank steps (the extra
/// last channel set to 1); the class is the symbol to recall after the delay.
pub(super) fn memory(
    n: usize,
    steps: usize,
    symbols: usize,
    noise: f64,
    rng: &mut ChaCha8Rng,
) -> Generated {
    let width = symbols + 1;
    let mut x = Vec::with_capacity(n * steps * width);
    let mut labels = Vec::with_capacity(n);
    for _ in 0..n {
        let symbol = rng.random_range(0..symbols);
        for t in 0..steps {
            for channel in 0..width {
                let on = if t == 0 {
                    channel == symbol
                } else {
                    channel == symbols
                };
                x.push(f64::from(u8::from(on)) + jitter(noise, rng));
            }
        }
        labels.push(symbol);
    }
    Generated {
        x,
        width: steps * width,
        targets: Targets::Labels {
            labels,
            classes: symbols,
        },
    }
}

/// Symbols of the temporal-order task, one-hot in this order: distractors a, b, c, d, then
/// the relevant X and Y.
const ORDER_SYMBOLS: usize = 6;

/// The temporal-order task (Hochreiter & Schmidhuber 1997, task 6a): random distractors
/// everywhere except two steps, the first in the first half and the second in the second,
/// each holding X or Y; the class is the order: 0 XX, 1 XY, 2 YX, 3 YY.
pub(super) fn temporal_order(
    n: usize,
    steps: usize,
    noise: f64,
    rng: &mut ChaCha8Rng,
) -> Generated {
    let mut x = Vec::with_capacity(n * steps * ORDER_SYMBOLS);
    let mut labels = Vec::with_capacity(n);
    let half = (steps / 2).max(1);
    for _ in 0..n {
        let first = rng.random_range(0..half);
        let second = rng.random_range(half.min(steps - 1)..steps);
        let (a, b) = (rng.random_range(0..2usize), rng.random_range(0..2usize));
        for t in 0..steps {
            let symbol = if t == first {
                4 + a
            } else if t == second {
                4 + b
            } else {
                rng.random_range(0..4)
            };
            for channel in 0..ORDER_SYMBOLS {
                x.push(f64::from(u8::from(channel == symbol)) + jitter(noise, rng));
            }
        }
        labels.push(2 * a + b);
    }
    Generated {
        x,
        width: steps * ORDER_SYMBOLS,
        targets: Targets::Labels { labels, classes: 4 },
    }
}

/// Next-step prediction: `steps` values of sin(ω·t + φ) + noise, ω ∈ U(0.1, 0.5) rad per step
/// and φ ∈ U(0, 2π) drawn per sequence; the target is the clean value at step `steps`.
pub(super) fn noisy_sine(n: usize, steps: usize, noise: f64, rng: &mut ChaCha8Rng) -> Generated {
    let mut x = Vec::with_capacity(n * steps);
    let mut values = Vec::with_capacity(n);
    for _ in 0..n {
        let omega = rng.random_range(0.1..0.5);
        let phase = rng.random_range(0.0..2.0 * PI);
        for t in 0..steps {
            x.push((omega * t as f64 + phase).sin() + jitter(noise, rng));
        }
        values.push((omega * steps as f64 + phase).sin());
    }
    Generated {
        x,
        width: steps,
        targets: Targets::Values { values, outputs: 1 },
    }
}

fn gaussian(rng: &mut ChaCha8Rng) -> f64 {
    rng.sample(StandardNormal)
}

/// Gaussian noise of std `noise`, drawing nothing when it is 0 (so noise-free sets do not
/// depend on how many draws noise would take).
fn jitter(noise: f64, rng: &mut ChaCha8Rng) -> f64 {
    if noise > 0.0 {
        noise * gaussian(rng)
    } else {
        0.0
    }
}
