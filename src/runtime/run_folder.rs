//! The run folder's format, in one place: the name of every file a run writes, the model as it
//! was trained (written at the start of a run, read back by everything that reads a run), and
//! how a record file's columns are found (by header name, never by position).
//!
//! What each file holds:
//! - `config.json`: the resolved [`Model`] after every `--set` override, as trained; the one
//!   source of settings for `netc report`, `--vary` and anything else reading the run.
//! - `model.net`: the source text it was checked from, so spans point at its lines.
//! - `metrics.jsonl`, `probes.csv`, `probes_time.csv`, `probes_gates.csv`: the records
//!   ([`crate::runtime::record`]); `spectral.csv` ([`crate::runtime::spectral_record`]).
//! - `checkpoint.safetensors` ([`crate::runtime::checkpoint`]), `weights.safetensors` (the
//!   final parameters), the plots and `report.html` (`netc report`).

use crate::model::Model;
use crate::params::write_file_atomically;
use std::io;
use std::path::{Path, PathBuf};

/// The resolved model as trained (JSON).
pub const TRAINED_MODEL: &str = "config.json";
/// The source text the model was checked from.
pub const SOURCE: &str = "model.net";
/// One JSON object per step and per epoch.
pub const METRICS: &str = "metrics.jsonl";
/// One row per layer per recorded step, one column per [`crate::probe::ProbeStat::PER_LAYER`].
pub const PROBES: &str = "probes.csv";
/// ‖∂L/∂h_t‖ per recurrent layer, recorded step and time step.
pub const PROBES_TIME: &str = "probes_time.csv";
/// Each recurrent gate's saturation per recorded step.
pub const PROBES_GATES: &str = "probes_gates.csv";
/// σ_max of every recurrent gate block at the start and end of the run.
pub const SPECTRAL: &str = "spectral.csv";
/// The last checkpoint: parameters, optimizer state and the step it was taken at.
pub const CHECKPOINT: &str = "checkpoint.safetensors";
/// The final parameters, PyTorch's names and layouts.
pub const WEIGHTS: &str = "weights.safetensors";
/// The self-contained HTML report.
pub const REPORT_HTML: &str = "report.html";

/// The model a run trained and the source it came from.
#[derive(Debug, Clone)]
pub struct Trained {
    pub model: Model,
    pub src: String,
}

/// Why the trained model could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum TrainedError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path} is not a model written by `netc train`: {source}")]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
}

/// Writes the resolved model and its source into a new run folder (each file atomically:
/// a reader never sees half of one). A resumed run keeps the files it started with.
pub fn write_trained(dir: &Path, model: &Model, src: &str, resume: bool) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    if resume {
        return Ok(());
    }
    let json = serde_json::to_string_pretty(model).map_err(io::Error::other)?;
    write_file_atomically(&dir.join(TRAINED_MODEL), json.as_bytes())?;
    write_file_atomically(&dir.join(SOURCE), src.as_bytes())
}

/// Reads the model a run trained, exactly as it was resolved at train time: no file is
/// re-checked, so a `--set` override is what the run used, not what the source says.
pub fn read_trained(dir: &Path) -> Result<Trained, TrainedError> {
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read_to_string(&path).map_err(|source| TrainedError::Io { path, source })
    };
    let model = parse_trained(&read(TRAINED_MODEL)?).map_err(|source| TrainedError::Json {
        path: dir.join(TRAINED_MODEL),
        source,
    })?;
    Ok(Trained {
        model,
        src: read(SOURCE)?,
    })
}

/// The trained model from the text of `config.json`.
pub fn parse_trained(json: &str) -> Result<Model, serde_json::Error> {
    serde_json::from_str(json)
}

/// A CSV header: which column holds which name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    names: Vec<String>,
}

impl Header {
    /// The header line of a record file.
    pub fn parse(line: &str) -> Header {
        Header {
            names: line.split(',').map(|c| c.trim().to_owned()).collect(),
        }
    }

    /// The position of the column named `name`.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// Every column's name, in file order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::Header;

    #[test]
    fn columns_are_found_by_name_wherever_they_are() {
        let h = Header::parse("step,layer,act_mean,grad_a_norm");
        assert_eq!(h.column("grad_a_norm"), Some(3));
        assert_eq!(h.column("step"), Some(0));
        assert_eq!(h.column("grad_zero_frac"), None);
        assert_eq!(h.len(), 4);
    }
}
