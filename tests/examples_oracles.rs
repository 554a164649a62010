//! Every example under the two oracles: reverse-mode gradients against finite differences
//! (`netc gradcheck`), and the JIT against the reference interpreter over whole training steps.

mod common;

use std::process::Command;

fn examples() -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir("examples")
        .expect("examples/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "net"))
        .collect();
    files.sort();
    assert!(files.len() >= 8, "the examples are there");
    files
}

fn checked(path: &std::path::Path) -> netc::model::Model {
    let src = std::fs::read_to_string(path).unwrap();
    let checked = netc::sema::check_source(&path.display().to_string(), &src, &[]);
    checked.model.unwrap_or_else(|| {
        panic!(
            "{} does not check: {:?}",
            path.display(),
            checked.diagnostics
        )
    })
}

#[test]
fn gradcheck_passes_on_every_example() {
    for path in examples() {
        let o = Command::new(env!("CARGO_BIN_EXE_netc"))
            .args(["gradcheck", path.to_str().unwrap(), "--samples", "8"])
            .output()
            .expect("netc runs");
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success(),
            "{}: {out}{}",
            path.display(),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(out.contains("ok: worst relative error"), "{out}");
    }
}

#[test]
fn jit_matches_interpreter_on_every_example() {
    for path in examples() {
        let model = checked(&path);
        common::compare_backends(&model, model.train.batch.min(16), 3);
    }
}
