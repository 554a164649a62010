//! What `--resume` checks and repairs before the first resumed step: the model being resumed
//! must be the one the checkpoint holds, and the folder's records are cut back to the
//! checkpoint's step, so a run killed at any moment and resumed leaves the same files, byte
//! for byte, as one never stopped.
//!
//! A run writes its records as it goes and flushes them before every checkpoint, so after a
//! kill -9 the records cover the checkpoint's steps and perhaps some after it (a torn last line
//! among them), and a `.tmp` file may be left half-written. [`prepare_folder`] keeps exactly
//! the records of the steps the checkpoint holds and removes the temporaries.

use super::checkpoint::Checkpoint;
use super::run_folder;
use crate::ir::Tensor;
use crate::model::DataSource;
use crate::params::ParamStore;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::Path;

/// Cuts the records of the run folder `dir` back to the checkpoint taken at `step` and removes
/// stale temporaries. Records of later steps (written after that checkpoint by a run that was
/// then killed) and torn lines are dropped; so are `spectral.csv`'s rows from when the earlier
/// stretch ended, since an uninterrupted run records σ_max only at its start and its end.
pub fn prepare_folder(dir: &Path, step: u64) -> io::Result<()> {
    run_folder::remove_temporaries(dir)?;
    keep_lines(&dir.join(run_folder::METRICS), false, |line| {
        json_step(line).is_some_and(|s| s <= step)
    })?;
    for name in [
        run_folder::PROBES,
        run_folder::PROBES_TIME,
        run_folder::PROBES_GATES,
    ] {
        keep_lines(&dir.join(name), true, |line| {
            csv_step(line).is_some_and(|s| s <= step)
        })?;
    }
    keep_lines(&dir.join(run_folder::SPECTRAL), true, |line| {
        csv_step(line).is_some_and(|s| s < step)
    })
}

/// Whether a record file holds a row after its header (`false` when it does not exist).
pub fn has_rows(path: &Path) -> bool {
    std::fs::read_to_string(path).is_ok_and(|text| text.lines().skip(1).any(|l| !l.is_empty()))
}

/// How the model being resumed differs from the one the checkpoint was taken of: one line per
/// tensor missing on either side or of another shape, parameters first. Empty when they agree.
pub fn model_differences(
    checkpoint: &Checkpoint,
    params: &[(&str, &[usize])],
    state: &[(&str, &[usize])],
) -> Vec<String> {
    let mut lines = differences(&checkpoint.params, params, "parameter");
    // Optimizer state only matters once the parameters agree: a new layer brings its own.
    if lines.is_empty() {
        lines = differences(&checkpoint.state, state, "optimizer state tensor");
    }
    lines
}

/// The tensors of `saved` and `expected` that are not the same name with the same shape.
fn differences(saved: &ParamStore, expected: &[(&str, &[usize])], what: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for &(name, shape) in expected {
        match saved.get(name) {
            None => lines.push(format!(
                "{what} `{name}` {shape:?} is in the file's model but not in the checkpoint"
            )),
            Some(Tensor { shape: was, .. }) if was != shape => lines.push(format!(
                "{what} `{name}` is {shape:?} in the file's model but {was:?} in the checkpoint"
            )),
            Some(_) => {}
        }
    }
    for (name, tensor) in saved.iter() {
        if !expected.iter().any(|&(n, _)| n == name) {
            lines.push(format!(
                "{what} `{name}` {:?} is in the checkpoint but not in the file's model",
                tensor.shape
            ));
        }
    }
    lines
}

/// What the data a run trains on was: enough to tell, on `--resume`, that it changed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DataFingerprint {
    /// The CSV file as resolved at train time, or the synthetic set's name.
    pub source: String,
    /// The file's size (none for a synthetic set, a function of the model and the seed).
    pub bytes: Option<u64>,
    /// The file's FNV-1a hash ([`super::checkpoint::content_hash`]).
    pub hash: Option<String>,
    /// Training and validation rows (sequences, for a long-format file).
    pub rows: usize,
}

