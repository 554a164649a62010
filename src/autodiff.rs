//! Reverse-mode automatic differentiation as a transformation of the IR.
//!
//! [`grad`] walks the forward program backwards from the loss, and for each node applies its
//! vector-Jacobian rule ([`vjp`]): given the adjoint `d` = ∂L/∂y of the node's result y, it
//! appends IR computing each operand's contribution ∂L/∂x = dᵀ·∂y/∂x. Contributions to a value
//! used in several places are summed. Nothing is run here: the backward pass is more IR, which
//! the interpreter or the JIT then executes, and which carries the origin (span, layer) of the
//! forward node it differentiates so a NaN in the backward pass points at a layer.
//!
//! Architecture invariant: this module depends only on `ir`.

use crate::ir::{numel, BinaryOp, CmpOp, Graph, Node, Op, ReduceOp, Shape, UnaryOp, ValueId};

/// Appends the backward program of `loss` to `g` and returns, for each value of `wrt`
/// (parameters, inputs or intermediate values such as a layer's output), the value holding
/// ∂loss/∂wrt, of wrt's shape. A value the loss does not depend on gets a zero constant.
/// A non-scalar `loss` is differentiated as the sum of its elements. A rule may emit a
/// contribution that no `wrt` value needs (∂L/∂mask of x·mask); `passes::dce` removes it.
pub fn grad(g: &mut Graph, loss: ValueId, wrt: &[ValueId]) -> Vec<ValueId> {
    let saved = g.origin().clone();
    let needed = on_a_path(g, loss, wrt);
    let mut adjoint: Vec<Option<ValueId>> = vec![None; loss.index() + 1];
    let seed_shape = g.shape(loss).to_vec();
    let loss_origin = g.node(loss).origin.clone();
    g.set_origin(loss_origin.span, loss_origin.layer.as_deref());
    adjoint[loss.index()] = Some(g.constant(1.0, seed_shape));
    for i in (0..=loss.index()).rev() {
        let Some(d) = adjoint[i] else { continue };
        if !needed[i] {
            continue;
        }
        let node = g.nodes[i].clone();
        g.set_origin(node.origin.span, node.origin.layer.as_deref());
        for (operand, contribution) in vjp(g, ValueId(i as u32), &node, d) {
            if !needed[operand.index()] {
                continue;
            }
            let total = match adjoint[operand.index()] {
                Some(sum) => g.add(sum, contribution),
                None => contribution,
            };
            adjoint[operand.index()] = Some(total);
        }
    }
    g.set_origin(saved.span, saved.layer.as_deref());
    wrt.iter()
        .map(|&w| match adjoint.get(w.index()).copied().flatten() {
            Some(d) => d,
            None => {
                let shape = g.shape(w).to_vec();
                g.constant(0.0, shape)
            }
        })
        .collect()
}

/// Which nodes lie on a path from some `wrt` value to `loss`: only their adjoints are needed.
fn on_a_path(g: &Graph, loss: ValueId, wrt: &[ValueId]) -> Vec<bool> {
    let n = loss.index() + 1;
    let mut from_wrt = vec![false; n];
    for w in wrt.iter().filter(|w| w.index() < n) {
        from_wrt[w.index()] = true;
    }
    for i in 0..n {
        if g.nodes[i].op.operands().iter().any(|o| from_wrt[o.index()]) {
            from_wrt[i] = true;
        }
    }
    let mut to_loss = vec![false; n];
    to_loss[loss.index()] = true;
    for i in (0..n).rev() {
        if to_loss[i] {
            for o in g.nodes[i].op.operands() {
                to_loss[o.index()] = true;
            }
        }
    }
    (0..n).map(|i| from_wrt[i] && to_loss[i]).collect()
}

