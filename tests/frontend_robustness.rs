//! The parser, checker and formatter never panic or hang: property tests over mutated
//! examples and random bytes, and the pathological inputs the issue names.

use netc::sema::check_source;
use netc::syntax::format_source;
use proptest::prelude::*;
use std::time::{Duration, Instant};

const XOR: &str = include_str!("../examples/xor.net");
const RESIDUAL: &str = include_str!("../examples/residual.net");
const EVERYTHING: &str = include_str!("data/frontend/ok/everything.net");

/// Pieces that make mutations likely to reach deep into the checker.
const TOKENS: &[&str] = &[
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ",",
    "=",
    ":",
    "\n",
    " ",
    "//",
    "\"",
    "-",
    "0",
    "1e9",
    "99999999999",
    "repeat 3 {",
    "residual {",
    "as",
    "dense",
    "relu",
    "input x: [2]",
    "model m {",
    "block b(w) {",
    "w",
    "train {",
    "data = xor",
    "seq(3, 2)",
    "lstm",
    "é",
    "\u{0}",
];

fn run_everything(src: &str) {
    let checked = check_source("fuzz.net", src, &[]);
    let has_error = checked.diagnostics.iter().any(|d| d.is_error());
    assert_eq!(checked.model.is_some(), !has_error);
    let _ = netc::diag::render(&checked.diagnostics, "fuzz.net", src, false);
    let _ = netc::diag::to_json(&checked.diagnostics, "fuzz.net", src);
    if let Ok(formatted) = format_source(src) {
        let again = format_source(&formatted).expect("formatted text parses");
        assert_eq!(again, formatted, "fmt is not idempotent on:\n{src}");
    }
}

/// Applies `edits` (position, token index, delete length) to `base`.
fn mutate(base: &str, edits: &[(usize, usize, usize)]) -> String {
    let mut text: Vec<char> = base.chars().collect();
    for &(pos, token, delete) in edits {
        let at = pos % (text.len() + 1);
        let end = (at + delete).min(text.len());
        text.splice(at..end, TOKENS[token % TOKENS.len()].chars());
    }
    text.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn mutated_examples_never_panic(
        which in 0usize..3,
        edits in prop::collection::vec((any::<usize>(), any::<usize>(), 0usize..6), 1..8),
    ) {
        let base = [XOR, RESIDUAL, EVERYTHING][which];
        run_everything(&mutate(base, &edits));
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        run_everything(&String::from_utf8_lossy(&bytes));
    }
}

fn assert_quick(what: &str, src: &str) {
    let start = Instant::now();
    run_everything(src);
    let took = start.elapsed();
    assert!(took < Duration::from_secs(20), "{what} took {took:?}");
}

#[test]
fn ten_megabyte_line() {
    let mut src = String::from("model m {\n    input x: [2]\n    dense ");
    src.push_str(&"9".repeat(10 << 20));
    src.push_str("\n}\n");
    assert_quick("a 10 MB number", &src);
    let garbage = "x=(".repeat(3 << 20);
    assert_quick("a 10 MB garbage line", &garbage);
}

#[test]
fn ten_thousand_nested_blocks() {
    let src = format!(
        "model m {{\n    input x: [2]\n{}{}\n}}\n",
        "repeat 2 {\n".repeat(10_000),
        "}\n".repeat(10_000)
    );
    assert_quick("10 000 nested repeats", &src);
    let checked = check_source("deep.net", &src, &[]);
    assert!(checked
        .diagnostics
        .iter()
        .any(|d| d.code == "netc::parse::too_deep"));
}

#[test]
fn huge_counts_are_errors_not_hangs() {
    let src = "model m {\n    input x: [2]\n    repeat 10000 {\n        repeat 10000 {\n            dense 1000000\n        }\n    }\n}\ntrain {\n    data = xor\n}\n";
    assert_quick("nested huge repeats", src);
    let codes: Vec<&str> = check_source("m.net", src, &[])
        .diagnostics
        .iter()
        .map(|d| d.code)
        .collect();
    assert!(
        codes.contains(&"netc::range::too_many_params")
            || codes.contains(&"netc::range::too_many_layers"),
        "{codes:?}"
    );
}

#[test]
fn empty_or_failing_repeats_do_not_keep_the_checker_busy() {
    let empty = "model m {\n    input x: [2]\n    repeat 10000 {\n        repeat 10000 {\n        }\n    }\n    dense 1\n}\ntrain {\n    data = xor\n}\n";
    assert_quick("nested empty repeats", empty);
    let codes: Vec<&str> = check_source("m.net", empty, &[])
        .diagnostics
        .iter()
        .map(|d| d.code)
        .collect();
    assert_eq!(codes, ["netc::range::too_many_layers"]);
    let failing = "model m {\n    input x: [2]\n    repeat 10000 {\n        repeat 10000 {\n            dense relu\n        }\n    }\n}\ntrain {\n    data = xor\n}\n";
    assert_quick("nested failing repeats", failing);
    // Counted before expansion (issue 15), 10^8 layers are refused in one diagnostic that
    // names the count and the limit, before any copy is built.
    let checked = check_source("m.net", failing, &[]);
    let codes: Vec<&str> = checked.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, ["netc::range::too_many_layers"]);
    assert!(checked.diagnostics[0]
        .message
        .contains("100000000 layers; the limit is 10000"));
}
