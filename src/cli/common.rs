//! What every command that runs a model shares: reading and checking the file, printing its
//! diagnostics, and the `--set` / `--backend` / `--threads` flags.

use crate::diag;
use crate::model::Model;
use crate::runtime::exec::{Backend, ExecOptions};
use crate::sema::{self, Override};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// Flags shared by the commands that compile a model.
#[derive(clap::Args, Debug, Clone)]
pub struct ModelArgs {
    /// The .net file.
    pub file: PathBuf,
    /// Override a setting of the train section, e.g. `--set optimizer.lr=0.01`, `--set clip=none`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Which backend runs the programs.
    #[arg(long, value_enum, default_value = "jit")]
    pub backend: Backend,
}

/// The `--threads` flag of the commands that run a model's compiled programs.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct ThreadArgs {
    /// Threads for the JIT's large library matrix products (at least 2^24 multiply-adds;
    /// smaller ones stay on one thread). Results are the same for every value.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: u16,
}

impl ThreadArgs {
    /// How to compile the programs of `model`'s command.
    pub fn exec(&self, model: &ModelArgs) -> ExecOptions {
        ExecOptions {
            backend: model.backend,
            threads: usize::from(self.threads),
        }
    }
}

/// A checked model with the folder its relative paths resolve against.
pub struct Loaded {
    pub model: Model,
    pub base_dir: PathBuf,
    pub src: String,
}

impl Loaded {
    /// The model's data as training loads it: same seed, same split, scaling statistics from
    /// the training split.
    pub fn load_data(&self) -> Result<crate::data::Splits, crate::data::DataError> {
        let t = &self.model.train;
        crate::data::load(&t.data, &self.base_dir, t.seed, t.loss)
    }
}

/// Reads and checks `args.file` with its overrides; prints the diagnostics (warnings too) to
/// stderr. `Err` means the caller should exit with failure.
pub fn load(args: &ModelArgs) -> Result<Loaded, ()> {
    let mut overrides = Vec::new();
    for s in &args.set {
        match Override::parse(s) {
            Ok(o) => overrides.push(o),
            Err(e) => {
                eprintln!("error: bad --set `{s}`: {e}");
                return Err(());
            }
        }
    }
    load_with(&args.file, &overrides)
}

pub fn load_with(file: &Path, overrides: &[Override]) -> Result<Loaded, ()> {
    let src = match std::fs::read_to_string(file) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", file.display());
            return Err(());
        }
    };
    let name = file.display().to_string();
    let mut checked = sema::check_source(&name, &src, overrides);
    // The bound through time was the checker's warning before it moved to `health`; every
    // command that loads a model keeps showing it.
    if let Some(model) = &checked.model {
        let through_time = crate::health::lint::vanishing_through_time(model);
        checked.diagnostics.extend(through_time);
    }
    if !checked.diagnostics.is_empty() {
        eprint!(
            "{}",
            diag::render(
                &checked.diagnostics,
                &name,
                &src,
                std::io::stderr().is_terminal()
            )
        );
    }
    let model = checked.model.ok_or(())?;
    let base_dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
    Ok(Loaded {
        model,
        base_dir,
        src,
    })
}

/// Prints a runtime error (a miette diagnostic) to stderr.
pub fn report(err: impl miette::Diagnostic + Send + Sync + 'static) {
    eprintln!("{:?}", miette::Report::new(err));
}

/// 1-based line of a span in the source, for messages that point at the user's file.
pub fn line_of(src: &str, span: crate::span::Span) -> usize {
    span.line_col(src).0
}
