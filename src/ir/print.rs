//! The IR's text form: one op a line with its shape and origin, then the outputs and their
//! roles. Stable (snapshot-tested) and meant to be read by people:
//!
//! ```text
//! %12 = matmul %3, %7ᵀ : [64, 128]    ; dense1 @ 5:5
//! ```

use super::{BinaryOp, CmpOp, Graph, Node, Op, Origin, ReduceOp, Role, UnaryOp, Window2d};
use std::fmt::Write;

/// The graph as text; origins show byte spans (`@ 40..52`). Use [`print_with_source`] for
/// line:column positions.
pub fn print(g: &Graph) -> String {
    render(g, None)
}

/// The graph as text, with origins as 1-based `line:column` positions in `source`.
pub fn print_with_source(g: &Graph, source: &str) -> String {
    render(g, Some(source))
}

/// The op's name in the text form (also used by error messages).
pub fn op_name(op: &Op) -> &'static str {
    match op {
        Op::Input { .. } => "input",
        Op::Param { .. } => "param",
        Op::Const { .. } => "const",
        Op::Unary { op, .. } => unary_name(*op),
        Op::Binary { op, .. } => binary_name(*op),
        Op::Compare { op, .. } => compare_name(*op),
        Op::Select { .. } => "select",
        Op::MatMul { .. } => "matmul",
        Op::Reduce { op, .. } => reduce_name(*op),
        Op::Reshape { .. } => "reshape",
        Op::Transpose { .. } => "transpose",
        Op::Broadcast { .. } => "broadcast",
        Op::Slice { .. } => "slice",
        Op::Concat { .. } => "concat",
        Op::Windows { .. } => "windows",
        Op::WindowsAdd { .. } => "windows_add",
        Op::RandomMask { .. } => "random_mask",
    }
}

pub fn unary_name(op: UnaryOp) -> &'static str {
    match op {
        UnaryOp::Neg => "neg",
        UnaryOp::Exp => "exp",
        UnaryOp::Log => "log",
        UnaryOp::Log1p => "log1p",
        UnaryOp::Tanh => "tanh",
        UnaryOp::Sigmoid => "sigmoid",
        UnaryOp::Sqrt => "sqrt",
        UnaryOp::Rsqrt => "rsqrt",
        UnaryOp::Recip => "recip",
        UnaryOp::Abs => "abs",
        UnaryOp::Square => "square",
        UnaryOp::Erf => "erf",
        UnaryOp::Relu => "relu",
        UnaryOp::Softplus => "softplus",
        UnaryOp::IsNonFinite => "is_nonfinite",
    }
}

pub fn binary_name(op: BinaryOp) -> &'static str {
    match op {
        BinaryOp::Add => "add",
        BinaryOp::Sub => "sub",
        BinaryOp::Mul => "mul",
        BinaryOp::Div => "div",
        BinaryOp::Max => "max",
        BinaryOp::Min => "min",
    }
}

pub fn compare_name(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Gt => "gt",
        CmpOp::Ge => "ge",
        CmpOp::Lt => "lt",
        CmpOp::Le => "le",
        CmpOp::Eq => "eq",
    }
}

pub fn reduce_name(op: ReduceOp) -> &'static str {
    match op {
        ReduceOp::Sum => "reduce_sum",
        ReduceOp::Mean => "reduce_mean",
        ReduceOp::Max => "reduce_max",
    }
}

/// Comments line up after the longest line, but no further right than this.
const MAX_COMMENT_COLUMN: usize = 48;

fn render(g: &Graph, source: Option<&str>) -> String {
    let mut lines: Vec<(String, String)> = Vec::with_capacity(g.len() + g.outputs.len());
    for (i, node) in g.nodes.iter().enumerate() {
        let shape = format!("{:?}", node.shape);
        let code = format!("%{i} = {} : {shape}", op_text(node));
        lines.push((code, origin_text(&node.origin, source)));
    }
    for o in &g.outputs {
        lines.push((
            format!("output {} = {}", o.name, o.value),
            role_text(&o.role),
        ));
    }
    let width = (lines.iter())
        .map(|(code, _)| code.chars().count())
        .max()
        .unwrap_or(0)
        .min(MAX_COMMENT_COLUMN);
    let mut out = String::new();
    for (code, comment) in lines {
        if comment.is_empty() {
            let _ = writeln!(out, "{code}");
        } else {
            let _ = writeln!(out, "{code:<width$}    ; {comment}");
        }
    }
    out
}

