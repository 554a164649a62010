//! The memory plan: every buffer of a [`Plan`] gets an offset in one f32 arena. Leaves and
//! outputs live for the whole step; a temporary shares memory with any buffer whose lifetime
//! (first to last step that touches it) does not overlap its own.

use super::fuse::collect_reads;
use super::program::{Plan, Step};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

/// Buffers start at multiples of this many floats (64 bytes, one cache line).
const ALIGN: usize = 16;

/// Offsets (in floats) of every buffer, and the arena's length.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub offsets: Vec<usize>,
    pub len: usize,
}

/// Places the buffers of `plan`, reusing the memory of dead temporaries: each buffer, in order
/// of first use, goes to the lowest offset where it fits between the buffers still alive.
/// The live set is kept sorted by offset and expired from a heap ordered by last use, so
/// placing a buffer costs no sort (a program unrolled over 1000 time steps has tens of
/// thousands of buffers and, with probes through time, thousands alive at once).
pub(crate) fn layout(plan: &Plan) -> Layout {
    let lifetimes = lifetimes(plan);
    let mut order: Vec<usize> = (0..plan.buffers.len()).collect();
    order.sort_by_key(|&b| lifetimes[b].0);
    let mut offsets = vec![0; plan.buffers.len()];
    // Placed buffers still alive, by (offset, buffer): their size.
    let mut active: BTreeMap<(usize, usize), usize> = BTreeMap::new();
    // The same buffers by last step, to expire them.
    let mut ends: BinaryHeap<Reverse<(usize, usize, usize)>> = BinaryHeap::new();
    let mut len = 0;
    for b in order {
        let (first, last) = lifetimes[b];
        while let Some(&Reverse((end, off, dead))) = ends.peek() {
            if end >= first {
                break;
            }
            ends.pop();
            active.remove(&(off, dead));
        }
        let size = plan.buffers[b].len.div_ceil(ALIGN) * ALIGN;
        let mut at = 0;
        for (&(off, _), &sz) in &active {
            if at + size <= off {
                break;
            }
            at = at.max(off + sz);
        }
        offsets[b] = at;
        active.insert((at, b), size);
        ends.push(Reverse((last, at, b)));
        len = len.max(at + size);
    }
    Layout { offsets, len }
}

/// (first, last) step touching each buffer; leaves and outputs span the whole step.
fn lifetimes(plan: &Plan) -> Vec<(usize, usize)> {
    let forever = (0, usize::MAX);
    let mut spans: Vec<Option<(usize, usize)>> = plan
        .buffers
        .iter()
        .map(|b| (b.leaf.is_some() || b.output).then_some(forever))
        .collect();
    let mut touch = |buf: usize, t: usize| {
        let s = spans[buf].get_or_insert((t, t));
        s.0 = s.0.min(t);
        s.1 = s.1.max(t);
    };
    let mut reads = Vec::new();
    for (t, step) in plan.steps.iter().enumerate() {
        match step {
            Step::Loop(l) => {
                let bodies = std::iter::once((&l.expr, &l.dst))
                    .chain(l.fused.iter().map(|b| (&b.expr, &b.dst)));
                for (expr, dst) in bodies {
                    touch(dst.buf, t);
                    reads.clear();
                    collect_reads(expr, &mut reads);
                    reads.iter().for_each(|&b| touch(b, t));
                }
            }
            Step::MatMul(mm) => {
                touch(mm.a.buf, t);
                touch(mm.b.buf, t);
                touch(mm.c, t);
            }
        }
    }
    spans.into_iter().map(|s| s.unwrap_or((0, 0))).collect()
}
