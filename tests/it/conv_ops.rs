//! The sliding-window ops (`windows`, `windows_add`) and the convolution and pooling builders
//! of `lower::conv`: small cases worked by hand, every gradient against central finite
//! differences in f64 over random shapes, strides, dilations and paddings (with the edge cases
//! kernel = input, stride > kernel and 1×1 kernels named), and the verifier's rejections.

use netc::autodiff::grad;
use netc::gradcheck::{gradcheck, Options};
use netc::ir::interp::run;
use netc::ir::passes::optimize;
use netc::ir::verify::{verify, VerifyError};
use netc::ir::{Graph, Op, ReduceOp, Role, Shape, Tensor, ValueId, Window2d};
use netc::lower::conv::{avg_pool2d, conv2d, max_pool2d};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;

fn win(
    kernel: [usize; 2],
    stride: [usize; 2],
    dilation: [usize; 2],
    padding: [usize; 4],
) -> Window2d {
    Window2d {
        kernel,
        stride,
        dilation,
        padding,
    }
}

/// A square window with equal padding on every side.
fn square(k: usize, s: usize, d: usize, p: usize) -> Window2d {
    win([k, k], [s, s], [d, d], [p; 4])
}

fn eval(g: &Graph, env: &[(&str, Tensor<f64>)]) -> Vec<Tensor<f64>> {
    let env: HashMap<String, Tensor<f64>> = env
        .iter()
        .map(|(n, t)| (n.to_string(), t.clone()))
        .collect();
    run(g, &env).expect("the program runs")
}

/// 1, 2, …, n in a [1, h, w, 1] image.
fn ramp(h: usize, w: usize) -> Tensor<f64> {
    Tensor::new(vec![1, h, w, 1], (1..=h * w).map(|v| v as f64).collect())
}

#[test]
fn windows_of_a_padded_image_by_hand() {
    // x = [[1, 2], [3, 4]], a 2×2 window with one row of zeros on top: windows at rows -1 and 0.
    let mut g = Graph::new();
    let x = g.input("x", vec![1, 2, 2, 1]);
    let w = g.windows(x, &win([2, 2], [1, 1], [1, 1], [1, 0, 0, 0]));
    g.add_output("w", w, Role::Value);
    let out = eval(&g, &[("x", ramp(2, 2))]);
    assert_eq!(out[0].shape, vec![1, 2, 1, 2, 2, 1]);
    assert_eq!(out[0].data, vec![0.0, 0.0, 1.0, 2.0, 1.0, 2.0, 3.0, 4.0]);
}

#[test]
fn windows_with_stride_and_dilation_by_hand() {
    // A 3×3 ramp, a 2×2 window dilated by 2 along the width, stride 1: taps (r, c), (r, c + 2),
    // (r + 1, c), (r + 1, c + 2) for r ∈ {0, 1}, c = 0.
    let mut g = Graph::new();
    let x = g.input("x", vec![1, 3, 3, 1]);
    let w = g.windows(x, &win([2, 2], [1, 1], [1, 2], [0; 4]));
    g.add_output("w", w, Role::Value);
    let out = eval(&g, &[("x", ramp(3, 3))]);
    assert_eq!(out[0].shape, vec![1, 2, 1, 2, 2, 1]);
    assert_eq!(out[0].data, vec![1.0, 3.0, 4.0, 6.0, 4.0, 6.0, 7.0, 9.0]);
}

#[test]
fn windows_add_counts_how_often_each_pixel_is_read() {
    // ∂/∂x Σ windows(x) = the number of windows reading each pixel: for 2×2 windows of stride 1
    // on a 3×3 image, 1 at the corners, 2 on the edges, 4 in the middle.
    let mut g = Graph::new();
    let x = g.input("x", vec![1, 3, 3, 1]);
    let w = g.windows(x, &square(2, 1, 1, 0));
    let loss = g.reduce_all(ReduceOp::Sum, w);
    let dx = grad(&mut g, loss, &[x])[0];
    g.add_output("dx", dx, Role::Value);
    let out = eval(&g, &[("x", ramp(3, 3))]);
    assert_eq!(
        out[0].data,
        vec![1.0, 2.0, 1.0, 2.0, 4.0, 2.0, 1.0, 2.0, 1.0]
    );
}

