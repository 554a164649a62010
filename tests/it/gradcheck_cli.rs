//! `netc gradcheck --backend`: with `jit` (the default) the compiled kernel's f32 gradients are
//! checked against the f64 ones and the table says so; with `interp` only the f64 check runs.

use std::process::Command;

/// The rows of `netc gradcheck examples/xor.net ARGS`, split into columns, and the verdict.
fn gradcheck(args: &[&str]) -> (String, Vec<Vec<String>>, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_netc"))
        .args(["gradcheck", "examples/xor.net"])
        .args(args)
        .output()
        .expect("netc runs");
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{out}");
    let mut lines = out.lines();
    let header = lines.next().expect("a header").to_owned();
    let rest: Vec<&str> = lines.collect();
    let (verdict, rows) = rest.split_last().expect("a verdict");
    let rows = rows
        .iter()
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
        .collect();
    (header, rows, (*verdict).to_owned())
}

#[test]
fn backend_jit_checks_the_kernels_f32_gradients() {
    let (header, rows, verdict) = gradcheck(&["--backend", "jit"]);
    assert!(header.contains("jit vs f64"), "{header}");
    assert!(
        verdict.contains("the JIT's f32 gradients within"),
        "{verdict}"
    );
    assert_eq!(rows.len(), 4, "{rows:?}");
    let jit: Vec<f64> = rows
        .iter()
        .map(|r| r[4].parse().unwrap_or_else(|_| panic!("{r:?}")))
        .collect();
    // f32 gradients never equal the f64 ones on every element: a zero column would mean the
    // f64 gradients were compared with themselves.
    assert!(jit.iter().any(|&e| e > 1e-9), "{jit:?}");
    assert!(jit.iter().all(|&e| e <= 1e-4), "{jit:?}");
    // The default backend is the JIT, as for every command that runs a model.
    let (default_header, _, _) = gradcheck(&[]);
    assert_eq!(default_header, header);
}

#[test]
fn backend_interp_checks_only_the_f64_gradients() {
    let (header, rows, verdict) = gradcheck(&["--backend", "interp"]);
    assert!(!header.contains("jit"), "{header}");
    assert!(!verdict.contains("JIT"), "{verdict}");
    assert!(rows.iter().all(|r| r.len() == 4), "{rows:?}");
}
