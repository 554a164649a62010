//! The front end's fuzz target, run for a bounded number of cases: the examples mutated by
//! splices, deletions, a byte-order mark, CRLF line ends, long lines and raw bytes. `check`,
//! rendering and `fmt` must not panic, must stay quick, and `fmt` must keep every comment.

use netc::sema::check_source;
use netc::syntax::format_source;
use proptest::prelude::*;
use std::time::{Duration, Instant};

const EXAMPLES: &[&str] = &[
    include_str!("../examples/xor.net"),
    include_str!("../examples/residual.net"),
    include_str!("../examples/digits.net"),
    include_str!("../examples/lstm_adding.net"),
    include_str!("../examples/batchnorm.net"),
    include_str!("data/frontend/ok/everything.net"),
];

/// Pieces that put comments and line breaks where statements continue.
const TOKENS: &[&str] = &[
    "// note\n",
    " // note",
    "//",
    "\n",
    "\r",
    ",\n",
    "(\n",
    "[\n",
    "\"",
    "{",
    "}",
    "= ",
    "dense 4",
];

/// One change to a source text.
#[derive(Debug, Clone)]
enum Mutation {
    /// Copies `len` bytes of another example at `from` into this one at `at`.
    Splice {
        other: usize,
        from: usize,
        len: usize,
        at: usize,
    },
    Delete {
        at: usize,
        len: usize,
    },
    ByteOrderMark {
        at: usize,
    },
    Crlf,
    /// Inserts one of [`TOKENS`].
    Token {
        at: usize,
        which: usize,
    },
    /// Inserts a run of one character, making a line longer than any renderer expects.
    LongLine {
        at: usize,
        fill: char,
        len: usize,
    },
    /// Inserts raw bytes, read back lossily as the commands read a file.
    Bytes {
        at: usize,
        bytes: Vec<u8>,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (
            0..EXAMPLES.len(),
            any::<usize>(),
            0usize..200,
            any::<usize>()
        )
            .prop_map(|(other, from, len, at)| Mutation::Splice {
                other,
                from,
                len,
                at
            }),
        (any::<usize>(), 0usize..40).prop_map(|(at, len)| Mutation::Delete { at, len }),
        any::<usize>().prop_map(|at| Mutation::ByteOrderMark { at }),
        Just(Mutation::Crlf),
        (any::<usize>(), 0..TOKENS.len()).prop_map(|(at, which)| Mutation::Token { at, which }),
        (any::<usize>(), 0..TOKENS.len()).prop_map(|(at, which)| Mutation::Token { at, which }),
        (
            any::<usize>(),
            prop::sample::select(vec![' ', 'x', '\t', 'é', '9', '(', '\u{FEFF}']),
            prop::sample::select(vec![300usize, 5_000, 70_000]),
        )
            .prop_map(|(at, fill, len)| Mutation::LongLine { at, fill, len }),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..6))
            .prop_map(|(at, bytes)| Mutation::Bytes { at, bytes }),
    ]
}

