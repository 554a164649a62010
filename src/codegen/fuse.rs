//! Sibling fusion: adjacent loop nests over the same space become one nest with several
//! bodies, so a buffer that several loops read (a gradient feeding both its SGD update and its
//! norm probe) is read in one pass, and the probe costs no extra trip through memory.

use super::program::{BufId, Expr, LoopNest, Step};

/// Merges each loop nest into the one before it when both run over the same space and neither
/// touches a buffer the other writes: one pass over shared inputs instead of two.
pub(crate) fn fuse_siblings(steps: &mut Vec<Step>) {
    let mut out: Vec<Step> = Vec::with_capacity(steps.len());
    for step in steps.drain(..) {
        if let (Some(Step::Loop(prev)), Step::Loop(next)) = (out.last_mut(), &step) {
            if prev.space == next.space && independent(prev, next) {
                prev.fused.extend(next.bodies());
                continue;
            }
        }
        out.push(step);
    }
    *steps = out;
}

/// Neither nest reads or writes a buffer the other writes.
fn independent(a: &LoopNest, b: &LoopNest) -> bool {
    let writes = |l: &LoopNest| l.bodies().iter().map(|x| x.dst.buf).collect::<Vec<_>>();
    let touches = |l: &LoopNest| {
        let mut bufs = writes(l);
        for body in l.bodies() {
            collect_reads(&body.expr, &mut bufs);
        }
        bufs
    };
    let (wa, wb) = (writes(a), writes(b));
    !touches(b).iter().any(|x| wa.contains(x)) && !touches(a).iter().any(|x| wb.contains(x))
}

/// Every buffer an expression reads.
pub(crate) fn collect_reads(e: &Expr, bufs: &mut Vec<BufId>) {
    match e {
        Expr::Load(a) => bufs.push(a.buf),
        Expr::Const(_) => {}
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
    use super::super::program::Step;
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
}
