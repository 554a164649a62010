//! The run folder's records: `metrics.jsonl` (one JSON object per step and per epoch) and
//! `probes.csv` (one row per layer per recorded step, norms rather than squared norms).
//! Models with recurrent layers also get `probes_time.csv` (`step,layer,t,grad_h_norm`: one row
//! per recorded step, recurrent layer and time step, ‖∂L/∂h_t‖) and `probes_gates.csv`
//! (`step,layer,gate,saturation`). Columns are documented in docs/cli.md and docs/recurrent.md.
//!
//! The probe files are appended to as the run goes, or, with `probes = every(N, keep = K)`,
//! kept as a ring of the last K recorded steps ([`ProbeRing`]): the steps' rows live in memory
//! (K steps, never the whole run) and the file is replaced atomically (temp file, fsync,
//! rename) whenever the run saves a checkpoint and at its end, so on disk it is always a
//! complete CSV of at most K steps. A resumed run reads its ring back, drops the steps after
//! the checkpoint, and goes on; its files end byte for byte as an uninterrupted run's.

use super::run_folder;
use crate::ir::Role;
use crate::probe::{Gate, ProbeStat, Scope};
use crate::step::StepProgram;
use serde::Serialize;
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

/// What one training step measured.
#[derive(Debug, Clone, Serialize)]
pub struct StepRecord {
    /// 1-based step number.
    pub step: u64,
    pub epoch: u64,
    pub loss: f64,
    pub grad_norm: f64,
    pub grad_norm_clipped: f64,
    pub lr: f64,
    /// (layer index, statistic, value) — squared norms as the program computes them.
    #[serde(skip)]
    pub probes: Vec<(usize, ProbeStat, f64)>,
}

impl StepRecord {
    /// The value of a statistic of a layer in this step, if the program probes it.
    pub fn probe(&self, layer: usize, stat: ProbeStat) -> Option<f64> {
        self.probes
            .iter()
            .find(|&&(l, s, _)| l == layer && s == stat)
            .map(|&(_, _, v)| v)
    }

    /// Every probe of the step as the files show it (norms, not squares), for `--json`.
    pub fn shown_probes(&self) -> Vec<ProbeValue> {
        self.probes
            .iter()
            .map(|&(layer, stat, v)| ProbeValue {
                layer,
                stat: stat.name(),
                t: stat.time_step(),
                gate: stat.gate().map(Gate::name),
                value: stat.shown(v),
            })
            .collect()
    }
}

/// One probe value as `--json` prints it: the statistic's one name (the CSV column) and the
/// value as the CSV files hold it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeValue {
    /// The layer's index in the model's layer order.
    pub layer: usize,
    pub stat: &'static str,
    /// The time step of a through-time statistic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub t: Option<u32>,
    /// The gate of a gate statistic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gate: Option<&'static str>,
    pub value: f64,
}

/// What evaluation on the validation split measured after an epoch.
#[derive(Debug, Clone, Serialize)]
pub struct EpochRecord {
    pub epoch: u64,
    pub step: u64,
    pub valid_loss: f64,
    pub valid_accuracy: Option<f64>,
}

/// How the probe files are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeFiles {
    /// Record probes every this many steps (0 = never).
    pub every: u64,
    /// Keep only the last this many recorded steps (a ring); `None` appends every one.
    pub keep: Option<usize>,
}

/// Appends records to a run folder.
pub struct Recorder {
    metrics: BufWriter<File>,
    probes: ProbeSink,
    layers: Vec<String>,
    every: u64,
    /// The through-time files, for models with recurrent layers.
    time: Option<TimeFiles>,
}

/// `probes_time.csv` and `probes_gates.csv`.
struct TimeFiles {
    time: ProbeSink,
    gates: ProbeSink,
}

/// One probe file: appended to, or a ring of the last recorded steps.
enum ProbeSink {
    Append(BufWriter<File>),
    Ring(ProbeRing),
}

/// The last `keep` recorded steps of a CSV file whose rows start with the step number, each
/// step's rows as one block of text; written out whole by [`ProbeRing::persist`].
struct ProbeRing {
    path: PathBuf,
    header: String,
    keep: usize,
    steps: VecDeque<(u64, String)>,
    /// Steps were added since the file was last written.
    dirty: bool,
}

impl ProbeRing {
    /// An empty ring for `path` (the file is written at the first [`persist`](Self::persist)).
    fn new(path: PathBuf, header: &str, keep: usize) -> ProbeRing {
        ProbeRing {
            path,
            header: header.to_owned(),
            keep: keep.max(1),
            steps: VecDeque::new(),
            dirty: true,
        }
    }

    /// The ring as the file at `path` left it, with the steps after `last_step` dropped (a
    /// crash may have written them after the checkpoint being resumed). The file is read one
    /// line at a time, so a file longer than the ring (one written without `keep`) costs no
    /// more memory than the ring. A missing file is an empty ring.
    fn resume(path: PathBuf, header: &str, keep: usize, last_step: u64) -> io::Result<Self> {
        let mut ring = ProbeRing::new(path, header, keep);
        let file = match File::open(&ring.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(ring),
            Err(e) => return Err(e),
        };
        for line in BufReader::new(file).lines().skip(1) {
            let line = line?;
            let step = line.split(',').next().and_then(|s| s.parse::<u64>().ok());
            match step {
                Some(step) if step <= last_step => ring.push_line(step, &line),
                // a torn or later row: not part of the run being resumed
                Some(_) | None => {}
            }
        }
        Ok(ring)
    }

