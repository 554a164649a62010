//! `netc params FILE`: list the model's parameters with their names, shapes and inits; with
//! `--like W.safetensors`, propose the name map that loads a file named by another tool.

use super::common::{self, ModelArgs};
use crate::params::names::{self, Expected, Proposal};
use crate::params::ParamStore;
use crate::step::{self, StepOptions};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct ParamsArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Propose the name map from this file's names to the model's, matching layers by their
    /// tensors' shapes and the file's numbered order (`nn.Sequential`'s `0.weight`, `2.weight`).
    #[arg(long, value_name = "W.safetensors")]
    pub like: Option<PathBuf>,
    /// With `--like`: print only the map, as the JSON `--name-map` reads.
    #[arg(long, requires = "like")]
    pub json: bool,
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
    match &args.like {
        Some(like) => propose(&args, like, &program.params),
        None => {
            list(&program.params);
            ExitCode::SUCCESS
        }
    }
}

fn list(params: &[crate::lower::ParamSpec]) {
    let mut total = 0;
    println!("{:<32} {:>14} {:>10}  init", "name", "shape", "count");
    for p in params {
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
}

/// Prints the proposed map (a table, or the JSON alone with `--json`) and every name it could
/// not place on stderr; fails when anything is left unplaced, so a script notices.
fn propose(
    args: &ParamsArgs,
    like: &std::path::Path,
    params: &[crate::lower::ParamSpec],
) -> ExitCode {
    let store = match ParamStore::load_safetensors(like) {
        Ok((store, _)) => store,
        Err(e) => {
            common::report(e);
            return ExitCode::FAILURE;
        }
    };
    let expected: Vec<Expected<'_>> = (params.iter())
        .map(|p| Expected {
            name: &p.name,
            layer: &p.layer,
            shape: &p.shape,
        })
        .collect();
    let proposal = names::propose(&store, &expected);
    if args.json {
        print!("{}", proposal.to_json());
    } else {
        print_table(&proposal, store.len(), args, like);
    }
    for problem in &proposal.unplaced {
        eprintln!("error: {}: {problem}", like.display());
    }
    if proposal.unplaced.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!("help: edit the map (`--json` prints it) or add `--rename` rules for the rest");
        ExitCode::FAILURE
    }
}

/// The pairs, then how to hand them back to `--name-map`.
fn print_table(proposal: &Proposal, in_file: usize, args: &ParamsArgs, like: &std::path::Path) {
    println!("{:<32} {:<32} shape", "in the file", "in the model");
    for m in &proposal.matched {
        println!("{:<32} {:<32} {:?}", m.file_name, m.model_name, m.shape);
    }
    let file = args.model.file.display();
    println!(
        "{} of {} tensors placed; to use the map: netc params {file} --like {} --json > map.json, then --name-map map.json",
        proposal.matched.len(),
        in_file,
        like.display()
    );
}
