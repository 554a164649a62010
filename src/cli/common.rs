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
    let source = match read_source(file) {
        Ok(source) => source,
        Err(message) => {
            eprintln!("error: {message}");
            return Err(());
        }
    };
    let name = file.display().to_string();
    let checked = sema::check_source(&name, &source.text, overrides);
    let mut diags: Vec<diag::Diagnostic> = source.encoding.into_iter().collect();
    diags.extend(checked.diagnostics);
    if !diags.is_empty() {
        eprint!(
            "{}",
            diag::render(&diags, &name, &source.text, stderr_color())
        );
    }
    let model = checked
        .model
        .filter(|_| !diags.iter().any(diag::Diagnostic::is_error));
    let model = model.ok_or(())?;
    let base_dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
    Ok(Loaded {
        model,
        base_dir,
        src: source.text,
    })
}

/// A `.net` file as every command reads it.
pub struct Source {
    /// The text; bytes that are not UTF-8 are replaced by U+FFFD.
    pub text: String,
    /// The error for the first byte that is not UTF-8, at its byte offset.
    pub encoding: Option<diag::Diagnostic>,
}

/// Reads a `.net` file: the one way every command does it, so a file that one command accepts
/// no other refuses. `Err` is a message for a file that cannot be read at all.
pub fn read_source(path: &Path) -> Result<Source, String> {
    let bytes =
        std::fs::read(path).map_err(|err| format!("cannot read {}: {err}", path.display()))?;
    match String::from_utf8(bytes) {
        Ok(text) => Ok(Source {
            text,
            encoding: None,
        }),
        Err(err) => {
            let at = err.utf8_error().valid_up_to();
            let byte = err.as_bytes().get(at).copied().unwrap_or(0);
            let text = String::from_utf8_lossy(err.as_bytes()).into_owned();
            // The text before the bad byte is unchanged by the replacement, so `at` is also
            // its offset in `text`.
            let encoding = diag::Diagnostic::error(
                "netc::io::utf8",
                crate::span::Span::new(at, at),
                format!("this file is not valid UTF-8: byte {at} is 0x{byte:02X}"),
            )
            .with_label("not UTF-8 here")
            .with_help("save the file as UTF-8");
            Ok(Source {
                text,
                encoding: Some(encoding),
            })
        }
    }
}

/// [`read_source`] for the commands that check the text later: prints why a file cannot be
/// used (unreadable, or not UTF-8) to stderr and gives `Err` then.
pub fn read_text(path: &Path) -> Result<String, ()> {
    match read_source(path) {
        Ok(Source {
            text,
            encoding: None,
        }) => Ok(text),
        Ok(Source {
            text,
            encoding: Some(encoding),
        }) => {
            let name = path.display().to_string();
            eprint!(
                "{}",
                diag::render(&[encoding], &name, &text, stderr_color())
            );
            Err(())
        }
        Err(message) => {
            eprintln!("error: {message}");
            Err(())
        }
    }
}

/// Whether diagnostics on stderr are drawn in color: a terminal, and `NO_COLOR` unset.
pub fn stderr_color() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// Prints a runtime error (a miette diagnostic) to stderr.
pub fn report(err: impl miette::Diagnostic + Send + Sync + 'static) {
    eprintln!("{:?}", miette::Report::new(err));
}

/// 1-based line of a span in the source, for messages that point at the user's file.
pub fn line_of(src: &str, span: crate::span::Span) -> usize {
    span.line_col(src).0
}
