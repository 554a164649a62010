//! The conv examples trained for real: LeNet reaches 97% on the digits, the plain 20-layer
//! conv net's gradient vanishes toward the input (predicted and measured); conv weights get
//! PyTorch's fans.

use netc::health::{self, FindingKind, Status, Trend};
use netc::lower::{lower, LowerOptions};
use netc::report;
use std::path::{Path, PathBuf};
use std::process::Command;

fn model(example: &str) -> netc::model::Model {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(format!("{example}.net"));
    let src = std::fs::read_to_string(&path).expect("the example exists");
    netc::sema::check_source(example, &src, &[])
        .model
        .expect("the example checks")
}

/// Trains an example with the netc binary into a fresh folder and reads the run back.
fn train(example: &str) -> report::Run {
    let out: PathBuf =
        std::env::temp_dir().join(format!("netc-conv-{example}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(format!("{example}.net"));
    let status = Command::new(env!("CARGO_BIN_EXE_netc"))
        .args(["train", "--quiet", "--out"])
        .arg(&out)
        .arg(&file)
        .status()
        .expect("netc runs");
    assert!(status.success(), "training {example} failed");
    report::read_run(&out).expect("the run folder reads back")
}

fn last_accuracy(run: &report::Run) -> f64 {
    run.epochs
        .last()
        .and_then(|e| e.valid_accuracy)
        .expect("a validation accuracy")
}

#[test]
fn lenet_reaches_97_percent_on_the_digits_and_is_healthy() {
    let run = train("lenet_digits");
    let accuracy = last_accuracy(&run);
    // Measured 97.8% (15 epochs, seed 42, 1.8 s in a dev build).
    assert!(accuracy >= 0.97, "accuracy {accuracy}");
    let d = health::diagnose(&run);
    assert!(d.healthy(), "{:?}", d.findings);
}

#[test]
fn the_plain_deep_conv_net_vanishes_toward_the_input() {
    let m = model("deep_plain_conv");
    let p = health::predict(&m);
    assert_eq!(p.trend, Trend::Vanishing);
    let run = train("deep_plain_conv");
    let d = health::diagnose(&run);
    assert!(d.has(FindingKind::Vanishing), "{:?}", d.findings);
    assert_eq!(d.layers[0].name, "conv1");
    assert_eq!(d.layers[0].status, Status::Vanishing);
    // Measured 1.9e-9 at initialization: ‖∂L/∂a‖ of conv1 over that of the logits.
    let first = d.measured_profile[0];
    assert!(first < 1e-6, "first/last {first:e}");
    // It does not learn: chance is 10%.
    assert!(last_accuracy(&run) < 0.3, "{}", last_accuracy(&run));
}

#[test]
fn conv_weights_take_pytorchs_fans() {
    // torch.nn.init._calculate_fan_in_and_fan_out on [F, C, KH, KW]: (C·KH·KW, F·KH·KW).
    let m = model("lenet_digits");
    let params = lower(&m, &LowerOptions::eval(1)).params;
    let fans = |name: &str| {
        let p = params
            .iter()
            .find(|p| p.name == name)
            .expect("the parameter");
        (p.shape.clone(), p.fan_in, p.fan_out)
    };
    assert_eq!(fans("conv1.weight"), (vec![16, 1, 3, 3], 9, 144));
    assert_eq!(fans("conv2.weight"), (vec![32, 16, 3, 3], 144, 288));
    assert_eq!(fans("conv2.bias"), (vec![32], 144, 288));
    // After two 2×2 poolings of an 8×8 image with 32 channels: 2·2·32 features.
    assert_eq!(fans("dense1.weight"), (vec![64, 128], 128, 64));
}
