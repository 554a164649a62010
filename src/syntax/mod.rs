//! The syntax of `.net` files: the pest grammar, the AST with spans, and the formatter.
//!
//! This module knows nothing of shapes or training; `sema` gives the AST its meaning.

pub mod ast;
pub mod edit;
mod format;
mod parse;

pub use format::{print_args, print_expr, print_file};
pub use parse::{parse_expr, parse_file, MAX_NESTING};

use crate::diag::Diagnostic;

/// Formats a source file canonically (idempotent, comments kept). Fails with the syntax
/// diagnostics when the file does not parse.
pub fn format_source(src: &str) -> Result<String, Vec<Diagnostic>> {
    let (file, diags) = parse_file(src);
    let errors: Vec<Diagnostic> = diags.into_iter().filter(|d| d.is_error()).collect();
    if errors.is_empty() {
        Ok(print_file(&file, src))
    } else {
        Err(errors)
    }
}
