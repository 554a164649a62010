//! The model body: expands blocks and `repeat`, builds each layer from its arguments, names
//! it, and infers every shape as it goes.

use super::args::{bind, int_in_bounds, int_value};
use super::attrs::init_value;
use super::layer::last;
use crate::diag::Diagnostic;
use crate::model::{Input, Layer, LayerKind};
use crate::span::Span;
use crate::syntax::ast::*;
use std::collections::HashMap;

/// Widest layer or input netc accepts.
pub const MAX_UNITS: u64 = 1 << 20;
/// Most layers a model may expand to.
pub const MAX_LAYERS: usize = 10_000;
/// Most trainable parameters a model may have.
pub const MAX_PARAMS: u64 = 100_000_000;
/// Most statements (and `repeat` copies) expanding a model may visit, so that empty or
/// failing repeats cannot keep the checker busy.
pub const MAX_WORK: usize = 10 * MAX_LAYERS;
/// Deepest chain of blocks using blocks.
pub const MAX_BLOCK_DEPTH: usize = 32;

/// What the model body expands to.
pub struct Expanded {
    pub input: Option<Input>,
    pub layers: Vec<Layer>,
    /// The final shape, when every shape could be inferred.
    pub output_shape: Option<Vec<usize>>,
}

/// Expands the body of `model` using `blocks`.
pub fn expand_model(
    diags: &mut Vec<Diagnostic>,
    model: &ModelDef,
    blocks: &HashMap<String, &BlockDef>,
) -> Expanded {
    let mut expander = Expander {
        diags,
        blocks,
        counters: HashMap::new(),
        layer_count: 0,
        work: 0,
        param_count: 0,
        stack: Vec::new(),
        stopped: false,
    };
    let stmts = &model.body.stmts;
    let first = stmts.iter().position(|s| !matches!(s, Stmt::Error(_)));
    let input = match first.map(|i| &stmts[i]) {
        Some(Stmt::Input(input)) => expander.input(input),
        _ => {
            expander.diags.push(
                Diagnostic::error(
                    "netc::model::missing_input",
                    model.name.span,
                    format!(
                        "model `{}` does not start with an `input` line",
                        model.name.text
                    ),
                )
                .with_label("no input")
                .with_help("start the model with `input x: [width]`"),
            );
            None
        }
    };
    let rest = match first {
        Some(i) if matches!(stmts[i], Stmt::Input(_)) => &stmts[i + 1..],
        _ => &stmts[..],
    };
    let mut shape = input.as_ref().map(|i| i.kind.shape());
    let had_input = input.is_some();
    let scope = Scope::default();
    let layers = expander.body(rest, &HashMap::new(), &scope, &mut shape);
    // Lines that did not parse count: the model is not empty, only broken.
    let written = !rest.is_empty();
    if !written {
        expander.diags.push(
            Diagnostic::error(
                "netc::model::empty",
                model.name.span,
                format!("model `{}` has no layers", model.name.text),
            )
            .with_label("no layers")
            .with_help("add a layer after the input, e.g. `dense 10`"),
        );
    }
    Expanded {
        input,
        layers,
        output_shape: shape.filter(|_| had_input && !expander.stopped),
    }
}

type Env = HashMap<String, Expr>;

/// Where a layer sits: its block instance's name prefix and its `repeat` iteration suffix.
#[derive(Default, Clone)]
pub(super) struct Scope {
    pub(super) prefix: String,
    pub(super) suffix: String,
}

pub(super) struct Expander<'a> {
    pub(super) diags: &'a mut Vec<Diagnostic>,
    pub(super) blocks: &'a HashMap<String, &'a BlockDef>,
    pub(super) counters: HashMap<&'static str, usize>,
    pub(super) layer_count: usize,
    /// Statements and `repeat` copies visited so far.
    pub(super) work: usize,
    pub(super) param_count: u64,
    /// Blocks being expanded, outermost first, to refuse recursion.
    pub(super) stack: Vec<String>,
    /// Set once the model grows past MAX_LAYERS; expansion then stops.
    pub(super) stopped: bool,
}

