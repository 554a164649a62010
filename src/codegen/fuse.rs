//! Loop fusion: each loop body moves up to the earliest loop nest over the same space that
//! already walks the same memory — the loop producing its input (a reduction such as a probe
//! then accumulates in registers while its input is computed, reading it as [`Expr::Local`])
//! or a sibling reading the same elements (a gradient feeding both its SGD update and its norm
//! probe) — so the extra statistic costs no trip through memory. A reduction prefers the
//! earliest such nest that evaluates no transcendental function: a tanh forward loop already
//! runs out of registers, while its backward loop reads the same activations with room to spare.

use super::program::{Access, Body, BufId, Expr, LoopNest, Step, StoreMode};
use crate::ir::numel;

/// Nests over at most this many points also take bodies they share no memory with (merging
/// saves their loop overhead, and there is no stream of loads to disturb).
const TINY_SPACE: usize = 16;

/// How many placed steps a body looks back over for a nest to join. Fusion partners are near
/// (a producer and its probes, a gradient and its update: within a few hundred steps in the
/// largest feedforward programs here), while looking back without bound makes planning
/// quadratic in the program's length: a 1000-step LSTM (20 000 steps) took seconds.
const REACH: usize = 512;

/// Places every loop body of `steps`, in order, into the earliest nest it may join (see
/// [`place`]); matrix products stay where they are.
pub(crate) fn fuse(steps: &mut Vec<Step>) {
    let mut out = Placed::default();
    for step in steps.drain(..) {
        match step {
            Step::Loop(nest) => {
                for body in nest.bodies() {
                    place(&mut out, &nest.space, body);
                }
            }
            Step::MatMul(_) => {
                out.memo.push(Memo::of(&step));
                out.steps.push(step);
            }
        }
    }
    *steps = out.steps;
}

/// The steps placed so far, with what each touches (kept up to date, so placing a body does
/// not rescan every body before it).
#[derive(Default)]
struct Placed {
    steps: Vec<Step>,
    memo: Vec<Memo>,
}

/// The buffers a step writes and those it reads or writes, and whether its bodies suit f32x4.
struct Memo {
    written: Vec<BufId>,
    touched: Vec<BufId>,
    lanes: bool,
}

impl Memo {
    fn of(step: &Step) -> Memo {
        match step {
            Step::Loop(l) => {
                let mut memo = Memo {
                    written: Vec::new(),
                    touched: Vec::new(),
                    lanes: true,
                };
                for b in l.bodies() {
                    memo.add(&b);
                }
                memo
            }
            Step::MatMul(mm) => Memo {
                written: vec![mm.c],
                touched: vec![mm.c, mm.a.buf, mm.b.buf],
                lanes: false,
            },
        }
    }

    fn add(&mut self, b: &Body) {
        self.written.push(b.dst.buf);
        self.touched.push(b.dst.buf);
        collect_reads(&b.expr, &mut self.touched);
        self.lanes &= lane_friendly(b);
    }

    /// Whether `body` may run before this step: the step writes nothing it reads and does
    /// not touch what it writes.
    fn passable(&self, reads: &[BufId], dst: BufId) -> bool {
        !self.written.iter().any(|b| reads.contains(b)) && !self.touched.contains(&dst)
    }
}

/// Appends `body` (over `space`) to `out`: into the earliest nest it can move up to that
/// shares memory with it, else as a nest of its own — at the end, or as early as it may run
/// when it reads no memory at all (an initializing fill, which then no longer sits between
/// a reduction and the loop producing its input).
fn place(out: &mut Placed, space: &[usize], body: Body) {
    let mut reads = Vec::new();
    collect_reads(&body.expr, &mut reads);
    let lanes = lane_friendly(&body);
    let mut target = None;
    // The earliest candidate that evaluates no transcendental function: a reduction added to
    // a tanh loop makes Cranelift spill (16 xmm registers), while in a light loop reading the
    // same elements (the tanh's backward pass) it costs its arithmetic alone.
    let mut light = None;
    let mut earliest = out.steps.len();
    let reach = out.steps.len().saturating_sub(REACH);
    for t in (reach..out.steps.len()).rev() {
        let memo = &out.memo[t];
        if let Step::Loop(nest) = &out.steps[t] {
            let clash = memo.touched.contains(&body.dst.buf) || memo.lanes != lanes;
            if nest.space == space && !clash {
                let adjacent = t + 1 == out.steps.len();
                let near = shares_memory(nest, &body) || (adjacent && numel(space) <= TINY_SPACE);
                if near && joined(nest, &body).is_some() {
                    target = Some(t);
                    let heavy = nest.expr.calls_a_function()
                        || nest.fused.iter().any(|b| b.expr.calls_a_function());
                    if !heavy {
                        light = Some(t);
                    }
                }
            }
        }
        if !memo.passable(&reads, body.dst.buf) {
            break;
        }
        earliest = t;
    }
    let reduces = matches!(body.mode, StoreMode::SumAll | StoreMode::MaxAll);
    if let Some(t) = if reduces { light.or(target) } else { target } {
        if let Step::Loop(nest) = &mut out.steps[t] {
            if let Some(body) = joined(nest, &body) {
                out.memo[t].add(&body);
                nest.fused.push(body);
                return;
            }
        }
    }
    let at = if reads.is_empty() {
        earliest
    } else {
        out.steps.len()
    };
    let step = Step::Loop(LoopNest {
        space: space.to_vec(),
        expr: body.expr,
        dst: body.dst,
        mode: body.mode,
        fused: Vec::new(),
    });
    out.memo.insert(at, Memo::of(&step));
    out.steps.insert(at, step);
}

