//! The architecture invariants of docs/architecture.md, checked on the source tree by the
//! same greps a reviewer would run, so a change that breaks one fails here with the file and
//! line instead of waiting for a reviewer to notice.

use std::fs;
use std::path::{Path, PathBuf};

/// Every `.rs` file under `src/<part>` (a directory or one file), with its lines of code:
/// comment lines are dropped, since prose may name anything.
fn code_lines(part: &str) -> Vec<(PathBuf, usize, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(part);
    let mut files = Vec::new();
    collect(&root, &mut files);
    assert!(!files.is_empty(), "no source under {}", root.display());
    let mut lines = Vec::new();
    for file in files {
        let text = fs::read_to_string(&file).expect("a readable source file");
        for (i, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if !code.starts_with("//") {
                lines.push((file.clone(), i + 1, code.to_owned()));
            }
        }
    }
    lines
}

fn collect(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = (fs::read_dir(path).expect("a readable directory"))
            .map(|e| e.expect("a directory entry").path())
            .collect();
        entries.sort();
        for entry in entries {
            collect(&entry, out);
        }
    } else if path.extension().is_some_and(|e| e == "rs") {
        out.push(path.to_path_buf());
    }
}

/// The `crate::<module>` paths each line of `part` names, outside the allowed modules.
fn foreign_uses(part: &str, allowed: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for (file, n, line) in code_lines(part) {
        for (at, _) in line.match_indices("crate::") {
            let rest = &line[at + "crate::".len()..];
            let module: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !allowed.contains(&module.as_str()) {
                found.push(format!("{}:{n}: crate::{module}", file.display()));
            }
        }
    }
    found
}

#[test]
fn the_ir_knows_nothing_of_the_language_or_the_model() {
    // `probe` is allowed because it is a leaf: the IR carries a probe statistic as opaque
    // data on an output, and the statistic's module must itself depend on nothing.
    let found = foreign_uses("ir", &["ir", "span", "probe"]);
    assert!(found.is_empty(), "ir depends on: {found:#?}");
    let leaf = foreign_uses("probe.rs", &[]);
    assert!(
        leaf.is_empty(),
        "probe.rs must be a leaf, but uses: {leaf:#?}"
    );
    let pest: Vec<_> = (code_lines("ir").into_iter())
        .filter(|(_, _, l)| l.contains("pest"))
        .collect();
    assert!(pest.is_empty(), "ir names pest: {pest:?}");
}

#[test]
fn autodiff_depends_only_on_the_ir() {
    let found = foreign_uses("autodiff.rs", &["ir"]);
    assert!(found.is_empty(), "autodiff depends on: {found:#?}");
}

#[test]
fn codegen_knows_nothing_of_source_text() {
    let found = foreign_uses("codegen", &["ir", "span"]);
    assert!(found.is_empty(), "codegen depends on: {found:#?}");
}

#[test]
fn the_compiler_core_does_no_io_and_never_prints() {
    const CORE: [&str; 9] = [
        "syntax",
        "sema",
        "lower",
        "step",
        "autodiff.rs",
        "ir",
        "codegen",
        "health",
        "export",
    ];
    const IO: [&str; 8] = [
        "println!",
        "eprintln!",
        "print!(",
        "eprint!(",
        "std::fs",
        "fs::",
        "File::",
        "stdout()",
    ];
    let mut found = Vec::new();
    for part in CORE {
        for (file, n, line) in code_lines(part) {
            if let Some(word) = IO.iter().find(|w| line.contains(*w)) {
                found.push(format!("{}:{n}: {word}", file.display()));
            }
        }
    }
    assert!(found.is_empty(), "IO in the compiler core: {found:#?}");
}

#[test]
fn unsafe_lives_only_where_generated_code_is_called() {
    let allowed = ["codegen/kernel.rs", "codegen/host.rs", "main.rs"];
    let mut found = Vec::new();
    for (file, n, line) in code_lines("") {
        let name = file.to_string_lossy().replace('\\', "/");
        let permitted = allowed.iter().any(|a| name.ends_with(&format!("src/{a}")));
        let names_unsafe = line.contains("unsafe ") || line.contains("unsafe{");
        if names_unsafe && !permitted {
            found.push(format!("{name}:{n}: {line}"));
        }
    }
    assert!(found.is_empty(), "unsafe outside its two files: {found:#?}");
    let lib = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs"))
        .expect("src/lib.rs");
    assert!(
        lib.contains("#![deny(unsafe_code)]"),
        "lib.rs must deny unsafe code"
    );
}

#[test]
fn no_source_file_is_over_600_lines() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    collect(&root, &mut files);
    let long: Vec<String> = (files.iter())
        .map(|f| (f, fs::read_to_string(f).map_or(0, |t| t.lines().count())))
        .filter(|(_, n)| *n > 600)
        .map(|(f, n)| format!("{}: {n} lines", f.display()))
        .collect();
    assert!(long.is_empty(), "files over 600 lines: {long:#?}");
}
