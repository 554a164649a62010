//! Byte spans into a `.net` source, shared by every stage that reports a problem at a line.

use serde::{Deserialize, Serialize};

/// A half-open byte range `[start, end)` into one source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }

    /// The smallest span covering both.
    pub fn join(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    pub fn len(self) -> usize {
        self.end.saturating_sub(self.start)
    }

    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// 1-based line and column of the span's start in `src`.
    pub fn line_col(self, src: &str) -> (usize, usize) {
        let start = self.start.min(src.len());
        let before = &src.as_bytes()[..start];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let col = start
            - before
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |p| p + 1)
            + 1;
        (line, col)
    }

    /// 1-based line and column of the span's start, the column counted in characters as an
    /// editor shows it (a byte-order mark at the start of the file is not counted).
    pub fn line_char_col(self, src: &str) -> (usize, usize) {
        let start = self.clamp_to(src).start;
        let before = &src[..start];
        let line_start = before.rfind('\n').map_or(0, |p| p + 1);
        let line = before.matches('\n').count() + 1;
        let text = &before[line_start..];
        let text = if line_start == 0 {
            text.strip_prefix('\u{FEFF}').unwrap_or(text)
        } else {
            text
        };
        (line, text.chars().count() + 1)
    }

    /// This span inside `src`: ends clamped to its length and moved back to the nearest
    /// character boundary, so slicing `src` with it never panics.
    pub fn clamp_to(self, src: &str) -> Span {
        let boundary = |mut at: usize| {
            at = at.min(src.len());
            while !src.is_char_boundary(at) {
                at -= 1;
            }
            at
        };
        let start = boundary(self.start);
        Span::new(start, boundary(self.end).max(start))
    }
}

impl From<Span> for miette::SourceSpan {
    fn from(s: Span) -> miette::SourceSpan {
        (s.start, s.len()).into()
    }
}
