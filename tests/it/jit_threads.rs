//! The training step with its library matrix products on two threads (`gemm_threads = 2`,
//! every product threaded whatever its size): it stays deterministic (same bits run after run)
//! and agrees with the one-thread step.

use netc::codegen::{compile, JitOptions};
use netc::ir::passes::optimize;
use netc::step::{build_step, StepOptions};

/// Loss, probes and parameters after three steps of W4 (residual MLP, 64×128×128 products,
/// all above the crossover), from the same deterministic start.
fn three_steps(threads: usize) -> Vec<Vec<f32>> {
    let src = include_str!("../../benches/workloads/w4_resnet_mlp.net");
    let checked = netc::sema::check_source("w4_resnet_mlp.net", src, &[]);
    let model = checked.model.expect("W4 checks");
    let program = build_step(&model, 64, &StepOptions { probes: true });
    let graph = optimize(&program.graph);
    let opts = JitOptions {
        gemm_threads: threads,
        // W4's products are below the size gate: thread them anyway, to test threading.
        threaded_gemm_macs: Some(0),
        ..JitOptions::default()
    };
    let mut kernel = compile(&graph, &opts).expect("compiles");
    let names: Vec<String> = kernel.leaf_names().iter().map(|s| s.to_string()).collect();
    for (slot, name) in names.iter().enumerate() {
        let leaf = kernel.leaf_mut(slot);
        for (i, v) in leaf.iter_mut().enumerate() {
            *v = match name.as_str() {
                "lr" => 0.01,
                "mask" | "step" => 1.0,
                _ => ((i as f32 * 0.7 + slot as f32).sin()) * 0.1,
            };
        }
    }
    for _ in 0..3 {
        kernel.step();
        kernel.apply_updates();
    }
    let mut out: Vec<Vec<f32>> = (0..kernel.num_outputs())
        .map(|i| kernel.output(i).to_vec())
        .collect();
    out.extend((0..names.len()).map(|slot| kernel.leaf(slot).to_vec()));
    out
}

#[test]
fn two_gemm_threads_give_the_same_bits_every_run_and_as_one_thread() {
    let one = three_steps(1);
    let two = three_steps(2);
    assert_eq!(two, three_steps(2), "two threads are not deterministic");
    // gemm splits the rows and columns of C between threads, never the sum over k, so every
    // element is computed by the same instructions in the same order.
    assert_eq!(one, two, "two threads differ from one");
}
