//! Weight initialization: every [`Init`] of the language, with PyTorch's formulas, drawn from a
//! per-parameter random stream so that runs are reproducible.
//!
//! # Formulas
//! Fans are given by the caller and follow PyTorch (dense W of shape [out, in]: fan_in = in,
//! fan_out = out). Every value is drawn in f64 and rounded once to f32.
//!
//! | init                     | distribution                                   |
//! |--------------------------|------------------------------------------------|
//! | `zeros`                  | 0                                              |
//! | `constant(c)`            | c                                              |
//! | `normal(mean, std)`      | N(mean, std²)                                  |
//! | `uniform(low, high)`     | U(low, high)                                   |
//! | `xavier_uniform(gain)`   | U(-a, a), a = gain·√(6 / (fan_in + fan_out))   |
//! | `xavier_normal(gain)`    | N(0, gain²·2 / (fan_in + fan_out))             |
//! | `he_uniform(mode)`       | U(-b, b), b = √(6 / fan), fan = fan_in or fan_out |
//! | `he_normal(mode)`        | N(0, 2 / fan)                                  |
//! | `lecun_normal`           | N(0, 1 / fan_in)                               |
//! | `lecun_uniform`          | U(-b, b), b = √(3 / fan_in)                    |
//! | `orthogonal(gain)`       | gain·Q, Q from the QR of a standard gaussian matrix |
//! | `identity(scale)`        | scale·I                                        |
//!
//! A fan below 1 is treated as 1, so a degenerate shape still gives finite values.
//!
//! # Matrix view (orthogonal, identity)
//! As PyTorch's `orthogonal_`, a tensor of shape `[d0, d1, ...]` is viewed as a matrix with
//! `rows = d0` and `cols = d1·d2·…`. PyTorch rejects tensors of rank below 2; here a rank-1
//! tensor `[n]` is viewed as one row `[1, n]` and a scalar as `[1, 1]`, so an orthogonal vector
//! is a unit vector times gain and an identity vector is `[scale, 0, 0, …]`.
//!
//! **Orthogonal.** PyTorch draws a `rows × cols` standard gaussian matrix A (transposed when
//! `rows < cols`), takes its reduced QR, multiplies each column of Q by the sign of the matching
//! diagonal entry of R, and transposes back. Multiplying by those signs yields exactly the QR
//! whose R has a positive diagonal, which is what Gram–Schmidt computes directly; we run
//! modified Gram–Schmidt twice per column in f64 ("twice is enough") for a Q that is orthonormal
//! to rounding. The result satisfies WᵀW = gain²·I when rows ≥ cols and WWᵀ = gain²·I when
//! rows < cols. The random values differ from PyTorch's (a different generator), the
//! distribution is the same (Haar).
//!
//! **Identity.** PyTorch's `eye_`: scale on the main diagonal of the matrix view, zeros
//! elsewhere, also for non-square matrices (the first `min(rows, cols)` diagonal entries).
//!
//! # Random streams
//! [`param_rng`] gives each parameter its own ChaCha8 stream: the key comes from the run's seed,
//! the 64-bit stream number from a hash of the parameter's name. Adding or renaming one layer
//! therefore leaves every other layer's initial weights unchanged.

use crate::ir::{numel, Tensor};
use crate::model::{FanMode, Init};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// Like [`init_tensor`], but the tensor is `blocks` stacked row blocks each initialised on its
/// own, one after the other from `rng` (a recurrent weight's gates: an orthogonal or identity
/// `weight_hh` of an LSTM is four orthogonal or identity `[N, N]` blocks, as Keras does).
/// One block is exactly [`init_tensor`].
pub fn init_blocks(
    init: &Init,
    shape: &[usize],
    fan_in: usize,
    fan_out: usize,
    blocks: usize,
    rng: &mut ChaCha8Rng,
) -> Tensor<f32> {
    let blocks = blocks.max(1);
    if blocks == 1 || shape.is_empty() || shape[0] % blocks != 0 {
        return init_tensor(init, shape, fan_in, fan_out, rng);
    }
    let mut block_shape = shape.to_vec();
    block_shape[0] /= blocks;
    let mut data = Vec::with_capacity(numel(shape));
    for _ in 0..blocks {
        data.extend(init_tensor(init, &block_shape, fan_in, fan_out, rng).data);
    }
    Tensor::new(shape.to_vec(), data)
}

