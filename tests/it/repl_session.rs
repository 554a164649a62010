//! `netc repl` driven through stdin, as a script: a whole experiment (load, train, change an
//! activation, train, diff), error recovery with and without `--strict`, and `:save` files that
//! `netc check` accepts.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub(crate) struct Session {
    pub(crate) code: i32,
    pub(crate) out: String,
    pub(crate) err: String,
}

pub(crate) fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name)
}

/// Runs `netc repl ARGS` with `script` on stdin; history is off.
pub(crate) fn repl(args: &[&str], script: &str) -> Session {
    let mut child = Command::new(env!("CARGO_BIN_EXE_netc"))
        .arg("repl")
        .args(args)
        .env("NETC_HISTORY", "")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("netc starts");
    child
        .stdin
        .take()
        .expect("a stdin pipe")
        .write_all(script.as_bytes())
        .expect("the script is written");
    let output = child.wait_with_output().expect("netc finishes");
    Session {
        code: output.status.code().unwrap_or(-1),
        out: String::from_utf8_lossy(&output.stdout).into_owned(),
        err: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The two ‖∂L/∂a‖ values of `layer`'s row in a `:diff` table.
fn diff_row(out: &str, layer: &str) -> (f64, f64) {
    let row = out
        .lines()
        .rfind(|l| l.split_whitespace().next() == Some(layer))
        .unwrap_or_else(|| panic!("no row for {layer} in:\n{out}"));
    let numbers: Vec<f64> = row
        .split_whitespace()
        .filter_map(|w| w.parse::<f64>().ok())
        .collect();
    assert!(numbers.len() >= 2, "{row}");
    (numbers[0], numbers[1])
}

#[test]
fn relu_with_he_init_lifts_the_early_gradients_of_a_deep_sigmoid_net() {
    let file = example("deep_sigmoid.net");
    let s = repl(
        &[file.to_str().expect("a UTF-8 path"), "--strict"],
        ":train 200\n:grads\n:set dense1.act = relu\n:set dense1.init = he_normal\n:train 200\n:diff\n",
    );
    assert_eq!(s.code, 0, "stdout:\n{}\nstderr:\n{}", s.out, s.err);
    assert!(s.out.contains("loaded deep_sigmoid"), "{}", s.out);
    assert!(
        s.out.contains("all of them changed"),
        "the repeat's copies are named: {}",
        s.out
    );
    assert_eq!(s.out.matches("compiled in").count(), 2, "{}", s.out);
    for layer in ["dense1", "dense2", "dense3"] {
        let (sigmoid, relu) = diff_row(&s.out, layer);
        assert!(
            relu > 2.0 * sigmoid,
            "{layer}: ‖∂L/∂a‖ {sigmoid} with sigmoid, {relu} with relu:\n{}",
            s.out
        );
    }
    let accuracies: Vec<f64> = s
        .out
        .lines()
        .filter(|l| l.trim_start().starts_with('#') && l.contains("valid acc"))
        .filter_map(|l| {
            l.rsplit("valid acc ")
                .next()?
                .trim_end_matches('%')
                .parse()
                .ok()
        })
        .collect();
    assert_eq!(accuracies.len(), 2, "{}", s.out);
    assert!(accuracies[1] > accuracies[0] + 20.0, "{accuracies:?}");
}

#[test]
fn plots_are_written_as_png_and_svg() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let (png, svg) = (dir.path().join("grads.png"), dir.path().join("profile.svg"));
    let file = example("xor.net");
    let script = format!(
        ":plot {png}\n:train 20\n:plot {png}\n:set hidden.act = relu\n:train 20\n:plot {svg} profile\n",
        png = png.display(),
        svg = svg.display()
    );
    let s = repl(&[file.to_str().expect("a UTF-8 path")], &script);
    assert!(s.err.contains("no run yet"), "{}", s.err);
    let bytes = std::fs::read(&png).expect("the PNG");
    assert_eq!(&bytes[..4], b"\x89PNG");
    let text = std::fs::read_to_string(&svg).expect("the SVG");
    assert!(
        text.contains("<svg") && text.contains("#2 set hidden.act = relu"),
        "{text}"
    );
}

#[test]
fn training_again_continues_without_recompiling() {
    let file = example("xor.net");
    let s = repl(
        &[file.to_str().expect("a UTF-8 path"), "--strict"],
        ":train 30\n:train 30\n:spark hidden\n",
    );
    assert_eq!(s.code, 0, "{}\n{}", s.out, s.err);
    assert_eq!(s.out.matches("compiled in").count(), 1, "{}", s.out);
    assert!(s.out.contains("run #2: steps 31–60"), "{}", s.out);
    assert!(s.out.contains("hidden ‖∂L/∂a‖"), "{}", s.out);
}

#[test]
fn a_typo_gets_a_diagnostic_in_the_typed_line_and_the_session_goes_on() {
    let file = example("deep_sigmoid.net");
    let s = repl(
        &[file.to_str().expect("a UTF-8 path")],
        "dense 10, act = sigmod\n:set dense3.act = sigmod\n:trian 5\n:set dense33.act = relu\n:source\n",
    );
    assert_eq!(s.code, 0, "{}", s.err);
    assert_eq!(
        s.err.matches("did you mean `sigmoid`?").count(),
        2,
        "{}",
        s.err
    );
    assert!(
        s.err.contains("1 │ dense 10, act = sigmod"),
        "points into the typed line: {}",
        s.err
    );
    assert!(s.err.contains("1 │ :set dense3.act = sigmod"), "{}", s.err);
    assert!(s.err.contains("did you mean `:train`?"), "{}", s.err);
    assert!(s.err.contains("did you mean `dense3`?"), "{}", s.err);
    // Nothing changed, and the session went on to print the model.
    let original = std::fs::read_to_string(&file).expect("the example");
    assert!(s.out.contains(original.trim()), "{}", s.out);
}

#[test]
fn strict_mode_stops_at_the_first_error() {
    let file = example("deep_sigmoid.net");
    let s = repl(
        &[file.to_str().expect("a UTF-8 path"), "--strict"],
        ":show\ndense 10, act = sigmod\n:source\n",
    );
    assert_eq!(s.code, 1);
    assert!(s.out.contains("11914 trainable parameters"), "{}", s.out);
    assert!(
        !s.out.contains("model deep_sigmoid {"),
        "stopped before :source: {}",
        s.out
    );
    assert!(s.err.contains("did you mean `sigmoid`?"), "{}", s.err);
}

#[test]
fn saved_models_round_trip_through_netc_check() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let saved = dir.path().join("edited.net");
    // The data path is relative to the example's folder; save next to it by copying the data.
    let data = dir.path().join("data");
    std::fs::create_dir(&data).expect("data dir");
    std::fs::copy(example("data/digits.csv"), data.join("digits.csv")).expect("the digits data");
    let file = example("deep_sigmoid.net");
    let script = format!(
        ":set dense1.act = relu\n\
         :set dense1.init = he_normal\n\
         :insert before dense11 layernorm\n\
         block head(k) {{\n    dense k\n}}\n\
         :remove dense11\n\
         head 10\n\
         optimizer = adam(lr = 1e-3)\n\
         :set optimizer.lr = 0.002\n\
         :save {}\n",
        saved.display()
    );
    let s = repl(&[file.to_str().expect("a UTF-8 path"), "--strict"], &script);
    assert_eq!(s.code, 0, "{}\n{}", s.out, s.err);
    let text = std::fs::read_to_string(&saved).expect("the saved file");
    assert!(
        text.contains("dense 32, act = relu, init = he_normal"),
        "{text}"
    );
    assert!(text.contains("optimizer = adam(lr = 0.002)"), "{text}");
    assert!(text.contains("block head(k) {"), "{text}");

    let check = Command::new(env!("CARGO_BIN_EXE_netc"))
        .args(["check", saved.to_str().expect("a UTF-8 path")])
        .output()
        .expect("netc check runs");
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let fmt = Command::new(env!("CARGO_BIN_EXE_netc"))
        .args(["fmt", saved.to_str().expect("a UTF-8 path")])
        .output()
        .expect("netc fmt runs");
    assert_eq!(
        String::from_utf8_lossy(&fmt.stdout),
        text,
        "saved as `netc fmt` prints it"
    );
}

