//! Training-step micro benchmark of the JIT on the issue's workloads W1–W5 (forward, softmax
//! cross-entropy or MSE, autodiff backward, SGD update; optional per-layer gradient probes).
//! Run: `cargo bench --profile dev --bench jit [-- W1,W4]`. Prints median µs per step,
//! compile time, and probe overhead; it asserts nothing (numbers, not a test). `-- conv` times
//! one convolution layer's kernels instead: im2col + GEMM against a direct loop nest.

use netc::autodiff::grad;
use netc::codegen::{compile, JitOptions};
use netc::ir::{Graph, ReduceOp, Role, UnaryOp, ValueId, Window2d};
use netc::lower::conv::conv2d;
use netc::probe::ProbeStat;
use std::time::Instant;

#[derive(Clone, Copy, PartialEq)]
enum Act {
    Relu,
    Tanh,
    Sigmoid,
}

/// One dense layer's parameters (and the layer's name for probes).
struct Layer {
    name: String,
    w: ValueId,
    b: ValueId,
}

fn dense(
    g: &mut Graph,
    name: &str,
    x: ValueId,
    n_in: usize,
    n_out: usize,
    ls: &mut Vec<Layer>,
) -> ValueId {
    let w = g.param(format!("{name}.w"), vec![n_in, n_out]);
    let b = g.param(format!("{name}.b"), vec![n_out]);
    ls.push(Layer {
        name: name.into(),
        w,
        b,
    });
    let y = g.matmul(x, w, false, false);
    g.add(y, b)
}

fn act(g: &mut Graph, a: Act, x: ValueId) -> ValueId {
    match a {
        Act::Relu => {
            let z = g.scalar(0.0);
            g.binary(netc::ir::BinaryOp::Max, x, z)
        }
        Act::Tanh => g.unary(UnaryOp::Tanh, x),
        Act::Sigmoid => g.unary(UnaryOp::Sigmoid, x),
    }
}

/// Mean softmax cross-entropy of logits [b, k] against one-hot targets.
fn cross_entropy(g: &mut Graph, logits: ValueId, y: ValueId) -> ValueId {
    let m = g.reduce(ReduceOp::Max, logits, &[1], true);
    let z = g.sub(logits, m);
    let e = g.unary(UnaryOp::Exp, z);
    let s = g.reduce(ReduceOp::Sum, e, &[1], true);
    let ls = g.unary(UnaryOp::Log, s);
    let logp = g.sub(z, ls);
    let picked = g.mul(logp, y);
    let total = g.reduce_all(ReduceOp::Mean, picked);
    let k = g.shape(logits)[1] as f64;
    g.scale(total, -k)
}

fn layer_norm(g: &mut Graph, name: &str, x: ValueId, n: usize, ls: &mut Vec<Layer>) -> ValueId {
    let mean = g.reduce(ReduceOp::Mean, x, &[1], true);
    let c = g.sub(x, mean);
    let sq = g.unary(UnaryOp::Square, c);
    let var = g.reduce(ReduceOp::Mean, sq, &[1], true);
    let ve = g.offset(var, 1e-5);
    let r = g.unary(UnaryOp::Rsqrt, ve);
    let xn = g.mul(c, r);
    let gamma = g.param(format!("{name}.g"), vec![n]);
    let beta = g.param(format!("{name}.b"), vec![n]);
    ls.push(Layer {
        name: name.into(),
        w: gamma,
        b: beta,
    });
    let s = g.mul(xn, gamma);
    g.add(s, beta)
}

