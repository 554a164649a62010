//! `netc check FILE... [--json | --format human|json] [--set key=value]`: parse and check files,
//! report every diagnostic; exit 0 when no file has an error.

use super::common::{read_source, stderr_color};
use crate::diag::{self, Diagnostic};
use crate::sema::{check_source, Override};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// The .net files to check.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// How to print diagnostics: `human` (to stderr) or `json` (an array, to stdout).
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Print diagnostics as JSON (the same as `--format json`).
    #[arg(long)]
    pub json: bool,
    /// Override a train setting, e.g. `--set optimizer.lr=0.01` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
}

pub fn run(mut args: CheckArgs) -> ExitCode {
    if args.json {
        args.format = Format::Json;
    }
    let mut overrides = Vec::new();
    for text in &args.set {
        match Override::parse(text) {
            Ok(o) => overrides.push(o),
            Err(message) => {
                eprintln!("error: --set {message}");
                return ExitCode::FAILURE;
            }
        }
    }
    let mut failed = false;
    let mut json = Vec::new();
    for path in &args.files {
        let name = path.display().to_string();
        let (src, diags) = match read_source(path) {
            Ok(source) => {
                let checked = check_source(&name, &source.text, &overrides);
                let mut diags: Vec<Diagnostic> = source.encoding.into_iter().collect();
                diags.extend(checked.diagnostics);
                if let Some(model) = &checked.model {
                    // The gradient-health lints and the predicted depth profile of issue 6:
                    // `netc analyze` has the full table.
                    diags.extend(crate::health::lint::check(model));
                    if args.format == Format::Human {
                        let p = crate::health::predict(model);
                        println!(
                            "{name}: predicted gradient flow across depth: {}",
                            crate::report::describe_prediction(&p).trim_end()
                        );
                    }
                }
                (source.text, diags)
            }
            Err(message) => (
                String::new(),
                vec![Diagnostic::error(
                    "netc::io::read",
                    crate::span::Span::new(0, 0),
                    message,
                )],
            ),
        };
        failed |= diags.iter().any(Diagnostic::is_error);
        match args.format {
            Format::Json => {
                if let serde_json::Value::Array(items) = diag::to_json(&diags, &name, &src) {
                    json.extend(items);
                }
            }
            Format::Human => print_human(&diags, &name, &src),
        }
    }
    if args.format == Format::Json {
        let text = serde_json::to_string_pretty(&serde_json::Value::Array(json));
        println!("{}", text.unwrap_or_else(|_| "[]".to_string()));
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn print_human(diags: &[Diagnostic], name: &str, src: &str) {
    if diags.is_empty() {
        println!("{name}: ok");
        return;
    }
    eprint!("{}", diag::render(diags, name, src, stderr_color()));
    let errors = diags.iter().filter(|d| d.is_error()).count();
    let warnings = diags.len() - errors;
    eprintln!("{name}: {errors} error(s), {warnings} warning(s)");
}
