//! From source text to the AST: the pest parser, a nesting guard, and syntax diagnostics.
//!
//! Parsing never fails: a line that does not parse becomes an `Error` node and a
//! `netc::parse::syntax` diagnostic, and parsing goes on with the next line.

use super::ast::*;
use crate::diag::Diagnostic;
use crate::span::Span;
use pest::iterators::Pair;
use pest::Parser;

#[derive(pest_derive::Parser)]
#[grammar = "grammar/netc.pest"]
struct NetcParser;

/// Deeper nesting of `{`, `(` or `[` than this is refused before parsing, so neither pest nor
/// the checker can overflow the stack.
pub const MAX_NESTING: usize = 64;

/// Parses a whole file. The AST is complete except where diagnostics say otherwise.
pub fn parse_file(src: &str) -> (File, Vec<Diagnostic>) {
    if let Some(diag) = check_nesting(src) {
        return (File { items: Vec::new() }, vec![diag]);
    }
    let mut diags = Vec::new();
    let pairs = match NetcParser::parse(Rule::file, src) {
        Ok(pairs) => pairs,
        Err(err) => {
            diags.push(syntax_diag(&err, 0, src.len()));
            return (File { items: Vec::new() }, diags);
        }
    };
    let mut items = Vec::new();
    for pair in pairs.flatten().filter(|p| p.as_rule() == Rule::file) {
        for item in pair.into_inner() {
            if let Some(item) = build_item(item, src, &mut diags) {
                items.push(item);
            }
        }
    }
    (File { items }, diags)
}

/// Parses one value, as given to `--set key=value`.
pub fn parse_expr(text: &str) -> Result<Expr, String> {
    if check_nesting(text).is_some() {
        return Err(format!("`{text}` nests too deeply"));
    }
    let mut pairs = NetcParser::parse(Rule::expr_only, text).map_err(|e| {
        let renamed = e.renamed_rules(rule_name);
        renamed.variant.message().into_owned()
    })?;
    let first = pairs.next().and_then(|p| p.into_inner().next());
    match first {
        Some(pair) => Ok(build_expr(pair)),
        None => Err("an empty value".to_string()),
    }
}