/// The training step of a workload; `probes` adds per-layer ‖∂L/∂W‖², ‖∂L/∂b‖², ‖W‖².
fn workload(name: &str, probes: bool) -> (Graph, usize) {
    let mut g = Graph::new();
    let mut ls = Vec::new();
    let (batch, loss) = match name {
        "W1" | "W2" | "W3" | "W5" => {
            let (dims, a, batch): (Vec<usize>, Act, usize) = match name {
                "W1" => (vec![784, 256, 256, 10], Act::Relu, 64),
                "W2" => {
                    let mut d = vec![32];
                    d.extend([64; 20]);
                    d.push(10);
                    (d, Act::Tanh, 32)
                }
                "W3" => (
                    vec![1024; 9].into_iter().chain([10]).collect(),
                    Act::Relu,
                    256,
                ),
                _ => (vec![2, 8, 8, 1], Act::Sigmoid, 4),
            };
            let x = g.input("x", vec![batch, dims[0]]);
            let y = g.input("y", vec![batch, *dims.last().unwrap_or(&1)]);
            let mut h = x;
            for i in 0..dims.len() - 1 {
                h = dense(&mut g, &format!("l{i}"), h, dims[i], dims[i + 1], &mut ls);
                if i + 2 < dims.len() || name == "W5" {
                    h = act(&mut g, a, h);
                }
            }
            let loss = if name == "W5" {
                let d = g.sub(h, y);
                let sq = g.unary(UnaryOp::Square, d);
                g.reduce_all(ReduceOp::Mean, sq)
            } else {
                cross_entropy(&mut g, h, y)
            };
            (batch, loss)
        }
        _ => {
            let (batch, width) = (64, 128);
            let x = g.input("x", vec![batch, 64]);
            let y = g.input("y", vec![batch, 10]);
            let mut h = dense(&mut g, "in", x, 64, width, &mut ls);
            for blk in 0..16 {
                let n = layer_norm(&mut g, &format!("b{blk}.ln"), h, width, &mut ls);
                let a = dense(&mut g, &format!("b{blk}.d1"), n, width, width, &mut ls);
                let r = act(&mut g, Act::Relu, a);
                let d = dense(&mut g, &format!("b{blk}.d2"), r, width, width, &mut ls);
                h = g.add(h, d);
            }
            let logits = dense(&mut g, "out", h, width, 10, &mut ls);
            (batch, cross_entropy(&mut g, logits, y))
        }
    };
    g.add_output("loss", loss, Role::Loss);
    let params: Vec<ValueId> = ls.iter().flat_map(|l| [l.w, l.b]).collect();
    let grads = netc::autodiff::grad(&mut g, loss, &params);
    for (l, pg) in ls.iter().zip(grads.chunks(2)) {
        for (p, gp, stat) in [
            (l.w, pg[0], ProbeStat::GradWeightSq),
            (l.b, pg[1], ProbeStat::GradBiasSq),
        ] {
            if probes {
                let sq = g.unary(UnaryOp::Square, gp);
                let n = g.reduce_all(ReduceOp::Sum, sq);
                g.add_output(
                    format!("{}.{stat:?}", l.name),
                    n,
                    Role::Probe {
                        layer: l.name.clone(),
                        stat,
                    },
                );
            }
            let step = g.scale(gp, 0.01);
            let nw = g.sub(p, step);
            let Some((pname, _)) = g.params().into_iter().find(|(n, _)| {
                g.node(p).op
                    == netc::ir::Op::Param {
                        name: n.to_string(),
                    }
            }) else {
                continue;
            };
            let pname = pname.to_owned();
            g.add_output(format!("{pname}.new"), nw, Role::Update { param: pname });
        }
    }
    (g, batch)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// A compiled workload with deterministic parameters, and its compile time in ms.
fn prepared(name: &str, probes: bool) -> (netc::codegen::Kernel, f64) {
    let (g, _) = workload(name, probes);
    let t0 = Instant::now();
    let threads = std::env::args()
        .find_map(|a| a.strip_prefix("threads=").and_then(|t| t.parse().ok()))
        .unwrap_or(1);
    let opts = JitOptions {
        update_in_place: true,
        gemm_threads: threads,
        ..JitOptions::default()
    };
    let mut k = compile(&g, &opts).expect("workload compiles");
    let compile_ms = t0.elapsed().as_secs_f64() * 1e3;
    for slot in 0..k.leaf_names().len() {
        let n = k.leaf(slot).len();
        let fill: Vec<f32> = (0..n)
            .map(|i| ((i * 7919 % 1000) as f32 / 1000.0 - 0.5) * 0.1)
            .collect();
        k.leaf_mut(slot).copy_from_slice(&fill);
    }
    (k, compile_ms)
}

/// µs per step (probes off, on) as medians of rounds that alternate between the two kernels,
/// so that load from other processes hits both alike; and the compile time with probes.
fn time_step(name: &str) -> (f64, f64, f64) {
    let (mut off, _) = prepared(name, false);
    let (mut on, compile_ms) = prepared(name, true);
    let reps = match name {
        "W3" => 3,
        "W5" => 20000,
        "W2" => 500,
        _ => 100,
    };
    let round = |k: &mut netc::codegen::Kernel| {
        let t = Instant::now();
        for _ in 0..reps {
            k.step();
            k.apply_updates();
        }
        t.elapsed().as_secs_f64() * 1e6 / reps as f64
    };
    let (mut t_off, mut t_on) = (Vec::new(), Vec::new());
    for _ in 0..9 {
        t_off.push(round(&mut off));
        t_on.push(round(&mut on));
    }
    (median(t_off), median(t_on), compile_ms)
}

/// GFLOP/s of one product op(a)·op(b) of m×k×n, in each of the four layouts, as generated
/// loops and as a library call (to find the crossover).
fn gemm_rate(m: usize, k: usize, n: usize) {
    for (inline, how) in [(usize::MAX, "generated"), (0, "library")] {
        let opts = JitOptions {
            inline_gemm_macs: Some(inline),
            ..JitOptions::default()
        };
        gemm_layouts(m, k, n, &opts, how);
    }
}

fn gemm_layouts(m: usize, k: usize, n: usize, opts: &JitOptions, how: &str) {
    for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
        let mut g = Graph::new();
        let a = g.input("a", if ta { vec![k, m] } else { vec![m, k] });
        let b = g.input("b", if tb { vec![n, k] } else { vec![k, n] });
        let c = g.matmul(a, b, ta, tb);
        g.add_output("c", c, Role::Value);
        let mut kernel = compile(&g, opts).expect("compiles");
        let reps = (2e8 / (2 * m * k * n) as f64).ceil() as usize;
        let mut samples = Vec::new();
        for _ in 0..7 {
            let t = Instant::now();
            for _ in 0..reps {
                kernel.step();
            }
            samples.push(t.elapsed().as_secs_f64() / reps as f64);
        }
        let s = median(samples);
        let rate = 2.0 * (m * k * n) as f64 / s / 1e9;
        println!(
            "{how} {m}x{k}x{n} ta={ta} tb={tb}: {:.2} µs, {rate:.1} GFLOP/s",
            s * 1e6
        );
    }
}