/// The vector-Jacobian rule of one node: y = node(x…), d = ∂L/∂y; returns (xᵢ, ∂L/∂xᵢ) for
/// each differentiable operand. Ops that are not differentiable (comparisons, the non-finite
/// test, the random mask, a select's condition) contribute nothing: their gradient is zero.
fn vjp(g: &mut Graph, y: ValueId, node: &Node, d: ValueId) -> Vec<(ValueId, ValueId)> {
    match &node.op {
        Op::Input { .. } | Op::Param { .. } | Op::Const { .. } => vec![],
        Op::Unary { op, x } => unary_vjp(g, *op, *x, y, d)
            .map(|dx| (*x, dx))
            .into_iter()
            .collect(),
        Op::Binary { op, a, b } => binary_vjp(g, *op, *a, *b, y, d),
        Op::Compare { .. } => vec![],
        Op::Select {
            cond,
            on_true,
            on_false,
        } => select_vjp(g, *cond, *on_true, *on_false, d),
        Op::MatMul {
            a,
            b,
            trans_a,
            trans_b,
        } => matmul_vjp(g, *a, *b, *trans_a, *trans_b, d),
        Op::Reduce {
            op,
            x,
            axes,
            keep_dims: _,
        } => vec![(*x, reduce_vjp(g, *op, *x, axes, y, d))],
        Op::Reshape { x } => {
            // same elements, so the adjoint is d in x's shape
            let shape = g.shape(*x).to_vec();
            vec![(*x, g.reshape(d, shape))]
        }
        Op::Transpose { x, perm } => vec![(*x, transpose_vjp(g, perm, d))],
        Op::Broadcast { x } => {
            let x_shape = g.shape(*x).to_vec();
            vec![(*x, unbroadcast(g, d, x_shape))]
        }
        Op::Slice {
            x,
            axis,
            start,
            len,
        } => vec![(*x, slice_vjp(g, *x, *axis, *start, *len, d))],
        Op::Concat { xs, axis } => concat_vjp(g, xs, *axis, d),
        // the windows gather and their scatter-add are each other's transpose
        Op::Windows { x, win } => {
            let x_shape = g.shape(*x).to_vec();
            vec![(*x, g.windows_add(d, win, x_shape))]
        }
        Op::WindowsAdd { dy, win } => vec![(*dy, g.windows(d, win))],
        Op::RandomMask { .. } => vec![],
    }
}

/// y = c ? t : f  ⇒  ∂L/∂t = c ? d : 0,  ∂L/∂f = c ? 0 : d (the condition gets nothing).
fn select_vjp(
    g: &mut Graph,
    cond: ValueId,
    on_true: ValueId,
    on_false: ValueId,
    d: ValueId,
) -> Vec<(ValueId, ValueId)> {
    let zero = g.constant(0.0, g.shape(d).to_vec());
    let dt = g.select(cond, d, zero);
    let df = g.select(cond, zero, d);
    vec![(on_true, dt), (on_false, df)]
}

/// y axis i = x axis perm[i]  ⇒  dx = d transposed by the inverse permutation.
fn transpose_vjp(g: &mut Graph, perm: &[usize], d: ValueId) -> ValueId {
    let mut inverse = vec![0; perm.len()];
    for (i, &p) in perm.iter().enumerate() {
        inverse[p] = i;
    }
    g.transpose(d, inverse)
}

/// Each concatenated piece receives its own slice of d.
fn concat_vjp(g: &mut Graph, xs: &[ValueId], axis: usize, d: ValueId) -> Vec<(ValueId, ValueId)> {
    let mut at = 0;
    (xs.iter())
        .map(|&x| {
            let len = g.shape(x)[axis];
            let dx = g.slice(d, axis, at, len);
            at += len;
            (x, dx)
        })
        .collect()
}

