//! `netc gradcheck FILE`: reverse-mode gradients against central finite differences in f64, on
//! every parameter of the model, with a small random batch and dropout off.
//!
//! The relative error of an element is [`gradcheck::relative_error`], |a − n| / max(|a|, |n|,
//! 10⁻³), the formula the tests use. An element passes when its disagreement beyond r =
//! 16·ε·|L|/h, the round-off a difference quotient of the loss L carries at step h, is within
//! the tolerance; without r, models whose loss is large (exploding ones) would fail on
//! round-off alone. Each element takes the best agreement over steps h = 10⁻⁴…10⁻⁷·max(1, |x|).

use super::common::{self, ModelArgs};
use crate::gradcheck::{self, Options};
use crate::ir::{interp, Role, Tensor};
use crate::lower::{self, LowerOptions};
use crate::model::{Loss, Model};
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
    /// Largest relative error that passes.
    #[arg(long, default_value_t = 1e-5)]
    pub tolerance: f64,
}

/// Step sizes tried, as multiples of the default relative step 10⁻⁵.
const STEP_SCALES: [f64; 4] = [10.0, 1.0, 0.1, 0.01];

pub fn run(args: GradcheckArgs) -> ExitCode {
    let Ok(loaded) = common::load(&args.model) else {
        return ExitCode::FAILURE;
    };
    match check(&loaded.model, &args) {
        Ok(rows) => {
            println!(
                "{:<32} {:>12} {:>12} {:>16}",
                "parameter", "max rel err", "max abs err", "beyond round-off"
            );
            let mut worst: f64 = 0.0;
            for row in &rows {
                println!(
                    "{:<32} {:>12.3e} {:>12.3e} {:>16.3e}",
                    row.name, row.rel, row.abs, row.beyond_round_off
                );
                worst = worst.max(row.beyond_round_off);
            }
            let ok = worst <= args.tolerance;
            println!(
                "{}: worst relative error beyond round-off {worst:.3e} (tolerance {:.1e})",
                if ok { "ok" } else { "FAILED" },
                args.tolerance
            );
            if ok {
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
}

/// One [`Row`] for every trainable parameter.
pub fn check(model: &Model, args: &GradcheckArgs) -> Result<Vec<Row>, gradcheck::GradCheckError> {
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
    let analytic = gradcheck::analytic_gradients(&fwd.graph, fwd.loss, &trainable, &env)?;
    let mut forward = fwd.graph.clone();
    forward.add_output("loss", fwd.loss, Role::Loss);
    let check_opts = Options::default();
    let loss_at_start = interp::run(&forward, &env)?[0].data[0].abs();
    let mut rows = Vec::new();
    for (name, grad) in trainable.iter().zip(&analytic) {
        let n = grad.data.len();
        let picks: Vec<usize> = if n <= args.samples {
            (0..n).collect()
        } else {
            (0..args.samples).map(|_| rng.random_range(0..n)).collect()
        };
        let (mut max_rel, mut max_abs, mut max_beyond) = (0.0f64, 0.0f64, 0.0f64);
        for i in picks {
            let x = env[*name].data[i];
            // The best agreement over a few step sizes: truncation error shrinks with h and
            // round-off grows, so a correct gradient agrees at some h, and a wrong rule at none
            // (steep losses, such as a recurrent net in its chaotic regime, need small h).
            let (mut best_rel, mut best_abs, mut best_beyond) =
                (f64::INFINITY, f64::INFINITY, f64::INFINITY);
            for scale in STEP_SCALES {
                let h = check_opts.step * scale * x.abs().max(1.0);
                let mut at = |xi: f64| -> Result<f64, gradcheck::GradCheckError> {
                    if let Some(t) = env.get_mut(*name) {
                        t.data[i] = xi;
                    }
                    Ok(interp::run(&forward, &env)?[0].data[0])
                };
                let numeric = (at(x + h)? - at(x - h)?) / (2.0 * h);
                at(x)?;
                // The difference quotient of a loss of size |L| carries a round-off error of
                // about a few ulps of |L| divided by h; only disagreement beyond that counts.
                let round_off = 16.0 * f64::EPSILON * loss_at_start / h;
                let abs = (grad.data[i] - numeric).abs();
                let denom = grad.data[i].abs().max(numeric.abs()).max(check_opts.floor);
                let rel = gradcheck::relative_error(grad.data[i], numeric, check_opts.floor);
                best_rel = best_rel.min(rel);
                best_beyond = best_beyond.min((abs - round_off).max(0.0) / denom);
                best_abs = best_abs.min(abs);
            }
            max_rel = max_rel.max(best_rel);
            max_abs = max_abs.max(best_abs);
            max_beyond = max_beyond.max(best_beyond);
        }
        rows.push(Row {
            name: (*name).to_owned(),
            rel: max_rel,
            abs: max_abs,
            beyond_round_off: max_beyond,
        });
    }
    Ok(rows)
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
