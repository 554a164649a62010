//! The canonical printer: AST (plus the comments of its source) back to text.
//!
//! One statement per line, four-space indents, one blank line between top-level items, at most
//! one blank line kept between statements, train keys aligned, numbers as written. Comments are
//! kept: a comment on its own line stays before the next statement, a comment after code stays
//! at the end of that line. Printing a formatted file again changes nothing.

use super::ast::*;
use crate::span::Span;

/// Prints `file` canonically; `src` is the text it was parsed from (for comments and blank
/// lines). Pass an empty `src` to print an AST built or edited in code.
pub fn print_file(file: &File, src: &str) -> String {
    let mut printer = Printer {
        src,
        comments: scan_comments(src),
        next_comment: 0,
        last_end: 0,
        out: String::new(),
    };
    for (i, item) in file.items.iter().enumerate() {
        if i > 0 {
            printer.out.push('\n');
        }
        printer.item(item);
    }
    printer.comments_before(usize::MAX, 0, !file.items.is_empty());
    let mut out = printer.out;
    while out.ends_with("\n\n") {
        out.pop();
    }
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// One expression on one line, as the formatter writes it.
pub fn print_expr(expr: &Expr) -> String {
    match &expr.kind {
        ExprKind::Number(text) | ExprKind::Name(text) => text.clone(),
        ExprKind::Str(text) => quote(text),
        ExprKind::Call { name, args } => format!("{}({})", name.text, print_args(args)),
        ExprKind::List(items) => {
            let items: Vec<String> = items.iter().map(print_expr).collect();
            format!("[{}]", items.join(", "))
        }
    }
}

/// Arguments joined by `, `: `128, act = relu`.
pub fn print_args(args: &[Arg]) -> String {
    let parts: Vec<String> = args
        .iter()
        .map(|arg| match &arg.name {
            Some(name) => format!("{} = {}", name.text, print_expr(&arg.value)),
            None => print_expr(&arg.value),
        })
        .collect();
    parts.join(", ")
}

fn quote(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            other => out.push(other),
        }
    }
    out.push('"');
    out
}

struct Comment {
    span: Span,
    text: String,
}

/// Finds every `//` comment outside string literals.
fn scan_comments(src: &str) -> Vec<Comment> {
    let bytes = src.as_bytes();
    let mut comments = Vec::new();
    let mut i = 0;
    let mut in_string = false;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            match b {
                b'\\' => i += 1,
                b'"' | b'\n' => in_string = false,
                _ => {}
            }
        } else if b == b'"' {
            in_string = true;
        } else if b == b'/' && bytes.get(i + 1) == Some(&b'/') {
            let end = src[i..].find(['\n', '\r']).map_or(src.len(), |n| i + n);
            comments.push(Comment {
                span: Span::new(i, end),
                text: src[i..end].trim_end().to_string(),
            });
            i = end;
            continue;
        }
        i += 1;
    }
    comments
}

struct Printer<'a> {
    src: &'a str,
    comments: Vec<Comment>,
    next_comment: usize,
    /// End of the last thing printed, to see blank lines in the source.
    last_end: usize,
    out: String,
}

const INDENT: &str = "    ";

