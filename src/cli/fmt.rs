//! `netc fmt FILE`: print the canonical formatting of a file.

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct FmtArgs {
    /// The .net file to format.
    pub file: PathBuf,
}

pub fn run(args: FmtArgs) -> ExitCode {
    eprintln!("netc fmt: the front end is not built yet ({})", args.file.display());
    ExitCode::FAILURE
}