impl DataFingerprint {
    /// The fingerprint of `source` (paths resolve against `base_dir`) that loaded as `rows`
    /// rows; the file is read once more to hash it.
    pub fn of(source: &DataSource, base_dir: &Path, rows: usize) -> io::Result<DataFingerprint> {
        let name = crate::data::source_name(source, base_dir);
        let (bytes, hash) = match source {
            DataSource::Csv(csv) => {
                let data = std::fs::read(base_dir.join(&csv.path))?;
                let hash = super::checkpoint::content_hash(&data);
                (Some(data.len() as u64), Some(hash))
            }
            DataSource::Synthetic(_) => (None, None),
        };
        Ok(DataFingerprint {
            source: name,
            bytes,
            hash,
            rows,
        })
    }

    /// What differs from the fingerprint `was` taken when the run started, one phrase per
    /// fact; empty when the data is the same (a file moved but unchanged is the same data).
    pub fn changes_since(&self, was: &DataFingerprint) -> Vec<String> {
        let mut changes = Vec::new();
        if let (Some(before), Some(now)) = (was.bytes, self.bytes) {
            if before != now {
                changes.push(format!("its size went from {before} to {now} bytes"));
            }
        }
        if was.rows != self.rows {
            changes.push(format!("its rows went from {} to {}", was.rows, self.rows));
        }
        if changes.is_empty() && was.hash != self.hash {
            changes.push("its contents changed (same size, another hash)".to_owned());
        }
        if was.bytes.is_some() != self.bytes.is_some() {
            changes.push(format!(
                "the source was {}, now {}",
                was.source, self.source
            ));
        }
        changes
    }
}

/// The `step` of a `metrics.jsonl` line (step and epoch records both have one).
fn json_step(line: &str) -> Option<u64> {
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    value.get("step")?.as_u64()
}

/// The step in the first cell of a record CSV's row.
fn csv_step(line: &str) -> Option<u64> {
    line.split(',').next()?.parse().ok()
}

/// Rewrites `path` (if it exists) with only its whole lines that `keep` accepts (and its
/// header line when `header`), through a temporary file renamed over it. The file is read
/// and written a line at a time: a long run's records are never held in memory.
fn keep_lines(path: &Path, header: bool, mut keep: impl FnMut(&str) -> bool) -> io::Result<()> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let tmp = crate::params::temp_path(path);
    let mut reader = BufReader::new(file);
    let mut out = BufWriter::new(File::create(&tmp)?);
    let mut line = String::new();
    let mut first = true;
    while reader.read_line(&mut line)? > 0 {
        // A line without its newline was torn by the kill: it is not a record.
        let whole = line.ends_with('\n');
        let text = line.trim_end_matches(['\n', '\r']);
        if whole && ((first && header) || keep(text)) {
            out.write_all(line.as_bytes())?;
        }
        first = false;
        line.clear();
    }
    out.into_inner()
        .map_err(io::IntoInnerError::into_error)?
        .sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::prepare_folder;

    /// After a kill, later and torn rows go; the header and the checkpoint's rows stay.
    #[test]
    fn records_are_cut_back_to_the_checkpoint() {
        let dir = tempfile::tempdir().expect("a temp folder");
        let metrics = "{\"step\":1}\n{\"step\":2}\n{\"epoch\":0,\"step\":2,\"valid_loss\":1}\n{\"step\":3}\n{\"st";
        std::fs::write(dir.path().join("metrics.jsonl"), metrics).expect("write");
        std::fs::write(dir.path().join("probes.csv"), "step,layer\n2,a\n3,a\n4,").expect("write");
        std::fs::write(dir.path().join("spectral.csv"), "step,x\n0,a\n2,a\n").expect("write");
        std::fs::write(dir.path().join("checkpoint.safetensors.tmp"), "half").expect("write");
        prepare_folder(dir.path(), 2).expect("prepared");
        let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).expect("read");
        assert_eq!(
            read("metrics.jsonl"),
            "{\"step\":1}\n{\"step\":2}\n{\"epoch\":0,\"step\":2,\"valid_loss\":1}\n"
        );
        assert_eq!(read("probes.csv"), "step,layer\n2,a\n");
        assert_eq!(read("spectral.csv"), "step,x\n0,a\n");
        assert!(!dir.path().join("checkpoint.safetensors.tmp").exists());
    }
}