/// ns per element of `op(x + b)` over [rows, cols] (a fused bias + activation pass).
fn unary_rate(rows: usize, cols: usize) {
    for op in [
        UnaryOp::Tanh,
        UnaryOp::Exp,
        UnaryOp::Sigmoid,
        UnaryOp::Log,
        UnaryOp::Square,
    ] {
        let mut g = Graph::new();
        let x = g.input("x", vec![rows, cols]);
        let b = g.input("b", vec![cols]);
        let s = g.add(x, b);
        let y = g.unary(op, s);
        g.add_output("y", y, Role::Value);
        let mut k = compile(&g, &JitOptions::default()).expect("compiles");
        let reps = 20_000_000 / (rows * cols) + 1;
        let mut samples = Vec::new();
        for _ in 0..7 {
            let t = Instant::now();
            for _ in 0..reps {
                k.step();
            }
            samples.push(t.elapsed().as_secs_f64() * 1e9 / (reps * rows * cols) as f64);
        }
        println!(
            "{op:?} over {rows}x{cols}: {:.3} ns/element",
            median(samples)
        );
    }
}

/// One convolution layer, 3×3 with "same" padding, over x [n, h, w, c] into `filters`
/// channels: as `lower::conv::conv2d` (im2col: the windows materialized, then one GEMM) or
/// `direct`ly (the windows and a weight stored as [F, KH, KW, C] broadcast against each other
/// and summed over the taps: one accumulating loop nest, no im2col buffer). With `backward`,
/// the program also computes ∂/∂x and ∂/∂w of Σ y ⊙ r.
fn conv_layer(x_shape: [usize; 4], filters: usize, direct: bool, backward: bool) -> Graph {
    let [n, h, w, c] = x_shape;
    let win = Window2d {
        kernel: [3, 3],
        stride: [1, 1],
        dilation: [1, 1],
        padding: [1; 4],
    };
    let mut g = Graph::new();
    let x = g.input("x", x_shape.to_vec());
    let (weight, y) = if direct {
        let weight = g.param("w", vec![filters, 3, 3, c]);
        let taps = g.windows(x, &win);
        let every = vec![filters, n, h, w, 3, 3, c];
        let taps = g.broadcast(taps, every);
        let taps = g.transpose(taps, vec![1, 2, 3, 0, 4, 5, 6]);
        let weights = g.broadcast(weight, vec![n, h, w, filters, 3, 3, c]);
        let products = g.mul(taps, weights);
        (weight, g.reduce(ReduceOp::Sum, products, &[4, 5, 6], false))
    } else {
        let weight = g.param("w", vec![filters, c, 3, 3]);
        (weight, conv2d(&mut g, x, weight, &win))
    };
    if backward {
        let r = g.input("r", vec![n, h, w, filters]);
        let weighted = g.mul(y, r);
        let loss = g.reduce_all(ReduceOp::Sum, weighted);
        let grads = grad(&mut g, loss, &[x, weight]);
        g.add_output("dx", grads[0], Role::Value);
        g.add_output("dw", grads[1], Role::Value);
    } else {
        g.add_output("y", y, Role::Value);
    }
    g
}

