//! The Cranelift JIT behind the [`Program`] interface.

use super::exec::{ExecError, Program};
use crate::codegen::{self, JitOptions, Kernel};
use crate::ir::Graph;

/// Compiles `graph`, letting its large library products use `threads` threads.
pub(super) fn compile(graph: &Graph, threads: usize) -> Result<Box<dyn Program>, ExecError> {
    let opts = JitOptions {
        gemm_threads: threads,
        ..JitOptions::default()
    };
    let kernel = codegen::compile(graph, &opts).map_err(|e| ExecError::Compile(e.to_string()))?;
    let leaves = graph
        .inputs()
        .into_iter()
        .chain(graph.params())
        .map(|(name, _)| name.to_owned())
        .collect();
    Ok(Box::new(JitProgram { kernel, leaves }))
}

struct JitProgram {
    kernel: Kernel,
    /// Every input and parameter of the graph; the kernel keeps only those it reads.
    leaves: std::collections::HashSet<String>,
}

impl Program for JitProgram {
    fn set_leaf(&mut self, name: &str, data: &[f32]) -> Result<(), ExecError> {
        let Some(slot) = self.kernel.leaf_slot(name) else {
            // A leaf the program declares but never reads (e.g. `step` without dropout or
            // Adam) has no storage in the kernel: writing it changes nothing.
            return if self.leaves.contains(name) {
                Ok(())
            } else {
                Err(ExecError::UnknownLeaf(name.to_owned()))
            };
        };
        let leaf = self.kernel.leaf_mut(slot);
        if leaf.len() != data.len() {
            return Err(ExecError::LeafSize {
                name: name.to_owned(),
                expected: leaf.len(),
                got: data.len(),
            });
        }
        leaf.copy_from_slice(data);
        Ok(())
    }

    fn leaf(&self, name: &str) -> Option<&[f32]> {
        self.kernel
            .leaf_slot(name)
            .map(|slot| self.kernel.leaf(slot))
    }

    fn run(&mut self) -> Result<(), ExecError> {
        self.kernel.step();
        Ok(())
    }

    fn output(&self, index: usize) -> &[f32] {
        self.kernel.output(index)
    }

    fn apply_updates(&mut self) {
        self.kernel.apply_updates();
    }
}
