//! `netc gradcheck FILE`: reverse-mode gradients against central finite differences in f64, on
//! every parameter of the model, with a small random batch and dropout off; with `--backend
//! jit` (the default) also the JIT's gradients, computed in f32 by the compiled kernel, against
//! the f64 ones.
//!
//! Every error is [`gradcheck::relative_error_beyond`], max(0, |a − n| − r) / max(|a|, |n|,
//! 10⁻³), from [`gradcheck::best_agreement`]: an element passes when its disagreement beyond
//! r = 16·ε·|L|/h, the round-off a difference quotient of the loss L carries at step h, is
//! within the tolerance; without r, models whose loss is large (exploding ones) would fail on
//! round-off alone. Each element takes the best agreement over steps h = 10⁻⁴…10⁻⁷·max(1, |x|).

use super::common::{self, ModelArgs};
use crate::gradcheck::{self, GradCheckError, Options};
use crate::ir::{interp, Graph, Role, Tensor};
use crate::lower::{self, LowerOptions};
use crate::model::{Loss, Model};
use crate::runtime::exec::{self, Backend, ExecError};
use crate::runtime::train::initial_params;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use std::collections::HashMap;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct GradcheckArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Rows in the random batch.
    #[arg(long, default_value_t = 4)]
    pub batch: usize,
    /// Elements checked per parameter (a seeded sample; all when the tensor is smaller).
    #[arg(long, default_value_t = 32)]
    pub samples: usize,
    /// Largest relative error (beyond round-off) of the f64 gradients that passes.
    #[arg(long, default_value_t = 1e-5)]
    pub tolerance: f64,
}

/// Largest relative error of the JIT's f32 gradients against the f64 ones that passes (the
/// denominator floored at the tensor's largest gradient). f32 keeps 24 bits (ε ≈ 6·10⁻⁸); the
/// forward and backward sums of the examples lose a few more digits, to at most 5.5·10⁻⁶
/// (batchnorm.net; docs/cli.md), while a wrong kernel is off by far more than 10⁻⁴.
pub const JIT_TOLERANCE: f64 = 1e-4;

/// What can stop a check: the gradient program itself, or compiling and running it on the JIT.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    Gradient(#[from] GradCheckError),
    #[error(transparent)]
    Jit(#[from] ExecError),
}

