//! A run folder read back: the model as it was trained (`config.json`, with its source
//! `model.net` so spans map to its lines), the per-step metrics, the per-epoch validation,
//! the per-layer probes and, for recurrent layers, ‖∂L/∂h_t‖ per time step
//! (`probes_time.csv`). File names and the trained model's format live in
//! [`crate::runtime::run_folder`]; columns are found by their header names.
//!
//! Parsing is pure ([`Run::parse`]); [`read_run`] only reads the files and hands them over.

use crate::model::Model;
use crate::probe::ProbeStat;
use crate::runtime::run_folder::{
    self, parse_metrics, parse_probes, parse_time, RecordError, Trained, TrainedError,
};
pub use crate::runtime::run_folder::{EpochRow, ProbeRow, StatValues, StepRow, TimeRow, STATS};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

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
    /// Read-only after [`Run::parse`]: `probe_index` points into it.
    pub probes: Vec<ProbeRow>,
    /// ‖∂L/∂h_t‖ through time (recurrent layers only; empty otherwise).
    pub time: Vec<TimeRow>,
    /// σ_max of each recurrent weight block as measured at the start and end of the run
    /// (`spectral.csv`; empty for feed-forward models and for folders written before it).
    pub spectral: Vec<SpectralRow>,
    /// (step, layer) → its row in `probes`, built once so a look-up does not scan the table
    /// (the report asks for every layer at many steps: a scan made it quadratic in the run).
    probe_index: HashMap<(u64, usize), usize>,
}

/// One row of `spectral.csv`: the largest singular value of a gate block of `layer`'s
/// `weight_hh` at `step`.
#[derive(Debug, Clone, PartialEq)]
pub struct SpectralRow {
    pub step: u64,
    pub layer: String,
    pub gate: String,
    pub sigma_max: f64,
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
    #[error(transparent)]
    #[diagnostic(code(netc::report::bad_record))]
    BadRecord(#[from] RecordError),
    #[error("{path}: line {line}: {what}")]
    #[diagnostic(
        code(netc::report::bad_spectral),
        help(
            "spectral.csv is written by `netc train` with the columns step,layer,gate,sigma_max,…"
        )
    )]
    Spectral {
        path: PathBuf,
        line: usize,
        what: String,
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
    let spectral_path = dir.join(run_folder::SPECTRAL);
    match std::fs::read_to_string(&spectral_path) {
        Ok(text) => {
            run.spectral = parse_spectral(&text).map_err(|(line, what)| RunError::Spectral {
                path: spectral_path,
                line,
                what,
            })?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(RunError::Io {
                path: spectral_path,
                source,
            })
        }
    }
    Ok(run)
}

/// The rows of `spectral.csv`, its columns found by their header names; the error is the
/// 1-based line and what is wrong with it.
pub fn parse_spectral(text: &str) -> Result<Vec<SpectralRow>, (usize, String)> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let column = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .ok_or((1, format!("no `{name}` column")))
    };
    let (step, layer, gate, sigma) = (
        column("step")?,
        column("layer")?,
        column("gate")?,
        column("sigma_max")?,
    );
    let mut rows = Vec::new();
    for (i, line) in lines.enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split(',').collect();
        let field = |c: usize| {
            fields
                .get(c)
                .copied()
                .ok_or((i + 2, "too few fields".to_owned()))
        };
        let number = |c: usize| -> Result<f64, (usize, String)> {
            let text = field(c)?;
            text.parse()
                .map_err(|_| (i + 2, format!("`{text}` is not a number")))
        };
        rows.push(SpectralRow {
            step: number(step)? as u64,
            layer: field(layer)?.to_owned(),
            gate: field(gate)?.to_owned(),
            sigma_max: number(sigma)?,
        });
    }
    Ok(rows)
}

impl Run {
    /// Builds a run from the model it trained and the text of its record files.
    pub fn parse(trained: Trained, metrics: &str, probes: &str) -> Result<Run, RunError> {
        let Trained { model, src } = trained;
        let layers: Vec<String> = model.flat_layers().iter().map(|l| l.name.clone()).collect();
        let (steps, epochs) = parse_metrics(metrics)?;
        let probes = parse_probes(probes, &layers)?;
        let probe_index = probes
            .iter()
            .enumerate()
            .map(|(i, p)| ((p.step, p.layer), i))
            .collect();
        Ok(Run {
            dir: PathBuf::new(),
            model,
            src,
            layers,
            steps,
            epochs,
            probes,
            time: Vec::new(),
            spectral: Vec::new(),
            probe_index,
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

    /// The measured σ_max of `layer`'s recurrent block `gate`: (step, σ_max) at the first and
    /// the last step `spectral.csv` recorded, if it recorded any.
    pub fn sigma_max(&self, layer: &str, gate: &str) -> Option<((u64, f64), (u64, f64))> {
        let mut rows = self
            .spectral
            .iter()
            .filter(|r| r.layer == layer && r.gate == gate)
            .map(|r| (r.step, r.sigma_max));
        let first = rows.next()?;
        Some((first, rows.next_back().unwrap_or(first)))
    }

    /// The value of `stat` for `layer` at `step`, as `probes.csv` holds it.
    pub fn probe(&self, step: u64, layer: usize, stat: ProbeStat) -> Option<f64> {
        let &row = self.probe_index.get(&(step, layer))?;
        self.probes.get(row).map(|p| p.values[stat])
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
