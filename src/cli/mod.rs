//! The command line: argument parsing and dispatch. Each command lives in its own file and
//! returns an exit code; only this module and the runtime's data/checkpoint code do IO.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod check;
mod fmt;

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
    /// Print a .net file in canonical formatting.
    Fmt(fmt::FmtArgs),
}

/// Runs the command line; the binary's `main` is only this.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check(args) => check::run(args),
        Command::Fmt(args) => fmt::run(args),
    }
}
