//! The front end on inputs that broke it under fuzzing (issue 15): reports render whatever the
//! lines look like, and oversized expansions are refused before anything is built.

use netc::diag::{render, Diagnostic};
use netc::sema::check_source;
use netc::span::Span;

const XOR: &str = include_str!("../examples/xor.net");

/// Renders every diagnostic of `src`, checked, and returns the text.
fn rendered(src: &str) -> (Vec<Diagnostic>, String) {
    let checked = check_source("t.net", src, &[]);
    let text = render(&checked.diagnostics, "t.net", src, false);
    (checked.diagnostics, text)
}

#[test]
fn a_label_past_column_65535_renders_in_the_plain_form() {
    // miette pads a label to its column with a formatting width; past u16::MAX it panicked
    // ("Formatting argument out of range").
    let src = format!(
        "\u{FEFF}model m {{\n    input x: [2]\n    dense 3{}@\n}}\n",
        " ".repeat(70_000)
    );
    let (diags, text) = rendered(&src);
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert!(text.contains("error[netc::parse::syntax]"), "{text}");
    assert!(text.contains("t.net:3:70012: unexpected `@`"), "{text}");
    assert!(text.len() < 1_000, "the long line is not drawn");
}

#[test]
fn columns_count_characters_and_skip_the_byte_order_mark() {
    let src = "\u{FEFF}é\u{FEFF}x\n\tééé@";
    assert_eq!(
        Span::new(src.find('x').unwrap(), 0).line_char_col(src),
        (1, 3)
    );
    assert_eq!(
        Span::new(src.find('@').unwrap(), 0).line_char_col(src),
        (2, 5)
    );
    // A span cut inside a multi-byte character is moved back to its start.
    let inside = src.find('é').unwrap() + 1;
    let clamped = Span::new(inside, inside + 1).clamp_to(src);
    assert!(src.is_char_boundary(clamped.start) && src.is_char_boundary(clamped.end));
}

#[test]
fn spliced_examples_with_bom_crlf_tabs_and_long_lines_render() {
    let long_tail = format!("{}é\t{{", "é".repeat(40_000));
    let variants = [
        format!("\u{FEFF}{}\n{}{XOR}", "x".repeat(300), &XOR[..40]),
        format!("\u{FEFF}{}{}", XOR.replace('\n', "\r\n"), long_tail),
        format!("{XOR}\u{FEFF}{}", "(".repeat(30)),
        format!("{}{XOR}", " ".repeat(80_000)),
        format!("{}\u{FEFF}{}", &XOR[..XOR.len() / 2], "\t".repeat(70_000)),
    ];
    for src in &variants {
        let (diags, text) = rendered(src);
        for diag in &diags {
            assert!(
                text.contains(diag.code),
                "{} missing from\n{text}",
                diag.code
            );
        }
    }
}

#[test]
fn a_span_at_the_end_of_the_file_renders() {
    let src = "model m {\n    input x: [2]\n    dense 1";
    let diag = Diagnostic::error(
        "netc::test::end",
        Span::new(src.len(), src.len() + 3),
        "end",
    )
    .with_related(Span::new(usize::MAX - 1, usize::MAX), "far past the end");
    let text = render(&[diag], "t.net", src, false);
    assert!(text.contains("netc::test::end"), "{text}");
}

/// Blocks `depth` deep, each using the one below twice: 2^depth layers if expanded.
fn doubling_blocks(depth: usize) -> String {
    let mut src = String::from("block b0 {\n    dense 2\n}\n");
    for i in 1..=depth {
        src.push_str(&format!(
            "block b{i} {{\n    b{}\n    b{}\n}}\n",
            i - 1,
            i - 1
        ));
    }
    src.push_str(&format!(
        "model m {{\n    input x: [2]\n    b{depth}\n    dense 1\n}}\ntrain {{\n    data = xor\n}}\n"
    ));
    src
}

#[test]
fn blocks_34_deep_used_twice_each_are_refused_in_one_diagnostic() {
    // Before the count, this expanded copy by copy: 16 s, 578 MiB and 49,989 errors.
    let (diags, _) = rendered(&doubling_blocks(34));
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!(diags[0].code, "netc::name::block_too_deep");
    assert!(
        diags[0].message.contains("the limit is 32"),
        "{}",
        diags[0].message
    );
}

#[test]
fn blocks_within_the_depth_limit_but_too_many_layers_are_refused_by_count() {
    let (diags, _) = rendered(&doubling_blocks(20));
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!(diags[0].code, "netc::range::too_many_layers");
    assert!(
        diags[0]
            .message
            .contains("1048576 layers; the limit is 10000"),
        "{}",
        diags[0].message
    );
}

#[test]
fn doubling_blocks_within_the_limits_still_check() {
    let (diags, _) = rendered(&doubling_blocks(10));
    assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
}