/// `body` rewritten to join `nest`, whose memory it does not clash with: loads of elements
/// the nest assigns become [`Expr::Local`]; `None` if it reads the nest's results at any
/// other element.
fn joined(nest: &LoopNest, body: &Body) -> Option<Body> {
    let mut results = vec![(&nest.dst, nest.mode)];
    results.extend(nest.fused.iter().map(|b| (&b.dst, b.mode)));
    let mut expr = body.expr.clone();
    forward(&mut expr, &results)?;
    Some(Body {
        expr,
        dst: body.dst.clone(),
        mode: body.mode,
    })
}

/// Replaces each load of an element one of the nest's `results` assigns at the same point with
/// that body's value; `None` if `e` reads their results in any other way.
fn forward(e: &mut Expr, results: &[(&Access, StoreMode)]) -> Option<()> {
    match e {
        Expr::Load(a) => {
            if !results.iter().any(|(dst, _)| dst.buf == a.buf) {
                return Some(());
            }
            let i = results
                .iter()
                .position(|(dst, mode)| *mode == StoreMode::Assign && **dst == *a)?;
            *e = Expr::Local(i);
            Some(())
        }
        Expr::Const(_) | Expr::Local(_) => Some(()),
        Expr::Mask(m) => (!results.iter().any(|(dst, _)| dst.buf == m.counter.buf)).then_some(()),
        Expr::Unary(_, x) => forward(x, results),
        Expr::Binary(_, a, b) | Expr::Compare(_, a, b) => {
            forward(a, results)?;
            forward(b, results)
        }
        Expr::Select(abc) => abc.iter_mut().try_for_each(|x| forward(x, results)),
    }
}

/// Whether the nest reads the same elements as `body` in the same order, or produces some.
fn shares_memory(nest: &LoopNest, body: &Body) -> bool {
    let mut mine = Vec::new();
    collect_loads(&body.expr, &mut mine);
    mine.retain(|a| a.at.strides.iter().any(|&s| s != 0));
    if mine.is_empty() {
        return false;
    }
    let mut theirs = vec![nest.dst.clone()];
    collect_loads(&nest.expr, &mut theirs);
    for b in &nest.fused {
        theirs.push(b.dst.clone());
        collect_loads(&b.expr, &mut theirs);
    }
    theirs.iter().any(|a| mine.contains(a))
}

/// Whether the innermost axis suits f32x4 (stride 0 or 1 everywhere, no mask): `emit` runs
/// a nest on vectors only when all its bodies do, so a scalar body would slow a vector nest.
fn lane_friendly(b: &Body) -> bool {
    let mut loads = Vec::new();
    collect_loads(&b.expr, &mut loads);
    let inner = |a: &Access| a.at.strides.last().is_none_or(|&s| s <= 1);
    let store_ok = match b.mode {
        StoreMode::Assign => inner(&b.dst),
        StoreMode::Add | StoreMode::Max | StoreMode::SumAll | StoreMode::MaxAll => true,
    };
    store_ok && loads.iter().all(inner) && !b.expr.has_mask()
}