    /// Adds one row (without its newline) of `step`.
    fn push_line(&mut self, step: u64, line: &str) {
        match self.steps.back_mut() {
            Some((last, rows)) if *last == step => {
                rows.push_str(line);
                rows.push('\n');
            }
            Some(_) | None => self.push(step, format!("{line}\n")),
        }
    }

    /// Adds a step's rows (each ending in a newline), dropping the oldest step when full.
    fn push(&mut self, step: u64, rows: String) {
        if self.steps.len() == self.keep {
            self.steps.pop_front();
        }
        self.steps.push_back((step, rows));
        self.dirty = true;
    }

    /// Replaces the file with the header and the ring's steps: written to `<name>.tmp`,
    /// flushed to disk and renamed over the file, so the file is always whole.
    fn persist(&mut self) -> io::Result<()> {
        if !self.dirty {
            return Ok(());
        }
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(".tmp");
        let tmp = self.path.with_file_name(name);
        {
            let mut out = BufWriter::new(File::create(&tmp)?);
            writeln!(out, "{}", self.header)?;
            for (_, rows) in &self.steps {
                out.write_all(rows.as_bytes())?;
            }
            out.into_inner()
                .map_err(io::IntoInnerError::into_error)?
                .sync_all()?;
        }
        std::fs::rename(&tmp, &self.path)?;
        self.dirty = false;
        Ok(())
    }
}

impl ProbeSink {
    /// Opens `name` in `dir`: a fresh file with `header`, the file appended to when resuming,
    /// or a ring (read back when resuming from `resume`).
    fn open(
        dir: &Path,
        name: &str,
        header: &str,
        keep: Option<usize>,
        resume: Option<u64>,
    ) -> io::Result<ProbeSink> {
        let path = dir.join(name);
        if let Some(keep) = keep {
            let mut ring = match resume {
                Some(step) => ProbeRing::resume(path, header, keep, step)?,
                None => ProbeRing::new(path, header, keep),
            };
            ring.persist()?;
            return Ok(ProbeSink::Ring(ring));
        }
        let mut file = BufWriter::new(open_record(&path, resume.is_some())?);
        if resume.is_none() {
            writeln!(file, "{header}")?;
        }
        Ok(ProbeSink::Append(file))
    }

    /// Writes one recorded step's rows.
    fn write_step(&mut self, step: u64, rows: String) -> io::Result<()> {
        match self {
            ProbeSink::Append(file) => file.write_all(rows.as_bytes()),
            ProbeSink::Ring(ring) => {
                ring.push(step, rows);
                Ok(())
            }
        }
    }

    /// Flushes an appended file; a ring only when `persist` (it rewrites the whole file).
    fn flush(&mut self, persist: bool) -> io::Result<()> {
        match self {
            ProbeSink::Append(file) => file.flush(),
            ProbeSink::Ring(ring) if persist => ring.persist(),
            ProbeSink::Ring(_) => Ok(()),
        }
    }
}

/// A record file opened to continue it (`resume`) or to start it afresh.
fn open_record(path: &Path, resume: bool) -> io::Result<std::fs::File> {
    let mut o = OpenOptions::new();
    o.create(true);
    if resume {
        o.append(true);
    } else {
        o.write(true).truncate(true);
    }
    o.open(path)
}

impl Recorder {
    /// Opens the run folder's record files: fresh, or, when resuming from the checkpoint of
    /// step `resume`, continued.
    pub fn create(
        dir: &Path,
        program: &StepProgram,
        files: ProbeFiles,
        resume: Option<u64>,
    ) -> io::Result<Recorder> {
        std::fs::create_dir_all(dir)?;
        let metrics = BufWriter::new(open_record(
            &dir.join(run_folder::METRICS),
            resume.is_some(),
        )?);
        let header = run_folder::probes_header();
        let probes = ProbeSink::open(dir, run_folder::PROBES, &header, files.keep, resume)?;
        let stats = || {
            program.graph.outputs.iter().filter_map(|o| match &o.role {
                Role::Probe { stat, .. } => Some(*stat),
                Role::Loss | Role::Metric | Role::Update { .. } | Role::Value => None,
            })
        };
        let has_probes = stats().next().is_some();
        let layers: Vec<String> = program.layers.iter().map(|(n, _)| n.clone()).collect();
        let through_time = stats().any(|s| s.scope() == Scope::Time);
        let time = if through_time {
            let open = |name, header| ProbeSink::open(dir, name, header, files.keep, resume);
            Some(TimeFiles {
                time: open(run_folder::PROBES_TIME, &run_folder::time_header())?,
                gates: open(run_folder::PROBES_GATES, &run_folder::gates_header())?,
            })
        } else {
            None
        };
        Ok(Recorder {
            metrics,
            probes,
            layers,
            every: if has_probes { files.every } else { 0 },
            time,
        })
    }

