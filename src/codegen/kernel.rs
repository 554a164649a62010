//! A compiled program: its generated functions, the arena they work on, and where every leaf
//! and output lives in it. [`Kernel::step`] is the one place generated code is called.
#![allow(unsafe_code)]

use super::memory::Layout;
use super::program::Plan;
use super::swap::Swaps;
use super::CodegenError;
use crate::ir::{numel, Graph, Role, Tensor};
use cranelift_jit::JITModule;
use std::collections::HashMap;

/// A generated function: runs one launch of the program on the arena, finding its buffers at
/// the byte offsets `params` points to (a shared kernel) or at constant offsets.
type StepFn = unsafe extern "C" fn(arena: *mut f32, params: *const i64);

/// Where a leaf or output lives in the arena: at `offset` on even steps, and at `odd` instead
/// on odd steps when it is one of a swapped parameter/update pair (`swap.rs`).
#[derive(Debug, Clone)]
struct Slot {
    name: String,
    offset: usize,
    odd: Option<usize>,
    shape: Vec<usize>,
}

impl Slot {
    fn range(&self, odd: bool) -> std::ops::Range<usize> {
        let start = match self.odd {
            Some(o) if odd => o,
            _ => self.offset,
        };
        start..start + numel(&self.shape)
    }
}

/// A graph compiled to native code, ready to run step after step.
pub struct Kernel {
    /// Owns the executable memory `funcs` point into; freed on drop.
    module: Option<JITModule>,
    /// The launch table: each function in run order, with the index in `params` of its first
    /// parameter.
    launches: Vec<(StepFn, usize)>,
    /// The byte offsets in the arena of every launch's buffers, one after another, after the
    /// swap table (`swap.rs`): for even and for odd parity.
    params: [Vec<i64>; 2],
    /// Whether the swapped parameters currently live in their update buffers.
    odd: bool,
    /// Whether any parameter swaps (else `apply_updates` only copies).
    swapping: bool,
    arena: Vec<f32>,
    leaves: Vec<Slot>,
    outputs: Vec<Slot>,
    /// (output index, leaf slot) of every `Role::Update` whose parameter the graph reads.
    updates: Vec<(usize, usize)>,
}

impl Kernel {
    pub(crate) fn new(
        module: JITModule,
        launches: Vec<(*const u8, usize)>,
        params: [Vec<i64>; 2],
        g: &Graph,
        plan: &Plan,
        layout: &Layout,
        swaps: &Swaps,
    ) -> Kernel {
        let launches = launches
            .into_iter()
            .map(|(p, start)| {
                // SAFETY: every pointer comes from `get_finalized_function` for a function
                // declared with the signature `fn(arena: *mut f32, params: *const i64)` in
                // `emit`.
                (
                    unsafe { std::mem::transmute::<*const u8, StepFn>(p) },
                    start,
                )
            })
            .collect();
        let leaves: Vec<Slot> = plan
            .leaves
            .iter()
            .map(|(name, buf, shape)| Slot {
                name: name.clone(),
                offset: layout.offsets[*buf],
                odd: (swaps.slot(*buf).is_some())
                    .then(|| layout.offsets[swaps.at_parity(*buf, true)]),
                shape: shape.clone(),
            })
            .collect();
        let outputs: Vec<Slot> = plan
            .outputs
            .iter()
            .zip(&g.outputs)
            .map(|(o, out)| Slot {
                name: out.name.clone(),
                offset: layout.offsets[o.buf] + o.offset,
                odd: (swaps.slot(o.buf).is_some())
                    .then(|| layout.offsets[swaps.at_parity(o.buf, true)]),
                shape: o.shape.clone(),
            })
            .collect();
        let updates = g
            .outputs
            .iter()
            .enumerate()
            .filter_map(|(i, o)| match &o.role {
                Role::Update { param } => leaves
                    .iter()
                    .position(|l| &l.name == param)
                    .map(|slot| (i, slot)),
                Role::Loss | Role::Probe { .. } | Role::Metric | Role::Value => None,
            })
            .collect();
        Kernel {
            module: Some(module),
            launches,
            params,
            odd: false,
            swapping: !swaps.pairs.is_empty(),
            arena: vec![0.0; layout.len],
            leaves,
            outputs,
            updates,
        }
    }

    /// Runs the program once on `env` (every Input and Param by name) and returns the outputs
    /// in the graph's order. Parameters are not updated: see [`Kernel::apply_updates`].
    pub fn run(
        &mut self,
        env: &HashMap<String, Tensor<f32>>,
    ) -> Result<Vec<Tensor<f32>>, CodegenError> {
        for slot in 0..self.leaves.len() {
            let leaf = &self.leaves[slot];
            let t = env
                .get(&leaf.name)
                .ok_or_else(|| CodegenError::MissingInput {
                    name: leaf.name.clone(),
                })?;
            if t.shape != leaf.shape || t.data.len() != numel(&leaf.shape) {
                return Err(CodegenError::ShapeMismatch {
                    name: leaf.name.clone(),
                    expected: leaf.shape.clone(),
                    found: t.shape.clone(),
                });
            }
            let range = leaf.range(self.odd);
            self.arena[range].copy_from_slice(&t.data);
        }
        self.step();
        Ok((0..self.outputs.len())
            .map(|i| Tensor::new(self.outputs[i].shape.clone(), self.output(i).to_vec()))
            .collect())
    }

