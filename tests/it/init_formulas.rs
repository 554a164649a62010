//! Every weight initializer against its formula: sample moments and bounds on large shapes,
//! orthogonality, PyTorch's QR sign convention, and reproducible per-parameter streams.

use netc::init::{init_tensor, param_rng};
use netc::model::{FanMode, Init};
use rand::Rng;
use rand_distr::StandardNormal;

const N: usize = 200_000;

struct Stats {
    mean: f64,
    std: f64,
    min: f64,
    max: f64,
}

fn draw(init: Init, shape: &[usize], fan_in: usize, fan_out: usize) -> Vec<f32> {
    let mut rng = param_rng(7, "layer.weight");
    let tensor = init_tensor(&init, shape, fan_in, fan_out, &mut rng);
    assert_eq!(tensor.shape, shape);
    tensor.data
}

fn stats(values: &[f32]) -> Stats {
    let n = values.len() as f64;
    let mean = values.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let var = values
        .iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / n;
    let min = values
        .iter()
        .map(|&v| f64::from(v))
        .fold(f64::INFINITY, f64::min);
    let max = values
        .iter()
        .map(|&v| f64::from(v))
        .fold(f64::NEG_INFINITY, f64::max);
    Stats {
        mean,
        std: var.sqrt(),
        min,
        max,
    }
}

/// Mean within 6 standard errors, std within 2% (the std of a sample std is ≈ σ/√(2N) ≈ 0.16%).
fn assert_moments(values: &[f32], mean: f64, std: f64) {
    let s = stats(values);
    let standard_error = std / (values.len() as f64).sqrt();
    assert!(
        (s.mean - mean).abs() < 6.0 * standard_error,
        "mean {} vs {mean}",
        s.mean
    );
    assert!((s.std / std - 1.0).abs() < 0.02, "std {} vs {std}", s.std);
}

/// U(-b, b): inside the bounds, reaching close to both, with std b/√3.
fn assert_symmetric_uniform(values: &[f32], bound: f64) {
    let s = stats(values);
    assert!(
        s.min >= -bound && s.max <= bound,
        "[{}, {}] outside ±{bound}",
        s.min,
        s.max
    );
    assert!(
        s.min < -0.999 * bound && s.max > 0.999 * bound,
        "does not fill ±{bound}"
    );
    assert_moments(values, 0.0, bound / 3f64.sqrt());
}

#[test]
fn zeros_and_constant_are_exact() {
    assert!(draw(Init::Zeros, &[3, 4], 4, 3)
        .iter()
        .all(|&v| v.to_bits() == 0));
    assert!(draw(Init::Constant(0.25), &[5], 1, 1)
        .iter()
        .all(|&v| v == 0.25));
}

#[test]
fn normal_has_its_mean_and_std() {
    let values = draw(
        Init::Normal {
            mean: 0.5,
            std: 2.0,
        },
        &[400, 500],
        500,
        400,
    );
    assert_moments(&values, 0.5, 2.0);
}

#[test]
fn uniform_stays_in_its_interval() {
    let values = draw(
        Init::Uniform {
            low: -3.0,
            high: 1.0,
        },
        &[N],
        1,
        1,
    );
    let s = stats(&values);
    assert!(s.min >= -3.0 && s.max < 1.0);
    assert!(s.min < -2.999 && s.max > 0.999);
    assert_moments(&values, -1.0, 4.0 / 12f64.sqrt());
}

#[test]
fn xavier_uniform_bound_is_gain_sqrt_6_over_fan_sum() {
    // a = 1.5·√(6 / (300 + 200))
    let values = draw(Init::XavierUniform { gain: 1.5 }, &[200, 1000], 300, 200);
    assert_symmetric_uniform(&values, 1.5 * (6.0f64 / 500.0).sqrt());
}

#[test]
fn xavier_normal_std_is_gain_sqrt_2_over_fan_sum() {
    let values = draw(Init::XavierNormal { gain: 2.0 }, &[N], 300, 200);
    assert_moments(&values, 0.0, 2.0 * (2.0f64 / 500.0).sqrt());
}

#[test]
fn he_uses_the_chosen_fan() {
    let (fan_in, fan_out) = (50, 800);
    let fan_in_uniform = draw(
        Init::HeUniform {
            mode: FanMode::FanIn,
        },
        &[N],
        fan_in,
        fan_out,
    );
    assert_symmetric_uniform(&fan_in_uniform, (6.0f64 / 50.0).sqrt());
    let fan_out_uniform = draw(
        Init::HeUniform {
            mode: FanMode::FanOut,
        },
        &[N],
        fan_in,
        fan_out,
    );
    assert_symmetric_uniform(&fan_out_uniform, (6.0f64 / 800.0).sqrt());
    let fan_in_normal = draw(
        Init::HeNormal {
            mode: FanMode::FanIn,
        },
        &[N],
        fan_in,
        fan_out,
    );
    assert_moments(&fan_in_normal, 0.0, (2.0f64 / 50.0).sqrt());
    let fan_out_normal = draw(
        Init::HeNormal {
            mode: FanMode::FanOut,
        },
        &[N],
        fan_in,
        fan_out,
    );
    assert_moments(&fan_out_normal, 0.0, (2.0f64 / 800.0).sqrt());
}