impl Expander<'_> {
    fn body(
        &mut self,
        stmts: &[Stmt],
        env: &Env,
        scope: &Scope,
        shape: &mut Option<Vec<usize>>,
    ) -> Vec<Layer> {
        let mut layers = Vec::new();
        for stmt in stmts {
            if self.stopped || !self.tick(stmt.span()) {
                break;
            }
            match stmt {
                // A line that did not parse may have changed the shape: stop inferring it.
                Stmt::Error(_) => *shape = None,
                Stmt::Input(input) => self.diags.push(
                    Diagnostic::error(
                        "netc::model::misplaced_input",
                        input.span,
                        "`input` must be the first line of a model",
                    )
                    .with_label("an input in the middle")
                    .with_help("a model has one input, on its first line"),
                ),
                Stmt::Layer(layer) => {
                    let layer = substitute_layer(layer, env);
                    if self.blocks.contains_key(&layer.kind.text) {
                        layers.extend(self.block_use(&layer, scope, shape));
                    } else if let Some(built) = self.layer(&layer, scope, shape) {
                        self.count_layer(layer.span);
                        layers.push(built);
                    }
                }
                Stmt::Repeat(repeat) => layers.extend(self.repeat(repeat, env, scope, shape)),
                Stmt::Residual(residual) => {
                    if let Some(built) = self.residual(residual, env, scope, shape) {
                        self.count_layer(residual.span);
                        layers.push(built);
                    }
                }
            }
        }
        layers
    }

    pub(super) fn count_layer(&mut self, span: Span) {
        self.layer_count += 1;
        if self.layer_count > MAX_LAYERS && !self.stopped {
            self.stopped = true;
            self.diags.push(
                Diagnostic::error(
                    "netc::range::too_many_layers",
                    span,
                    format!("this model expands to more than {MAX_LAYERS} layers"),
                )
                .with_label("the limit is passed here")
                .with_help("use fewer or smaller `repeat`s"),
            );
        }
    }

    /// Counts one unit of expansion work; false (with an error) once there was too much.
    fn tick(&mut self, span: Span) -> bool {
        self.work += 1;
        if self.work > MAX_WORK && !self.stopped {
            self.stopped = true;
            self.diags.push(
                Diagnostic::error(
                    "netc::range::too_many_layers",
                    span,
                    format!("this model is too large to expand (more than {MAX_WORK} statements)"),
                )
                .with_label("the limit is passed here")
                .with_help("use fewer or smaller `repeat`s"),
            );
        }
        !self.stopped
    }

    pub(super) fn add_params(&mut self, count: u64, span: Span) {
        self.param_count = self.param_count.saturating_add(count);
        if self.param_count > MAX_PARAMS && !self.stopped {
            self.stopped = true;
            self.diags.push(
                Diagnostic::error(
                    "netc::range::too_many_params",
                    span,
                    format!("this model has more than {MAX_PARAMS} trainable parameters"),
                )
                .with_label("the limit is passed here")
                .with_help("use narrower or fewer layers"),
            );
        }
    }

    pub(super) fn next_name(
        &mut self,
        kind: &'static str,
        alias: &Option<Ident>,
        scope: &Scope,
    ) -> String {
        let count = self.counters.entry(kind).or_insert(0);
        *count += 1;
        match alias {
            Some(alias) => format!("{}{}{}", scope.prefix, alias.text, scope.suffix),
            None => format!("{kind}{count}"),
        }
    }

    fn repeat(
        &mut self,
        repeat: &RepeatStmt,
        env: &Env,
        scope: &Scope,
        shape: &mut Option<Vec<usize>>,
    ) -> Vec<Layer> {
        let count_expr = substitute(&repeat.count, env);
        let count = int_value(self.diags, &count_expr, "the count of `repeat`").and_then(|n| {
            int_in_bounds(
                self.diags,
                count_expr.span,
                "the count of `repeat`",
                n,
                (1, MAX_LAYERS as u64),
            )
        });
        let Some(count) = count else {
            *shape = None;
            return Vec::new();
        };
        let mut layers = Vec::new();
        for i in 1..=count {
            if !self.tick(repeat.span) {
                break;
            }
            let mut inner = scope.clone();
            if count > 1 {
                inner.suffix = format!("{}_{i}", scope.suffix);
            }
            layers.extend(self.body(&repeat.body.stmts, env, &inner, shape));
            if self.stopped {
                break;
            }
        }
        layers
    }

    fn residual(
        &mut self,
        res: &ResidualStmt,
        env: &Env,
        scope: &Scope,
        shape: &mut Option<Vec<usize>>,
    ) -> Option<Layer> {
        let header = Span::new(res.span.start, res.body.span.start.max(res.span.start));
        let args: Vec<Arg> = res.args.iter().map(|a| substitute_arg(a, env)).collect();
        let bound = bind(self.diags, "residual", header, &args, &["projection"]);
        let projection = match bound.get("projection") {
            Some(Expr {
                kind: ExprKind::Name(n),
                ..
            }) if n == "none" => None,
            Some(expr) => Some(init_value(self.diags, expr)),
            None => None,
        };
        let name = self.next_name("residual", &res.alias, scope);
        let in_shape = shape.clone();
        let body = self.body(&res.body.stmts, env, scope, shape);
        // An unknown input shape (an earlier error) resolves no layers; only a body with no
        // statements at all is empty.
        let unresolved = in_shape.is_none();
        if body.is_empty() && !unresolved && !self.stopped {
            self.diags.push(
                Diagnostic::error(
                    "netc::model::empty_residual",
                    header,
                    "this `residual` has no layers",
                )
                .with_label("empty body")
                .with_help("put the layers the skip connection goes around inside the braces"),
            );
            return None;
        }
        if body.is_empty() {
            *shape = None;
            return None;
        }
        let projection = match projection {
            Some(init) => Some(init?),
            None => None,
        };
        let (Some(in_shape), Some(out_shape)) = (in_shape, shape.clone()) else {
            *shape = None;
            return None;
        };
        if !self.residual_shapes(
            res,
            header,
            &in_shape,
            &out_shape,
            projection.is_some(),
            &body,
        ) {
            *shape = None;
            return None;
        }
        Some(Layer {
            name,
            kind: LayerKind::Residual { body, projection },
            span: res.span,
            in_shape,
            out_shape,
        })
    }

    fn residual_shapes(
        &mut self,
        res: &ResidualStmt,
        header: Span,
        in_shape: &[usize],
        out_shape: &[usize],
        projected: bool,
        body: &[Layer],
    ) -> bool {
        let last_span = body.last().map_or(res.body.span, |l| l.span);
        if in_shape == out_shape {
            if projected {
                self.diags.push(
                    Diagnostic::warning(
                        "netc::lint::needless_projection",
                        header,
                        format!("this residual's body keeps the shape {in_shape:?}, so the projection is not needed"),
                    )
                    .with_label("projection asked for here")
                    .with_help("remove `projection = ...` to use the identity skip"),
                );
            }
            return true;
        }
        let ranks_match = in_shape.len() == out_shape.len()
            && in_shape[..in_shape.len().saturating_sub(1)]
                == out_shape[..out_shape.len().saturating_sub(1)];
        if projected && ranks_match {
            let (fan_in, fan_out) = (last(in_shape), last(out_shape));
            self.add_params((fan_in * fan_out) as u64, header);
            return true;
        }
        let width = last(in_shape);
        let help = match (in_shape.len(), ranks_match) {
            (3, true) => format!(
                "make the body end with {width} filters, or ask for a 1×1 convolution on the skip: `residual projection = he_normal {{ ... }}`"
            ),
            (3, false) => "the skip's projection is a 1×1 convolution with stride 1, so the body must keep the height and width (stride 1, `padding = same`)".to_string(),
            _ => format!(
                "make the body end with {width} units, or ask for a projection: `residual projection = xavier_uniform {{ ... }}`"
            ),
        };
        self.diags.push(
            Diagnostic::error(
                "netc::shape::residual_mismatch",
                header,
                format!("a residual adds its input to its body's output, but they have shapes {in_shape:?} and {out_shape:?}"),
            )
            .with_label(format!("the skip carries {in_shape:?}"))
            .with_related(last_span, format!("but the body outputs {out_shape:?}"))
            .with_help(help),
        );
        false
    }

    fn block_use(
        &mut self,
        layer: &LayerStmt,
        scope: &Scope,
        shape: &mut Option<Vec<usize>>,
    ) -> Vec<Layer> {
        let Some(block) = self.blocks.get(&layer.kind.text).copied() else {
            return Vec::new();
        };
        let name = block.name.text.clone();
        if self.stack.contains(&name) {
            self.diags.push(
                Diagnostic::error(
                    "netc::name::block_recursion",
                    layer.kind.span,
                    format!("block `{name}` uses itself"),
                )
                .with_label("used again here")
                .with_related(block.name.span, "the block is defined here")
                .with_help("a block cannot contain itself; use `repeat` to stack copies"),
            );
            *shape = None;
            return Vec::new();
        }
        if self.stack.len() >= MAX_BLOCK_DEPTH {
            self.diags.push(
                Diagnostic::error(
                    "netc::name::block_too_deep",
                    layer.kind.span,
                    format!("blocks use blocks more than {MAX_BLOCK_DEPTH} deep here"),
                )
                .with_label("too deep"),
            );
            *shape = None;
            return Vec::new();
        }
        let before = self.diags.len();
        let Some(env) = self.block_env(block, layer) else {
            *shape = None;
            return Vec::new();
        };
        let mut inner = scope.clone();
        if let Some(alias) = &layer.alias {
            inner.prefix = format!("{}{}.", scope.prefix, alias.text);
        }
        self.stack.push(name.clone());
        let layers = self.body(&block.body.stmts, &env, &inner, shape);
        self.stack.pop();
        for diag in &mut self.diags[before..] {
            if diag.is_error() {
                diag.related.push(crate::diag::Label {
                    span: layer.span,
                    message: format!("in this use of block `{name}`"),
                });
            }
        }
        layers
    }

    /// Binds a block use's arguments (or the parameters' defaults) to the block's parameters.
    fn block_env(&mut self, block: &BlockDef, layer: &LayerStmt) -> Option<Env> {
        let name = &block.name.text;
        let params: Vec<&str> = block.params.iter().map(|p| p.name.text.as_str()).collect();
        let before = self.diags.len();
        let bound = bind(self.diags, name, layer.kind.span, &layer.args, &params);
        let mut env = Env::new();
        for param in &block.params {
            match bound.get(&param.name.text).or(param.default.as_ref()) {
                Some(value) => {
                    env.insert(param.name.text.clone(), value.clone());
                }
                None => self.diags.push(
                    Diagnostic::error(
                        "netc::arg::missing",
                        layer.span,
                        format!("block `{name}` needs `{}`", param.name.text),
                    )
                    .with_label(format!("`{}` is missing", param.name.text))
                    .with_related(param.span, "the parameter is declared here"),
                ),
            }
        }
        (self.diags.len() == before).then_some(env)
    }
}

