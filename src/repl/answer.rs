//! How the session answers a line: results, failures, and diagnostics rendered against the
//! typed line or the edited model.

use super::command::CommandError;
use super::edit::EditError;
use super::workspace::Located;
use super::{Io, Outcome};
use crate::diag::{self, Diagnostic};

pub(super) fn say(io: &mut Io, text: &str) -> Outcome {
    let _ = write!(io.out, "{text}");
    if !text.ends_with('\n') {
        let _ = writeln!(io.out);
    }
    Outcome::Done
}

pub(super) fn fail(io: &mut Io, message: &str) -> Outcome {
    let _ = writeln!(io.err, "error: {message}");
    Outcome::Failed
}

/// The name typed input goes by in diagnostics.
const INPUT_NAME: &str = "input";

pub(super) fn command_error(e: &CommandError, line: &str, io: &mut Io) {
    let mut d = Diagnostic::error(
        "netc::repl::command",
        crate::span::Span::new(e.span.start, e.span.end),
        &e.message,
    )
    .with_label("here");
    if let Some(help) = &e.help {
        d = d.with_help(help);
    }
    let _ = write!(io.err, "{}", diag::render(&[d], INPUT_NAME, line, io.color));
}

/// An edit that could not be made, pointing into the typed line where it can.
pub(super) fn edit_error(e: &EditError, line: &str, io: &mut Io) {
    let trimmed_at = line.len() - line.trim_start().len();
    let subject = e.subject.as_deref().and_then(|word| word_in(line, word));
    let span = match (subject, e.at) {
        (Some(span), _) => span,
        // `at` is relative to the value or statement typed: the last such text in the line.
        (None, Some(at)) => {
            let base = line.trim_end().len().saturating_sub(at.len());
            crate::span::Span::new(base, base + at.len())
        }
        (None, None) => {
            crate::span::Span::new(trimmed_at, line.trim_end().len().max(trimmed_at + 1))
        }
    };
    let mut d = Diagnostic::error("netc::repl::edit", span, &e.message).with_label("here");
    if let Some(help) = &e.help {
        d = d.with_help(help);
    }
    let _ = write!(io.err, "{}", diag::render(&[d], INPUT_NAME, line, io.color));
}

/// The span of `word` as a whole word in `line` (after the command's name).
pub(super) fn word_in(line: &str, word: &str) -> Option<crate::span::Span> {
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    line.match_indices(word).find_map(|(at, _)| {
        let before = line[..at].chars().next_back();
        let after = line[at + word.len()..].chars().next();
        (!before.is_some_and(is_word) && !after.is_some_and(is_word) && at > 0)
            .then(|| crate::span::Span::new(at, at + word.len()))
    })
}

/// Renders checker diagnostics: those in the typed text against the line, the rest against the
/// edited model.
pub(super) fn render_located(located: &[Located], line: &str, name: &str, src: &str, io: &mut Io) {
    for l in located {
        let text = if l.in_typed {
            diag::render(
                std::slice::from_ref(&l.diagnostic),
                INPUT_NAME,
                line,
                io.color,
            )
        } else {
            let shown = format!("{name} (as edited)");
            diag::render(std::slice::from_ref(&l.diagnostic), &shown, src, io.color)
        };
        let _ = write!(io.err, "{text}");
    }
}
