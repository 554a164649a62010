//! Double-buffered parameters. A training step reads each parameter from its leaf buffer P and
//! writes the updated values to the update output's buffer U; it never updates in place, so
//! that a step with a non-finite result can be dropped. Instead of copying U over P after every
//! good step, the next step swaps the two: generated code finds both buffers through a table
//! of byte offsets (the launch table for shared kernels, a swap table for the functions of
//! steps), and the kernel keeps two versions of those tables, one per parity. Accepting a step
//! is then flipping the parity; dropping one is not flipping it.

use super::fuse::collect_reads;
use super::memory::Layout;
use super::program::{BufId, Plan, Step};
use crate::ir::{Graph, Role};
use std::collections::HashMap;

/// The parameter/update buffer pairs that swap, and each one's slot in the swap table
/// (pair i: P at slot 2i, U at slot 2i + 1).
#[derive(Debug, Clone, Default)]
pub(crate) struct Swaps {
    /// (output index of the update, leaf buffer P, update buffer U).
    pub pairs: Vec<(usize, BufId, BufId)>,
    slots: HashMap<BufId, usize>,
}

impl Swaps {
    /// Every `Role::Update` output whose buffer holds exactly its parameter (same length, no
    /// offset, no other output in it) and is not the parameter itself (an in-place update).
    pub(crate) fn of(g: &Graph, plan: &Plan) -> Swaps {
        let mut swaps = Swaps::default();
        for (i, (out, slot)) in g.outputs.iter().zip(&plan.outputs).enumerate() {
            let Role::Update { param } = &out.role else {
                continue;
            };
            let Some(&(_, p, _)) = plan.leaves.iter().find(|(n, ..)| n == param) else {
                continue;
            };
            let u = slot.buf;
            let shared = plan.outputs.iter().filter(|o| o.buf == u).count() > 1;
            let fits = plan.buffers[u].len == plan.buffers[p].len && slot.offset == 0;
            let taken = swaps.slots.contains_key(&p) || swaps.slots.contains_key(&u);
            if u != p && fits && !shared && !taken {
                let n = swaps.pairs.len();
                swaps.slots.insert(p, 2 * n);
                swaps.slots.insert(u, 2 * n + 1);
                swaps.pairs.push((i, p, u));
            }
        }
        swaps
    }

    /// The swap-table slot of `buf`, if it is one of a pair.
    pub(crate) fn slot(&self, buf: BufId) -> Option<usize> {
        self.slots.get(&buf).copied()
    }

    /// The buffer whose memory `buf` names at this parity: its partner on odd steps.
    pub(crate) fn at_parity(&self, buf: BufId, odd: bool) -> BufId {
        match self.slot(buf) {
            Some(s) if odd => {
                let (_, p, u) = self.pairs[s / 2];
                if s % 2 == 0 {
                    u
                } else {
                    p
                }
            }
            _ => buf,
        }
    }

    /// The swap table at this parity: the byte offset of every slot's memory.
    pub(crate) fn table(&self, layout: &Layout, odd: bool) -> Vec<i64> {
        let mut table = vec![0; 2 * self.pairs.len()];
        for (&buf, &slot) in &self.slots {
            table[slot] = 4 * layout.offsets[self.at_parity(buf, odd)] as i64;
        }
        table
    }

    /// The swapped buffers `steps` touch, in order of first touch.
    pub(crate) fn touched(&self, steps: &[Step]) -> Vec<BufId> {
        let mut bufs = Vec::new();
        for step in steps {
            match step {
                Step::Loop(l) => {
                    let rest = l.fused.iter().map(|b| (&b.dst, &b.expr));
                    for (dst, expr) in std::iter::once((&l.dst, &l.expr)).chain(rest) {
                        bufs.push(dst.buf);
                        collect_reads(expr, &mut bufs);
                    }
                }
                Step::MatMul(mm) => bufs.extend([mm.a.buf, mm.b.buf, mm.c]),
            }
        }
        let mut seen = Vec::new();
        for b in bufs {
            if self.slots.contains_key(&b) && !seen.contains(&b) {
                seen.push(b);
            }
        }
        seen
    }
}