/// Fills a tensor of `shape` as `init` prescribes, drawing from `rng`.
///
/// `fan_in` and `fan_out` are used only by the variance-scaling inits (xavier, he, lecun).
/// The same `rng` state always gives the same bits.
pub fn init_tensor(
    init: &Init,
    shape: &[usize],
    fan_in: usize,
    fan_out: usize,
    rng: &mut ChaCha8Rng,
) -> Tensor<f32> {
    let n = numel(shape);
    let fan_in = fan_in.max(1) as f64;
    let fan_out = fan_out.max(1) as f64;
    let data = match *init {
        Init::Zeros => vec![0.0; n],
        Init::Constant(value) => vec![value as f32; n],
        Init::Normal { mean, std } => normal(n, mean, std, rng),
        Init::Uniform { low, high } => uniform(n, low, high, rng),
        Init::XavierUniform { gain } => {
            let bound = gain * (6.0 / (fan_in + fan_out)).sqrt();
            uniform(n, -bound, bound, rng)
        }
        Init::XavierNormal { gain } => {
            let std = gain * (2.0 / (fan_in + fan_out)).sqrt();
            normal(n, 0.0, std, rng)
        }
        Init::HeUniform { mode } => {
            let bound = (6.0 / select_fan(mode, fan_in, fan_out)).sqrt();
            uniform(n, -bound, bound, rng)
        }
        Init::HeNormal { mode } => {
            let std = (2.0 / select_fan(mode, fan_in, fan_out)).sqrt();
            normal(n, 0.0, std, rng)
        }
        Init::LecunNormal => normal(n, 0.0, (1.0 / fan_in).sqrt(), rng),
        Init::LecunUniform => {
            let bound = (3.0 / fan_in).sqrt();
            uniform(n, -bound, bound, rng)
        }
        Init::Orthogonal { gain } => orthogonal(matrix_view(shape), gain, rng),
        Init::Identity { scale } => identity(matrix_view(shape), scale),
    };
    Tensor::new(shape.to_vec(), data)
}

/// PyTorch's `_calculate_fan_in_and_fan_out`: for a weight `[out, in, k…]`,
/// fan_in = in·∏k and fan_out = out·∏k (a dense `[out, in]` gives `(in, out)`). PyTorch rejects
/// rank below 2; here a vector `[n]` gives `(n, n)` and a scalar `(1, 1)`. A bias should use
/// the fans of its layer's weight, as PyTorch's `nn.Linear` does.
pub fn fans(shape: &[usize]) -> (usize, usize) {
    match shape {
        [] => (1, 1),
        [n] => (*n, *n),
        [out, input, kernel @ ..] => {
            let receptive = numel(kernel);
            (input * receptive, out * receptive)
        }
    }
}

/// The random stream of one parameter: ChaCha8 keyed by `seed` (expanded as
/// `SeedableRng::seed_from_u64` does), on the stream numbered by the 64-bit FNV-1a hash of
/// the UTF-8 bytes of `param_name`.
pub fn param_rng(seed: u64, param_name: &str) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(fnv1a_64(param_name.as_bytes()));
    rng
}

/// The 64-bit FNV-1a hash: tiny, and stable across Rust versions (unlike `DefaultHasher`).
fn fnv1a_64(bytes: &[u8]) -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes.iter().fold(OFFSET_BASIS, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(PRIME)
    })
}

fn select_fan(mode: FanMode, fan_in: f64, fan_out: f64) -> f64 {
    match mode {
        FanMode::FanIn => fan_in,
        FanMode::FanOut => fan_out,
    }
}

/// `n` draws from N(mean, std²).
fn normal(n: usize, mean: f64, std: f64, rng: &mut ChaCha8Rng) -> Vec<f32> {
    (0..n)
        .map(|_| {
            let z: f64 = rng.sample(StandardNormal);
            (mean + std * z) as f32
        })
        .collect()
}

/// `n` draws from U(low, high): low + (high − low)·u with u uniform in [0, 1).
fn uniform(n: usize, low: f64, high: f64, rng: &mut ChaCha8Rng) -> Vec<f32> {
    (0..n)
        .map(|_| {
            let u: f64 = rng.random();
            (low + (high - low) * u) as f32
        })
        .collect()
}

/// `(rows, cols)` of the matrix view described in the module docs.
fn matrix_view(shape: &[usize]) -> (usize, usize) {
    match shape.split_first() {
        Some((&rows, rest)) if !rest.is_empty() => (rows, numel(rest)),
        Some((&n, _)) => (1, n),
        None => (1, 1),
    }
}

