//! The labelled suite of gradient-health cases: every `tests/data/diagnosis/*.net` states its
//! expected findings in `// expect:` lines; each is trained and its diagnosis checked against
//! them, both the library's `Diagnosis` and `netc report --json` (docs/gradient-health.md).
//!
//! A label is one of: `healthy` (no problem found); `[contained] KIND [in LAYER | from A to
//! B]` (a finding of that kind, e.g. `vanishing_through_time in rnn1`, `vanishing from dense1
//! to dense7`); `not KIND` (no finding of that kind). Every problem found must be labelled.

use crate::common;

use serde_json::Value;
use std::path::{Path, PathBuf};

/// One expected finding.
#[derive(Debug)]
struct Expected {
    kind: String,
    contained: bool,
    /// The first and last layer the finding names, when the label gives them.
    layers: Option<(String, String)>,
}

#[derive(Debug, Default)]
struct Labels {
    healthy: bool,
    expected: Vec<Expected>,
    absent: Vec<String>,
}

/// "vanishing_through_time" → "VanishingThroughTime", the kind as serde writes it.
fn kind_name(snake: &str) -> String {
    snake
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map_or(String::new(), |f| f.to_uppercase().chain(c).collect())
        })
        .collect()
}

fn parse_labels(src: &str) -> Labels {
    let mut labels = Labels::default();
    for line in src.lines() {
        let Some(label) = line.trim().strip_prefix("// expect:") else {
            continue;
        };
        let words: Vec<&str> = label.split_whitespace().collect();
        match words.as_slice() {
            ["healthy"] => labels.healthy = true,
            ["not", kind] => labels.absent.push(kind_name(kind)),
            rest => {
                let (contained, rest) = match rest {
                    ["contained", tail @ ..] => (true, tail),
                    _ => (false, rest),
                };
                let (kind, layers) = match rest {
                    [kind] => (kind, None),
                    [kind, "in", layer] => (kind, Some((layer.to_string(), layer.to_string()))),
                    [kind, "from", a, "to", b] => (kind, Some((a.to_string(), b.to_string()))),
                    _ => panic!("cannot read the label `{label}`"),
                };
                labels.expected.push(Expected {
                    kind: kind_name(kind),
                    contained,
                    layers,
                });
            }
        }
    }
    labels
}

/// Every way `diagnosis` (the JSON of a `Diagnosis`) differs from `labels`.
fn mismatches(labels: &Labels, diagnosis: &Value) -> Vec<String> {
    let findings = diagnosis["findings"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let kind = |f: &Value| f["kind"].as_str().unwrap_or("").to_owned();
    let contained = |f: &Value| f["severity"] == "Contained";
    let mut out = Vec::new();
    for e in &labels.expected {
        let found = findings
            .iter()
            .find(|f| kind(f) == e.kind && contained(f) == e.contained);
        let Some(f) = found else {
            out.push(format!(
                "no {}{} finding",
                if e.contained { "contained " } else { "" },
                e.kind
            ));
            continue;
        };
        if f["rule"].is_null() {
            out.push(format!("the {} finding states no rule", e.kind));
        }
        let names: Vec<&str> = f["layers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if let Some((a, b)) = &e.layers {
            if names.first() != Some(&a.as_str()) || names.last() != Some(&b.as_str()) {
                out.push(format!("{} names {names:?}, expected {a} to {b}", e.kind));
            }
        }
    }
    for f in &findings {
        let labelled = labels
            .expected
            .iter()
            .any(|e| e.kind == kind(f) && e.contained == contained(f));
        if !labelled {
            out.push(format!("unexpected finding: {}", f["summary"]));
        }
    }
    for absent in &labels.absent {
        if findings.iter().any(|f| &kind(f) == absent) {
            out.push(format!("a {absent} finding, labelled absent"));
        }
    }
    if labels.healthy && findings.iter().any(|f| !contained(f)) {
        out.push("labelled healthy, but a problem was found".to_owned());
    }
    out
}

fn cases() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/diagnosis");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/data/diagnosis exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "net"))
        .collect();
    files.sort();
    files
}