    /// Writes the through-time rows of a recorded step.
    fn through_time(&mut self, r: &StepRecord) -> io::Result<()> {
        let Some(files) = &mut self.time else {
            return Ok(());
        };
        let (mut time, mut gates) = (String::new(), String::new());
        for &(layer, stat, v) in &r.probes {
            let name = &self.layers[layer];
            // writing into a String cannot fail; the per-layer statistics go to probes.csv
            let _ = match (stat.time_step(), stat.gate()) {
                (Some(t), _) => writeln!(time, "{},{name},{t},{}", r.step, stat.shown(v)),
                (None, Some(gate)) => {
                    writeln!(gates, "{},{name},{},{}", r.step, gate.name(), stat.shown(v))
                }
                (None, None) => Ok(()),
            };
        }
        files.time.write_step(r.step, time)?;
        files.gates.write_step(r.step, gates)
    }

    /// The per-layer rows of a recorded step.
    fn layer_rows(&self, r: &StepRecord) -> String {
        let mut rows = String::new();
        for (i, layer) in self.layers.iter().enumerate() {
            // writing into a String cannot fail
            let _ = write!(rows, "{},{}", r.step, layer);
            for stat in ProbeStat::PER_LAYER {
                let _ = match r.probe(i, stat) {
                    Some(v) => write!(rows, ",{}", stat.shown(v)),
                    None => write!(rows, ","),
                };
            }
            rows.push('\n');
        }
        rows
    }

    pub fn step(&mut self, r: &StepRecord) -> io::Result<()> {
        serde_json::to_writer(&mut self.metrics, r)?;
        writeln!(self.metrics)?;
        if self.every > 0 && r.step % self.every == 0 {
            let rows = self.layer_rows(r);
            self.probes.write_step(r.step, rows)?;
            self.through_time(r)?;
        }
        Ok(())
    }

    pub fn epoch(&mut self, r: &EpochRecord) -> io::Result<()> {
        serde_json::to_writer(&mut self.metrics, r)?;
        writeln!(self.metrics)?;
        self.flush_files(false)
    }

    /// Flushes every file and writes out the probe rings: call it before saving a checkpoint
    /// (so the files on disk cover at least the checkpoint's steps) and at the end of a run.
    pub fn flush(&mut self) -> io::Result<()> {
        self.flush_files(true)
    }

    fn flush_files(&mut self, persist: bool) -> io::Result<()> {
        self.metrics.flush()?;
        if let Some(files) = &mut self.time {
            files.time.flush(persist)?;
            files.gates.flush(persist)?;
        }
        self.probes.flush(persist)
    }
}

#[cfg(test)]
mod tests {
    use super::{ProbeRing, StepRecord};
    use crate::probe::{Gate, ProbeStat};

    /// The `--json` probes shape docs/cli.md documents: the one name, roots of squares, `t` and
    /// `gate` only where they apply.
    #[test]
    fn json_probes_use_the_one_name_and_the_shown_value() {
        let r = StepRecord {
            step: 1,
            epoch: 0,
            loss: 0.5,
            grad_norm: 1.0,
            grad_norm_clipped: 1.0,
            lr: 0.1,
            probes: vec![
                (0, ProbeStat::GradActSq, 4.0),
                (0, ProbeStat::GradZeroFrac, 0.25),
                (1, ProbeStat::GradHiddenSq { t: 3 }, 9.0),
                (1, ProbeStat::GateSaturation { gate: Gate::Forget }, 0.5),
            ],
        };
        let json = serde_json::to_value(r.shown_probes()).expect("serializes");
        assert_eq!(
            json,
            serde_json::json!([
                {"layer": 0, "stat": "grad_a_norm", "value": 2.0},
                {"layer": 0, "stat": "grad_zero_frac", "value": 0.25},
                {"layer": 1, "stat": "grad_h_norm", "t": 3, "value": 3.0},
                {"layer": 1, "stat": "gate_saturation", "gate": "f", "value": 0.5},
            ])
        );
    }

    #[test]
    fn a_ring_keeps_the_last_steps_and_resumes_without_torn_or_later_rows() {
        let dir = tempfile::tempdir().expect("a temp folder");
        let path = dir.path().join("p.csv");
        let mut ring = ProbeRing::new(path.clone(), "step,v", 2);
        for step in 1..=4 {
            ring.push(step, format!("{step},a\n{step},b\n"));
        }
        ring.persist().expect("written");
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(text, "step,v\n3,a\n3,b\n4,a\n4,b\n");
        // a torn last line and a step after the checkpoint are not part of the resumed run
        std::fs::write(&path, format!("{text}5,a\n6,")).expect("written");
        let mut ring = ProbeRing::resume(path.clone(), "step,v", 2, 4).expect("resumed");
        ring.push(5, "5,c\n".into());
        ring.persist().expect("written");
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(text, "step,v\n4,a\n4,b\n5,c\n");
        let missing = ProbeRing::resume(dir.path().join("none.csv"), "h", 3, 9).expect("empty");
        assert!(missing.steps.is_empty());
    }
}
