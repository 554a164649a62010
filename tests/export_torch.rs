//! `netc export --torch`: every example becomes valid Python, and where torch is installed
//! the exported module, given a netc run's weights and the batch `netc grad` used, gives
//! netc's loss (to 1e-5 relative) and its gradients (|netc − torch| ≤ 1e-4·|torch| +
//! 1e-5·max|torch|, f32 on both sides).

use std::path::{Path, PathBuf};
use std::process::Command;

fn netc(args: &[&str]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_netc"))
        .args(args)
        .output()
        .expect("run netc");
    assert!(
        out.status.success(),
        "netc {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn examples() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir("examples")
        .expect("examples/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "net"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "examples/ holds the examples");
    files
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .expect("stem")
        .to_string_lossy()
        .into_owned()
}

/// Exports every example into `dir`; returns (example, module) pairs.
fn export_all(dir: &Path) -> Vec<(PathBuf, PathBuf)> {
    examples()
        .into_iter()
        .map(|ex| {
            let py = dir.join(format!("{}.py", stem(&ex)));
            netc(&[
                "export",
                ex.to_str().expect("utf-8"),
                "--torch",
                py.to_str().expect("utf-8"),
            ]);
            (ex, py)
        })
        .collect()
}

#[test]
fn every_example_exports_to_valid_python() {
    let dir = tempfile::tempdir().expect("tempdir");
    let modules = export_all(dir.path());
    let out = Command::new("python3")
        .args(["-m", "py_compile"])
        .args(modules.iter().map(|(_, py)| py))
        .output()
        .expect("python3 is needed to check the exported files");
    assert!(
        out.status.success(),
        "py_compile: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (ex, py) in &modules {
        let text = std::fs::read_to_string(py).expect("read");
        let src = ex.to_string_lossy();
        assert!(
            text.contains(&format!("netc export {src}")),
            "{src}: header"
        );
        for item in [
            "class ",
            "def make_optimizer(",
            "def load_netc(",
            "def loss_fn(",
        ] {
            assert!(text.contains(item), "{src}: no `{item}`");
        }
    }
}

#[test]
fn printing_to_stdout_gives_the_same_module() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("xor.py");
    netc(&[
        "export",
        "examples/xor.net",
        "--torch",
        file.to_str().expect("utf-8"),
    ]);
    let printed = netc(&["export", "examples/xor.net", "--torch", "-"]).stdout;
    assert_eq!(std::fs::read(&file).expect("read"), printed);
}

/// Examples whose forward pass is chaotic (σ_max(W_hh) = 3 over 50 steps): on the same weights
/// and batch netc's JIT gives 1.7807, its interpreter 1.6472, PyTorch 1.7556 in f32 and 1.7217
/// in f64 (measured on rnn_exploding_clipped), so no two f32 programs agree to 1e-5 and the
/// comparison says nothing about the export.
const CHAOTIC: &[&str] = &["rnn_exploding", "rnn_exploding_clipped"];

fn torch_available() -> bool {
    Command::new("python3")
        .args(["-c", "import torch"])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn exported_modules_reproduce_netcs_loss_and_gradients() {
    if !torch_available() {
        eprintln!("skipped: torch is not importable by python3 (pip install torch to run it)");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut triples: Vec<String> = Vec::new();
    for (ex, py) in export_all(dir.path()) {
        let name = stem(&ex);
        if CHAOTIC.contains(&name.as_str()) {
            continue;
        }
        let run = dir.path().join(format!("run-{name}"));
        let grads = dir.path().join(format!("grads-{name}.safetensors"));
        let ex = ex.to_str().expect("utf-8");
        // One step, so the weights are a trained state rather than the initializers (the
        // exploding examples diverge after a few).
        netc(&[
            "train",
            ex,
            "--steps",
            "1",
            "-q",
            "--out",
            run.to_str().expect("utf-8"),
        ]);
        let weights = run.join("weights.safetensors");
        let weights = weights.to_str().expect("utf-8");
        netc(&[
            "grad",
            ex,
            "--load",
            weights,
            "--out",
            grads.to_str().expect("utf-8"),
        ]);
        triples.extend([
            py.to_string_lossy().into_owned(),
            weights.to_owned(),
            grads.to_string_lossy().into_owned(),
        ]);
    }
    let out = Command::new("python3")
        .arg("tests/data/export/compare_torch.py")
        .args(&triples)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "compare_torch.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), triples.len() / 3);
    for r in &lines {
        let (ours, theirs) = (r["netc_loss"].as_f64(), r["torch_loss"].as_f64());
        let (ours, theirs) = (ours.expect("netc_loss"), theirs.expect("torch_loss"));
        let model = &r["model"];
        assert!(
            (ours - theirs).abs() <= 1e-5 * theirs.abs().max(1e-3),
            "{model}: loss netc {ours} vs torch {theirs}"
        );
        let worst = r["worst_grad"]["error"].as_f64().expect("error");
        assert!(worst <= 1e-4, "{model}: gradient {}", r["worst_grad"]);
        assert!(
            r["grads"].as_u64().expect("grads") > 0,
            "{model}: no gradients"
        );
        eprintln!(
            "{model}: loss netc {ours} torch {theirs}, worst gradient {}",
            r["worst_grad"]
        );
    }
}

#[test]
fn a_pytorch_lstm_state_dict_loads_under_its_own_names() {
    // lstm_l0.safetensors holds nn.LSTM's `lstm1.weight_ih_l0`, ... (make_sequential.py).
    let dir = tempfile::tempdir().expect("tempdir");
    let grads = dir.path().join("grads.safetensors");
    let out = netc(&[
        "grad",
        "examples/lstm_adding.net",
        "--load",
        "tests/data/export/lstm_l0.safetensors",
        "--out",
        grads.to_str().expect("utf-8"),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("6 gradients"), "{text}");
}
