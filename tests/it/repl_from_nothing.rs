//! `netc repl` beyond a loaded file (issue 15): a model typed from nothing trains, `:show`
//! reads a typed model's own statements, edits aim at a `repeat` as a whole or at a line,
//! `:help` knows every command, `:undo` says what it undid, and `:grads` keeps one scale.

use super::repl_session::{example, repl};

fn path(name: &str) -> String {
    example(name).to_str().expect("a UTF-8 path").to_owned()
}

#[test]
fn a_model_typed_from_nothing_trains() {
    let script = "input x: [4]\n\
                  dense 16, act = relu\n\
                  dense 3\n\
                  train {\n    data = blobs(n = 200, dim = 4)\n    loss = cross_entropy\n}\n\
                  :train 20\n\
                  :show\n\
                  :source\n";
    let s = repl(&["--strict"], script);
    assert_eq!(s.code, 0, "stdout:\n{}\nstderr:\n{}", s.out, s.err);
    assert!(
        s.out.contains("not ready to train yet:") && s.out.contains("has no layers"),
        "a draft says what it lacks: {}",
        s.out
    );
    assert!(s.out.contains("run #1: steps 1–20"), "{}", s.out);
    let dense1 = s
        .out
        .lines()
        .find(|l| l.trim_start().starts_with("dense1 "))
        .unwrap_or_else(|| panic!("no dense1 row: {}", s.out));
    assert!(dense1.contains("dense 16, act = relu"), "{dense1}");
    assert!(
        s.out
            .contains("model untitled {\n    input x: [4]\n    dense 16, act = relu\n"),
        "{}",
        s.out
    );
}

#[test]
fn show_reads_the_statements_of_a_model_typed_at_another_indentation() {
    let script = "model m {\ninput x: [2]\n  dense 64, act = sigmoid, init = he_normal\ndense 1, act = sigmoid\n}\n:show\n:set dense2.units = 1\n:source\n";
    let s = repl(&[&path("xor.net"), "--strict"], script);
    assert_eq!(s.code, 0, "{}\n{}", s.out, s.err);
    let rows: Vec<&str> = s
        .out
        .lines()
        .filter(|l| l.trim_start().starts_with("dense"))
        .collect();
    assert!(
        rows[0].contains("dense 64, act = sigmoid, init = he_normal"),
        "{rows:?}"
    );
    assert!(rows[1].contains("dense 1, act = sigmoid"), "{rows:?}");
    // An edit after it lands on the layer's own text.
    assert!(s.out.contains("    dense 1, act = sigmoid\n}"), "{}", s.out);
}

#[test]
fn edits_aim_at_a_repeat_as_a_whole_or_at_a_line() {
    let script = ":insert after repeat1 dropout 0.1\n\
                  :source\n\
                  :undo\n\
                  :insert before line 6 dense 64, act = relu\n\
                  :source\n\
                  :remove repeat1\n\
                  :source\n";
    let s = repl(&[&path("deep_sigmoid.net"), "--strict"], script);
    assert_eq!(s.code, 0, "{}\n{}", s.out, s.err);
    let sources: Vec<&str> = s.out.split("model deep_sigmoid {\n").skip(1).collect();
    assert_eq!(sources.len(), 3, "{}", s.out);
    assert!(
        sources[0].contains("    }\n    dropout 0.1\n    dense 10\n"),
        "after the repeat, not in each copy: {}",
        sources[0]
    );
    assert!(
        !s.out.contains("the new statement is in each copy"),
        "{}",
        s.out
    );
    assert!(
        sources[1].contains("    input x: [64]\n    dense 64, act = relu\n    repeat 10 {"),
        "before line 6, the repeat: {}",
        sources[1]
    );
    assert!(
        !sources[2].contains("repeat")
            && sources[2].contains("    dense 64, act = relu\n    dense 10\n"),
        "{}",
        sources[2]
    );
}

#[test]
fn help_lists_plot_and_explains_it() {
    let s = repl(&["--strict"], ":help\n:help plot\n");
    assert_eq!(s.code, 0, "{}", s.err);
    assert!(s.out.contains("  :plot FILE.png|FILE.svg"), "{}", s.out);
    let plot = s.out.split(":help [COMMAND]").nth(1).unwrap_or_default();
    assert!(
        plot.contains("`profile`: the last two runs' ‖∂L/∂a‖ by depth"),
        "{}",
        s.out
    );
    assert!(!s.out.contains("no command"), "{}", s.out);
}

#[test]
fn undo_says_what_it_undid_in_the_language() {
    let s = repl(
        &[&path("xor.net"), "--strict"],
        ":set hidden.act = relu\n:undo\n",
    );
    assert_eq!(s.code, 0, "{}", s.err);
    let said = s.out.split("undid: ").nth(1).unwrap_or_default();
    assert!(said.starts_with("set hidden.act = relu\n"), "{}", s.out);
    assert!(
        said.contains("  - dense 8, act = relu, init = xavier_uniform as hidden\n")
            && said.contains("  + dense 8, act = tanh, init = xavier_uniform as hidden\n"),
        "{}",
        s.out
    );
}

#[test]
fn grads_bars_keep_one_scale_across_the_session() {
    let script = ":train 40\n:grads\n:set dense1.act = relu\n:set dense1.init = he_normal\n:train 40\n:grads\n";
    let s = repl(&[&path("deep_sigmoid.net"), "--strict"], script);
    assert_eq!(s.code, 0, "{}", s.err);
    let scales: Vec<&str> = s
        .out
        .lines()
        .filter_map(|l| l.split("log scale ").nth(1))
        .collect();
    assert_eq!(scales.len(), 2, "{}", s.out);
    assert_eq!(scales[0], scales[1], "{}", s.out);
}
