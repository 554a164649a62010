//! `netc grad` against gradients PyTorch computed in float64 on the same weights and batch,
//! a batch placed at the kinks (pre-activations and logits exactly 0, tied row maxima). The
//! fixtures are written by `tests/data/kinks/make_fixtures.py`; the tolerances are those of
//! docs/ir.md ("Agreement with PyTorch").

use netc::params::ParamStore;
use std::path::{Path, PathBuf};
use std::process::Command;

const CASES: [&str; 18] = [
    "act_identity",
    "act_sigmoid",
    "act_tanh",
    "act_relu",
    "act_leaky_relu",
    "act_prelu",
    "act_elu",
    "act_selu",
    "act_swish",
    "act_mish",
    "act_gelu",
    "act_softplus",
    "act_softsign",
    "act_softmax",
    "bce_fused",
    "bce_raw",
    "ce_fused",
    "ce_raw",
];

/// How `netc grad` runs, and how close to PyTorch's float64 values it must come:
/// |netc − torch| ≤ rel·|torch| + abs·max|torch| over each tensor.
struct Run {
    flags: &'static [&'static str],
    rel: f64,
    abs: f64,
}

const RUNS: [Run; 3] = [
    Run {
        flags: &["--backend", "jit"],
        rel: 1e-5,
        abs: 1e-6,
    },
    Run {
        flags: &["--backend", "interp"],
        rel: 1e-5,
        abs: 1e-6,
    },
    Run {
        flags: &["--backend", "interp", "--f64"],
        rel: 1e-6,
        abs: 1e-7,
    },
];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/kinks")
        .join(name)
}

/// Runs `netc grad` on one case and returns the gradients it wrote and its loss.
fn netc_grad(case: &str, run: &Run, out: &Path) -> (ParamStore, f64) {
    let status = Command::new(env!("CARGO_BIN_EXE_netc"))
        .arg("grad")
        .arg(fixture(&format!("{case}.net")))
        .arg("--load")
        .arg(fixture(&format!("{case}.weights.safetensors")))
        .arg("--out")
        .arg(out)
        .args(run.flags)
        .output()
        .expect("netc runs");
    assert!(
        status.status.success(),
        "{case} {:?}: {}",
        run.flags,
        String::from_utf8_lossy(&status.stderr)
    );
    let (grads, meta) = ParamStore::load_safetensors(out).expect("netc's gradients load");
    let loss = meta["loss"].parse().expect("a number");
    (grads, loss)
}

#[test]
fn gradients_at_the_kinks_equal_pytorchs() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    for case in CASES {
        let (torch, _) =
            ParamStore::load_safetensors(&fixture(&format!("{case}.torch.safetensors")))
                .expect("the fixture loads");
        for run in &RUNS {
            let (netc, loss) =
                netc_grad(case, run, &dir.path().join(format!("{case}.safetensors")));
            let what = format!("{case} {:?}", run.flags);
            for (name, want) in torch.iter() {
                if name == "loss" {
                    let w = f64::from(want.data[0]);
                    assert!(
                        (loss - w).abs() <= 1e-6 * w.abs(),
                        "{what}: loss {loss}, torch {w}"
                    );
                    continue;
                }
                let got = netc
                    .get(name)
                    .unwrap_or_else(|| panic!("{what}: no `{name}`"));
                assert_eq!(got.shape, want.shape, "{what}: shape of {name}");
                let scale = want
                    .data
                    .iter()
                    .fold(0.0f64, |m, v| m.max(f64::from(v.abs())));
                for (g, w) in got.data.iter().zip(&want.data) {
                    let (g, w) = (f64::from(*g), f64::from(*w));
                    assert!(
                        (g - w).abs() <= run.rel * w.abs() + run.abs * scale,
                        "{what}: ∂L/∂{name} = {:?}, torch {:?}",
                        got.data,
                        want.data
                    );
                }
            }
        }
    }
}
