//! Edits of a source by the spans of its syntax tree: the text outside what changes (comments,
//! layout) is kept byte for byte. The REPL's edits and `netc train --vary` both edit here.

use super::ast::{Body, File, Item, Stmt};
use crate::span::Span;

/// `src` with `span` replaced by `text`.
pub fn replace_span(src: &str, span: Span, text: &str) -> String {
    format!("{}{text}{}", &src[..span.start], &src[span.end..])
}

/// `src` with the value of every layer argument written `key = ...` (in the model and in its
/// blocks, inside `repeat` and `residual` too) replaced by `value`; `None` when no layer
/// writes `key`. The train section is not a layer, so its settings never change.
pub fn set_layer_attribute(src: &str, file: &File, key: &str, value: &str) -> Option<String> {
    let mut spans = Vec::new();
    for item in &file.items {
        match item {
            Item::Model(m) => collect_values(&m.body, key, &mut spans),
            Item::Block(b) => collect_values(&b.body, key, &mut spans),
            Item::Train(_) | Item::Error(_) => {}
        }
    }
    if spans.is_empty() {
        return None;
    }
    // From the end, so the spans still to replace keep their offsets.
    spans.sort_by_key(|s| std::cmp::Reverse(s.start));
    Some(
        spans
            .into_iter()
            .fold(src.to_owned(), |out, span| replace_span(&out, span, value)),
    )
}

/// The spans of the values of the arguments named `key` of the layer statements in `body`.
fn collect_values(body: &Body, key: &str, spans: &mut Vec<Span>) {
    for stmt in &body.stmts {
        match stmt {
            Stmt::Layer(layer) => spans.extend(
                (layer.args.iter())
                    .filter(|a| a.name.as_ref().is_some_and(|n| n.text == key))
                    .map(|a| a.value.span),
            ),
            Stmt::Repeat(r) => collect_values(&r.body, key, spans),
            Stmt::Residual(r) => collect_values(&r.body, key, spans),
            Stmt::Input(_) | Stmt::Error(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(src: &str, key: &str, value: &str) -> Option<String> {
        let (file, _) = crate::syntax::parse_file(src);
        set_layer_attribute(src, &file, key, value)
    }

    const SRC: &str = "model m {\n    input x: [2]\n    dense 8, act = tanh, init = normal(0, 1) as h // act = keep\n    repeat 2 {\n        dense 4, act = sigmoid\n    }\n    dense 1\n}\n\ntrain {\n    data = xor()\n    loss = mse\n}\n";

    #[test]
    fn a_present_attribute_is_replaced_everywhere_and_nothing_else_moves() {
        let out = set(SRC, "act", "relu").expect("the model writes act");
        assert_eq!(out, SRC.replace("tanh", "relu").replace("sigmoid", "relu"));
        let out = set(SRC, "init", "he_normal").expect("the model writes init");
        assert!(out.contains("init = he_normal as h // act = keep"), "{out}");
    }

    #[test]
    fn an_absent_attribute_is_none() {
        assert_eq!(set(SRC, "bias_init", "zeros"), None);
    }

    #[test]
    fn the_train_section_is_not_edited() {
        assert_eq!(set(SRC, "loss", "bce"), None);
        assert_eq!(set(SRC, "data", "circles()"), None);
    }

    #[test]
    fn layers_inside_a_repeat_are_edited() {
        let out = set(SRC, "act", "gelu").expect("the model writes act");
        assert!(
            out.contains("    repeat 2 {\n        dense 4, act = gelu\n    }"),
            "{out}"
        );
    }
}
