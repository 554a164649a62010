//! A run folder read back: the model as it was trained (`config.json`, with its source
//! `model.net` so spans map to its lines), the per-step metrics, the per-epoch validation,
//! the per-layer probes and, for recurrent layers, ‖∂L/∂h_t‖ per time step
//! (`probes_time.csv`). File names and the trained model's format live in
//! [`crate::runtime::run_folder`]; columns are found by their header names.
//!
//! Parsing is pure ([`Run::parse`]); [`read_run`] only reads the files and hands them over.

use crate::model::Model;
use crate::probe::ProbeStat;
use crate::runtime::run_folder::{self, Header, Trained, TrainedError};
use std::path::{Path, PathBuf};

/// Number of per-layer probe statistics.
pub const STATS: usize = ProbeStat::PER_LAYER.len();

/// A layer's per-layer statistics at one step, looked up by statistic: norms (not squares)
/// and the other statistics as `probes.csv` holds them; NaN where empty or not recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct StatValues([f64; STATS]);

impl StatValues {
    /// Every statistic missing.
    pub fn missing() -> StatValues {
        StatValues([f64::NAN; STATS])
    }

    pub fn get(&self, stat: ProbeStat) -> f64 {
        stat.column().map_or(f64::NAN, |i| self.0[i])
    }

    pub fn set(&mut self, stat: ProbeStat, value: f64) {
        if let Some(i) = stat.column() {
            self.0[i] = value;
        }
    }
}

impl std::ops::Index<ProbeStat> for StatValues {
    type Output = f64;

    /// The statistic's value; NaN for a statistic `probes.csv` has no column for.
    fn index(&self, stat: ProbeStat) -> &f64 {
        const MISSING: f64 = f64::NAN;
        stat.column().map_or(&MISSING, |i| &self.0[i])
    }
}

/// One line of `metrics.jsonl` for a step (null, i.e. NaN or ±∞, reads as NaN).
#[derive(Debug, Clone, PartialEq)]
pub struct StepRow {
    pub step: u64,
    pub loss: f64,
    pub grad_norm: f64,
    pub grad_norm_clipped: f64,
    pub lr: f64,
}

/// One line of `metrics.jsonl` for an epoch's validation.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochRow {
    pub epoch: u64,
    pub step: u64,
    pub valid_loss: f64,
    pub valid_accuracy: Option<f64>,
}

/// One row of `probes.csv`: norms (not squares) and the other statistics; NaN where empty.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeRow {
    pub step: u64,
    pub layer: usize,
    pub values: StatValues,
}

/// One row of `probes_time.csv`: ‖∂L/∂h_t‖ of a recurrent layer at time step `t`.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeRow {
    pub step: u64,
    pub layer: usize,
    pub t: u32,
    pub grad_h: f64,
}

/// Everything a run folder recorded.
#[derive(Debug, Clone)]
pub struct Run {
    pub dir: PathBuf,
    pub model: Model,
    pub src: String,
    /// Layer names in probe order.
    pub layers: Vec<String>,
    pub steps: Vec<StepRow>,
    pub epochs: Vec<EpochRow>,
    pub probes: Vec<ProbeRow>,
    /// ‖∂L/∂h_t‖ through time (recurrent layers only; empty otherwise).
    pub time: Vec<TimeRow>,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum RunError {
    #[error("cannot read {path}: {source}")]
    #[diagnostic(
        code(netc::report::io),
        help("is this a run folder written by `netc train --out DIR`?")
    )]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{file} line {line}: {message}")]
    #[diagnostic(code(netc::report::bad_record))]
    BadRecord {
        file: &'static str,
        line: usize,
        message: String,
    },
    #[error(transparent)]
    #[diagnostic(
        code(netc::report::bad_model),
        help("a run folder holds `config.json`, the model as trained, written by `netc train`")
    )]
    Trained(#[from] TrainedError),
}

/// Reads the run folder `dir`.
pub fn read_run(dir: &Path) -> Result<Run, RunError> {
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name)).map_err(|source| RunError::Io {
            path: dir.join(name),
            source,
        })
    };
    let trained = run_folder::read_trained(dir)?;
    let metrics = read(run_folder::METRICS)?;
    let probes = read(run_folder::PROBES)?;
    let mut run = Run::parse(trained, &metrics, &probes)?;
    run.dir = dir.to_path_buf();
    let time_path = dir.join(run_folder::PROBES_TIME);
    match std::fs::read_to_string(&time_path) {
        Ok(text) => run.time = parse_time(&text, &run.layers)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(RunError::Io {
                path: time_path,
                source,
            })
        }
    }
    Ok(run)
}

