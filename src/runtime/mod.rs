//! The training runtime: the loop around the compiled step, and what it reads and writes.

pub mod checkpoint;
