//! Timing the compiled training step of a model: compile time, µs per step with and without
//! the probes, on a fixed in-memory batch (what `netc bench` reports). Numbers, not tests.

use super::exec::{self, Backend, ExecError, ExecOptions, Program};
use super::train::initial_params;
use crate::ir::Graph;
use crate::lower;
use crate::model::{Loss, Model};
use crate::step::{self, StepOptions, StepProgram};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

/// How long to measure.
#[derive(Debug, Clone, Copy)]
pub struct BenchOptions {
    pub backend: Backend,
    /// Steps per timed round.
    pub steps: usize,
    /// Rounds; probes-on and probes-off rounds alternate so machine load hits both alike.
    pub rounds: usize,
    /// Threads for the JIT's large library matrix products (1: everything on the calling
    /// thread; products below `codegen::THREADED_GEMM_MACS` always run there).
    pub threads: usize,
}

/// What one model's step costs.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BenchResult {
    pub model: String,
    pub batch: usize,
    /// Lowering, autodiff, passes and code generation of the step with probes, in ms.
    pub compile_ms: f64,
    /// Median over rounds of µs per step (run + applying the updates).
    pub us_per_step: f64,
    pub us_per_step_no_probes: f64,
    /// us_per_step / us_per_step_no_probes − 1, in percent (median of paired rounds).
    pub probe_overhead_pct: f64,
    /// Multiply-adds of the dense layers' products per step (forward + both backward), ×2 = flops.
    pub matmul_flops: f64,
}

/// Compiles and times the training step of `model`.
pub fn bench(model: &Model, opts: &BenchOptions) -> Result<BenchResult, ExecError> {
    let batch = model.train.batch;
    let started = Instant::now();
    let with = step::build_step(model, batch, &StepOptions { probes: true });
    let mut prog_with = compile(&with.graph, opts)?;
    let compile_ms = started.elapsed().as_secs_f64() * 1e3;
    let without = step::build_step(model, batch, &StepOptions { probes: false });
    let mut prog_without = compile(&without.graph, opts)?;
    prepare(model, &with, prog_with.as_mut())?;
    prepare(model, &without, prog_without.as_mut())?;
    let warmup = (opts.steps / 5).max(2);
    time_steps(prog_with.as_mut(), warmup);
    time_steps(prog_without.as_mut(), warmup);
    let (mut on, mut off, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..opts.rounds.max(1) {
        let a = time_steps(prog_with.as_mut(), opts.steps);
        let b = time_steps(prog_without.as_mut(), opts.steps);
        on.push(a);
        off.push(b);
        ratio.push(a / b);
    }
    Ok(BenchResult {
        model: model.name.clone(),
        batch,
        compile_ms,
        us_per_step: median(&mut on),
        us_per_step_no_probes: median(&mut off),
        probe_overhead_pct: (median(&mut ratio) - 1.0) * 100.0,
        matmul_flops: matmul_flops(&crate::ir::passes::optimize(&with.graph)),
    })
}

/// The program as the training loop compiles it, the JIT's large products on `opts.threads`.
fn compile(graph: &Graph, opts: &BenchOptions) -> Result<Box<dyn Program>, ExecError> {
    exec::compile_with(
        graph,
        ExecOptions {
            backend: opts.backend,
            threads: opts.threads,
        },
    )
}

/// Initial parameters, zero optimizer state, a random batch valid for the loss.
fn prepare(model: &Model, program: &StepProgram, prog: &mut dyn Program) -> Result<(), ExecError> {
    for (name, t) in initial_params(model, &program.params).iter() {
        prog.set_leaf(name, &t.data)?;
    }
    for s in &program.state {
        prog.set_leaf(&s.name, &vec![0.0; s.shape.iter().product()])?;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(model.train.seed);
    for (name, shape) in program.graph.inputs() {
        let n: usize = shape.iter().product();
        let data: Vec<f32> = match name {
            lower::INPUT_Y => targets(model.train.loss, shape, &mut rng),
            lower::INPUT_MASK | lower::INPUT_STEP => vec![1.0; n],
            step::INPUT_LR => vec![model.train.optimizer.lr() as f32],
            _ => (0..n).map(|_| rng.random_range(-1.0..1.0)).collect(),
        };
        prog.set_leaf(name, &data)?;
    }
    Ok(())
}

fn targets(loss: Loss, shape: &[usize], rng: &mut ChaCha8Rng) -> Vec<f32> {
    let (rows, k) = (shape[0], shape[1]);
    match loss {
        Loss::CrossEntropy => {
            let mut y = vec![0.0; rows * k];
            for r in 0..rows {
                y[r * k + rng.random_range(0..k)] = 1.0;
            }
            y
        }
        Loss::BinaryCrossEntropy => (0..rows * k)
            .map(|_| f32::from(u8::from(rng.random::<bool>())))
            .collect(),
        Loss::Mse => (0..rows * k).map(|_| rng.random_range(0.0..1.0)).collect(),
    }
}

/// µs per step over `steps` steps.
fn time_steps(prog: &mut dyn Program, steps: usize) -> f64 {
    let start = Instant::now();
    for _ in 0..steps {
        // Errors cannot happen after a successful first run of the same program.
        let _ = prog.run();
        prog.apply_updates();
    }
    start.elapsed().as_secs_f64() * 1e6 / steps.max(1) as f64
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// 2·m·k·n for every matrix product of the (optimized) step program.
fn matmul_flops(g: &crate::ir::Graph) -> f64 {
    g.nodes
        .iter()
        .filter_map(|n| {
            let crate::ir::Op::MatMul { a, trans_a, .. } = &n.op else {
                return None;
            };
            let sa = g.shape(*a);
            let k = if *trans_a { sa[0] } else { sa[1] };
            Some(2.0 * (n.shape[0] * n.shape[1] * k) as f64)
        })
        .sum()
}