#[test]
fn undo_walks_back_through_changes() {
    let file = example("xor.net");
    let s = repl(
        &[file.to_str().expect("a UTF-8 path"), "--strict"],
        ":set hidden.act = relu\n:set hidden.units = 16\n:undo\n:undo\n:source\n:undo\n",
    );
    assert_eq!(
        s.code, 1,
        "the third undo has nothing left after the load: {}",
        s.err
    );
    let original = std::fs::read_to_string(&file).expect("the example");
    let source = s.out.split("can be undone)\n").last().unwrap_or_default();
    assert!(source.contains(original.trim()), "{}", s.out);
}

#[test]
fn an_exploding_run_stops_at_the_bad_step_and_names_the_layer_and_its_line() {
    let file = example("exploding.net");
    let s = repl(&[file.to_str().expect("a UTF-8 path")], ":train 400\n");
    let said = format!("stdout:\n{}\nstderr:\n{}", s.out, s.err);
    let line = s
        .err
        .lines()
        .find(|l| l.starts_with("stopped at step"))
        .unwrap_or_else(|| panic!("no stop line: {said}"));
    assert!(line.contains("layer `dense"), "{said}");
    assert!(line.contains("(line "), "{said}");
    assert!(line.ends_with("(its update was not applied)"), "{said}");
    assert!(s.err.contains("clip = norm(1.0)"), "{said}");
}