#[test]
fn conv2d_by_hand_with_two_channels_and_filters() {
    // x: a 2×2 image with channels (c0, c1) = (v, 10v) for v = 1..4; a 2×2 kernel covering it
    // once. Filter 0 sums channel 0 (1+2+3+4 = 10); filter 1 takes channel 1 at the top left
    // tap minus channel 0 at the bottom right (10 − 4 = 6).
    let mut g = Graph::new();
    let x = g.input("x", vec![1, 2, 2, 2]);
    let weight = g.param("w", vec![2, 2, 2, 2]);
    let y = conv2d(&mut g, x, weight, &square(2, 1, 1, 0));
    g.add_output("y", y, Role::Value);
    let xs = Tensor::new(vec![1, 2, 2, 2], vec![1., 10., 2., 20., 3., 30., 4., 40.]);
    // weight [F, C, KH, KW]
    let mut ws = vec![0.0; 16];
    ws[..4].copy_from_slice(&[1.0; 4]); // filter 0, channel 0: every tap
    ws[8 + 4] = 1.0; // filter 1, channel 1, tap (0, 0)
    ws[8 + 3] = -1.0; // filter 1, channel 0, tap (1, 1)
    let out = eval(&g, &[("x", xs), ("w", Tensor::new(vec![2, 2, 2, 2], ws))]);
    assert_eq!(out[0].shape, vec![1, 1, 1, 2]);
    assert_eq!(out[0].data, vec![10.0, 6.0]);
}

#[test]
fn pooling_by_hand() {
    // A 4×4 ramp pooled 2×2 with stride 2: maxima 6, 8, 14, 16 and means 3.5, 5.5, 11.5, 13.5.
    let mut g = Graph::new();
    let x = g.input("x", vec![1, 4, 4, 1]);
    let max = max_pool2d(&mut g, x, &square(2, 2, 1, 0));
    let mean = avg_pool2d(&mut g, x, &square(2, 2, 1, 0));
    g.add_output("max", max, Role::Value);
    g.add_output("mean", mean, Role::Value);
    let out = eval(&g, &[("x", ramp(4, 4))]);
    assert_eq!(out[0].data, vec![6.0, 8.0, 14.0, 16.0]);
    assert_eq!(out[1].data, vec![3.5, 5.5, 11.5, 13.5]);
}

#[test]
fn average_pooling_counts_the_padding() {
    // A 2×2 image of ones, 2×2 windows of stride 2 with one zero row and column on the top
    // left: each window holds one real pixel, so its mean is 1/4 (count_include_pad = True).
    let mut g = Graph::new();
    let x = g.input("x", vec![1, 2, 2, 1]);
    let mean = avg_pool2d(&mut g, x, &win([2, 2], [2, 2], [1, 1], [1, 1, 1, 1]));
    g.add_output("mean", mean, Role::Value);
    let out = eval(&g, &[("x", Tensor::full(vec![1, 2, 2, 1], 1.0))]);
    assert_eq!(out[0].data, vec![0.25; 4]);
}

#[test]
fn max_pooling_routes_the_gradient_to_the_maximum() {
    // ∂/∂x Σ maxpool(x) = 1 at each window's maximum, 0 elsewhere.
    let mut g = Graph::new();
    let x = g.input("x", vec![1, 4, 4, 1]);
    let y = max_pool2d(&mut g, x, &square(2, 2, 1, 0));
    let loss = g.reduce_all(ReduceOp::Sum, y);
    let dx = grad(&mut g, loss, &[x])[0];
    g.add_output("dx", dx, Role::Value);
    let out = eval(&g, &[("x", ramp(4, 4))]);
    let mut want = vec![0.0; 16];
    for at in [5, 7, 13, 15] {
        want[at] = 1.0;
    }
    assert_eq!(out[0].data, want);
}

/// One random configuration: an [N, H, W, C] input, a window that fits it and a filter count.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub x: Shape,
    pub win: Window2d,
    pub filters: usize,
}

