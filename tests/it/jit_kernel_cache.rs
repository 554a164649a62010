//! The kernel cache: steps that compile to the same code share one generated function, the
//! shared path agrees with the interpreter, and `--emit clif` prints each kernel once. (That
//! steps differing in a constant, a shape or a stride do not share is tested on keys in
//! `src/codegen/launch.rs`.)

use crate::common;

use common::*;
use netc::codegen::{compile, JitOptions, Kernel, KernelSharing};
use netc::ir::{interp, Graph, Tensor};
use netc::model::Model;
use netc::step::{build_step, StepOptions};

fn options(sharing: KernelSharing) -> JitOptions {
    JitOptions {
        verify_clif: true,
        update_in_place: true,
        kernel_sharing: sharing,
        ..JitOptions::default()
    }
}

fn checked(src: &str) -> Model {
    let c = netc::sema::check_source("test.net", src, &[]);
    c.model
        .unwrap_or_else(|| panic!("{src}\n{:#?}", c.diagnostics))
}

/// Eight identical residual blocks (W4 in small): the same steps eight times over.
fn residual_model() -> Model {
    checked(
        "block res(width) {\n    residual {\n        layernorm\n        \
         dense width, act = relu\n        dense width\n    }\n}\n\
         model m {\n    input x: [12]\n    dense 16\n    repeat 8 {\n        res 16\n    }\n    \
         dense 3\n}\ntrain {\n    data = blobs(n = 64, centers = 3, dim = 12)\n    \
         loss = cross_entropy\n    optimizer = adam(lr = 0.01)\n    batch = 8\n}\n",
    )
}

/// An LSTM unrolled over 12 steps: the cell's steps repeat forward and backward.
fn lstm_model() -> Model {
    checked(
        "model m {\n    input x: seq(12, 2)\n    lstm 6\n    dense 1\n}\ntrain {\n    \
         data = adding(steps = 12, n = 16)\n    loss = mse\n    optimizer = adam(lr = 0.01)\n    \
         batch = 4\n    steps = 1\n}\n",
    )
}

/// Compiles the training step of `model` with `sharing`, runs it twice on the same values
/// as the interpreter (the second run reads the parameters the first updated in place) and
/// returns the kernel.
fn agrees_with_interpreter(model: &Model, sharing: KernelSharing) -> Kernel {
    let program = build_step(model, model.train.batch, &StepOptions { probes: true });
    let env = to_f32(&random_env(&program.graph, model.train.loss, 4));
    let want = interp::run(&program.graph, &env).expect("interp runs");
    let mut kernel = compile(&program.graph, &options(sharing)).expect("compiles");
    for _ in 0..2 {
        let got = kernel.run(&env).expect("jit runs");
        assert_close(&program.graph, &want, &got, sharing);
    }
    kernel
}

fn assert_close(g: &Graph, want: &[Tensor<f32>], got: &[Tensor<f32>], how: KernelSharing) {
    let mut compared = 0;
    for (o, (w, j)) in g.outputs.iter().zip(want.iter().zip(got)) {
        assert_eq!(w.shape, j.shape, "{how:?}: {}", o.name);
        let scale = w.data.iter().fold(0f32, |m, v| m.max(v.abs()));
        for (a, b) in j.data.iter().zip(&w.data) {
            assert!(
                (a - b).abs() <= 2e-4 * (1.0 + scale),
                "{how:?}: {} jit {a} vs interp {b}",
                o.name
            );
            compared += 1;
        }
    }
    assert!(compared > 100, "{how:?}: compared {compared}");
}

#[test]
fn repeated_blocks_compile_to_fewer_functions_than_launches_and_agree() {
    for model in [residual_model(), lstm_model()] {
        let never = agrees_with_interpreter(&model, KernelSharing::Never);
        let always = agrees_with_interpreter(&model, KernelSharing::Always);
        let repeated = agrees_with_interpreter(&model, KernelSharing::Repeated);
        // Without sharing every function runs once.
        assert_eq!(never.num_functions(), never.num_launches());
        // With every step a kernel, a launch is a step: repeated steps share.
        assert!(
            always.num_functions() * 3 < always.num_launches(),
            "{} functions for {} steps",
            always.num_functions(),
            always.num_launches()
        );
        // The default compiles each repeated step once: far fewer functions than steps.
        assert!(repeated.num_functions() * 2 < always.num_launches());
        assert!(repeated.num_functions() < repeated.num_launches());
    }
}

#[test]
fn the_clif_listing_prints_each_shared_kernel_once_and_the_launch_table() {
    let program = build_step(&lstm_model(), 4, &StepOptions { probes: false });
    let text = netc::codegen::emit_clif(&program.graph, &JitOptions::default()).expect("emits");
    let kernel0 = text.matches("; netc_kernel_0:").count();
    assert_eq!(kernel0, 1, "{text}");
    let launches = text
        .lines()
        .filter(|l| l.starts_with("netc_kernel_0("))
        .count();
    assert!(launches >= 2, "{launches} launches of kernel 0");
    assert!(text.contains("; launch table:"));
}
