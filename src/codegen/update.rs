//! In-place parameter updates: the loop that computes a `Role::Update` output writes straight
//! into its parameter's arena slot when nothing after it still needs the old value, so a
//! training step neither stores the new values elsewhere nor copies them back.

use super::fuse::collect_reads;
use super::program::{Affine, BufId, Expr, Plan, Step, StoreMode};
use crate::ir::{Graph, Role};

/// Redirects every update output that can be computed in place (see [`in_place_step`]).
pub(crate) fn update_in_place(g: &Graph, plan: &mut Plan) {
    for (i, out) in g.outputs.iter().enumerate() {
        let Role::Update { param } = &out.role else {
            continue;
        };
        let Some(leaf) = plan.leaves.iter().find(|(n, ..)| n == param).map(|l| l.1) else {
            continue;
        };
        let new = plan.outputs[i].buf;
        // Another output showing the old value (the parameter itself) must keep it.
        let shared = plan.outputs.iter().filter(|o| o.buf == new).count() > 1
            || plan.outputs.iter().any(|o| o.buf == leaf);
        if shared || plan.buffers[new].leaf.is_some() || plan.outputs[i].offset != 0 {
            continue;
        }
        let Some(s) = in_place_step(plan, new, leaf) else {
            continue;
        };
        if let Step::Loop(l) = &mut plan.steps[s] {
            l.dst.buf = leaf;
        }
        for step in &mut plan.steps[s + 1..] {
            rename_reads(step, new, leaf);
        }
        plan.outputs[i].buf = leaf;
        plan.buffers[new].output = false;
        plan.buffers[new].len = 0;
    }
}

/// The one step that writes `new`, if it may write `leaf` instead: it assigns all of `new`
/// row-major, reads `leaf` only at the element it writes, and no later step reads `leaf`.
fn in_place_step(plan: &Plan, new: BufId, leaf: BufId) -> Option<usize> {
    let writers: Vec<usize> = (0..plan.steps.len())
        .filter(|&t| writes(&plan.steps[t], new))
        .collect();
    let [s] = writers[..] else { return None };
    let Step::Loop(l) = &plan.steps[s] else {
        return None;
    };
    if l.mode != StoreMode::Assign || l.dst.at.offset != 0 || !l.fused.is_empty() {
        return None;
    }
    let mut same_element = true;
    let mut e = l.expr.clone();
    visit_loads(&mut e, &mut |buf, at| {
        same_element &= *buf != leaf || *at == l.dst.at;
    });
    let later_reads = plan.steps[s + 1..].iter().any(|t| reads(t, leaf));
    (same_element && !later_reads).then_some(s)
}

fn writes(step: &Step, buf: BufId) -> bool {
    match step {
        Step::Loop(l) => l.bodies().iter().any(|b| b.dst.buf == buf),
        Step::MatMul(mm) => mm.c == buf,
    }
}

fn reads(step: &Step, buf: BufId) -> bool {
    match step {
        Step::Loop(l) => l.bodies().iter().any(|b| {
            let mut bufs = Vec::new();
            collect_reads(&b.expr, &mut bufs);
            bufs.contains(&buf)
        }),
        Step::MatMul(mm) => mm.a.buf == buf || mm.b.buf == buf,
    }
}

fn rename_reads(step: &mut Step, from: BufId, to: BufId) {
    match step {
        Step::Loop(l) => {
            rename_in(&mut l.expr, from, to);
            for b in &mut l.fused {
                rename_in(&mut b.expr, from, to);
            }
        }
        Step::MatMul(mm) => {
            for a in [&mut mm.a, &mut mm.b] {
                if a.buf == from {
                    a.buf = to;
                }
            }
        }
    }
}

fn rename_in(e: &mut Expr, from: BufId, to: BufId) {
    visit_loads(e, &mut |buf, _| {
        if *buf == from {
            *buf = to;
        }
    });
}

/// Calls `f` on the buffer and index of every load in `e` (the mask's counter included).
fn visit_loads(e: &mut Expr, f: &mut dyn FnMut(&mut BufId, &Affine)) {
    match e {
        Expr::Load(a) => f(&mut a.buf, &a.at),
        Expr::Const(_) | Expr::Local(_) => {}
        Expr::Mask(m) => f(&mut m.counter.buf, &m.counter.at),
        Expr::Unary(_, x) => visit_loads(x, f),
        Expr::Binary(_, a, b) | Expr::Compare(_, a, b) => {
            visit_loads(a, f);
            visit_loads(b, f);
        }
        Expr::Select(abc) => abc.iter_mut().for_each(|x| visit_loads(x, f)),
    }
}

#[cfg(test)]
mod tests {
    use super::super::plan::plan;
    use crate::ir::{Graph, ReduceOp, Role, UnaryOp, ValueId};

    /// w ← w − 0.1·(xᵀ·w); `probe` also reads w after the update when asked.
    fn sgd(probe_reads_old_w: bool) -> (Graph, ValueId) {
        let mut g = Graph::new();
        let x = g.input("x", vec![8, 8]);
        let w = g.param("w", vec![8, 8]);
        let grad = g.matmul(x, w, true, false);
        let step = g.scale(grad, 0.1);
        let new = g.sub(w, step);
        g.add_output("w", new, Role::Update { param: "w".into() });
        if probe_reads_old_w {
            let d = g.sub(new, w);
            let sq = g.unary(UnaryOp::Square, d);
            let n = g.reduce_all(ReduceOp::Sum, sq);
            g.add_output("update_sq", n, Role::Value);
        }
        (g, w)
    }

    #[test]
    fn an_sgd_update_writes_its_parameter_directly() {
        let p = plan(&sgd(false).0, true).expect("plans");
        let w = p.leaves.iter().find(|l| l.0 == "w").map(|l| l.1);
        assert_eq!(Some(p.outputs[0].buf), w);
    }

    #[test]
    fn an_update_of_a_parameter_that_is_also_an_output_is_not_in_place() {
        let (mut g, w) = sgd(false);
        g.add_output("w_old", w, Role::Value);
        let p = plan(&g, true).expect("plans");
        let leaf = p.leaves.iter().find(|l| l.0 == "w").map(|l| l.1);
        assert_ne!(Some(p.outputs[0].buf), leaf);
    }

    #[test]
    fn an_update_whose_old_value_is_read_later_is_not_in_place() {
        let p = plan(&sgd(true).0, true).expect("plans");
        let w = p.leaves.iter().find(|l| l.0 == "w").map(|l| l.1);
        assert_ne!(Some(p.outputs[0].buf), w);
    }
}
