//! Run folders you can trust: every run gets a folder of its own, an earlier run is never
//! clobbered silently, a run killed at any moment and resumed leaves the same files byte for
//! byte as one never stopped, and resuming another model says how it differs.

use crate::common;

use common::netc_cli as netc;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

fn run(args: &[&str]) -> Output {
    netc().args(args).output().expect("netc runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

/// Trains `file` quietly without the report, with `extra` flags; asserts the exit code.
fn train(file: &str, extra: &[&str], code: i32) -> Output {
    let mut args = vec!["train", file, "-q", "--no-report"];
    args.extend(extra);
    let o = run(&args);
    assert_eq!(o.status.code(), Some(code), "{args:?}: {}", text(&o.stderr));
    o
}

/// Every file of a folder by name, with its bytes.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let entries = std::fs::read_dir(dir).expect("the run folder reads");
    entries
        .map(|e| {
            let p = e.expect("an entry").path();
            let name = p
                .file_name()
                .expect("a name")
                .to_string_lossy()
                .into_owned();
            (name, std::fs::read(&p).expect("a file reads"))
        })
        .collect()
}

/// The two folders hold the same files with the same bytes (no time field is in any of them).
fn assert_same_folders(whole: &Path, resumed: &Path) {
    let (a, b) = (files(whole), files(resumed));
    let names = |m: &BTreeMap<String, Vec<u8>>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(&a), names(&b), "the folders hold different files");
    for (name, bytes) in &a {
        assert!(
            *bytes == b[name],
            "{name} differs:\n--- uninterrupted\n{}\n--- resumed\n{}",
            text(bytes)
                .lines()
                .rev()
                .take(3)
                .collect::<Vec<_>>()
                .join("\n"),
            text(&b[name])
                .lines()
                .rev()
                .take(3)
                .collect::<Vec<_>>()
                .join("\n"),
        );
    }
}

#[test]
fn runs_started_in_the_same_second_get_folders_of_their_own() {
    let dir = tempfile::tempdir().expect("temp dir");
    let xor = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/xor.net");
    let children: Vec<_> = (0..3)
        .map(|_| {
            netc()
                .current_dir(dir.path())
                .args(["train", path(&xor), "-q", "--no-report", "--steps", "2"])
                .stdout(Stdio::null())
                .spawn()
                .expect("netc starts")
        })
        .collect();
    for mut child in children {
        assert!(child.wait().expect("netc ends").success());
    }
    let runs: Vec<PathBuf> = std::fs::read_dir(dir.path().join("runs"))
        .expect("runs/ exists")
        .map(|e| e.expect("an entry").path())
        .collect();
    assert_eq!(runs.len(), 3, "{runs:?}");
    for run in &runs {
        assert!(run.join("weights.safetensors").exists(), "{run:?}");
    }
}

#[test]
fn an_out_folder_holding_a_run_is_refused_unless_overwrite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("run");
    train(
        "examples/xor.net",
        &["--steps", "3", "--out", path(&out)],
        0,
    );
    let before = std::fs::read(out.join("metrics.jsonl")).expect("metrics");
    let o = train(
        "examples/xor.net",
        &["--steps", "5", "--out", path(&out)],
        1,
    );
    let stderr = text(&o.stderr);
    assert!(stderr.contains("already holds a run"), "{stderr}");
    assert!(stderr.contains("--overwrite"), "{stderr}");
    assert_eq!(
        std::fs::read(out.join("metrics.jsonl")).expect("metrics"),
        before
    );
    let args = ["--steps", "5", "--out", path(&out), "--overwrite"];
    train("examples/xor.net", &args, 0);
    let metrics = std::fs::read_to_string(out.join("metrics.jsonl")).expect("metrics");
    assert!(metrics.contains("\"step\":5"), "{metrics}");
}

/// Appends `text` to the file `name` in `dir`, as a run killed after its checkpoint leaves it.
fn append(dir: &Path, name: &str, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join(name))
        .expect("the record exists");
    f.write_all(text.as_bytes()).expect("appended");
}

#[test]
fn a_run_stopped_at_a_checkpoint_with_later_records_resumes_to_the_same_folder() {
    // rnn_adding has every record file: metrics, the three probe files and spectral.csv.
    let (whole, parts) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let every = ["--set", "checkpoint_every=20", "--steps", "60"];
    let file = "examples/rnn_adding.net";
    train(
        file,
        &[&every[..], &["--out", path(whole.path())]].concat(),
        0,
    );
    let paused = [
        &every[..],
        &["--out", path(parts.path()), "--pause-at", "40"],
    ]
    .concat();
    train(file, &paused, 130);
    // What a kill -9 just after the checkpoint at step 40 leaves: the next steps' records,
    // torn lines and half-written temporaries.
    let p = parts.path();
    append(
        p,
        "metrics.jsonl",
        "{\"step\":41,\"epoch\":0,\"loss\":1}\n{\"step\":4",
    );
    append(p, "probes.csv", "41,rnn1,1,2,3\n42,rn");
    append(p, "probes_time.csv", "41,rnn1,0,0.5\n");
    append(p, "probes_gates.csv", "41,rnn1,h,0.5\n");
    std::fs::write(p.join("checkpoint.safetensors.tmp"), "half a checkpoint").unwrap();
    std::fs::write(p.join("probes.csv.tmp"), "step,lay").unwrap();
    train(file, &[&every[..], &["--resume", path(p)]].concat(), 0);
    assert_same_folders(whole.path(), p);
}

