//! `netc fmt FILE [--check] [--write]`: print (or check, or write back) the canonical
//! formatting of a file.

use super::check::read_source;
use crate::diag;
use std::io::IsTerminal;
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
        Ok(src) => src,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::FAILURE;
        }
    };
    let formatted = match crate::syntax::format_source(&src) {
        Ok(text) => text,
        Err(diags) => {
            let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            eprint!("{}", diag::render(&diags, &name, &src, color));
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