/// Every load of an expression (not the mask's counter).
fn collect_loads(e: &Expr, out: &mut Vec<Access>) {
    match e {
        Expr::Load(a) => out.push(a.clone()),
        Expr::Const(_) | Expr::Local(_) | Expr::Mask(_) => {}
        Expr::Unary(_, x) => collect_loads(x, out),
        Expr::Binary(_, a, b) | Expr::Compare(_, a, b) => {
            collect_loads(a, out);
            collect_loads(b, out);
        }
        Expr::Select(abc) => abc.iter().for_each(|x| collect_loads(x, out)),
    }
}

/// Every buffer an expression reads.
pub(crate) fn collect_reads(e: &Expr, bufs: &mut Vec<BufId>) {
    match e {
        Expr::Load(a) => bufs.push(a.buf),
        Expr::Const(_) | Expr::Local(_) => {}
        Expr::Mask(m) => bufs.push(m.counter.buf),
        Expr::Unary(_, x) => collect_reads(x, bufs),
        Expr::Binary(_, a, b) | Expr::Compare(_, a, b) => {
            collect_reads(a, bufs);
            collect_reads(b, bufs);
        }
        Expr::Select(abc) => abc.iter().for_each(|x| collect_reads(x, bufs)),
    }
}

#[cfg(test)]
mod tests {
    use super::super::plan::plan;
    use super::super::program::{Expr, Step};
    use crate::ir::{Graph, ReduceOp, Role, UnaryOp};

    #[test]
    fn an_update_and_the_norm_probe_of_its_gradient_share_one_loop() {
        // g = xᵀ·w (a library product, so g is a buffer); probe = Σ g²; update = w − 0.1·g
        let mut gr = Graph::new();
        let x = gr.input("x", vec![64, 64]);
        let w = gr.param("w", vec![64, 64]);
        let g = gr.matmul(x, w, true, false);
        let sq = gr.unary(UnaryOp::Square, g);
        let norm = gr.reduce_all(ReduceOp::Sum, sq);
        let step = gr.scale(g, 0.1);
        let new = gr.sub(w, step);
        gr.add_output("norm", norm, Role::Value);
        gr.add_output("w", new, Role::Update { param: "w".into() });
        let p = plan(&gr, false).expect("plans");
        let fused = p.steps.iter().any(|s| match s {
            Step::Loop(l) => l.fused.len() == 1 && l.space == vec![64, 64],
            Step::MatMul(_) => false,
        });
        assert!(fused, "{:#?}", p.steps);
    }

    #[test]
    fn a_probe_of_an_activation_accumulates_in_the_loop_that_computes_it() {
        // a = tanh(x·w) is stored (the next product reads it); mean(a) and Σ a² are probes
        // computed at the end of the graph, after another product.
        let mut gr = Graph::new();
        let x = gr.input("x", vec![32, 64]);
        let w = gr.param("w", vec![64, 64]);
        let z = gr.matmul(x, w, false, false);
        let a = gr.unary(UnaryOp::Tanh, z);
        let next = gr.matmul(a, w, false, false);
        let mean = gr.reduce_all(ReduceOp::Mean, a);
        let sq = gr.unary(UnaryOp::Square, a);
        let norm = gr.reduce_all(ReduceOp::Sum, sq);
        gr.add_output("next", next, Role::Value);
        gr.add_output("mean", mean, Role::Value);
        gr.add_output("norm", norm, Role::Value);
        let p = plan(&gr, false).expect("plans");
        let Some(Step::Loop(l)) = p.steps.get(1) else {
            panic!(
                "the activation's loop follows the first product: {:#?}",
                p.steps
            );
        };
        let locals = l
            .fused
            .iter()
            .filter(|b| format!("{:?}", b.expr).contains("Local(0)"))
            .count();
        assert_eq!(locals, 2, "{:#?}", p.steps);
        assert!(matches!(l.expr, Expr::Unary(UnaryOp::Tanh, _)));
    }

    #[test]
    fn unrelated_loops_over_the_same_space_stay_apart() {
        // Two updates of different parameters share only the scalar learning rate.
        let mut gr = Graph::new();
        let lr = gr.input("lr", vec![]);
        for name in ["w1", "w2"] {
            let w = gr.param(name, vec![64, 64]);
            let g = gr.input(format!("g_{name}"), vec![64, 64]);
            let rate = gr.broadcast(lr, vec![64, 64]);
            let step = gr.mul(g, rate);
            let new = gr.sub(w, step);
            gr.add_output(name, new, Role::Update { param: name.into() });
        }
        let p = plan(&gr, false).expect("plans");
        let loops = p
            .steps
            .iter()
            .filter(|s| matches!(s, Step::Loop(_)))
            .count();
        assert_eq!(loops, 2, "{:#?}", p.steps);
    }
}
