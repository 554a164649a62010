//! `netc fmt FILE [--check] [--write]`: print (or check, or write back) the canonical
//! formatting of a file.

use super::common::{read_source, stderr_color};
use crate::diag;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct FmtArgs {
    /// The .net file to format.
    pub file: PathBuf,
    /// Exit 1 when the file is not formatted canonically; print nothing else.
    #[arg(long, conflicts_with = "write")]
    pub check: bool,
    /// Write the formatted text back to the file instead of printing it.
    #[arg(long)]
    pub write: bool,
}

pub fn run(args: FmtArgs) -> ExitCode {
    let name = args.file.display().to_string();
    let src = match read_source(&args.file) {
        Ok(source) => {
            if let Some(encoding) = source.encoding {
                // Formatting would write the replacement characters back into the file.
                eprint!(
                    "{}",
                    diag::render(&[encoding], &name, &source.text, stderr_color())
                );
                return ExitCode::FAILURE;
            }
            source.text
        }
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::FAILURE;
        }
    };
    let formatted = match crate::syntax::format_source(&src) {
        Ok(text) => text,
        Err(diags) => {
            eprint!("{}", diag::render(&diags, &name, &src, stderr_color()));
            return ExitCode::FAILURE;
        }
    };
    if args.check {
        if formatted == src {
            return ExitCode::SUCCESS;
        }
        eprintln!("{name}: not formatted (run `netc fmt --write {name}`)");
        return ExitCode::FAILURE;
    }
    if args.write {
        if formatted != src {
            if let Err(err) = std::fs::write(&args.file, &formatted) {
                eprintln!("error: cannot write {name}: {err}");
                return ExitCode::FAILURE;
            }
        }
        return ExitCode::SUCCESS;
    }
    print!("{formatted}");
    ExitCode::SUCCESS
}