/// The named edge cases, then random ones.
pub(crate) fn configs() -> Vec<Config> {
    let cfg = |x: [usize; 4], win, filters| Config {
        x: x.to_vec(),
        win,
        filters,
    };
    let mut all = vec![
        // kernel = input size: one window
        cfg([2, 3, 3, 2], square(3, 1, 1, 0), 2),
        // kernel = input size with padding
        cfg([1, 3, 2, 1], win([3, 2], [1, 1], [1, 1], [1, 1, 1, 1]), 3),
        // stride > kernel: pixels no window reads
        cfg([2, 7, 6, 2], win([2, 2], [3, 4], [1, 1], [0; 4]), 2),
        // 1×1 kernels, with and without stride
        cfg([2, 3, 4, 3], square(1, 1, 1, 0), 4),
        cfg([1, 5, 5, 2], square(1, 2, 1, 0), 2),
        // dilation and asymmetric padding
        cfg([1, 6, 5, 2], win([3, 2], [1, 2], [2, 1], [0, 2, 1, 0]), 2),
        // "same" padding of a 3×3 kernel
        cfg([2, 4, 4, 1], square(3, 1, 1, 1), 3),
    ];
    let mut rng = ChaCha8Rng::seed_from_u64(16);
    while all.len() < 40 {
        let kernel = [rng.random_range(1..4), rng.random_range(1..4)];
        let stride = [rng.random_range(1..4), rng.random_range(1..4)];
        let dilation = [rng.random_range(1..3), rng.random_range(1..3)];
        let padding = [0; 4].map(|_| rng.random_range(0..3));
        let x = vec![
            rng.random_range(1..3),
            rng.random_range(1..7),
            rng.random_range(1..7),
            rng.random_range(1..4),
        ];
        let win = win(kernel, stride, dilation, padding);
        if win.output_hw(x[1], x[2]).is_some() {
            all.push(Config {
                x,
                win,
                filters: rng.random_range(1..4),
            });
        }
    }
    all
}

/// A program and the point its gradient is checked at.
struct Case {
    g: Graph,
    env: HashMap<String, Tensor<f64>>,
    rng: ChaCha8Rng,
}

