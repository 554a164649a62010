//! The abstract syntax tree of a `.net` file: what was written, with a span on every node.
//!
//! The AST keeps numbers as written (`1e-3` stays `1e-3`) so the formatter can print a file
//! back without changing its meaning or its look; `sema` turns it into a checked model.

use crate::span::Span;
use serde::Serialize;

/// A whole source file: its top-level items in order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct File {
    pub items: Vec<Item>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Item {
    Model(ModelDef),
    Block(BlockDef),
    Train(TrainDef),
    /// Text that did not parse; the parser already reported it.
    Error(ErrorNode),
}

impl Item {
    pub fn span(&self) -> Span {
        match self {
            Item::Model(m) => m.span,
            Item::Block(b) => b.span,
            Item::Train(t) => t.span,
            Item::Error(e) => e.span,
        }
    }
}

/// `model name { ... }`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelDef {
    pub name: Ident,
    pub body: Body,
    pub span: Span,
}

/// `block name(param, param = default) { ... }`: a reusable, parameterised group of layers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BlockDef {
    pub name: Ident,
    pub params: Vec<Param>,
    pub body: Body,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Param {
    pub name: Ident,
    pub default: Option<Expr>,
    pub span: Span,
}

/// `train { key = value ... }`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainDef {
    pub settings: Vec<SettingLine>,
    /// The span of the closing brace, where comments before it end.
    pub close: Span,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum SettingLine {
    Setting(Setting),
    Error(ErrorNode),
}

impl SettingLine {
    pub fn span(&self) -> Span {
        match self {
            SettingLine::Setting(s) => s.span,
            SettingLine::Error(e) => e.span,
        }
    }
}

/// `key = value` in a train section.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Setting {
    pub key: Ident,
    pub value: Expr,
    pub span: Span,
}

/// The statements between `{` and `}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Body {
    pub stmts: Vec<Stmt>,
    /// The span of the closing brace.
    pub close: Span,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Stmt {
    Input(InputStmt),
    Layer(LayerStmt),
    Repeat(RepeatStmt),
    Residual(ResidualStmt),
    Error(ErrorNode),
}

impl Stmt {
    pub fn span(&self) -> Span {
        match self {
            Stmt::Input(s) => s.span,
            Stmt::Layer(s) => s.span,
            Stmt::Repeat(s) => s.span,
            Stmt::Residual(s) => s.span,
            Stmt::Error(e) => e.span,
        }
    }
}

/// `input x: [64]` or `input x: seq(T, d)`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InputStmt {
    pub name: Ident,
    pub shape: Expr,
    pub span: Span,
}

/// `dense 128, act = relu as hidden`, `relu`, `dropout 0.5`, or a block use `res 64`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerStmt {
    pub kind: Ident,
    pub args: Vec<Arg>,
    pub alias: Option<Ident>,
    pub span: Span,
}

/// `repeat N { ... }`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RepeatStmt {
    pub count: Expr,
    pub body: Body,
    pub span: Span,
}

/// `residual [projection = init] [as name] { ... }`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResidualStmt {
    pub args: Vec<Arg>,
    pub alias: Option<Ident>,
    pub body: Body,
    pub span: Span,
}

/// One argument: positional (`128`) or named (`act = relu`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Arg {
    pub name: Option<Ident>,
    pub value: Expr,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ident {
    pub text: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum ExprKind {
    /// A number as written: `128`, `-0.5`, `1e-3`.
    Number(String),
    /// A string literal, unescaped.
    Str(String),
    /// A bare name: `relu`, `standard`, `true`, a block parameter.
    Name(String),
    /// `name(args)`: `normal(0, 1)`, `adam(lr = 1e-3)`, `seq(10, 4)`.
    Call { name: Ident, args: Vec<Arg> },
    /// `[64]`, `[28, 28]`.
    List(Vec<Expr>),
}

/// A line or group that did not parse, kept so the formatter can print it unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorNode {
    pub text: String,
    pub span: Span,
}

impl Expr {
    /// Is this a number literal without fraction or exponent?
    pub fn is_integer_literal(&self) -> bool {
        matches!(&self.kind, ExprKind::Number(t) if !t.contains(['.', 'e', 'E']))
    }
}

/// Sets argument `param` in `args`, whose positional parameters are `params` in order: the
/// value is replaced where it was written (by position or by name), or added as `param = value`.
/// This is how tools edit one attribute (`--set optimizer.lr=...`, the REPL) and print the file
/// back with the formatter.
pub fn set_arg(args: &mut Vec<Arg>, params: &[&str], param: &str, value: Expr, span: Span) {
    let position = params.iter().position(|p| *p == param);
    let mut positional = 0;
    for arg in args.iter_mut() {
        let matches = match &arg.name {
            Some(name) => name.text == param,
            None => {
                positional += 1;
                position == Some(positional - 1)
            }
        };
        if matches {
            arg.value = value;
            return;
        }
    }
    args.push(Arg {
        name: Some(Ident {
            text: param.to_string(),
            span,
        }),
        value,
        span,
    });
}

impl File {
    /// The statement whose span is `span` (a checked layer's span), anywhere in the file.
    pub fn stmt_at_mut(&mut self, span: Span) -> Option<&mut Stmt> {
        self.items.iter_mut().find_map(|item| match item {
            Item::Model(m) => stmt_in(&mut m.body, span),
            Item::Block(b) => stmt_in(&mut b.body, span),
            Item::Train(_) | Item::Error(_) => None,
        })
    }
}

fn stmt_in(body: &mut Body, span: Span) -> Option<&mut Stmt> {
    for stmt in &mut body.stmts {
        if stmt.span() == span {
            return Some(stmt);
        }
        let inner = match stmt {
            Stmt::Repeat(r) => &mut r.body,
            Stmt::Residual(r) => &mut r.body,
            Stmt::Input(_) | Stmt::Layer(_) | Stmt::Error(_) => continue,
        };
        if let Some(found) = stmt_in(inner, span) {
            return Some(found);
        }
    }
    None
}