fn op_text(node: &Node) -> String {
    let name = op_name(&node.op);
    match &node.op {
        Op::Input { name: leaf } | Op::Param { name: leaf } => format!("{name} {leaf}"),
        Op::Const { value } => format!("{name} {value:?}"),
        Op::Unary { x, .. } | Op::Reshape { x } | Op::Broadcast { x } => format!("{name} {x}"),
        Op::Binary { a, b, .. } | Op::Compare { a, b, .. } => format!("{name} {a}, {b}"),
        Op::Select {
            cond,
            on_true,
            on_false,
        } => format!("{name} {cond}, {on_true}, {on_false}"),
        Op::MatMul {
            a,
            b,
            trans_a,
            trans_b,
        } => format!("{name} {a}{}, {b}{}", tee(*trans_a), tee(*trans_b)),
        Op::Reduce {
            x, axes, keep_dims, ..
        } => {
            let keep = if *keep_dims { " keepdims" } else { "" };
            format!("{name} {x} axes {axes:?}{keep}")
        }
        Op::Transpose { x, perm } => format!("{name} {x} perm {perm:?}"),
        Op::Slice {
            x,
            axis,
            start,
            len,
        } => format!("{name} {x} axis {axis} [{start}..{}]", start + len),
        Op::Concat { xs, axis } => {
            let xs: Vec<String> = xs.iter().map(ToString::to_string).collect();
            format!("{name} {} axis {axis}", xs.join(", "))
        }
        Op::RandomMask {
            p,
            seed,
            stream,
            counter,
        } => format!("{name} {counter} p {p:?} seed {seed} stream {stream}"),
        Op::Windows { x: v, win } | Op::WindowsAdd { dy: v, win } => {
            format!("{name} {v} {}", window_text(win))
        }
    }
}

/// `kernel 3x3 stride 1x1 dilation 1x1 pad [1, 1, 1, 1]` (padding: top, bottom, left, right).
fn window_text(win: &Window2d) -> String {
    let pair = |xs: [usize; 2]| format!("{}x{}", xs[0], xs[1]);
    format!(
        "kernel {} stride {} dilation {} pad {:?}",
        pair(win.kernel),
        pair(win.stride),
        pair(win.dilation),
        win.padding
    )
}

fn tee(transposed: bool) -> &'static str {
    if transposed {
        "ᵀ"
    } else {
        ""
    }
}

fn origin_text(origin: &Origin, source: Option<&str>) -> String {
    let at = origin.span.map(|span| match source {
        Some(src) => {
            let (line, col) = span.line_col(src);
            format!("@ {line}:{col}")
        }
        None => format!("@ {}..{}", span.start, span.end),
    });
    match (&origin.layer, at) {
        (Some(layer), Some(at)) => format!("{layer} {at}"),
        (Some(layer), None) => layer.clone(),
        (None, Some(at)) => at,
        (None, None) => String::new(),
    }
}

fn role_text(role: &Role) -> String {
    match role {
        Role::Loss => "loss".into(),
        Role::Probe { layer, stat } => {
            let at = match (stat.time_step(), stat.gate()) {
                (Some(t), _) => format!(" t={t}"),
                (None, Some(gate)) => format!(" gate={}", gate.name()),
                (None, None) => String::new(),
            };
            // The program computes the square of a norm; the files show its root.
            let squared = if stat.squared() { " (squared)" } else { "" };
            format!("probe {layer} {}{at}{squared}", stat.name())
        }
        Role::Metric => "metric".into(),
        Role::Update { param } => format!("update {param}"),
        Role::Value => "value".into(),
    }
}
