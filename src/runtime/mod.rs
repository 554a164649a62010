//! The training runtime: the loop around the compiled step, and what it reads and writes.

pub mod bench;
pub mod checkpoint;
pub mod compiled;
pub mod exec;
mod jit;
pub mod record;
pub mod resume;
pub mod run_folder;
pub mod schedule;
pub mod spectral_record;
pub mod train;