/// scale on the main diagonal of a `rows × cols` row-major matrix.
fn identity((rows, cols): (usize, usize), scale: f64) -> Vec<f32> {
    let mut data = vec![0.0; rows * cols];
    for i in 0..rows.min(cols) {
        data[i * cols + i] = scale as f32;
    }
    data
}

/// gain·Q for a `rows × cols` row-major matrix (see the module docs).
fn orthogonal((rows, cols): (usize, usize), gain: f64, rng: &mut ChaCha8Rng) -> Vec<f32> {
    if rows == 0 || cols == 0 {
        return Vec::new();
    }
    // PyTorch fills the rows × cols matrix row-major, then transposes it when it is wide, so
    // the QR always runs on a tall matrix with `tall` rows and `narrow` columns.
    let gaussian: Vec<f64> = (0..rows * cols)
        .map(|_| rng.sample(StandardNormal))
        .collect();
    let (tall, narrow) = (rows.max(cols), rows.min(cols));
    // columns[j][i] = A[i][j] of the tall matrix A.
    let mut columns: Vec<Vec<f64>> = (0..narrow)
        .map(|j| {
            (0..tall)
                .map(|i| {
                    if rows >= cols {
                        gaussian[i * cols + j]
                    } else {
                        gaussian[j * cols + i]
                    }
                })
                .collect()
        })
        .collect();
    gram_schmidt(&mut columns, rng);
    let mut data = vec![0.0; rows * cols];
    for (j, column) in columns.iter().enumerate() {
        for (i, &q) in column.iter().enumerate() {
            let index = if rows >= cols {
                i * cols + j
            } else {
                j * cols + i
            };
            data[index] = (gain * q) as f32;
        }
    }
    data
}

/// Orthonormalizes `columns` in place by modified Gram–Schmidt, each column projected twice
/// against the earlier ones. This is the Q of the QR whose R has a positive diagonal.
///
/// A column that is (numerically) in the span of the earlier ones — probability zero for a
/// gaussian matrix — is redrawn from `rng`, so the result is always orthonormal and finite.
fn gram_schmidt(columns: &mut [Vec<f64>], rng: &mut ChaCha8Rng) {
    for j in 0..columns.len() {
        let (done, rest) = columns.split_at_mut(j);
        let column = &mut rest[0];
        loop {
            let norm_before = dot(column, column).sqrt();
            for _pass in 0..2 {
                for q in done.iter() {
                    let projection = dot(q, column);
                    column
                        .iter_mut()
                        .zip(q)
                        .for_each(|(c, &q)| *c -= projection * q);
                }
            }
            let norm = dot(column, column).sqrt();
            if norm > 1e-10 * norm_before && norm > 0.0 {
                column.iter_mut().for_each(|c| *c /= norm);
                break;
            }
            column
                .iter_mut()
                .for_each(|c| *c = rng.sample(StandardNormal));
        }
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrix_view_follows_pytorch_and_extends_to_low_ranks() {
        assert_eq!(matrix_view(&[3, 4, 5]), (3, 20));
        assert_eq!(matrix_view(&[3, 4]), (3, 4));
        assert_eq!(matrix_view(&[7]), (1, 7));
        assert_eq!(matrix_view(&[]), (1, 1));
    }

    #[test]
    fn fans_follow_pytorch() {
        assert_eq!(fans(&[64, 2]), (2, 64));
        assert_eq!(fans(&[16, 3, 5, 5]), (75, 400));
        assert_eq!(fans(&[7]), (7, 7));
        assert_eq!(fans(&[]), (1, 1));
    }

    #[test]
    fn fnv1a_matches_published_test_vectors() {
        assert_eq!(fnv1a_64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a_64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a_64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn gram_schmidt_redraws_a_dependent_column() {
        let mut rng = param_rng(1, "dependent");
        let mut columns = vec![vec![1.0, 2.0, 2.0], vec![2.0, 4.0, 4.0]];
        gram_schmidt(&mut columns, &mut rng);
        assert!((dot(&columns[0], &columns[0]) - 1.0).abs() < 1e-12);
        assert!((dot(&columns[1], &columns[1]) - 1.0).abs() < 1e-12);
        assert!(dot(&columns[0], &columns[1]).abs() < 1e-12);
    }
}
