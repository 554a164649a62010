//! Conv nets and PyTorch: a state dict written by PyTorch (tests/data/conv_front/make_conv.py,
//! NCHW inside, netc's names) loads into netc by name and gives PyTorch's loss, and the module
//! `netc export --torch` writes for the same file gives that loss too from the same weights.
//! (tests/it/export_torch.rs also runs every conv example's export against netc's gradients.)

use netc::params::ParamStore;
use std::path::Path;
use std::process::Command;

const NET: &str = "tests/data/conv_front/conv.net";
const WEIGHTS: &str = "tests/data/conv_front/conv.safetensors";

fn netc(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_netc"))
        .args(args)
        .output()
        .expect("run netc");
    assert!(
        out.status.success(),
        "netc {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The loss make_conv.py computed in PyTorch (eval mode), from the weights file's metadata.
fn pytorch_loss() -> f64 {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(WEIGHTS);
    let (_, metadata) = ParamStore::load_safetensors(&path).expect("fixture");
    metadata["loss"].parse().expect("a number")
}

fn assert_close(ours: f64, what: &str) {
    let theirs = pytorch_loss();
    assert!(
        (ours - theirs).abs() <= 1e-5 * theirs.abs(),
        "{what}: {ours} vs PyTorch {theirs}"
    );
}

#[test]
fn a_pytorch_conv_state_dict_loads_by_name_with_pytorchs_loss() {
    let json = netc(&["eval", NET, "--weights", WEIGHTS, "--json"]);
    let json: serde_json::Value = serde_json::from_str(json.trim()).expect("one JSON object");
    let train = &json["sets"][0];
    assert_eq!(train["set"], "train", "{json}");
    assert_close(train["loss"].as_f64().expect("a loss"), "netc eval");
}

#[test]
fn the_exported_conv_module_gives_pytorchs_loss_from_the_same_weights() {
    let torch = Command::new("python3")
        .args(["-c", "import torch"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !torch {
        eprintln!("skipped: torch is not importable by python3 (pip install torch to run it)");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let py = dir.path().join("convnet.py");
    netc(&["export", NET, "--torch", py.to_str().expect("utf-8")]);
    let module = std::fs::read_to_string(&py).expect("the module");
    for line in [
        "x = x.permute(0, 3, 1, 2)",
        "nn.Conv2d(2, 4, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1)",
        "nn.BatchNorm2d(4",
        "nn.Conv2d(4, 6, kernel_size=1, bias=False)",
        "F.max_pool2d(h, kernel_size=(2, 2), stride=(2, 2))",
        ".permute(0, 2, 3, 1).flatten(1)",
    ] {
        assert!(module.contains(line), "missing `{line}`:\n{module}");
    }
    // The rows as make_conv.py wrote them, read back as [N, 6, 6, 2] images.
    let script = format!(
        r#"
import csv, importlib.util, torch, torch.nn.functional as F
spec = importlib.util.spec_from_file_location("exported", {py:?})
m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
net = m.Convnet(); m.load_netc(net, {WEIGHTS:?}); net.eval()
rows = list(csv.DictReader(open("tests/data/conv_front/conv.csv")))
x = torch.tensor([[float(r[f"p{{i}}"]) for i in range(72)] for r in rows]).view(-1, 6, 6, 2)
y = torch.tensor([int(r["label"]) for r in rows])
with torch.no_grad():
    print(repr(F.cross_entropy(net(x), y).item()))
"#
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let loss: f64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("a loss");
    assert_close(loss, "the exported module");
}