/// Replaces block parameters by the values a block use gave them.
fn substitute(expr: &Expr, env: &Env) -> Expr {
    if env.is_empty() {
        return expr.clone();
    }
    match &expr.kind {
        ExprKind::Name(n) => env.get(n).cloned().unwrap_or_else(|| expr.clone()),
        ExprKind::Call { name, args } => Expr {
            kind: ExprKind::Call {
                name: name.clone(),
                args: args.iter().map(|a| substitute_arg(a, env)).collect(),
            },
            span: expr.span,
        },
        ExprKind::List(items) => Expr {
            kind: ExprKind::List(items.iter().map(|e| substitute(e, env)).collect()),
            span: expr.span,
        },
        ExprKind::Number(_) | ExprKind::Str(_) => expr.clone(),
    }
}

fn substitute_arg(arg: &Arg, env: &Env) -> Arg {
    Arg {
        name: arg.name.clone(),
        value: substitute(&arg.value, env),
        span: arg.span,
    }
}

fn substitute_layer(layer: &LayerStmt, env: &Env) -> LayerStmt {
    LayerStmt {
        kind: layer.kind.clone(),
        args: layer.args.iter().map(|a| substitute_arg(a, env)).collect(),
        alias: layer.alias.clone(),
        span: layer.span,
    }
}
