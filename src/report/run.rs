//! A run folder read back: the model (from `model.net`, so spans map to its lines), the
//! per-step metrics, the per-epoch validation, the per-layer probes and, for recurrent
//! layers, ‖∂L/∂h_t‖ per time step (`probes_time.csv`).
//!
//! Parsing is pure ([`Run::parse`]); [`read_run`] only reads the files and hands them over.

use crate::diag::Diagnostic;
use crate::model::{Clip, Model};
use crate::runtime::record::PROBE_COLUMNS;
use std::path::{Path, PathBuf};

/// Number of probe statistics per row (the columns after `step,layer`).
pub const STATS: usize = PROBE_COLUMNS.len();

/// Column indices in [`ProbeRow::values`], in `PROBE_COLUMNS` order.
pub mod col {
    pub const GRAD_W: usize = 0;
    pub const GRAD_B: usize = 1;
    pub const GRAD_A: usize = 2;
    pub const WEIGHT: usize = 3;
    pub const UPDATE: usize = 4;
    pub const ACT_MEAN: usize = 5;
    pub const ACT_STD: usize = 6;
    pub const SATURATION: usize = 7;
    pub const NONFINITE_FWD: usize = 8;
    pub const NONFINITE_BWD: usize = 9;
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
    pub values: [f64; STATS],
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
    #[error("the run's model.net no longer checks ({} errors)", .0.len())]
    #[diagnostic(code(netc::report::bad_model))]
    BadModel(Vec<Diagnostic>),
}

/// Reads the run folder `dir`.
pub fn read_run(dir: &Path) -> Result<Run, RunError> {
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name)).map_err(|source| RunError::Io {
            path: dir.join(name),
            source,
        })
    };
    let src = read("model.net")?;
    let config = read("config.json").unwrap_or_default();
    let metrics = read("metrics.jsonl")?;
    let probes = read("probes.csv")?;
    let mut run = Run::parse(&src, &config, &metrics, &probes)?;
    run.dir = dir.to_path_buf();
    let time_path = dir.join("probes_time.csv");
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
    /// Builds a run from the text of its files. `config` (config.json) supplies the resolved
    /// clip setting, which `--set` may have changed from the source's.
    pub fn parse(src: &str, config: &str, metrics: &str, probes: &str) -> Result<Run, RunError> {
        let checked = crate::sema::check_source("model.net", src, &[]);
        let Some(mut model) = checked.model else {
            return Err(RunError::BadModel(checked.diagnostics));
        };
        if let Some(clip) = clip_from_config(config) {
            model.train.clip = clip;
        }
        if let Some(probes) = probes_from_config(config) {
            model.train.probes = probes;
        }
        let layers: Vec<String> = model.flat_layers().iter().map(|l| l.name.clone()).collect();
        let (steps, epochs) = parse_metrics(metrics)?;
        let probes = parse_probes(probes, &layers)?;
        Ok(Run {
            dir: PathBuf::new(),
            model,
            src: src.to_owned(),
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

    /// The value of column `col` for `layer` at `step`.
    pub fn probe(&self, step: u64, layer: usize, col: usize) -> Option<f64> {
        self.probes
            .iter()
            .find(|p| p.step == step && p.layer == layer)
            .map(|p| p.values[col])
    }

    /// The series of column `col` of `layer` over the recorded steps.
    pub fn series(&self, layer: usize, col: usize) -> Vec<(u64, f64)> {
        self.probes
            .iter()
            .filter(|p| p.layer == layer)
            .map(|p| (p.step, p.values[col]))
            .collect()
    }
}

fn clip_from_config(config: &str) -> Option<Clip> {
    let v: serde_json::Value = serde_json::from_str(config).ok()?;
    let clip = v.get("train")?.get("clip")?;
    if clip.as_str() == Some("None") {
        return Some(Clip::None);
    }
    let num = |k: &str| clip.get(k).and_then(serde_json::Value::as_f64);
    num("GlobalNorm")
        .map(Clip::GlobalNorm)
        .or_else(|| num("LayerNorm").map(Clip::LayerNorm))
        .or_else(|| num("Value").map(Clip::Value))
}

/// The probe settings the run used (`--set` may have changed them from the source's).
fn probes_from_config(config: &str) -> Option<crate::model::ProbeConfig> {
    let v: serde_json::Value = serde_json::from_str(config).ok()?;
    let probes = v.get("train")?.get("probes")?;
    Some(crate::model::ProbeConfig {
        enabled: probes.get("enabled")?.as_bool()?,
        every: usize::try_from(probes.get("every")?.as_u64()?).ok()?,
        keep: probes
            .get("keep")
            .and_then(serde_json::Value::as_u64)
            .and_then(|k| usize::try_from(k).ok()),
    })
}

fn parse_metrics(text: &str) -> Result<(Vec<StepRow>, Vec<EpochRow>), RunError> {
    let (mut steps, mut epochs) = (Vec::new(), Vec::new());
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let bad = |message: String| RunError::BadRecord {
            file: "metrics.jsonl",
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

fn parse_probes(text: &str, layers: &[String]) -> Result<Vec<ProbeRow>, RunError> {
    let mut rows = Vec::new();
    for (line, record) in data_lines(text) {
        let bad = |message: String| RunError::BadRecord {
            file: "probes.csv",
            line,
            message,
        };
        let cells: Vec<&str> = record.split(',').collect();
        if cells.len() != STATS + 2 {
            return Err(bad(format!(
                "{} cells, expected {}",
                cells.len(),
                STATS + 2
            )));
        }
        let step = cells[0]
            .parse()
            .map_err(|_| bad(format!("step `{}` is not a number", cells[0])))?;
        let layer = layers
            .iter()
            .position(|l| l == cells[1])
            .ok_or_else(|| bad(format!("layer `{}` is not in model.net", cells[1])))?;
        let mut values = [f64::NAN; STATS];
        for (v, cell) in values.iter_mut().zip(&cells[2..]) {
            *v = if cell.is_empty() {
                f64::NAN
            } else {
                cell.parse()
                    .map_err(|_| bad(format!("`{cell}` is not a number")))?
            };
        }
        rows.push(ProbeRow {
            step,
            layer,
            values,
        });
    }
    Ok(rows)
}

/// Parses `probes_time.csv` (`step,layer,t,grad_h_norm`).
fn parse_time(text: &str, layers: &[String]) -> Result<Vec<TimeRow>, RunError> {
    let mut rows = Vec::new();
    for (line, record) in data_lines(text) {
        let bad = |message: String| RunError::BadRecord {
            file: "probes_time.csv",
            line,
            message,
        };
        let cells: Vec<&str> = record.split(',').collect();
        let [step, layer, t, value] = cells.as_slice() else {
            return Err(bad(format!("{} cells, expected 4", cells.len())));
        };
        let number = |cell: &str| {
            cell.parse::<f64>()
                .map_err(|_| bad(format!("`{cell}` is not a number")))
        };
        rows.push(TimeRow {
            step: step
                .parse()
                .map_err(|_| bad(format!("step `{step}` is not a number")))?,
            layer: layers
                .iter()
                .position(|l| l == layer)
                .ok_or_else(|| bad(format!("layer `{layer}` is not in model.net")))?,
            t: t.parse()
                .map_err(|_| bad(format!("t `{t}` is not a whole number")))?,
            grad_h: number(value)?,
        });
    }
    Ok(rows)
}
