//! `netc check FILE...`: parse and check files, report diagnostics.

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// The .net files to check.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

pub fn run(args: CheckArgs) -> ExitCode {
    eprintln!("netc check: the front end is not built yet ({} files)", args.files.len());
    ExitCode::FAILURE
}
