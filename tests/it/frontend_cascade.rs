//! One mistake gives one error: a layer whose shape is unknown because of an earlier error
//! must not raise follow-on errors in the layers after it.

fn codes(src: &str) -> Vec<&'static str> {
    let checked = netc::sema::check_source("cascade.net", src, &[]);
    checked
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.code)
        .collect()
}

#[test]
fn an_unknown_activation_before_a_residual_is_the_only_error() {
    let src = "model m {\n  input x: [4]\n  dense 8, act = sigmod\n  residual {\n    dense 16\n  }\n  dense 2\n}\ntrain { data = xor(n = 10) }\n";
    assert_eq!(codes(src), vec!["netc::name::unknown_activation"]);
}

#[test]
fn an_empty_residual_is_still_reported() {
    let src = "model m {\n  input x: [4]\n  residual {\n  }\n  dense 2\n}\ntrain { data = xor(n = 10) }\n";
    assert!(
        codes(src).contains(&"netc::model::empty_residual"),
        "{:?}",
        codes(src)
    );
}