/// Nanoseconds this thread has run on a CPU (Linux's /proc/thread-self/schedstat), so a
/// timing on a shared machine does not count the time other processes held the core.
fn thread_cpu_ns() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok()
}

/// Median (wall, on-CPU) µs per step of each program, timed in interleaved rounds; on-CPU
/// time is NaN where the kernel does not report it.
fn time_interleaved(graphs: &[Graph], reps: usize) -> Vec<(f64, f64)> {
    let mut kernels: Vec<netc::codegen::Kernel> = graphs
        .iter()
        .map(|g| compile(g, &JitOptions::default()).expect("compiles"))
        .collect();
    for k in &mut kernels {
        for slot in 0..k.leaf_names().len() {
            let fill: Vec<f32> = (0..k.leaf(slot).len())
                .map(|i| (i * 7919 % 1000) as f32 / 1000.0 - 0.5)
                .collect();
            k.leaf_mut(slot).copy_from_slice(&fill);
        }
    }
    let mut wall = vec![Vec::new(); kernels.len()];
    let mut cpu = vec![Vec::new(); kernels.len()];
    for _ in 0..7 {
        for (i, k) in kernels.iter_mut().enumerate() {
            let (t, c) = (Instant::now(), thread_cpu_ns());
            for _ in 0..reps {
                k.step();
            }
            wall[i].push(t.elapsed().as_secs_f64() * 1e6 / reps as f64);
            let on_cpu = c.zip(thread_cpu_ns()).map(|(a, b)| (b - a) as f64 / 1e3);
            cpu[i].push(on_cpu.map_or(f64::NAN, |us| us / reps as f64));
        }
    }
    wall.into_iter()
        .zip(cpu)
        .map(|(w, c)| (median(w), median(c)))
        .collect()
}

/// The convolution table of docs/performance.md: im2col + GEMM against the direct loop nest,
/// forward alone and forward + backward, on a small and a wide layer (batch 64).
fn conv_rates() {
    println!("On-CPU µs per step (wall-clock µs in parentheses) and GFLOP/s on CPU time.");
    println!("| layer | pass | im2col + GEMM µs | direct µs | im2col GFLOP/s | direct GFLOP/s |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for (name, x, filters, reps) in [
        ("8×8×1 → 16", [64, 8, 8, 1], 16, 200),
        ("32×32×32 → 64", [64, 32, 32, 32], 64, 2),
    ] {
        let forward_flops = 2.0 * (x[0] * x[1] * x[2] * filters * 9 * x[3]) as f64;
        for (pass, backward, flops) in [
            ("forward", false, forward_flops),
            ("forward + backward", true, 3.0 * forward_flops),
        ] {
            let graphs = [false, true].map(|direct| conv_layer(x, filters, direct, backward));
            let t = time_interleaved(&graphs, reps);
            let rate = |(_, cpu): (f64, f64)| flops / cpu / 1e3;
            let us = |(wall, cpu): (f64, f64)| format!("{cpu:.1} ({wall:.1})");
            println!(
                "| {name} | {pass} | {} | {} | {:.1} | {:.1} |",
                us(t[0]),
                us(t[1]),
                rate(t[0]),
                rate(t[1])
            );
        }
    }
}

fn main() {
    if std::env::args().skip(1).any(|a| a == "conv") {
        conv_rates();
        return;
    }
    if let Some(dims) = std::env::args().skip(1).find(|a| a.starts_with("unary=")) {
        let d: Vec<usize> = dims[6..]
            .split('x')
            .filter_map(|x| x.parse().ok())
            .collect();
        if let [r, c] = d[..] {
            unary_rate(r, c);
        }
        return;
    }
    if let Some(dims) = std::env::args().skip(1).find(|a| a.starts_with("gemm=")) {
        let d: Vec<usize> = dims[5..]
            .split('x')
            .filter_map(|x| x.parse().ok())
            .collect();
        if let [m, k, n] = d[..] {
            gemm_rate(m, k, n);
        }
        return;
    }
    let which: Vec<String> = std::env::args()
        .skip(1)
        .find(|a| a.starts_with('W'))
        .map(|a| a.split(',').map(str::to_owned).collect())
        .unwrap_or_else(|| ["W1", "W2", "W3", "W4", "W5"].map(String::from).to_vec());
    println!("| workload | µs/step probes off | µs/step probes on | overhead | compile ms |");
    println!("| --- | --- | --- | --- | --- |");
    for w in which {
        let (off, on, compile_ms) = time_step(&w);
        let overhead = (on / off - 1.0) * 100.0;
        println!("| {w} | {off:.1} | {on:.1} | {overhead:+.1}% | {compile_ms:.1} |");
    }
}
