//! The recorded session of docs/repl.md replayed through `netc repl --echo` and compared with
//! the document line by line (timings aside), so the document cannot drift from what the REPL
//! prints; `NETC_UPDATE_DOCS=1` writes the replay (and its picture) back into the document.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const HEADING: &str = "## A session: fixing vanishing gradients";
const PROMPT: &str = "netc> ";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The transcript block of the session: its byte range in the document and its text.
fn transcript(doc: &str) -> (std::ops::Range<usize>, String) {
    let section = doc.find(HEADING).expect("docs/repl.md has the session");
    let open = section + doc[section..].find("```\n").expect("a code block") + 4;
    let close = open + doc[open..].find("```\n").expect("the block ends");
    (open..close, doc[open..close].to_owned())
}

/// A line with the parts that vary from machine to machine (timings) blanked.
fn steady(line: &str) -> String {
    if line.starts_with("compiled in ") {
        return "compiled in … ms".to_owned();
    }
    match (line.find(" in "), line.find("s: loss")) {
        (Some(a), Some(b)) if line.starts_with("run #") && a < b => {
            format!("{} in …{}", &line[..a], &line[b..])
        }
        _ => line.to_owned(),
    }
}

/// Runs the session's inputs with stdout and stderr into one file, as a terminal shows them.
fn replay(inputs: &[String], dir: &Path) -> String {
    let script = dir.join("session.txt");
    std::fs::write(&script, inputs.join("\n") + "\n").expect("the script is written");
    let log = dir.join("transcript.txt");
    let out = std::fs::File::create(&log).expect("a log file");
    let err = out.try_clone().expect("a second handle");
    let status = Command::new(env!("CARGO_BIN_EXE_netc"))
        .args(["repl", "examples/deep_sigmoid.net", "--echo"])
        .current_dir(root())
        .env("NETC_HISTORY", "")
        .stdin(std::fs::File::open(&script).expect("the script"))
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .status()
        .expect("netc runs");
    assert!(status.success(), "{status}");
    std::fs::read_to_string(&log).expect("the transcript")
}

#[test]
fn the_documented_session_reproduces() {
    let doc_path = root().join("docs/repl.md");
    let doc = std::fs::read_to_string(&doc_path).expect("docs/repl.md");
    let (range, documented) = transcript(&doc);
    let dir = tempfile::tempdir().expect("a temp dir");
    // The files the session writes go to a temporary folder; the transcript names the
    // documented paths.
    let picture = "docs/img/repl_depth_profile.png";
    let saved = "/tmp/deep_fixed.net";
    let (tmp_picture, tmp_saved) = (dir.path().join("profile.png"), dir.path().join("saved.net"));
    let moved = |text: &str| {
        text.replace(picture, &tmp_picture.display().to_string())
            .replace(saved, &tmp_saved.display().to_string())
    };
    let inputs: Vec<String> = documented
        .lines()
        .filter_map(|l| l.strip_prefix(PROMPT))
        .skip(1) // the `:load` the file argument does
        .map(moved)
        .collect();
    assert!(inputs.len() > 5, "{documented}");
    let replayed = replay(&inputs, dir.path())
        .replace(&tmp_picture.display().to_string(), picture)
        .replace(&tmp_saved.display().to_string(), saved);

    if std::env::var_os("NETC_UPDATE_DOCS").is_some() {
        let updated = format!("{}{replayed}{}", &doc[..range.start], &doc[range.end..]);
        std::fs::write(&doc_path, updated).expect("the document is written");
        std::fs::copy(&tmp_picture, root().join(picture)).expect("the picture is written");
        return;
    }
    let (want, got): (Vec<String>, Vec<String>) = (
        documented.lines().map(steady).collect(),
        replayed.lines().map(steady).collect(),
    );
    for (i, (w, g)) in want.iter().zip(&got).enumerate() {
        assert_eq!(
            g,
            w,
            "line {} of the transcript differs (NETC_UPDATE_DOCS=1 rewrites it); replayed:\n{replayed}",
            i + 1
        );
    }
    assert_eq!(got.len(), want.len(), "replayed:\n{replayed}");

    // The prose after the transcript quotes its numbers: each must be in the transcript.
    let prose_end = doc[range.end..]
        .find("\n## ")
        .map_or(doc.len(), |i| range.end + i);
    let prose = &doc[range.end..prose_end];
    for number in prose
        .split(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | ',' | ';'))
        .filter(|w| w.ends_with('%') && w.contains('.'))
        .filter(|w| w.trim_end_matches('%').parse::<f64>().is_ok())
    {
        assert!(
            documented.contains(number),
            "the prose quotes {number}, which the transcript does not show"
        );
    }
    let saved_text = std::fs::read_to_string(&tmp_saved).expect("the session saved its model");
    assert!(
        saved_text
            .contains("    repeat 10 {\n        dense 32, act = relu, init = he_normal\n    }"),
        "{saved_text}"
    );
    let png = std::fs::read(&tmp_picture).expect("the session drew its picture");
    assert_eq!(&png[..4], b"\x89PNG");
}