/// Trains `case` into a fresh folder (a diverging case stops with an error status, which is
/// what it is meant to show, so the status is not checked here).
fn train(case: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let o = common::netc_cli()
        .arg("train")
        .arg(case)
        .args(["--quiet", "--no-report", "--out"])
        .arg(dir.path())
        .output()
        .expect("netc runs");
    assert!(
        dir.path().join("probes.csv").exists(),
        "{}: no probes recorded: {}",
        case.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    dir
}

#[test]
fn every_labelled_case_is_diagnosed_as_labelled_by_the_library_and_the_json_report() {
    let mut failures = Vec::new();
    for case in cases() {
        let labels = parse_labels(&std::fs::read_to_string(&case).expect("the case reads"));
        assert!(
            labels.healthy || !labels.expected.is_empty(),
            "{} has no `// expect:` label",
            case.display()
        );
        let dir = train(&case);
        let run = netc::report::read_run(dir.path()).expect("the run reads back");
        let library = serde_json::to_value(netc::health::diagnose(&run)).expect("serializes");
        let o = common::netc_cli()
            .arg("report")
            .arg(dir.path())
            .arg("--json")
            .output()
            .expect("netc runs");
        let json: Value = serde_json::from_slice(&o.stdout).expect("report --json is JSON");
        let name = case
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let src = std::fs::read_to_string(&case).expect("the case reads");
        failures.extend(
            remedy_line_mismatches(&src, &library)
                .into_iter()
                .map(|m| format!("{name} (remedies): {m}")),
        );
        failures.extend(
            lint_mismatches(&case, &labels)
                .into_iter()
                .map(|m| format!("{name} (netc check): {m}")),
        );
        for (channel, d) in [("Diagnosis", &library), ("report --json", &json)] {
            for m in mismatches(&labels, d) {
                failures.push(format!("{name} ({channel}): {m}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Where `netc check`'s lints through time disagree with the labels: a problem labelled
/// through time needs its lint, and a case labelled healthy must have none.
fn lint_mismatches(case: &Path, labels: &Labels) -> Vec<String> {
    let o = common::netc_cli()
        .arg("check")
        .arg(case)
        .output()
        .expect("netc runs");
    let out = String::from_utf8_lossy(&o.stderr).into_owned() + &String::from_utf8_lossy(&o.stdout);
    let mut mismatches = Vec::new();
    for e in labels.expected.iter().filter(|e| !e.contained) {
        let code = match e.kind.as_str() {
            "VanishingThroughTime" => "vanishing_through_time",
            "ExplodingThroughTime" => "netc::lint::exploding_through_time",
            _ => continue,
        };
        if !out.contains(code) {
            mismatches.push(format!("no `{code}` lint for a {} case", e.kind));
        }
    }
    if labels.healthy && out.contains("through_time") {
        mismatches.push(format!("a lint through time on a healthy case: {out}"));
    }
    mismatches
}

/// Remedies that edit an activation or init must point at a line that has one: never at a
/// layernorm, batchnorm or dropout line.
fn remedy_line_mismatches(src: &str, diagnosis: &Value) -> Vec<String> {
    let lines: Vec<&str> = src.lines().collect();
    let remedies = diagnosis["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|f| f["remedies"].as_array().cloned().unwrap_or_default());
    remedies
        .filter_map(|r| r.as_str().map(str::to_owned))
        .filter(|r| r.contains("act = ") || r.contains("init = "))
        .filter_map(|r| {
            let n: usize = r
                .split("at line ")
                .nth(1)?
                .split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()?;
            let line = lines.get(n.checked_sub(1)?)?.trim();
            let wrong = ["layernorm", "batchnorm", "dropout"]
                .iter()
                .any(|k| line.starts_with(k));
            wrong.then(|| format!("`{r}` points at line {n}: `{line}`"))
        })
        .collect()
}

#[test]
fn labels_read_as_written() {
    let l = parse_labels("// expect: contained exploding_through_time in rnn1\n// expect: vanishing from dense1 to dense7\n// expect: not exploding\n// expect: healthy");
    assert!(l.healthy);
    assert_eq!(l.absent, ["Exploding"]);
    assert_eq!(l.expected[0].kind, "ExplodingThroughTime");
    assert!(l.expected[0].contained);
    assert_eq!(
        l.expected[1].layers,
        Some(("dense1".to_owned(), "dense7".to_owned()))
    );
}