    /// The index of the output called `name` in `g.outputs` order, for [`Kernel::output`].
    pub fn output_index(&self, name: &str) -> Option<usize> {
        self.outputs.iter().position(|o| o.name == name)
    }

    /// Names of the leaves (Inputs and Params) in slot order.
    pub fn leaf_names(&self) -> Vec<&str> {
        self.leaves.iter().map(|l| l.name.as_str()).collect()
    }

    /// The slot of the leaf called `name`, if the program reads it.
    pub fn leaf_slot(&self, name: &str) -> Option<usize> {
        self.leaves.iter().position(|l| l.name == name)
    }

    pub fn leaf_shape(&self, slot: usize) -> &[usize] {
        &self.leaves[slot].shape
    }

    /// The arena memory of a leaf, to write inputs and parameters in place.
    ///
    /// # Panics
    /// If `slot` is not below `leaf_names().len()` (slots come from [`Kernel::leaf_slot`]);
    /// the same holds for the other slot and output-index accessors.
    pub fn leaf_mut(&mut self, slot: usize) -> &mut [f32] {
        let range = self.leaves[slot].range(self.odd);
        &mut self.arena[range]
    }

    pub fn leaf(&self, slot: usize) -> &[f32] {
        &self.arena[self.leaves[slot].range(self.odd)]
    }

    /// Runs the program once on the values already in the arena.
    pub fn step(&mut self) {
        let arena = self.arena.as_mut_ptr();
        let params = self.params[usize::from(self.odd)].as_ptr();
        for &(f, start) in &self.launches {
            // SAFETY: the generated code reads and writes only arena offsets below the length
            // the memory plan computed (constants, or the byte offsets of buffer windows the
            // plan placed, which `params[start..]` holds for a shared kernel: as many as the
            // kernel has parameters), and `arena` has exactly that length. `start` is at most
            // `params.len()`. Each function is alive: `self.module` owns its code until drop.
            unsafe { f(arena, params.add(start)) };
        }
    }

    /// How many generated functions one [`Kernel::step`] calls (the launch table's length).
    pub fn num_launches(&self) -> usize {
        self.launches.len()
    }

    /// How many distinct generated functions the launch table calls: fewer than
    /// [`Kernel::num_launches`] when steps share a kernel.
    pub fn num_functions(&self) -> usize {
        let mut fns: Vec<usize> = self.launches.iter().map(|&(f, _)| f as usize).collect();
        fns.sort_unstable();
        fns.dedup();
        fns.len()
    }

    /// The size of the arena in bytes: every leaf, output and temporary of one step, with
    /// temporaries whose lifetimes do not overlap sharing memory (the step's peak memory).
    pub fn arena_bytes(&self) -> usize {
        std::mem::size_of_val(self.arena.as_slice())
    }

    /// The row-major values of output `i` (in `g.outputs` order) after the last step.
    pub fn output(&self, i: usize) -> &[f32] {
        &self.arena[self.outputs[i].range(self.odd)]
    }

    pub fn output_shape(&self, i: usize) -> &[usize] {
        &self.outputs[i].shape
    }

    pub fn num_outputs(&self) -> usize {
        self.outputs.len()
    }

    /// Makes every `Role::Update` output the new value of its parameter: a swapped pair
    /// (`swap.rs`) by flipping the parity, so that the next step reads the parameter where
    /// this one wrote it (an update output then names the old values: read updates before
    /// applying them), any other by a copy inside the arena.
    pub fn apply_updates(&mut self) {
        for &(out, leaf) in &self.updates {
            let src = self.outputs[out].range(self.odd);
            let dst = self.leaves[leaf].range(self.odd).start;
            let swapped = self.outputs[out].odd.is_some();
            if src.start != dst && !swapped {
                self.arena.copy_within(src, dst);
            }
        }
        self.odd ^= self.swapping;
    }
}

impl Drop for Kernel {
    fn drop(&mut self) {
        if let Some(module) = self.module.take() {
            // SAFETY: the function pointers into this module die with `self`; none can run.
            unsafe { module.free_memory() };
        }
    }
}

/// Frees a module whose functions were emitted but never finalized (a listing for
/// `netc ir --emit clif|asm`).
pub(super) fn discard_unfinalized(module: JITModule) {
    // SAFETY: nothing was finalized, so no function pointer into this module exists and none
    // of its code can be running.
    unsafe { module.free_memory() };
}