impl Case {
    fn new(seed: u64) -> Case {
        Case {
            g: Graph::new(),
            env: HashMap::new(),
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    fn leaf(&mut self, name: &str, shape: Shape) -> ValueId {
        let data = (0..shape.iter().product::<usize>())
            .map(|_| self.rng.random_range(-1.0..1.0))
            .collect();
        self.env
            .insert(name.into(), Tensor::new(shape.clone(), data));
        self.g.input(name, shape)
    }

    /// L = Σ y ⊙ r for a random r, then every named leaf's gradient against finite differences.
    fn check(mut self, y: ValueId, names: &[&str], what: &str) {
        let r = self.leaf("r", self.g.shape(y).to_vec());
        let weighted = self.g.mul(y, r);
        let loss = self.g.reduce_all(ReduceOp::Sum, weighted);
        let opts = Options::default();
        let report = gradcheck(&self.g, loss, names, &self.env, &opts).expect("gradcheck runs");
        for leaf in &report {
            assert!(leaf.passes(&opts), "{what}: {leaf:?}");
        }
        let mut g = self.g.clone();
        let wrt: Vec<ValueId> = (0..g.len() as u32).map(ValueId).collect();
        grad(&mut g, loss, &wrt);
        verify(&g).unwrap_or_else(|e| panic!("{what}: the backward program: {e}"));
    }
}

#[test]
fn windows_and_windows_add_gradients() {
    for (i, c) in configs().into_iter().enumerate() {
        let what = format!("{c:?}");
        let mut case = Case::new(i as u64);
        let x = case.leaf("x", c.x.clone());
        let y = case.g.windows(x, &c.win);
        case.check(y, &["x"], &what);

        let mut case = Case::new(100 + i as u64);
        let shape = c.win.windows_shape(&c.x).expect("the config fits");
        let dy = case.leaf("dy", shape);
        let y = case.g.windows_add(dy, &c.win, c.x.clone());
        case.check(y, &["dy"], &what);
    }
}

#[test]
fn conv2d_gradients_of_input_and_weight() {
    for (i, c) in configs().into_iter().enumerate() {
        let mut case = Case::new(200 + i as u64);
        let x = case.leaf("x", c.x.clone());
        let [kh, kw] = c.win.kernel;
        let weight = case.leaf("w", vec![c.filters, c.x[3], kh, kw]);
        let y = conv2d(&mut case.g, x, weight, &c.win);
        case.check(y, &["x", "w"], &format!("{c:?}"));
    }
}

#[test]
fn pooling_gradients() {
    for (i, c) in configs().into_iter().enumerate() {
        let mut case = Case::new(300 + i as u64);
        let x = case.leaf("x", c.x.clone());
        let y = avg_pool2d(&mut case.g, x, &c.win);
        case.check(y, &["x"], &format!("avg {c:?}"));

        // Max pooling pads nothing; random values have a unique maximum per window.
        let unpadded = Window2d {
            padding: [0; 4],
            ..c.win
        };
        if unpadded.output_hw(c.x[1], c.x[2]).is_none() {
            continue;
        }
        let mut case = Case::new(400 + i as u64);
        let x = case.leaf("x", c.x.clone());
        let y = max_pool2d(&mut case.g, x, &unpadded);
        case.check(y, &["x"], &format!("max {c:?}"));
    }
}

#[test]
fn the_verifier_rejects_bad_windows() {
    let mut g = Graph::new();
    let x = g.input("x", vec![1, 4, 4, 1]);
    let zero_stride = square(2, 0, 1, 0);
    g.push(
        Op::Windows {
            x,
            win: zero_stride,
        },
        vec![1, 3, 3, 2, 2, 1],
    );
    assert!(matches!(verify(&g), Err(VerifyError::BadAttribute { .. })));

    let mut g = Graph::new();
    let x = g.input("x", vec![1, 4, 4, 1]);
    g.push(
        Op::Windows {
            x,
            win: square(5, 1, 1, 0),
        },
        vec![1, 1, 1, 5, 5, 1],
    );
    assert!(matches!(verify(&g), Err(VerifyError::BadAttribute { .. })));

    let mut g = Graph::new();
    let x = g.input("x", vec![4, 4]);
    g.push(
        Op::Windows {
            x,
            win: square(2, 1, 1, 0),
        },
        vec![1, 3, 3, 2, 2, 1],
    );
    assert!(matches!(verify(&g), Err(VerifyError::BadShape { .. })));

    // Windows of the wrong output shape, and a scatter onto an image they do not come from.
    let mut g = Graph::new();
    let x = g.input("x", vec![1, 4, 4, 1]);
    g.push(
        Op::Windows {
            x,
            win: square(2, 1, 1, 0),
        },
        vec![1, 2, 2, 2, 2, 1],
    );
    assert!(matches!(verify(&g), Err(VerifyError::BadShape { .. })));

    let mut g = Graph::new();
    let dy = g.input("dy", vec![1, 3, 3, 2, 2, 1]);
    g.push(
        Op::WindowsAdd {
            dy,
            win: square(2, 1, 1, 0),
        },
        vec![1, 5, 4, 1],
    );
    assert!(matches!(verify(&g), Err(VerifyError::BadShape { .. })));
}

#[test]
fn the_text_form_names_the_window() {
    let mut g = Graph::new();
    let x = g.input("x", vec![1, 5, 5, 2]);
    let w = g.windows(x, &win([3, 2], [2, 1], [1, 2], [1, 0, 2, 1]));
    let back = g.windows_add(
        w,
        &win([3, 2], [2, 1], [1, 2], [1, 0, 2, 1]),
        vec![1, 5, 5, 2],
    );
    g.add_output("back", back, Role::Value);
    let text = netc::ir::print::print(&g);
    assert!(
        text.contains("%1 = windows %0 kernel 3x2 stride 2x1 dilation 1x2 pad [1, 0, 2, 1]"),
        "{text}"
    );
    assert!(text.contains("%2 = windows_add %1 kernel 3x2"), "{text}");
}

#[test]
fn windows_of_zeros_fold_to_zeros() {
    // A zero adjoint through windows and their scatter stays a constant zero.
    let mut g = Graph::new();
    let z = g.constant(0.0, vec![1, 4, 4, 1]);
    let w = g.windows(z, &square(3, 1, 1, 1));
    let back = g.windows_add(w, &square(3, 1, 1, 1), vec![1, 4, 4, 1]);
    g.add_output("back", back, Role::Value);
    let g = optimize(&g);
    let out = g.outputs[0].value;
    assert!(
        matches!(g.node(out).op, Op::Const { value } if value == 0.0),
        "{}",
        netc::ir::print::print(&g)
    );
}
