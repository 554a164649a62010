//! `netc params FILE`: list the model's parameters with their names, shapes and inits.

use super::common::{self, ModelArgs};
use crate::step::{self, StepOptions};
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct ParamsArgs {
    #[command(flatten)]
    pub model: ModelArgs,
}

pub fn run(args: ParamsArgs) -> ExitCode {
    let Ok(loaded) = common::load(&args.model) else {
        return ExitCode::FAILURE;
    };
    let program = step::build_step(
        &loaded.model,
        loaded.model.train.batch,
        &StepOptions { probes: false },
    );
    let mut total = 0;
    println!("{:<32} {:>14} {:>10}  init", "name", "shape", "count");
    for p in &program.params {
        let count: usize = p.shape.iter().product();
        if p.kind.trainable() {
            total += count;
        }
        let shape = format!("{:?}", p.shape);
        let init = if p.kind.trainable() {
            format!("{:?}", p.init)
        } else {
            format!("{:?} (running statistic)", p.init)
        };
        println!("{:<32} {:>14} {:>10}  {}", p.name, shape, count, init);
    }
    println!("{total} trainable parameters");
    ExitCode::SUCCESS
}
