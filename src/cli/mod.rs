//! The command line: argument parsing and dispatch. Each command lives in its own file and
//! returns an exit code; only this module and the runtime's data/checkpoint code do IO.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod analyze;
mod args;
mod bench;
mod check;
mod common;
mod compare;
mod eval;
mod export;
mod fmt;
mod gradcheck;
mod grid;
mod ir;
mod live;
mod out;
mod params;
mod repl;
mod report;
mod sweep;
mod train;

#[derive(Parser, Debug)]
#[command(
    name = "netc",
    version,
    about = "Compile, train and diagnose neural networks written in the .net language"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Parse and check .net files; report every error and warning.
    Check(check::CheckArgs),
    /// Predict, before training, where gradients will vanish or explode; lint the model.
    Analyze(analyze::AnalyzeArgs),
    /// Train several .net files with the same seed and data, side by side.
    Compare(compare::CompareArgs),
    /// Print a .net file in canonical formatting.
    Fmt(fmt::FmtArgs),
    /// Train a model: progress, per-layer gradient probes, checkpoints, a run folder.
    Train(train::TrainArgs),
    /// A grid of variants in one folder, trained here or as a Slurm job array, merged.
    Sweep(sweep::SweepArgs),
    /// Loss and accuracy of trained weights on the validation (and test) data, or on the
    /// training data when nothing is held out.
    Eval(eval::EvalArgs),
    /// Predictions of trained weights on a CSV of features.
    Predict(eval::PredictArgs),
    /// The loss and every parameter's gradient on the first batch, as safetensors.
    Grad(eval::GradArgs),
    /// Write the model as a PyTorch module, with its optimizer, schedule and a weights loader.
    Export(export::ExportArgs),
    /// Compare reverse-mode gradients with finite differences on every parameter.
    Gradcheck(gradcheck::GradcheckArgs),
    /// Print the IR of the forward program or the training step, or the generated code.
    Ir(ir::IrArgs),
    /// Diagnose a training run: per-layer status, findings with remedies, plots, HTML.
    Report(report::ReportArgs),
    /// List the model's parameters: names, shapes, counts, inits.
    Params(params::ParamsArgs),
    /// Time the compiled training step (µs/step, compile time, probe cost) against the anchors.
    Bench(bench::BenchArgs),
    /// An interactive session: edit a model, train, compare per-layer gradients (or a script on stdin).
    Repl(repl::ReplArgs),
}

/// Runs the command line; the binary's `main` is only this.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check(args) => check::run(args),
        Command::Analyze(args) => analyze::run(args),
        Command::Compare(args) => compare::run(args),
        Command::Fmt(args) => fmt::run(args),
        // `--variant`/`--shard` train some variants of a sweep; `--vary` trains them all side
        // by side: the comparison's job, not one run's.
        Command::Train(args) if args.sweep.selects() => sweep::train_selected(&args),
        Command::Train(args) if !args.vary.is_empty() || args.sweep.seeds.is_some() => {
            compare::run_vary(&args)
        }
        Command::Sweep(args) => sweep::run(args),
        Command::Train(args) => train::run(args),
        Command::Eval(args) => eval::run_eval(args),
        Command::Predict(args) => eval::run_predict(args),
        Command::Grad(args) => eval::run_grad(args),
        Command::Export(args) => export::run(args),
        Command::Gradcheck(args) => gradcheck::run(args),
        Command::Ir(args) => ir::run(args),
        Command::Params(args) => params::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Repl(args) => repl::run(args),
        Command::Report(args) => report::run(args),
    }
}