#[test]
fn lecun_uses_fan_in_only() {
    let normal = draw(Init::LecunNormal, &[N], 64, 7);
    assert_moments(&normal, 0.0, (1.0f64 / 64.0).sqrt());
    let uniform = draw(Init::LecunUniform, &[N], 64, 7);
    assert_symmetric_uniform(&uniform, (3.0f64 / 64.0).sqrt());
}

#[test]
fn a_fan_of_zero_still_gives_finite_values() {
    let values = draw(Init::LecunNormal, &[10], 0, 0);
    assert!(values.iter().all(|v| v.is_finite()));
}

#[test]
fn empty_shapes_give_empty_tensors_for_every_init() {
    for init in every_init() {
        assert!(draw(init, &[0, 5], 5, 0).is_empty(), "{init:?}");
        assert!(draw(init, &[5, 0], 0, 5).is_empty(), "{init:?}");
    }
}

/// G = M·Mᵀ (over rows) of a row-major `rows × cols` matrix, in f64.
fn gram_of_rows(data: &[f32], rows: usize, cols: usize) -> Vec<f64> {
    let mut gram = vec![0.0; rows * rows];
    for i in 0..rows {
        for j in 0..rows {
            gram[i * rows + j] = (0..cols)
                .map(|k| f64::from(data[i * cols + k]) * f64::from(data[j * cols + k]))
                .sum();
        }
    }
    gram
}

fn transpose(data: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    (0..cols * rows)
        .map(|t| data[(t % rows) * cols + t / rows])
        .collect()
}

fn assert_scaled_identity(gram: &[f64], size: usize, scale: f64) {
    for i in 0..size {
        for j in 0..size {
            let want = if i == j { scale } else { 0.0 };
            let got = gram[i * size + j];
            assert!(
                (got - want).abs() < 1e-5 * scale.max(1.0),
                "[{i},{j}] = {got}, want {want}"
            );
        }
    }
}

#[test]
fn orthogonal_tall_has_orthonormal_columns() {
    let (rows, cols) = (300, 100);
    let w = draw(Init::Orthogonal { gain: 2.0 }, &[rows, cols], cols, rows);
    // WᵀW = gain²·I: the Gram matrix of the rows of Wᵀ.
    assert_scaled_identity(
        &gram_of_rows(&transpose(&w, rows, cols), cols, rows),
        cols,
        4.0,
    );
    // Haar-distributed columns: entries have variance gain²/rows.
    assert_moments(&w, 0.0, 2.0 / (rows as f64).sqrt());
}

#[test]
fn orthogonal_wide_has_orthonormal_rows_over_the_flattened_trailing_axes() {
    // Viewed as 50 × 120, as PyTorch flattens every axis after the first.
    let w = draw(Init::Orthogonal { gain: 0.5 }, &[50, 4, 30], 120, 50);
    assert_scaled_identity(&gram_of_rows(&w, 50, 120), 50, 0.25);
}

#[test]
fn orthogonal_square_is_orthogonal_both_ways() {
    let n = 64;
    let w = draw(Init::Orthogonal { gain: 1.0 }, &[n, n], n, n);
    assert_scaled_identity(&gram_of_rows(&w, n, n), n, 1.0);
    assert_scaled_identity(&gram_of_rows(&transpose(&w, n, n), n, n), n, 1.0);
}

#[test]
fn orthogonal_vector_is_a_unit_vector_times_gain() {
    let w = draw(Init::Orthogonal { gain: 3.0 }, &[10], 1, 10);
    let norm: f64 = w.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>().sqrt();
    assert!((norm - 3.0).abs() < 1e-5);
}

/// PyTorch's procedure: draw A (rows × cols, row-major, from the same stream), QR it with the
/// signs fixed so R has a positive diagonal. Then R = QᵀA must be upper triangular with a
/// positive diagonal, for a tall and (through the transpose) a wide matrix.
#[test]
fn orthogonal_is_the_sign_corrected_q_of_the_drawn_gaussian() {
    for (rows, cols) in [(12, 5), (5, 12), (7, 7)] {
        let w = draw(Init::Orthogonal { gain: 1.0 }, &[rows, cols], cols, rows);
        let mut rng = param_rng(7, "layer.weight");
        let a: Vec<f64> = (0..rows * cols)
            .map(|_| rng.sample(StandardNormal))
            .collect();
        // Work with the tall versions: Q (tall × narrow) and A (tall × narrow).
        let (tall, narrow) = (rows.max(cols), rows.min(cols));
        let index = |i: usize, j: usize| {
            if rows >= cols {
                i * cols + j
            } else {
                j * cols + i
            }
        };
        let q = |i: usize, j: usize| f64::from(w[index(i, j)]);
        let a = |i: usize, j: usize| a[index(i, j)];
        for r in 0..narrow {
            for c in 0..narrow {
                let entry: f64 = (0..tall).map(|i| q(i, r) * a(i, c)).sum();
                if r == c {
                    assert!(
                        entry > 0.0,
                        "{rows}×{cols}: R[{r},{r}] = {entry} is not positive"
                    );
                } else if r > c {
                    assert!(
                        entry.abs() < 1e-5,
                        "{rows}×{cols}: R[{r},{c}] = {entry} below the diagonal"
                    );
                }
            }
        }
    }
}