/// ∂L/∂x for y = f(x), as a table that reads like the math. `None`: not differentiable.
/// (Longer than most functions on purpose: one arm per unary op keeps the rules side by side.)
fn unary_vjp(g: &mut Graph, op: UnaryOp, x: ValueId, y: ValueId, d: ValueId) -> Option<ValueId> {
    let dx = match op {
        // d/dx −x = −1
        UnaryOp::Neg => g.unary(UnaryOp::Neg, d),
        // d/dx eˣ = eˣ = y
        UnaryOp::Exp => g.mul(d, y),
        // d/dx ln x = 1/x
        UnaryOp::Log => g.div(d, x),
        // d/dx ln(1 + x) = 1/(1 + x)
        UnaryOp::Log1p => {
            let one_plus_x = g.offset(x, 1.0);
            g.div(d, one_plus_x)
        }
        // d/dx tanh x = 1 − tanh² x = 1 − y²
        UnaryOp::Tanh => {
            let y2 = g.unary(UnaryOp::Square, y);
            let one = g.constant(1.0, g.shape(y).to_vec());
            let slope = g.sub(one, y2);
            g.mul(d, slope)
        }
        // d/dx σ(x) = σ(x)(1 − σ(x)) = y(1 − y)
        UnaryOp::Sigmoid => {
            let one = g.constant(1.0, g.shape(y).to_vec());
            let one_minus_y = g.sub(one, y);
            let slope = g.mul(y, one_minus_y);
            g.mul(d, slope)
        }
        // d/dx √x = 1/(2√x) = 0.5/y
        UnaryOp::Sqrt => {
            let half_d = g.scale(d, 0.5);
            g.div(half_d, y)
        }
        // d/dx x^(−1/2) = −½ x^(−3/2) = −½ y³
        UnaryOp::Rsqrt => {
            let y2 = g.unary(UnaryOp::Square, y);
            let y3 = g.mul(y2, y);
            let slope = g.scale(y3, -0.5);
            g.mul(d, slope)
        }
        // d/dx 1/x = −1/x² = −y²
        UnaryOp::Recip => {
            let y2 = g.unary(UnaryOp::Square, y);
            let slope = g.unary(UnaryOp::Neg, y2);
            g.mul(d, slope)
        }
        // d/dx |x| = sign x (0 at x = 0)
        UnaryOp::Abs => {
            let sign = sign(g, x);
            g.mul(d, sign)
        }
        // d/dx x² = 2x
        UnaryOp::Square => {
            let two_x = g.scale(x, 2.0);
            g.mul(d, two_x)
        }
        // d/dx erf x = 2/√π · e^(−x²)
        UnaryOp::Erf => {
            let x2 = g.unary(UnaryOp::Square, x);
            let minus_x2 = g.unary(UnaryOp::Neg, x2);
            let gauss = g.unary(UnaryOp::Exp, minus_x2);
            let slope = g.scale(gauss, std::f64::consts::FRAC_2_SQRT_PI);
            g.mul(d, slope)
        }
        // d/dx max(x, 0) = 1 where x > 0, else 0: relu′(0) = 0, PyTorch's choice
        UnaryOp::Relu => {
            let zero = g.constant(0.0, g.shape(x).to_vec());
            let positive = g.compare(CmpOp::Gt, x, zero);
            g.select(positive, d, zero)
        }
        // d/dx ln(1 + eˣ) = σ(x), right at x = 0 too, where the stable form has its kink
        UnaryOp::Softplus => {
            let s = g.unary(UnaryOp::Sigmoid, x);
            g.mul(d, s)
        }
        // a 0/1 flag: zero gradient
        UnaryOp::IsNonFinite => return None,
    };
    Some(dx)
}

/// sign x = (x > 0) − (x < 0), as IR.
fn sign(g: &mut Graph, x: ValueId) -> ValueId {
    let zero = g.constant(0.0, g.shape(x).to_vec());
    let pos = g.compare(CmpOp::Gt, x, zero);
    let neg = g.compare(CmpOp::Lt, x, zero);
    g.sub(pos, neg)
}

/// (∂L/∂a, ∂L/∂b) for y = a ∘ b.
fn binary_vjp(
    g: &mut Graph,
    op: BinaryOp,
    a: ValueId,
    b: ValueId,
    y: ValueId,
    d: ValueId,
) -> Vec<(ValueId, ValueId)> {
    match op {
        // ∂(a + b) = (1, 1)
        BinaryOp::Add => vec![(a, d), (b, d)],
        // ∂(a − b) = (1, −1)
        BinaryOp::Sub => {
            let minus_d = g.unary(UnaryOp::Neg, d);
            vec![(a, d), (b, minus_d)]
        }
        // ∂(a·b) = (b, a)
        BinaryOp::Mul => {
            let da = g.mul(d, b);
            let db = g.mul(d, a);
            vec![(a, da), (b, db)]
        }
        // ∂(a/b) = (1/b, −a/b²) = (1/b, −y/b)
        BinaryOp::Div => {
            let da = g.div(d, b);
            let y_over_b = g.div(y, b);
            let minus = g.unary(UnaryOp::Neg, y_over_b);
            let db = g.mul(d, minus);
            vec![(a, da), (b, db)]
        }
        // max: d to the larger operand, d/2 to each on a tie (PyTorch's torch.maximum)
        BinaryOp::Max => {
            let da = route(g, CmpOp::Lt, a, b, d);
            let db = route(g, CmpOp::Gt, a, b, d);
            vec![(a, da), (b, db)]
        }
        // min: d to the smaller operand, d/2 to each on a tie (PyTorch's torch.minimum)
        BinaryOp::Min => {
            let da = route(g, CmpOp::Gt, a, b, d);
            let db = route(g, CmpOp::Lt, a, b, d);
            vec![(a, da), (b, db)]
        }
    }
}

/// One operand's share of a max/min adjoint, as PyTorch writes it: 0 where `a loses b`, d/2
/// where a = b, d elsewhere (so a NaN operand, equal to nothing, passes d to both sides).
fn route(g: &mut Graph, loses: CmpOp, a: ValueId, b: ValueId, d: ValueId) -> ValueId {
    let lost = g.compare(loses, a, b);
    let tie = g.compare(CmpOp::Eq, a, b);
    let zero = g.constant(0.0, g.shape(d).to_vec());
    let half = g.scale(d, 0.5);
    let share = g.select(tie, half, d);
    g.select(lost, zero, share)
}