impl Run {
    /// Builds a run from the model it trained and the text of its record files.
    pub fn parse(trained: Trained, metrics: &str, probes: &str) -> Result<Run, RunError> {
        let Trained { model, src } = trained;
        let layers: Vec<String> = model.flat_layers().iter().map(|l| l.name.clone()).collect();
        let (steps, epochs) = parse_metrics(metrics)?;
        let probes = parse_probes(probes, &layers)?;
        Ok(Run {
            dir: PathBuf::new(),
            model,
            src,
            layers,
            steps,
            epochs,
            probes,
            time: Vec::new(),
        })
    }

    /// The steps that have probe rows, in order.
    pub fn probe_steps(&self) -> Vec<u64> {
        let mut steps: Vec<u64> = self.probes.iter().map(|p| p.step).collect();
        steps.dedup();
        steps
    }

    /// Whether the probe files hold the run from its first recorded step (false when a ring,
    /// `probes = every(N, keep = K)`, dropped the oldest steps).
    pub fn probes_from_start(&self) -> bool {
        let every = self.model.train.probes.every.max(1) as u64;
        self.probe_steps().first().is_none_or(|&s| s <= every)
    }

    /// What the probe files cover, when a ring kept only the last steps: "steps A–B (the last
    /// K recorded steps ...)"; `None` when they hold the whole run.
    pub fn probe_coverage(&self) -> Option<String> {
        let keep = self.model.train.probes.keep?;
        let steps = self.probe_steps();
        let (first, last) = (steps.first()?, steps.last()?);
        let dropped = if self.probes_from_start() {
            "nothing dropped yet".to_owned()
        } else {
            format!("steps before {first} were dropped")
        };
        Some(format!(
            "probes cover steps {first}–{last}: {} recorded steps, the ring keeps the last {keep} ({dropped})",
            steps.len()
        ))
    }

    /// The layers with ‖∂L/∂h_t‖ rows, in model order.
    pub fn recurrent_layers(&self) -> Vec<usize> {
        let mut layers: Vec<usize> = self.time.iter().map(|r| r.layer).collect();
        layers.sort_unstable();
        layers.dedup();
        layers
    }

    /// The steps with ‖∂L/∂h_t‖ rows, in order.
    pub fn time_steps(&self) -> Vec<u64> {
        let mut steps: Vec<u64> = self.time.iter().map(|r| r.step).collect();
        steps.dedup();
        steps
    }

    /// (t, ‖∂L/∂h_t‖) of `layer` at `step`, in t order.
    pub fn through_time(&self, layer: usize, step: u64) -> Vec<(u32, f64)> {
        let mut points: Vec<(u32, f64)> = self
            .time
            .iter()
            .filter(|r| r.layer == layer && r.step == step)
            .map(|r| (r.t, r.grad_h))
            .collect();
        points.sort_by_key(|p| p.0);
        points
    }

    /// The value of `stat` for `layer` at `step`, as `probes.csv` holds it.
    pub fn probe(&self, step: u64, layer: usize, stat: ProbeStat) -> Option<f64> {
        self.probes
            .iter()
            .find(|p| p.step == step && p.layer == layer)
            .map(|p| p.values[stat])
    }

    /// The series of `stat` of `layer` over the recorded steps.
    pub fn series(&self, layer: usize, stat: ProbeStat) -> Vec<(u64, f64)> {
        self.probes
            .iter()
            .filter(|p| p.layer == layer)
            .map(|p| (p.step, p.values[stat]))
            .collect()
    }
}

fn parse_metrics(text: &str) -> Result<(Vec<StepRow>, Vec<EpochRow>), RunError> {
    let (mut steps, mut epochs) = (Vec::new(), Vec::new());
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let bad = |message: String| RunError::BadRecord {
            file: run_folder::METRICS,
            line: i + 1,
            message,
        };
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| bad(e.to_string()))?;
        let num = |k: &str| {
            v.get(k)
                .and_then(serde_json::Value::as_f64)
                .unwrap_or(f64::NAN)
        };
        let int = |k: &str| v.get(k).and_then(serde_json::Value::as_u64);
        let step = int("step").ok_or_else(|| bad("no `step`".to_owned()))?;
        if v.get("valid_loss").is_some() {
            let epoch = int("epoch").unwrap_or(0);
            let valid_accuracy = v.get("valid_accuracy").and_then(serde_json::Value::as_f64);
            epochs.push(EpochRow {
                epoch,
                step,
                valid_loss: num("valid_loss"),
                valid_accuracy,
            });
        } else {
            steps.push(StepRow {
                step,
                loss: num("loss"),
                grad_norm: num("grad_norm"),
                grad_norm_clipped: num("grad_norm_clipped"),
                lr: num("lr"),
            });
        }
    }
    Ok((steps, epochs))
}

