//! Diagnostics as data: every stage returns these; rendering to text (miette) happens in one
//! place, `diag::render`, so the compiler core never prints.

use crate::span::Span;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// A secondary label: where a conflicting fact came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

/// One problem found in a `.net` source.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnostic {
    /// Stable code, e.g. `netc::shape::mismatch`.
    pub code: &'static str,
    pub severity: Severity,
    /// What is wrong, in words a newcomer understands.
    pub message: String,
    /// The primary span and its label.
    pub span: Span,
    pub label: String,
    /// Further spans that explain the conflict.
    pub related: Vec<Label>,
    /// How to fix it, when we know.
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(code: &'static str, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code,
            severity: Severity::Error,
            message: message.into(),
            span,
            label: String::new(),
            related: Vec::new(),
            help: None,
        }
    }

    pub fn warning(code: &'static str, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, span, message)
        }
    }

    pub fn with_label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = label.into();
        self
    }

    pub fn with_related(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.related.push(Label {
            span,
            message: message.into(),
        });
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Width of rendered reports when not colored (what the snapshots use).
pub const RENDER_WIDTH: usize = 100;

/// The longest source line (in bytes) that a report draws. miette pads a label out to its
/// column with a formatting width, which panics past 65,535 columns; a line that long is
/// unreadable when drawn anyway, so such a report is written in the plain form instead.
pub const MAX_DRAWN_LINE: usize = 2_000;

/// Renders diagnostics as miette's graphical reports, one after another. With `color` false
/// it uses the plain unicode theme at a fixed width, so output is stable for snapshots.
pub fn render(diags: &[Diagnostic], file_name: &str, src: &str, color: bool) -> String {
    render_with(diags, file_name, src, color, RENDER_WIDTH)
}

/// [`render`] at a chosen width (a terminal's).
pub fn render_with(
    diags: &[Diagnostic],
    file_name: &str,
    src: &str,
    color: bool,
    width: usize,
) -> String {
    use miette::{GraphicalReportHandler, GraphicalTheme};
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(width)
        .with_links(false);
    let source = std::sync::Arc::new(miette::NamedSource::new(file_name, src.to_string()));
    let mut out = String::new();
    for diag in diags {
        if !drawable(diag, src) {
            out.push_str(&render_plain(diag, file_name, src));
            continue;
        }
        let report = Report {
            diag,
            source: source.clone(),
            src,
        };
        // A renderer that still fails (or panics) on some input must not take the command
        // down with it: the plain form says the same facts.
        let drawn = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut text = String::new();
            handler.render_report(&mut text, &report).map(|()| text)
        }));
        match drawn {
            Ok(Ok(text)) => out.push_str(&text),
            Ok(Err(_)) | Err(_) => out.push_str(&render_plain(diag, file_name, src)),
        }
    }
    out
}

/// One diagnostic as plain lines, without drawing the source: the code and message, the file,
/// line and column (in characters) of every span with its label, and the help.
pub fn render_plain(diag: &Diagnostic, file_name: &str, src: &str) -> String {
    let severity = match diag.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let mut out = format!("{severity}[{}]: {}\n", diag.code, diag.message);
    let mut place = |span: Span, label: &str| {
        let (line, column) = span.line_char_col(src);
        out.push_str(&format!("  --> {file_name}:{line}:{column}"));
        if !label.is_empty() {
            out.push_str(&format!(": {label}"));
        }
        out.push('\n');
    };
    place(diag.span, &diag.label);
    for label in &diag.related {
        place(label.span, &label.message);
    }
    if let Some(help) = &diag.help {
        out.push_str(&format!("  help: {help}\n"));
    }
    out
}

/// Can miette draw every line this diagnostic's spans touch?
fn drawable(diag: &Diagnostic, src: &str) -> bool {
    std::iter::once(diag.span)
        .chain(diag.related.iter().map(|l| l.span))
        .all(|span| longest_line(src, span) <= MAX_DRAWN_LINE)
}

/// The length in bytes of the longest line that `span` touches.
fn longest_line(src: &str, span: Span) -> usize {
    let bytes = src.as_bytes();
    let start = span.start.min(bytes.len());
    let end = span.end.clamp(start, bytes.len());
    let first = bytes[..start]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let last = bytes[end..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |p| end + p);
    bytes[first..last]
        .split(|&b| b == b'\n')
        .map(<[u8]>::len)
        .max()
        .unwrap_or(0)
}

/// Diagnostics as JSON: one object each, with 1-based line and column for every span.
pub fn to_json(diags: &[Diagnostic], file_name: &str, src: &str) -> serde_json::Value {
    let place = |span: Span| {
        let (line, column) = span.line_col(src);
        serde_json::json!({ "start": span.start, "end": span.end, "line": line, "column": column })
    };
    let items: Vec<serde_json::Value> = diags
        .iter()
        .map(|d| {
            let related: Vec<serde_json::Value> = d
                .related
                .iter()
                .map(|l| serde_json::json!({ "span": place(l.span), "message": l.message }))
                .collect();
            serde_json::json!({
                "file": file_name,
                "code": d.code,
                "severity": d.severity,
                "message": d.message,
                "span": place(d.span),
                "label": d.label,
                "related": related,
                "help": d.help,
            })
        })
        .collect();
    serde_json::Value::Array(items)
}

/// One diagnostic with its source, in the shape miette renders.
struct Report<'a> {
    diag: &'a Diagnostic,
    source: std::sync::Arc<miette::NamedSource<String>>,
    src: &'a str,
}

impl std::fmt::Debug for Report<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.diag.message)
    }
}

impl std::fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.diag.message)
    }
}

impl std::error::Error for Report<'_> {}

impl Report<'_> {
    /// A span clamped to the source and to character boundaries, so a stale span, or one cut
    /// inside a multi-byte character, can never make rendering fail.
    fn clamp(&self, span: Span) -> miette::SourceSpan {
        span.clamp_to(self.src).into()
    }
}

impl miette::Diagnostic for Report<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn std::fmt::Display + 'b>> {
        Some(Box::new(self.diag.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diag.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'b>(&'b self) -> Option<Box<dyn std::fmt::Display + 'b>> {
        self.diag
            .help
            .as_ref()
            .map(|h| Box::new(h.as_str()) as Box<dyn std::fmt::Display + 'b>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(self.source.as_ref())
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        let primary = miette::LabeledSpan::new_primary_with_span(
            (!self.diag.label.is_empty()).then(|| self.diag.label.clone()),
            self.clamp(self.diag.span),
        );
        let related = self.diag.related.iter().map(|l| {
            miette::LabeledSpan::new_with_span(Some(l.message.clone()), self.clamp(l.span))
        });
        Some(Box::new(std::iter::once(primary).chain(related)))
    }
}
