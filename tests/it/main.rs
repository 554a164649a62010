//! The integration tests, one binary with a module per stage of the pipeline (linking one
//! binary instead of fifty is most of what `cargo test` spent; docs/architecture.md has the
//! test map). Modules are named `<stage>_<what>`, in pipeline order below.

mod common;
mod ir_common;

// The architecture's invariants, as greps over src/.
mod invariants;

// The front end: parse, check, format, diagnostics.
mod conv_language;
mod frontend_cascade;
mod frontend_cli;
mod frontend_diagnostics;
mod frontend_examples;
mod frontend_fuzz;
mod frontend_limits;
mod frontend_robustness;

// Data: CSV sources, sequences, synthetic sets, batching.
mod data_batch;
mod data_errors;
mod data_load;
mod data_long;
mod data_props;
mod data_synthetic;

// The IR: interpreter, verifier, passes, text form.
mod ir_interp;
mod ir_passes;
mod ir_print;
mod ir_verify;

// Reverse mode, lowering and the step program, against finite differences and by hand.
mod autodiff_hand;
mod autodiff_ops;
mod autodiff_prop;
mod clip_threshold;
mod conv_ops;
mod conv_torch;
mod gradcheck_cli;
mod init_formulas;
mod kinks;
mod kinks_torch;
mod lowering_gradcheck;
mod optimizers;
mod recurrent;
mod step_programs;
mod words;

// The JIT against the interpreter and by hand.
mod conv_jit;
mod jit_kernel_cache;
mod jit_math;
mod jit_ops;
mod jit_threads;
mod jit_training;
mod jit_vs_interp;

// The runtime: training runs, checkpoints, parameters, non-finite steps, probes.
mod checkpoint_atomic;
mod conv_train;
mod nonfinite_policies;
mod params_names;
mod params_safetensors;
mod probe_ring;
mod recurrent_train;
mod run_folders;
mod train_runs;

// Gradient health and reports.
mod diagnosis;
mod diagnostics_cli;
mod diagnostics_examples;
mod examples_oracles;
mod health_agreement;
mod report_through_time;

// The command line, the REPL and the PyTorch round trip.
mod cli_inspect;
mod cli_pipes;
mod cli_signals;
mod conv_export;
mod export_torch;
mod repl_doc;
mod repl_from_nothing;
mod repl_session;
mod repl_terminal;
mod sweep;
mod sweep_slurm;