pub fn run(args: GradcheckArgs) -> ExitCode {
    let Ok(loaded) = common::load(&args.model) else {
        return ExitCode::FAILURE;
    };
    match check(&loaded.model, &args) {
        Ok(rows) => {
            if print(&rows, args.tolerance) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Prints the table and the verdict; whether every row passes.
fn print(rows: &[Row], tolerance: f64) -> bool {
    let jit = rows.iter().any(|r| r.jit.is_some());
    let jit_header = if jit { "jit vs f64" } else { "" };
    println!(
        "{:<32} {:>12} {:>12} {:>16} {jit_header:>12}",
        "parameter", "max rel err", "max abs err", "beyond round-off"
    );
    let (mut worst, mut worst_jit): (f64, f64) = (0.0, 0.0);
    for row in rows {
        let jit_err = row.jit.map_or(String::new(), |e| format!("{e:.3e}"));
        println!(
            "{:<32} {:>12.3e} {:>12.3e} {:>16.3e} {jit_err:>12}",
            row.name, row.rel, row.abs, row.beyond_round_off
        );
        worst = worst.max(row.beyond_round_off);
        worst_jit = worst_jit.max(row.jit.unwrap_or(0.0));
    }
    let ok = worst <= tolerance && worst_jit <= JIT_TOLERANCE;
    let jit_verdict = if jit {
        format!("; the JIT's f32 gradients within {worst_jit:.3e} of the f64 ones (tolerance {JIT_TOLERANCE:.1e})")
    } else {
        String::new()
    };
    println!(
        "{}: worst relative error beyond round-off {worst:.3e} (tolerance {tolerance:.1e}){jit_verdict}",
        if ok { "ok" } else { "FAILED" },
    );
    ok
}

/// How well one parameter's gradient agrees with finite differences, over its sampled elements.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub name: String,
    /// The largest relative error.
    pub rel: f64,
    /// The largest absolute error.
    pub abs: f64,
    /// The largest relative error beyond the difference quotient's round-off: what passes or
    /// fails.
    pub beyond_round_off: f64,
    /// With `--backend jit`: the largest relative error of the JIT's f32 gradient against the
    /// f64 one over the same elements, the denominator floored at the tensor's largest
    /// gradient.
    pub jit: Option<f64>,
}

/// One [`Row`] for every trainable parameter.
pub fn check(model: &Model, args: &GradcheckArgs) -> Result<Vec<Row>, CheckError> {
    let opts = LowerOptions {
        dropout: false,
        ..LowerOptions::train(args.batch)
    };
    let fwd = lower::lower(model, &opts);
    let mut env: HashMap<String, Tensor<f64>> = HashMap::new();
    for (name, t) in initial_params(model, &fwd.params).iter() {
        env.insert(name.to_owned(), t.to_f64());
    }
    let mut rng = ChaCha8Rng::seed_from_u64(model.train.seed);
    for (name, shape) in fwd.graph.inputs() {
        env.insert(name.to_owned(), random_input(name, shape, model, &mut rng));
    }
    let trainable: Vec<&str> = fwd
        .params
        .iter()
        .filter(|p| p.kind.trainable())
        .map(|p| p.name.as_str())
        .collect();
    let program = gradcheck::gradient_program(&fwd.graph, fwd.loss, &trainable)?;
    let analytic = interp::run(&program, &env).map_err(GradCheckError::from)?;
    let jit = match args.model.backend {
        Backend::Jit => Some(jit_gradients(&program, &env)?),
        Backend::Interp => None,
    };
    let mut forward = fwd.graph.clone();
    forward.add_output("loss", fwd.loss, Role::Loss);
    let loss_scale = interp::run(&forward, &env).map_err(GradCheckError::from)?[0].data[0].abs();
    let mut rows = Vec::new();
    for (p, (name, grad)) in trainable.iter().zip(&analytic).enumerate() {
        let n = grad.data.len();
        let picks: Vec<usize> = if n <= args.samples {
            (0..n).collect()
        } else {
            (0..args.samples).map(|_| rng.random_range(0..n)).collect()
        };
        let jit = jit.as_ref().map(|j| j[p].as_slice());
        let checked = Checked { name, grad, jit };
        rows.push(row(&forward, &mut env, &checked, &picks, loss_scale)?);
    }
    Ok(rows)
}

/// One parameter's gradients: the f64 ones, and the JIT's when it ran.
struct Checked<'a> {
    name: &'a str,
    grad: &'a Tensor<f64>,
    jit: Option<&'a [f32]>,
}

/// The [`Row`] of one parameter over its sampled elements `picks`.
fn row(
    forward: &Graph,
    env: &mut HashMap<String, Tensor<f64>>,
    checked: &Checked<'_>,
    picks: &[usize],
    loss_scale: f64,
) -> Result<Row, CheckError> {
    let opts = Options::default();
    let grad = &checked.grad.data;
    // f32 round-off follows the size of the terms a gradient sums, not of a result that
    // cancels (a batchnorm scale's Σ dy·x̂ over a small batch), so the JIT's error is
    // relative to the tensor's largest gradient.
    let jit_floor = grad.iter().fold(opts.floor, |m, g| m.max(g.abs()));
    let mut row = Row {
        name: checked.name.to_owned(),
        rel: 0.0,
        abs: 0.0,
        beyond_round_off: 0.0,
        jit: checked.jit.map(|_| 0.0),
    };
    for &i in picks {
        let element = (checked.name, i);
        let a = gradcheck::best_agreement(forward, env, element, grad[i], loss_scale, &opts)?;
        row.rel = row.rel.max(a.rel);
        row.abs = row.abs.max(a.abs);
        row.beyond_round_off = row.beyond_round_off.max(a.beyond_round_off);
        if let (Some(worst), Some(jit)) = (row.jit.as_mut(), checked.jit) {
            let error = gradcheck::relative_error(f64::from(jit[i]), grad[i], jit_floor);
            *worst = worst.max(error);
        }
    }
    Ok(row)
}

/// The gradient program compiled by the JIT and run once at `env` (rounded to f32): one
/// gradient per output, in order.
pub fn jit_gradients(
    program: &Graph,
    env: &HashMap<String, Tensor<f64>>,
) -> Result<Vec<Vec<f32>>, ExecError> {
    let mut compiled = exec::compile(program, Backend::Jit)?;
    for (name, value) in env {
        let data: Vec<f32> = value.data.iter().map(|&x| x as f32).collect();
        match compiled.set_leaf(name, &data) {
            // The simplification passes drop leaves no gradient reads (the step counter of a
            // model without Adam or dropout): there is nothing to set.
            Ok(()) | Err(ExecError::UnknownLeaf(_)) => {}
            Err(e) => return Err(e),
        }
    }
    compiled.run()?;
    Ok((0..program.outputs.len())
        .map(|i| compiled.output(i).to_vec())
        .collect())
}

/// A random value for a program input: gaussian features, targets the loss accepts, every
/// row counted, step 1.
fn random_input(name: &str, shape: &[usize], model: &Model, rng: &mut ChaCha8Rng) -> Tensor<f64> {
    let n: usize = shape.iter().product();
    let data: Vec<f64> = match name {
        lower::INPUT_Y => match model.train.loss {
            Loss::CrossEntropy => {
                let k = shape[1];
                let mut y = vec![0.0; n];
                for row in 0..shape[0] {
                    y[row * k + rng.random_range(0..k)] = 1.0;
                }
                y
            }
            Loss::BinaryCrossEntropy => (0..n)
                .map(|_| f64::from(u8::from(rng.random::<bool>())))
                .collect(),
            Loss::Mse => (0..n).map(|_| rng.sample(StandardNormal)).collect(),
        },
        lower::INPUT_MASK => vec![1.0; n],
        lower::INPUT_STEP => vec![1.0; n],
        _ => (0..n).map(|_| rng.sample(StandardNormal)).collect(),
    };
    Tensor::new(shape.to_vec(), data)
}