/// y = op(A)·op(B): ∂L/∂op(A) = d·op(B)ᵀ and ∂L/∂op(B) = op(A)ᵀ·d, transposed back when the
/// operand itself was used transposed.
fn matmul_vjp(
    g: &mut Graph,
    a: ValueId,
    b: ValueId,
    trans_a: bool,
    trans_b: bool,
    d: ValueId,
) -> Vec<(ValueId, ValueId)> {
    let (da, db) = match (trans_a, trans_b) {
        // y = A·B:   dA = d·Bᵀ,       dB = Aᵀ·d
        (false, false) => (g.matmul(d, b, false, true), g.matmul(a, d, true, false)),
        // y = Aᵀ·B:  dA = (d·Bᵀ)ᵀ = B·dᵀ,   dB = A·d
        (true, false) => (g.matmul(b, d, false, true), g.matmul(a, d, false, false)),
        // y = A·Bᵀ:  dA = d·B,       dB = (Aᵀ·d)ᵀ = dᵀ·A
        (false, true) => (g.matmul(d, b, false, false), g.matmul(d, a, true, false)),
        // y = Aᵀ·Bᵀ: dA = (d·B)ᵀ = Bᵀ·dᵀ,  dB = (A·d)ᵀ = dᵀ·Aᵀ
        (true, true) => (g.matmul(b, d, true, true), g.matmul(d, a, true, true)),
    };
    vec![(a, da), (b, db)]
}

/// ∂L/∂x for a reduction y of x over `axes`.
fn reduce_vjp(
    g: &mut Graph,
    op: ReduceOp,
    x: ValueId,
    axes: &[usize],
    y: ValueId,
    d: ValueId,
) -> ValueId {
    let x_shape = g.shape(x).to_vec();
    let kept: Shape = (x_shape.iter().enumerate())
        .map(|(i, &n)| if axes.contains(&i) { 1 } else { n })
        .collect();
    // d spread back over the reduced axes
    let d_kept = g.reshape(d, kept.clone());
    let spread = g.broadcast(d_kept, x_shape.clone());
    match op {
        // ∂/∂xᵢ Σ x = 1
        ReduceOp::Sum => spread,
        // ∂/∂xᵢ (Σ x)/n = 1/n
        ReduceOp::Mean => {
            let count = numel(&x_shape) / numel(&kept).max(1);
            g.scale(spread, 1.0 / count as f64)
        }
        // ∂/∂xᵢ max x = 1/k where xᵢ is one of the k positions equal to the maximum, else 0
        // (PyTorch's amax: tied positions share the gradient evenly)
        ReduceOp::Max => {
            let y_kept = g.reshape(y, kept.clone());
            let max = g.broadcast(y_kept, x_shape.clone());
            let is_max = g.compare(CmpOp::Eq, x, max);
            let ties = g.reduce(ReduceOp::Sum, is_max, axes, true);
            let ties = g.broadcast(ties, x_shape.clone());
            let share = g.div(spread, ties);
            let zero = g.constant(0.0, x_shape);
            g.select(is_max, share, zero)
        }
    }
}

/// The adjoint of a broadcast: d summed over every axis that was added or stretched.
fn unbroadcast(g: &mut Graph, d: ValueId, x_shape: Shape) -> ValueId {
    let out = g.shape(d).to_vec();
    let lead = out.len() - x_shape.len();
    let axes: Vec<usize> = (0..out.len())
        .filter(|&i| i < lead || (x_shape[i - lead] == 1 && out[i] != 1))
        .collect();
    let summed = if axes.is_empty() {
        d
    } else {
        g.reduce(ReduceOp::Sum, d, &axes, true)
    };
    g.reshape(summed, x_shape)
}

/// The adjoint of a slice: d placed back at its position, zeros elsewhere.
fn slice_vjp(
    g: &mut Graph,
    x: ValueId,
    axis: usize,
    start: usize,
    len: usize,
    d: ValueId,
) -> ValueId {
    let x_shape = g.shape(x).to_vec();
    let mut pieces = Vec::with_capacity(3);
    for (at, n) in [(0, start), (start + len, x_shape[axis] - start - len)] {
        if n > 0 {
            let mut shape = x_shape.clone();
            shape[axis] = n;
            let zeros = g.constant(0.0, shape);
            pieces.push((at, zeros));
        }
    }
    pieces.push((start, d));
    pieces.sort_by_key(|&(at, _)| at);
    let pieces: Vec<ValueId> = pieces.into_iter().map(|(_, v)| v).collect();
    g.concat(&pieces, axis)
}