impl Printer<'_> {
    fn item(&mut self, item: &Item) {
        let span = item.span();
        match item {
            Item::Model(model) => {
                let header = format!("model {} {{", model.name.text);
                self.block_like(header, span.start, &model.body, 0, false);
            }
            Item::Block(block) => {
                let params: Vec<String> = block
                    .params
                    .iter()
                    .map(|p| match &p.default {
                        Some(d) => format!("{} = {}", p.name.text, print_expr(d)),
                        None => p.name.text.clone(),
                    })
                    .collect();
                let params = if params.is_empty() {
                    String::new()
                } else {
                    format!("({})", params.join(", "))
                };
                let header = format!("block {}{} {{", block.name.text, params);
                self.block_like(header, span.start, &block.body, 0, false);
            }
            Item::Train(train) => self.train(train),
            Item::Error(error) => self.line(error.text.trim(), error.span, 0, false),
        }
    }

    fn train(&mut self, train: &TrainDef) {
        let open = self.src.get(train.span.start..).and_then(|s| s.find('{'));
        let open = open.map_or(train.span.start, |o| train.span.start + o);
        self.line("train {", Span::new(train.span.start, open + 1), 0, false);
        let width = train
            .settings
            .iter()
            .filter_map(|s| match s {
                SettingLine::Setting(s) => Some(s.key.text.len()),
                SettingLine::Error(_) => None,
            })
            .max()
            .unwrap_or(0);
        for (i, setting) in train.settings.iter().enumerate() {
            let text = match setting {
                // Padded by hand: a formatting width panics past 65,535 (a fuzzed key did).
                SettingLine::Setting(s) => format!(
                    "{}{} = {}",
                    s.key.text,
                    " ".repeat(width.saturating_sub(s.key.text.len())),
                    print_expr(&s.value)
                ),
                SettingLine::Error(e) => e.text.trim().to_string(),
            };
            self.line(&text, setting.span(), 1, i > 0);
        }
        self.comments_before(train.close.start, 1, !train.settings.is_empty());
        self.line("}", train.close, 0, false);
    }

    fn block_like(&mut self, header: String, start: usize, body: &Body, depth: usize, blank: bool) {
        self.line(&header, Span::new(start, body.span.start + 1), depth, blank);
        self.body(body, depth + 1);
        self.line("}", body.close, depth, false);
    }

    fn body(&mut self, body: &Body, depth: usize) {
        for (i, stmt) in body.stmts.iter().enumerate() {
            self.stmt(stmt, depth, i > 0);
        }
        self.comments_before(body.close.start, depth, !body.stmts.is_empty());
    }

    fn stmt(&mut self, stmt: &Stmt, depth: usize, keep_blank: bool) {
        let span = stmt.span();
        match stmt {
            Stmt::Input(input) => {
                let text = format!("input {}: {}", input.name.text, print_expr(&input.shape));
                self.line(&text, span, depth, keep_blank);
            }
            Stmt::Layer(layer) => {
                let mut text = layer.kind.text.clone();
                if !layer.args.is_empty() {
                    text.push(' ');
                    text.push_str(&print_args(&layer.args));
                }
                push_alias(&mut text, &layer.alias);
                self.line(&text, span, depth, keep_blank);
            }
            Stmt::Repeat(repeat) => {
                let header = format!("repeat {} {{", print_expr(&repeat.count));
                self.block_like(header, span.start, &repeat.body, depth, keep_blank);
            }
            Stmt::Residual(residual) => {
                let mut header = String::from("residual");
                if !residual.args.is_empty() {
                    header.push(' ');
                    header.push_str(&print_args(&residual.args));
                }
                push_alias(&mut header, &residual.alias);
                header.push_str(" {");
                self.block_like(header, span.start, &residual.body, depth, keep_blank);
            }
            Stmt::Error(error) => self.line(error.text.trim(), span, depth, keep_blank),
        }
    }

    /// Prints one line for the construct at `span`: comments before it first, comments on the
    /// same source line after it at its end.
    fn line(&mut self, text: &str, span: Span, depth: usize, keep_blank: bool) {
        self.comments_before(span.end, depth, keep_blank);
        self.blank_if_needed(span.start, keep_blank);
        self.indent(depth);
        self.out.push_str(text);
        let line_end = self
            .src
            .get(span.end..)
            .and_then(|s| s.find('\n'))
            .map_or(self.src.len(), |n| span.end + n);
        let mut end = span.end.max(self.last_end);
        while let Some(comment) = self.comments.get(self.next_comment) {
            if comment.span.start >= line_end {
                break;
            }
            self.out.push(' ');
            self.out.push_str(&comment.text);
            end = comment.span.end;
            self.next_comment += 1;
        }
        self.out.push('\n');
        self.last_end = end.max(span.end);
    }

    /// Prints every comment that starts before `pos` on its own line.
    fn comments_before(&mut self, pos: usize, depth: usize, keep_blank: bool) {
        let mut keep = keep_blank;
        while let Some(comment) = self.comments.get(self.next_comment) {
            if comment.span.start >= pos {
                break;
            }
            let (start, end, text) = (comment.span.start, comment.span.end, comment.text.clone());
            self.blank_if_needed(start, keep);
            self.indent(depth);
            self.out.push_str(&text);
            self.out.push('\n');
            self.last_end = end;
            self.next_comment += 1;
            keep = true;
        }
    }

    fn blank_if_needed(&mut self, start: usize, keep_blank: bool) {
        if !keep_blank || self.out.ends_with("\n\n") || self.last_end >= start {
            return;
        }
        let gap = self.src.get(self.last_end..start).unwrap_or("");
        if gap.matches('\n').count() >= 2 {
            self.out.push('\n');
        }
        self.last_end = start;
    }

    fn indent(&mut self, depth: usize) {
        for _ in 0..depth {
            self.out.push_str(INDENT);
        }
    }
}

fn push_alias(text: &mut String, alias: &Option<Ident>) {
    if let Some(alias) = alias {
        text.push_str(" as ");
        text.push_str(&alias.text);
    }
}
