//! `netc export FILE --torch OUT.py`: the model as a PyTorch module (src/export/torch.rs).

use super::common::{self, ModelArgs};
use crate::export::torch;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Write a PyTorch module (`nn.Module`, optimizer, schedule, clipping, a weights loader)
    /// to this Python file; `-` prints it.
    #[arg(long, value_name = "OUT.py")]
    pub torch: PathBuf,
}

pub fn run(args: ExportArgs) -> ExitCode {
    let Ok(loaded) = common::load(&args.model) else {
        return ExitCode::FAILURE;
    };
    let file = args.model.file.display().to_string();
    let origin = torch::Origin {
        file: &file,
        version: env!("CARGO_PKG_VERSION"),
    };
    let text = torch::module(&loaded.model, &origin);
    if args.torch.as_os_str() == "-" {
        print!("{text}");
        return ExitCode::SUCCESS;
    }
    match crate::params::write_file_atomically(&args.torch, text.as_bytes()) {
        Ok(()) => {
            println!("wrote {}", args.torch.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: cannot write {}: {e}", args.torch.display());
            ExitCode::FAILURE
        }
    }
}
