//! `netc ir FILE`: print the IR of the forward program, the whole training step, or the
//! Cranelift IR generated for it.

use super::common::{self, ModelArgs};
use crate::ir::{passes, print};
use crate::step::{self, StepOptions};
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct IrArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Print the whole training step (forward, backward, probes, clipping, optimizer).
    #[arg(long)]
    pub grad: bool,
    /// What to print.
    #[arg(long, value_enum, default_value = "ir")]
    pub emit: Emit,
    /// Print the program as lowered, before the simplification passes.
    #[arg(long)]
    pub no_opt: bool,
    /// The batch size the program is built for (default: the train section's).
    #[arg(long)]
    pub batch: Option<usize>,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Emit {
    /// The tensor IR, one op a line.
    Ir,
    /// The Cranelift IR of the generated kernels.
    Clif,
    /// The x86-64 machine code of the generated kernels, as Cranelift disassembles it.
    Asm,
}

pub fn run(args: IrArgs) -> ExitCode {
    let Ok(loaded) = common::load(&args.model) else {
        return ExitCode::FAILURE;
    };
    let model = &loaded.model;
    let batch = args.batch.unwrap_or(model.train.batch);
    let mut graph = if args.grad {
        step::build_step(model, batch, &StepOptions::default()).graph
    } else {
        step::build_eval(model, batch).0
    };
    if !args.no_opt {
        graph = passes::optimize(&graph);
    }
    match args.emit {
        Emit::Ir => print!("{}", print::print_with_source(&graph, &loaded.src)),
        Emit::Clif | Emit::Asm => {
            let opts = crate::codegen::JitOptions::default();
            let text = if args.emit == Emit::Clif {
                crate::codegen::emit_clif(&graph, &opts)
            } else {
                crate::codegen::emit_asm(&graph, &opts)
            };
            match text {
                Ok(text) => print!("{text}"),
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
    }
    ExitCode::SUCCESS
}
