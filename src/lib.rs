//! netc: a compiler for a small declarative language of neural networks that shows, layer by
//! layer, where gradients vanish or explode.
//!
//! The pipeline, one module a stage (see docs/architecture.md):
//! `syntax` (pest grammar → AST with spans) → `sema` (names, shapes, lints → [`model::Model`])
//! → `lower` (model → [`ir::Graph`]) → `autodiff` (reverse mode, more IR) → `step` (loss,
//! probes, clipping, optimizer update as one program) → `ir::interp` (the reference oracle) or
//! `codegen` (Cranelift JIT) → `runtime` (training loop, checkpoints) → `cli`.
#![deny(unsafe_code)]

pub mod cli;
pub mod codegen;
pub mod data;
pub mod diag;
pub mod export;
pub mod gradcheck;
pub mod health;
pub mod init;
pub mod model;
pub mod params;
pub mod probe;
pub mod repl;
pub mod report;
pub mod runtime;
pub mod sema;
pub mod span;
pub mod syntax;

pub mod autodiff;
pub mod ir;
pub mod lower;
pub mod step;
