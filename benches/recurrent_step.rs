//! The training step of an RNN and an LSTM (T = 100, hidden 128, batch 32, d = 2, a dense
//! head, mse, Adam; fixed pseudo-random inputs and weights): build, compile and run time of
//! netc's JIT. Run with
//! `cargo bench --bench recurrent_step` (add `-- compile` to also time T = 1000 builds, and
//! `sharing=never|always` to compile without the kernel cache or with every step a shared
//! kernel, in the same process as the default). docs/recurrent.md keeps the figures.

use std::collections::HashMap;
use std::time::Instant;

use netc::codegen::{compile, JitOptions, KernelSharing};
use netc::ir::Tensor;
use netc::step::{build_step, StepOptions};

fn source(cell: &str, steps: usize, hidden: usize) -> String {
    format!(
        "model bench {{\n    input x: seq({steps}, 2)\n    {cell} {hidden}\n    dense 1\n}}\n\
         train {{\n    data = adding(steps = {steps}, n = 64)\n    loss = mse\n    \
         optimizer = adam(lr = 0.001)\n    batch = 32\n    steps = 1\n}}\n"
    )
}

/// Builds, compiles and runs `iters` steps; prints milliseconds and µs/step.
struct Case {
    steps: usize,
    hidden: usize,
    batch: usize,
    iters: usize,
    probes: bool,
}

fn bench(cell: &str, c: &Case, sharing: KernelSharing) {
    let Case {
        steps,
        hidden,
        batch,
        iters,
        probes,
    } = *c;
    let checked = netc::sema::check_source("bench.net", &source(cell, steps, hidden), &[]);
    let Some(model) = checked.model else {
        eprintln!("{cell}: {:?}", checked.diagnostics);
        return;
    };
    let t0 = Instant::now();
    let program = build_step(&model, batch, &StepOptions { probes });
    // What netc runs: the step after the IR passes (exec::compile does the same).
    let graph = netc::ir::passes::optimize(&program.graph);
    let built = t0.elapsed();
    let t1 = Instant::now();
    let opts = JitOptions {
        kernel_sharing: sharing,
        ..JitOptions::default()
    };
    let mut kernel = match compile(&graph, &opts) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("{cell}: compile failed: {e}");
            return;
        }
    };
    let compiled = t1.elapsed();
    let env: HashMap<String, Tensor<f32>> = graph
        .inputs()
        .into_iter()
        .chain(graph.params())
        .map(|(name, shape)| {
            let n: usize = shape.iter().product();
            let data = (0..n).map(|i| ((i * 37 % 101) as f32 / 101.0 - 0.5) * 0.2);
            let data = match name {
                "mask" | "step" | "lr" => vec![1.0; n],
                _ => data.collect(),
            };
            (name.to_owned(), Tensor::new(shape.to_vec(), data))
        })
        .collect();
    if let Err(e) = kernel.run(&env) {
        eprintln!("{cell}: run failed: {e}");
        return;
    }
    let t2 = Instant::now();
    for _ in 0..iters {
        if kernel.run(&env).is_err() {
            return;
        }
    }
    let per_step = t2.elapsed().as_secs_f64() * 1e6 / iters.max(1) as f64;
    println!(
        "{cell:5} T={steps:5} N={hidden:4} B={batch:3} probes={probes:5} {sharing:>8?}  nodes {:7}  \
         functions {:5} launches {:6}  build {:8.1} ms  compile {:8.1} ms  step {:10.1} µs",
        graph.len(),
        kernel.num_functions(),
        kernel.num_launches(),
        built.as_secs_f64() * 1e3,
        compiled.as_secs_f64() * 1e3,
        per_step
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let compile_only = args.iter().any(|a| a == "compile");
    let sharing = match args.iter().find_map(|a| a.strip_prefix("sharing=")) {
        Some("never") => KernelSharing::Never,
        Some("always") => KernelSharing::Always,
        _ => KernelSharing::Repeated,
    };
    let case = |steps, iters, probes| Case {
        steps,
        hidden: 128,
        batch: 32,
        iters,
        probes,
    };
    for cell in ["rnn", "lstm"] {
        bench(cell, &case(100, 20, false), sharing);
        bench(cell, &case(100, 20, true), sharing);
    }
    if compile_only {
        for cell in ["rnn", "lstm"] {
            bench(cell, &case(1000, 3, false), sharing);
            bench(cell, &case(1000, 3, true), sharing);
        }
    }
}
