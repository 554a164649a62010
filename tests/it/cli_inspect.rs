//! The inspection commands: `netc ir`, `netc params`, `netc bench` (its output, never its
//! speed), and errors from commands that run a model.

use std::process::{Command, Output};

fn netc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_netc"))
        .args(args)
        .output()
        .expect("netc runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn ir_prints_forward_step_and_clif() {
    let fwd = stdout(&netc(&["ir", "examples/xor.net"]));
    assert!(
        fwd.contains("matmul") && fwd.contains("hidden @ 4:5") && fwd.contains("output loss"),
        "{fwd}"
    );
    let step = stdout(&netc(&["ir", "examples/xor.net", "--grad"]));
    for needle in [
        "output update.hidden.weight",
        "probe.hidden.grad_a_norm",
        "grad_norm_clipped",
        "optim.hidden.weight.exp_avg",
    ] {
        assert!(step.contains(needle), "the step program has {needle}");
    }
    assert!(
        step.lines().count() > 3 * fwd.lines().count(),
        "the step is much longer than the forward pass"
    );
    let unopt = stdout(&netc(&["ir", "examples/xor.net", "--grad", "--no-opt"]));
    assert!(
        unopt.lines().count() > step.lines().count(),
        "the passes remove nodes"
    );
    let clif = stdout(&netc(&["ir", "examples/xor.net", "--emit", "clif"]));
    assert!(
        clif.contains("function") && clif.contains("block0"),
        "{clif}"
    );
    let asm = stdout(&netc(&[
        "ir",
        "examples/xor.net",
        "--grad",
        "--emit",
        "asm",
    ]));
    assert!(
        asm.contains("; netc_step_0") && asm.contains("retq") && asm.contains("%xmm"),
        "{asm}"
    );
}

#[test]
fn params_lists_pytorch_names_and_shapes() {
    let out = stdout(&netc(&["params", "examples/batchnorm.net"]));
    assert!(
        out.contains("dense1.weight") && out.contains("[64, 64]"),
        "{out}"
    );
    assert!(
        out.contains("batchnorm1.running_mean") && out.contains("running statistic"),
        "{out}"
    );
    // 4 × 64·64 weights + 4 × (64 + 64) norm scales and shifts + 10·64 + 10 head
    assert!(
        out.contains(&format!(
            "{} trainable parameters",
            4 * 64 * 64 + 4 * 128 + 640 + 10
        )),
        "{out}"
    );
}

#[test]
fn bench_reports_every_field() {
    let o = netc(&[
        "bench",
        "benches/workloads/w5_tiny.net",
        "--steps",
        "5",
        "--rounds",
        "1",
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).expect("one JSON object");
    let r = &v["result"];
    assert_eq!(r["model"], "w5_tiny");
    assert_eq!(r["batch"], 4);
    for key in [
        "compile_ms",
        "us_per_step",
        "us_per_step_no_probes",
        "matmul_flops",
    ] {
        assert!(r[key].as_f64().is_some_and(|x| x > 0.0), "{key} in {r}");
    }
    // forward 4·2·8 + 4·8·8 + 4·8·1 = 352 multiply-adds; backward the same for ∂L/∂W and
    // 256 + 32 for ∂L/∂x of the upper two layers (the input needs none): 992, ×2 flops
    assert_eq!(r["matmul_flops"].as_f64().unwrap(), 2.0 * 992.0);
}

#[test]
fn a_missing_file_and_bad_set_are_clear_errors() {
    let o = netc(&["train", "no/such/file.net"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("no/such/file.net"));
    let o = netc(&[
        "train",
        "examples/xor.net",
        "--set",
        "optimizer.lr=-1",
        "--out",
        "/dev/null/x",
    ]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("lr"), "{err}");
}

#[test]
fn check_predicts_the_depth_profile_and_lints() {
    let o = netc(&["check", "examples/deep_sigmoid.net"]);
    assert!(o.status.success(), "warnings do not fail a check");
    let out = stdout(&o);
    assert!(
        out.contains("predicted gradient flow across depth: vanishing in layers dense1"),
        "{out}"
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("netc::lint::saturating_stack") && err.contains("1 warning(s)"),
        "{err}"
    );
    let o = netc(&["check", "examples/deep_relu_he.net"]);
    assert!(stdout(&o).contains("predicted gradient flow across depth: healthy"));
}