#[test]
fn identity_puts_scale_on_the_main_diagonal_also_when_not_square() {
    let square = draw(Init::Identity { scale: 0.5 }, &[3, 3], 3, 3);
    assert_eq!(square, [0.5, 0.0, 0.0, 0.0, 0.5, 0.0, 0.0, 0.0, 0.5]);
    let wide = draw(Init::Identity { scale: 1.0 }, &[2, 3], 3, 2);
    assert_eq!(wide, [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
    let tall = draw(Init::Identity { scale: 2.0 }, &[3, 2], 2, 3);
    assert_eq!(tall, [2.0, 0.0, 0.0, 2.0, 0.0, 0.0]);
    // Rank 3 is viewed as 2 × 4; rank 1 as one row.
    let cube = draw(Init::Identity { scale: 1.0 }, &[2, 2, 2], 4, 2);
    assert_eq!(cube, [1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0]);
    assert_eq!(
        draw(Init::Identity { scale: 1.0 }, &[3], 1, 3),
        [1.0, 0.0, 0.0]
    );
}

fn every_init() -> Vec<Init> {
    vec![
        Init::Zeros,
        Init::Constant(0.1),
        Init::Normal {
            mean: 0.0,
            std: 1.0,
        },
        Init::Uniform {
            low: -1.0,
            high: 1.0,
        },
        Init::XavierUniform { gain: 1.0 },
        Init::XavierNormal { gain: 1.0 },
        Init::HeUniform {
            mode: FanMode::FanIn,
        },
        Init::HeNormal {
            mode: FanMode::FanOut,
        },
        Init::LecunNormal,
        Init::LecunUniform,
        Init::Orthogonal { gain: 1.0 },
        Init::Identity { scale: 1.0 },
    ]
}

fn bits(seed: u64, name: &str, init: Init) -> Vec<u32> {
    let mut rng = param_rng(seed, name);
    let tensor = init_tensor(&init, &[16, 8], 8, 16, &mut rng);
    tensor.data.iter().map(|v| v.to_bits()).collect()
}

#[test]
fn same_seed_and_name_give_identical_bits() {
    for init in every_init() {
        assert_eq!(
            bits(3, "hidden1.weight", init),
            bits(3, "hidden1.weight", init),
            "{init:?}"
        );
    }
}

#[test]
fn names_and_seeds_select_different_streams() {
    let init = Init::Normal {
        mean: 0.0,
        std: 1.0,
    };
    let base = bits(3, "hidden1.weight", init);
    assert_ne!(base, bits(3, "hidden2.weight", init));
    assert_ne!(base, bits(3, "hidden1.bias", init));
    assert_ne!(base, bits(4, "hidden1.weight", init));
    // Streams are independent, not shifted copies of each other.
    let other = bits(3, "hidden2.weight", init);
    assert!(base.iter().all(|b| !other.contains(b)));
}

#[test]
fn adding_a_layer_leaves_the_other_layers_weights_unchanged() {
    let init = Init::HeNormal {
        mode: FanMode::FanIn,
    };
    let layer = |name: &str| {
        let mut rng = param_rng(11, name);
        init_tensor(&init, &[32, 16], 16, 32, &mut rng).data
    };
    let before = [layer("dense1.weight"), layer("out.weight")];
    let after = [
        layer("dense1.weight"),
        layer("inserted.weight"),
        layer("out.weight"),
    ];
    assert_eq!(before[0], after[0]);
    assert_eq!(before[1], after[2]);
}

/// Pins the first values of one stream, so an update of rand, rand_chacha or rand_distr that
/// changes every run's initial weights is noticed here, not in a user's results.
#[test]
fn the_first_values_of_a_stream_are_pinned() {
    let values = draw(
        Init::Uniform {
            low: 0.0,
            high: 1.0,
        },
        &[3],
        1,
        1,
    );
    let normals = draw(
        Init::Normal {
            mean: 0.0,
            std: 1.0,
        },
        &[3],
        1,
        1,
    );
    let pinned = [values, normals]
        .concat()
        .iter()
        .map(|v| v.to_bits())
        .collect::<Vec<_>>();
    assert_eq!(pinned, PINNED, "values: {pinned:#010x?}");
}

const PINNED: [u32; 6] = [
    0x3ec8276e, 0x3e71f100, 0x3e7af5d8, // U(0, 1): 0.391, 0.236, 0.245
    0xbea6f5fc, 0xbf9ecad0, 0xbf46a01f, // N(0, 1): -0.326, -1.240, -0.776
];