#[cfg(unix)]
#[test]
fn a_run_killed_between_checkpoints_resumes_to_the_same_folder() {
    let (whole, parts) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let every = ["--set", "checkpoint_every=100", "--steps", "6000"];
    let file = "examples/xor.net";
    train(
        file,
        &[&every[..], &["--out", path(whole.path())]].concat(),
        0,
    );
    let mut child = netc()
        .args([
            "train",
            file,
            "-q",
            "--no-report",
            "--out",
            path(parts.path()),
        ])
        .args(every)
        .spawn()
        .expect("netc starts");
    let checkpoint = parts.path().join("checkpoint.safetensors");
    while !checkpoint.exists() {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    // Somewhere after the first checkpoint, most likely between two of them: the whole run
    // can finish within 150 ms of its first checkpoint, so the kill comes soon after it.
    std::thread::sleep(std::time::Duration::from_millis(5));
    child.kill().expect("SIGKILL sent");
    child.wait().expect("netc ends");
    let ck = netc::runtime::checkpoint::load(parts.path()).expect("the checkpoint is whole");
    assert!(ck.step < 6000, "the run finished before it was killed");
    train(
        file,
        &[&every[..], &["--resume", path(parts.path())]].concat(),
        0,
    );
    assert_same_folders(whole.path(), parts.path());
}

#[test]
fn resuming_another_model_says_how_it_differs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("run");
    let args = ["--steps", "20", "--pause-at", "5", "--out", path(&out)];
    train("examples/xor.net", &args, 130);
    let wider = dir.path().join("xor.net");
    let src = std::fs::read_to_string("examples/xor.net").expect("xor");
    std::fs::write(&wider, src.replace("dense 8,", "dense 16,")).expect("write");
    let o = train(path(&wider), &["--resume", path(&out)], 1);
    // The report is wrapped to the terminal's width: compare its words.
    let stderr = text(&o.stderr);
    let words: Vec<&str> = stderr.split_whitespace().filter(|w| *w != "│").collect();
    let words = words.join(" ");
    assert!(
        words.contains("netc::train::resume_model_differs"),
        "{stderr}"
    );
    let how = "`hidden.weight` is [16, 2] in the file's model but [8, 2] in the checkpoint";
    assert!(words.contains(how), "{stderr}");
    assert!(!stderr.contains("no leaf"), "{stderr}");
}

/// A small CSV model in `dir`: `m.net` reading `d.csv` (40 rows of two features and a 0/1
/// target), for runs whose data can be changed or moved.
fn csv_model(dir: &Path) -> PathBuf {
    let mut csv = String::from("a,b,y\n");
    for i in 0..40 {
        let (a, b) = (f64::from(i % 7) / 7.0, f64::from(i % 5) / 5.0);
        csv.push_str(&format!("{a},{b},{}\n", u8::from(a > b)));
    }
    std::fs::write(dir.join("d.csv"), csv).expect("write the data");
    let net =
        "model m {\n    input x: [2]\n    dense 4, act = tanh\n    dense 1, act = sigmoid\n}\n\n\
               train {\n    data = csv(\"d.csv\", target = \"y\", scale = standard)\n    \
               loss = binary_cross_entropy\n    optimizer = sgd(lr = 0.1)\n    batch = 8\n    \
               epochs = 5\n    seed = 1\n}\n";
    let file = dir.join("m.net");
    std::fs::write(&file, net).expect("write the model");
    file
}

#[test]
fn resuming_on_changed_data_is_refused_unless_asked() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = csv_model(dir.path());
    let out = dir.path().join("run");
    let args = ["--steps", "20", "--pause-at", "5", "--out", path(&out)];
    train(path(&file), &args, 130);
    let data = dir.path().join("d.csv");
    let mut csv = std::fs::read_to_string(&data).expect("the data");
    csv.push_str("0.5,0.25,1\n");
    std::fs::write(&data, csv).expect("change the data");
    let o = train(path(&file), &["--resume", path(&out)], 1);
    let stderr = text(&o.stderr);
    let words: Vec<&str> = stderr.split_whitespace().filter(|w| *w != "│").collect();
    let words = words.join(" ");
    assert!(
        words.contains("netc::train::resume_data_changed"),
        "{stderr}"
    );
    assert!(words.contains("its rows went from 40 to 41"), "{stderr}");
    assert!(words.contains("--allow-data-change"), "{stderr}");
    let args = ["--resume", path(&out), "--allow-data-change"];
    train(path(&file), &args, 0);
}

#[test]
fn a_run_folder_stands_alone_once_the_file_and_data_are_gone() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = csv_model(dir.path());
    let out = dir.path().join("run");
    train(path(&file), &["--steps", "20", "--out", path(&out)], 0);
    // The model file is gone: eval reads the model from the folder, the data where it was.
    std::fs::remove_file(&file).expect("remove the model file");
    let o = run(&["eval", path(&out), "--json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let eval: serde_json::Value = serde_json::from_slice(&o.stdout).expect("eval JSON");
    assert_eq!(eval["sets"][0]["rows"], 8, "{eval}");
    // The data is gone too: predicting new rows and the report need only the folder.
    std::fs::rename(dir.path().join("d.csv"), dir.path().join("moved.csv")).expect("move");
    let new = dir.path().join("new.csv");
    std::fs::write(&new, "a,b\n0.1,0.9\n0.9,0.1\n").expect("write new rows");
    let o = run(&["predict", path(&out), "--data", path(&new), "--json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout).lines().count(), 2, "{}", text(&o.stdout));
    let o = run(&["report", path(&out), "--json", "--no-plots"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    // Only what needs the data says so, naming the file where the run found it.
    let o = run(&["eval", path(&out)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("d.csv"), "{}", text(&o.stderr));
}