/// The nearest character boundary at or before `at % (len + 1)`.
fn place(text: &str, at: usize) -> usize {
    let mut at = at % (text.len() + 1);
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn apply(text: &mut String, mutation: &Mutation) {
    match mutation {
        Mutation::Splice {
            other,
            from,
            len,
            at,
        } => {
            let source = EXAMPLES[*other];
            let start = place(source, *from);
            let end = place(source, start + len).max(start);
            let at = place(text, *at);
            text.insert_str(at, &source[start..end.min(source.len())]);
        }
        Mutation::Delete { at, len } => {
            let start = place(text, *at);
            let end = place(text, start + len).max(start);
            text.replace_range(start..end, "");
        }
        Mutation::ByteOrderMark { at } => {
            let at = place(text, *at);
            text.insert(at, '\u{FEFF}');
        }
        Mutation::Crlf => *text = text.replace('\n', "\r\n"),
        Mutation::Token { at, which } => {
            let at = place(text, *at);
            text.insert_str(at, TOKENS[*which]);
        }
        Mutation::LongLine { at, fill, len } => {
            let at = place(text, *at);
            text.insert_str(at, &fill.to_string().repeat(*len));
        }
        Mutation::Bytes { at, bytes } => {
            let at = place(text, *at);
            let mut raw = text.as_bytes()[..at].to_vec();
            raw.extend_from_slice(bytes);
            raw.extend_from_slice(&text.as_bytes()[at..]);
            *text = String::from_utf8_lossy(&raw).into_owned();
        }
    }
}

/// Every `//` comment outside a string literal, as it would be printed (trailing blanks cut).
fn comments(src: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in src.split('\n') {
        let bytes = line.as_bytes();
        let (mut i, mut in_string) = (0, false);
        while i < bytes.len() {
            match bytes[i] {
                b'\\' if in_string => i += 1,
                b'"' => in_string = !in_string,
                b'/' if !in_string && bytes.get(i + 1) == Some(&b'/') => {
                    let text = line[i..].split('\r').next().unwrap_or("").trim_end();
                    found.push(text.to_string());
                    break;
                }
                _ => {}
            }
            i += 1;
        }
    }
    found
}

/// Checks, renders and formats `src`; panics on a broken promise.
fn front_end(src: &str) {
    let start = Instant::now();
    let checked = check_source("fuzz.net", src, &[]);
    let _ = netc::diag::render(&checked.diagnostics, "fuzz.net", src, false);
    let _ = netc::diag::render(&checked.diagnostics, "fuzz.net", src, true);
    if let Ok(formatted) = format_source(src) {
        let _ = netc::diag::render(&checked.diagnostics, "fuzz.net", &formatted, false);
        let mut kept = formatted.as_str();
        for comment in comments(src) {
            let at = kept.find(&comment);
            assert!(
                at.is_some(),
                "fmt dropped `{comment}` from:\n{src}\n---\n{formatted}"
            );
            kept = &kept[at.unwrap_or(0) + comment.len()..];
        }
    }
    let took = start.elapsed();
    assert!(took < Duration::from_secs(5), "check and fmt took {took:?}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn mutated_examples_check_render_and_format(
        which in 0..EXAMPLES.len(),
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let mut text = EXAMPLES[which].to_string();
        for m in &mutations {
            apply(&mut text, m);
        }
        front_end(&text);
    }
}

/// Asserts that formatting `src` (when it parses) prints every comment of it, in order.
fn assert_comments_kept(src: &str) {
    let Ok(formatted) = format_source(src) else {
        return;
    };
    let mut kept = formatted.as_str();
    for comment in comments(src) {
        let at = kept.find(&comment);
        assert!(
            at.is_some(),
            "fmt dropped `{comment}` from:\n{src}\n---\n{formatted}"
        );
        kept = &kept[at.unwrap_or(0) + comment.len()..];
    }
}

#[test]
fn a_comment_anywhere_in_an_example_survives_fmt() {
    for example in &EXAMPLES[..3] {
        for at in (0..=example.len()).filter(|&at| example.is_char_boundary(at)) {
            for comment in ["// c\n", " // c\n", "\n// c\n"] {
                let mut src = example.to_string();
                src.insert_str(at, comment);
                assert_comments_kept(&src);
            }
        }
    }
}

#[test]
fn a_train_key_longer_than_a_formatting_width_formats() {
    // The fuzzer's find: aligning train keys with `{:width$}` panicked past 65,535.
    let key = "k".repeat(70_000);
    let src = format!(
        "model m {{\n    input x: [2]\n    dense 1\n}}\ntrain {{\n    {key} = 1\n    lr = 2\n}}\n"
    );
    let formatted = format_source(&src).expect("parses");
    assert!(formatted.contains(&format!("    lr{} = 2", " ".repeat(70_000 - 2))));
}