fn check_nesting(src: &str) -> Option<Diagnostic> {
    let mut depth = 0usize;
    for (at, byte) in src.bytes().enumerate() {
        match byte {
            b'{' | b'(' | b'[' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(
                        Diagnostic::error(
                            "netc::parse::too_deep",
                            Span::new(at, at + 1),
                            format!("this file nests brackets more than {MAX_NESTING} deep"),
                        )
                        .with_label("too deep here")
                        .with_help("flatten the nesting; use `repeat` or a `block` instead"),
                    );
                }
            }
            b'}' | b')' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

/// The children of a pair, without keyword tokens.
fn inner_of(pair: Pair<'_, Rule>) -> impl Iterator<Item = Pair<'_, Rule>> {
    pair.into_inner().filter(|p| {
        !matches!(
            p.as_rule(),
            Rule::kw_model
                | Rule::kw_block
                | Rule::kw_train
                | Rule::kw_input
                | Rule::kw_repeat
                | Rule::kw_residual
                | Rule::kw_as
        )
    })
}

/// A pair's span without the spaces and `//` comment pest may have skipped at its end.
fn span_of(pair: &Pair<'_, Rule>) -> Span {
    let s = pair.as_span();
    Span::new(s.start(), s.start() + code_len(pair.as_str()))
}

/// The length of `text` once trailing blanks and a trailing line comment are cut.
fn code_len(text: &str) -> usize {
    let mut end = text.trim_end().len();
    let line_start = text[..end].rfind('\n').map_or(0, |n| n + 1);
    if let Some(comment) = comment_start(&text[line_start..end]) {
        end = text[..line_start + comment].trim_end().len();
    }
    end
}

/// Where a `//` comment starts in one line, outside string literals.
fn comment_start(line: &str) -> Option<usize> {
    let bytes = line.as_bytes();
    let mut in_string = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if in_string => i += 1,
            b'"' => in_string = !in_string,
            b'/' if !in_string && bytes.get(i + 1) == Some(&b'/') => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

fn build_item(pair: Pair<'_, Rule>, src: &str, diags: &mut Vec<Diagnostic>) -> Option<Item> {
    let span = span_of(&pair);
    match pair.as_rule() {
        Rule::model_def => {
            let mut inner = inner_of(pair);
            let name = build_ident(inner.next()?);
            let body = build_body(inner.next()?, diags);
            Some(Item::Model(ModelDef { name, body, span }))
        }
        Rule::block_def => Some(Item::Block(build_block(pair, diags)?)),
        Rule::train_def => Some(Item::Train(build_train(pair, diags))),
        Rule::bad_top => {
            let rest = &src[span.start..];
            diags.push(explain(Rule::item_only, rest, span.start, span.end));
            Some(Item::Error(error_node(&pair)))
        }
        _ => None,
    }
}

fn build_block(pair: Pair<'_, Rule>, diags: &mut Vec<Diagnostic>) -> Option<BlockDef> {
    let span = span_of(&pair);
    let mut inner = inner_of(pair);
    let name = build_ident(inner.next()?);
    let mut params = Vec::new();
    let mut body = None;
    for part in inner {
        match part.as_rule() {
            Rule::params => {
                for param in part.into_inner() {
                    let pspan = span_of(&param);
                    let mut pi = param.into_inner();
                    let Some(pname) = pi.next() else { continue };
                    params.push(Param {
                        name: build_ident(pname),
                        default: pi.next().map(build_expr),
                        span: pspan,
                    });
                }
            }
            Rule::body => body = Some(build_body(part, diags)),
            _ => {}
        }
    }
    Some(BlockDef {
        name,
        params,
        body: body?,
        span,
    })
}

fn build_train(pair: Pair<'_, Rule>, diags: &mut Vec<Diagnostic>) -> TrainDef {
    let span = span_of(&pair);
    let mut settings = Vec::new();
    for part in pair.into_inner() {
        match part.as_rule() {
            Rule::setting => {
                let sspan = span_of(&part);
                let mut inner = part.into_inner();
                if let (Some(key), Some(value)) = (inner.next(), inner.next()) {
                    settings.push(SettingLine::Setting(Setting {
                        key: build_ident(key),
                        value: build_expr(value),
                        span: sspan,
                    }));
                }
            }
            Rule::bad_stmt => {
                diags.push(explain(
                    Rule::setting_only,
                    part.as_str(),
                    sspan_start(&part),
                    part.as_span().end(),
                ));
                settings.push(SettingLine::Error(error_node(&part)));
            }
            _ => {}
        }
    }
    let close = Span::new(span.end.saturating_sub(1), span.end);
    TrainDef {
        settings,
        close,
        span,
    }
}

fn sspan_start(pair: &Pair<'_, Rule>) -> usize {
    pair.as_span().start()
}

fn build_body(pair: Pair<'_, Rule>, diags: &mut Vec<Diagnostic>) -> Body {
    let span = span_of(&pair);
    let mut stmts = Vec::new();
    for part in pair.into_inner() {
        if let Some(stmt) = build_stmt(part, diags) {
            stmts.push(stmt);
        }
    }
    let close = Span::new(span.end.saturating_sub(1), span.end);
    Body { stmts, close, span }
}

fn build_stmt(pair: Pair<'_, Rule>, diags: &mut Vec<Diagnostic>) -> Option<Stmt> {
    let span = span_of(&pair);
    let rule = pair.as_rule();
    if rule == Rule::bad_stmt {
        diags.push(explain(
            Rule::stmt_only,
            pair.as_str(),
            span.start,
            span.end,
        ));
        return Some(Stmt::Error(error_node(&pair)));
    }
    let mut args = Vec::new();
    let mut alias = None;
    let mut body = None;
    let mut idents = Vec::new();
    let mut exprs = Vec::new();
    for part in inner_of(pair) {
        match part.as_rule() {
            Rule::args => args = build_args(part),
            Rule::alias => alias = inner_of(part).next().map(build_ident),
            Rule::body => body = Some(build_body(part, diags)),
            Rule::ident => idents.push(build_ident(part)),
            _ => exprs.push(build_expr(part)),
        }
    }
    match rule {
        Rule::input_stmt => Some(Stmt::Input(InputStmt {
            name: idents.pop()?,
            shape: exprs.pop()?,
            span,
        })),
        Rule::repeat_stmt => Some(Stmt::Repeat(RepeatStmt {
            count: exprs.pop()?,
            body: body?,
            span,
        })),
        Rule::residual_stmt => Some(Stmt::Residual(ResidualStmt {
            args,
            alias,
            body: body?,
            span,
        })),
        Rule::layer_stmt => Some(Stmt::Layer(LayerStmt {
            kind: idents.pop()?,
            args,
            alias,
            span,
        })),
        _ => None,
    }
}

fn build_args(pair: Pair<'_, Rule>) -> Vec<Arg> {
    pair.into_inner().filter_map(build_arg).collect()
}

fn build_arg(pair: Pair<'_, Rule>) -> Option<Arg> {
    let span = span_of(&pair);
    match pair.as_rule() {
        Rule::named_arg => {
            let mut inner = pair.into_inner();
            let name = build_ident(inner.next()?);
            let value = build_expr(inner.next()?);
            Some(Arg {
                name: Some(name),
                value,
                span,
            })
        }
        Rule::pos_arg => Some(Arg {
            name: None,
            value: build_expr(pair.into_inner().next()?),
            span,
        }),
        _ => None,
    }
}

fn build_ident(pair: Pair<'_, Rule>) -> Ident {
    Ident {
        text: pair.as_str().to_string(),
        span: span_of(&pair),
    }
}

fn build_expr(pair: Pair<'_, Rule>) -> Expr {
    let span = span_of(&pair);
    let kind = match pair.as_rule() {
        Rule::number => ExprKind::Number(pair.as_str().to_string()),
        Rule::string => ExprKind::Str(unescape(pair.as_str())),
        Rule::call => {
            let mut inner = pair.into_inner();
            match inner.next() {
                Some(name) => ExprKind::Call {
                    name: build_ident(name),
                    args: inner.filter_map(build_arg).collect(),
                },
                None => ExprKind::Name(String::new()),
            }
        }
        Rule::list => ExprKind::List(pair.into_inner().map(build_expr).collect()),
        _ => ExprKind::Name(pair.as_str().to_string()),
    };
    Expr { kind, span }
}

fn unescape(quoted: &str) -> String {
    let inner = quoted
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(quoted);
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(other) => out.push(other),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn error_node(pair: &Pair<'_, Rule>) -> ErrorNode {
    ErrorNode {
        text: pair.as_str().to_string(),
        span: span_of(pair),
    }
}

/// Re-parses a bad line with the rule it should have matched, to say precisely what was
/// expected where.
fn explain(rule: Rule, text: &str, offset: usize, end: usize) -> Diagnostic {
    match NetcParser::parse(rule, text) {
        Err(err) => syntax_diag(&err, offset, end),
        Ok(_) => Diagnostic::error(
            "netc::parse::syntax",
            Span::new(offset, end),
            "this line does not fit here",
        )
        .with_label("unexpected here"),
    }
}

fn syntax_diag(err: &pest::error::Error<Rule>, offset: usize, end: usize) -> Diagnostic {
    let renamed = err.clone().renamed_rules(rule_name);
    let at = match renamed.location {
        pest::error::InputLocation::Pos(p) => offset + p,
        pest::error::InputLocation::Span((s, _)) => offset + s,
    };
    let at = at.min(end);
    let found = found_at(renamed.line(), renamed.line_col.clone());
    let message = renamed.variant.message().into_owned();
    let diag = Diagnostic::error(
        "netc::parse::syntax",
        Span::new(at, (at + found.len()).max(at)),
        format!("syntax error: {}", message.replace('\n', " ")),
    )
    .with_label(if found.is_empty() {
        "the line ends here".to_string()
    } else {
        format!("unexpected `{found}`")
    });
    if KEYWORDS.contains(&found.as_str()) {
        diag.with_help(format!(
            "`{found}` is a keyword and cannot be used as a name"
        ))
    } else {
        diag
    }
}

/// Words the grammar reserves (see `keyword` in grammar/netc.pest).
const KEYWORDS: &[&str] = &[
    "model", "block", "train", "input", "repeat", "residual", "as",
];

/// The token-ish text at the error position, for the label.
fn found_at(line: &str, line_col: pest::error::LineColLocation) -> String {
    let col = match line_col {
        pest::error::LineColLocation::Pos((_, c))
        | pest::error::LineColLocation::Span((_, c), _) => c,
    };
    let rest: String = line.chars().skip(col.saturating_sub(1)).collect();
    let rest = rest.trim_end_matches(['\n', '\r']);
    let word: String = if rest.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
        rest.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.')
            .take(40)
            .collect()
    } else {
        rest.chars().take(1).collect()
    };
    word
}

fn rule_name(rule: &Rule) -> String {
    let name = match rule {
        Rule::ident | Rule::name => "a name",
        Rule::number => "a number",
        Rule::string => "a string",
        Rule::call => "a call like `normal(0, 1)`",
        Rule::list => "a shape like `[64]`",
        Rule::named_arg => "`name = value`",
        Rule::pos_arg | Rule::args => "an argument",
        Rule::alias => "`as name`",
        Rule::body => "`{`",
        Rule::input_stmt => "`input`",
        Rule::repeat_stmt => "`repeat`",
        Rule::residual_stmt => "`residual`",
        Rule::layer_stmt => "a layer",
        Rule::model_def => "`model`",
        Rule::block_def => "`block`",
        Rule::train_def => "`train`",
        Rule::setting => "a setting `key = value`",
        Rule::params => "`(`",
        Rule::param => "a parameter",
        Rule::EOI => "the end of the line",
        Rule::keyword => "a keyword",
        Rule::kw_as => "`as`",
        Rule::kw_model => "`model`",
        Rule::kw_block => "`block`",
        Rule::kw_train => "`train`",
        Rule::kw_input => "`input`",
        Rule::kw_repeat => "`repeat`",
        Rule::kw_residual => "`residual`",
        Rule::item_only => "`model`, `block` or `train`",
        Rule::stmt_only => "a layer",
        Rule::setting_only => "a setting `key = value`",
        other => return format!("{other:?}"),
    };
    name.to_string()
}