/// The non-empty lines of a CSV file after its header, with their 1-based line numbers.
fn data_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .skip(1)
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| (i + 1, l))
}

/// Parses `probes.csv`, finding each statistic's column by its name in the header: a
/// column the reader does not know is skipped, and a statistic the file has no column for
/// (a file written before it existed) reads as NaN.
fn parse_probes(text: &str, layers: &[String]) -> Result<Vec<ProbeRow>, RunError> {
    let header = Header::parse(text.lines().next().unwrap_or_default());
    let bad_header = |message: String| RunError::BadRecord {
        file: run_folder::PROBES,
        line: 1,
        message,
    };
    let step_col = header
        .column("step")
        .ok_or_else(|| bad_header("no `step` column".to_owned()))?;
    let layer_col = header
        .column("layer")
        .ok_or_else(|| bad_header("no `layer` column".to_owned()))?;
    let stats: Vec<(usize, ProbeStat)> = header
        .names()
        .enumerate()
        .filter_map(|(i, name)| ProbeStat::from_column(name).map(|s| (i, s)))
        .collect();
    let mut rows = Vec::new();
    for (line, record) in data_lines(text) {
        let bad = |message: String| RunError::BadRecord {
            file: run_folder::PROBES,
            line,
            message,
        };
        let cells: Vec<&str> = record.split(',').collect();
        if cells.len() != header.len() {
            return Err(bad(format!(
                "{} cells, expected {}",
                cells.len(),
                header.len()
            )));
        }
        let step = cells[step_col]
            .parse()
            .map_err(|_| bad(format!("step `{}` is not a number", cells[step_col])))?;
        let layer = layers
            .iter()
            .position(|l| l == cells[layer_col])
            .ok_or_else(|| bad(format!("layer `{}` is not in the model", cells[layer_col])))?;
        let mut values = StatValues::missing();
        for &(i, stat) in &stats {
            let cell = cells[i];
            if !cell.is_empty() {
                let v = cell
                    .parse()
                    .map_err(|_| bad(format!("`{cell}` is not a number")))?;
                values.set(stat, v);
            }
        }
        rows.push(ProbeRow {
            step,
            layer,
            values,
        });
    }
    Ok(rows)
}

/// Parses `probes_time.csv` (`step,layer,t,grad_h_norm`), finding the columns by name.
fn parse_time(text: &str, layers: &[String]) -> Result<Vec<TimeRow>, RunError> {
    let header = Header::parse(text.lines().next().unwrap_or_default());
    let names = [
        "step",
        "layer",
        "t",
        ProbeStat::GradHiddenSq { t: 0 }.name(),
    ];
    let mut at = [0; 4];
    for (col, name) in at.iter_mut().zip(names) {
        *col = header.column(name).ok_or_else(|| RunError::BadRecord {
            file: run_folder::PROBES_TIME,
            line: 1,
            message: format!("no `{name}` column"),
        })?;
    }
    let mut rows = Vec::new();
    for (line, record) in data_lines(text) {
        let bad = |message: String| RunError::BadRecord {
            file: run_folder::PROBES_TIME,
            line,
            message,
        };
        let cells: Vec<&str> = record.split(',').collect();
        if cells.len() != header.len() {
            let expected = header.len();
            return Err(bad(format!("{} cells, expected {expected}", cells.len())));
        }
        let [step, layer, t, value] = at.map(|i| cells[i]);
        rows.push(TimeRow {
            step: step
                .parse()
                .map_err(|_| bad(format!("step `{step}` is not a number")))?,
            layer: layers
                .iter()
                .position(|l| l == layer)
                .ok_or_else(|| bad(format!("layer `{layer}` is not in the model")))?,
            t: t.parse()
                .map_err(|_| bad(format!("t `{t}` is not a whole number")))?,
            grad_h: value
                .parse()
                .map_err(|_| bad(format!("`{value}` is not a number")))?,
        });
    }
    Ok(rows)
}
