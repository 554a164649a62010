//! The language's word families, each defined once next to its variants: every variant in
//! `ALL` (parameters at their defaults), its canonical name, its aliases, its parameters in
//! positional order, the reading of its arguments with their ranges, and the properties other
//! stages read. Parsing looks names up here, the formatter and default layer names print
//! `name()`, completion and "did you mean" offer `names()`, and the round-trip tests iterate
//! over `ALL`, so a new variant is named by the compiler (the exhaustive matches in each
//! family) or by a test.

mod activation;
mod cell;
pub mod data;
mod init;
mod optimizer;
mod training;

pub use activation::Saturation;

use super::args::unknown;
use crate::diag::Diagnostic;
use crate::span::Span;

/// The word `found` for `name`, or the unknown-name diagnostic `code` offering `names` (what
/// every family's parse does with a name it does not know).
pub(super) fn known<T>(
    diags: &mut Vec<Diagnostic>,
    found: Option<T>,
    (code, kind): (&'static str, &str),
    name: &str,
    span: Span,
    names: &[&str],
) -> Option<T> {
    if found.is_none() {
        diags.push(unknown(code, kind, name, span, names));
    }
    found
}
