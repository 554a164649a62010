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
/// of first use, goes to the lowest offset where it fits between the buffers still alive
/// (first fit). The free memory is kept as maximal gaps sorted by offset and buffers expire
/// from a heap ordered by last use, so placing a buffer costs a walk over the gaps, not over
/// every live buffer (a program unrolled over 1000 time steps has tens of thousands of
/// buffers and thousands alive at once).
pub(crate) fn layout(plan: &Plan) -> Layout {
    let lifetimes = lifetimes(plan);
    let mut order: Vec<usize> = (0..plan.buffers.len()).collect();
    order.sort_by_key(|&b| lifetimes[b].0);
    let mut offsets = vec![0; plan.buffers.len()];
    let mut free = Gaps::default();
    // Placed buffers by last step: (last step, offset, size).
    let mut ends: BinaryHeap<Reverse<(usize, usize, usize)>> = BinaryHeap::new();
    let mut len = 0;
    for b in order {
        let (first, last) = lifetimes[b];
        while let Some(&Reverse((end, off, size))) = ends.peek() {
            if end >= first {
                break;
            }
            ends.pop();
            free.release(off, size);
        }
        let size = plan.buffers[b].len.div_ceil(ALIGN) * ALIGN;
        if size == 0 {
            continue;
        }
        let at = free.take(size);
        offsets[b] = at;
        ends.push(Reverse((last, at, size)));
        len = len.max(at + size);
    }
    Layout { offsets, len }
}

/// The free memory of the arena as maximal gaps `start → end` (the last one ends at
/// `usize::MAX`): no two gaps touch, so the first gap large enough is the lowest offset where a
/// buffer fits.
struct Gaps(BTreeMap<usize, usize>);

impl Default for Gaps {
    fn default() -> Gaps {
        Gaps(BTreeMap::from([(0, usize::MAX)]))
    }
}

impl Gaps {
    /// The lowest offset with `size` free floats, now taken.
    fn take(&mut self, size: usize) -> usize {
        let found = self
            .0
            .iter()
            .find(|&(&start, &end)| end - start >= size)
            .map(|(&start, &end)| (start, end));
        // The last gap is unbounded, so one always fits.
        let (start, end) = found.unwrap_or((usize::MAX - size, usize::MAX));
        self.0.remove(&start);
        if start + size < end {
            self.0.insert(start + size, end);
        }
        start
    }

    /// Frees `[off, off + size)`, merging it with the gaps it touches.
    fn release(&mut self, off: usize, size: usize) {
        let (mut start, mut end) = (off, off + size);
        if let Some((&s, &e)) = self.0.range(..off).next_back() {
            if e == off {
                start = s;
                self.0.remove(&s);
            }
        }
        if let Some(e) = self.0.remove(&end) {
            end = e;
        }
        self.0.insert(start, end);
    }
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

#[cfg(test)]
mod tests {
    use super::Gaps;

    #[test]
    fn gaps_give_the_lowest_fit_and_merge_when_freed() {
        let mut g = Gaps::default();
        assert_eq!([g.take(16), g.take(32), g.take(16)], [0, 16, 48]);
        g.release(0, 16);
        assert_eq!(g.take(32), 64, "the 16-float hole at 0 is too small");
        g.release(16, 32);
        // 0..48 is one gap now.
        assert_eq!(g.take(48), 0);
        assert_eq!(g.take(16), 96);
    }
}
