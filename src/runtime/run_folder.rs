//! The run folder's format, in one place: the name of every file a run writes, the model as it
//! was trained (written at the start of a run, read back by everything that reads a run), the
//! record files' header lines (written by [`crate::runtime::record`]) and their parsing, which
//! finds columns by header name, never by position.
//!
//! What each file holds:
//! - `config.json`: the resolved [`Model`] after every `--set` override, as trained; the one
//!   source of settings for `netc report`, `--vary` and anything else reading the run.
//! - `model.net`: the source text it was checked from, so spans point at its lines.
//! - `metrics.jsonl`, `probes.csv`, `probes_time.csv`, `probes_gates.csv`: the records
//!   ([`crate::runtime::record`]); `spectral.csv` ([`crate::runtime::spectral_record`]).
//! - `data.json` ([`DataRecord`]): the data's absolute path, fingerprint, scaling statistics
//!   and class names, so the folder stands alone.
//! - `checkpoint.safetensors` ([`crate::runtime::checkpoint`]), `weights.safetensors` (the
//!   final parameters), the plots and `report.html` (`netc report`).
//! - `end.json`: how a run trained by `--vary`, `compare` or `sweep` ended; a sweep's variant
//!   is complete when it is there and says so (`cli/sweep/state.rs`).

use super::resume::DataFingerprint;
use crate::data::Scaler;
use crate::model::Model;
use crate::params::write_file_atomically;
use crate::probe::ProbeStat;
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
/// How a variant of a comparison or sweep ended (written last, atomically).
pub const END: &str = "end.json";
/// Where the data came from and what it was: the resolved path, its fingerprint and the
/// scaler's statistics, so the folder stands alone once the data has moved.
pub const DATA: &str = "data.json";

/// Every file a run writes besides the plots: a folder holding any of them holds a run.
pub const RUN_FILES: [&str; 12] = [
    TRAINED_MODEL,
    SOURCE,
    METRICS,
    PROBES,
    PROBES_TIME,
    PROBES_GATES,
    SPECTRAL,
    CHECKPOINT,
    WEIGHTS,
    REPORT_HTML,
    DATA,
    END,
];

/// The suffix of a file being written atomically; one left behind is from a killed run.
pub const TEMP_SUFFIX: &str = ".tmp";

/// Creates a new, empty run folder `parent/<stem>-<unix second>`, or `...-2`, `...-3` when
/// that name is taken: `create_dir` fails on an existing folder, so two runs started in the
/// same second (or the variants of one `--vary`) never share a folder.
pub fn create_new_run_dir(parent: &Path, stem: &str) -> io::Result<PathBuf> {
    std::fs::create_dir_all(parent)?;
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // Far more runs than can start in one second; past that something else is wrong.
    for n in 1..=10_000u32 {
        let name = match n {
            1 => format!("{stem}-{secs}"),
            n => format!("{stem}-{secs}-{n}"),
        };
        let dir = parent.join(name);
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!(
            "every name {stem}-{secs}-N is taken in {}",
            parent.display()
        ),
    ))
}

/// The run files already in `dir` (none when it does not exist): what `--out` would clobber.
pub fn existing_run_files(dir: &Path) -> Vec<&'static str> {
    RUN_FILES
        .into_iter()
        .filter(|name| dir.join(name).exists())
        .collect()
}

/// Removes the run files of an earlier run from `dir` (for `--overwrite`), so nothing of it
/// is mistaken for the new run's; other files (the plots among them) are left alone.
pub fn clear_run_files(dir: &Path) -> io::Result<()> {
    for name in existing_run_files(dir) {
        std::fs::remove_file(dir.join(name))?;
    }
    remove_temporaries(dir)
}

/// Removes the `*.tmp` files a killed run left half-written in `dir`.
pub fn remove_temporaries(dir: &Path) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let stale = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with(TEMP_SUFFIX));
        if stale && path.is_file() {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}

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

/// What the folder keeps of its data, so `netc predict RUN_DIR` needs nothing else and
/// `netc eval RUN_DIR` finds the data wherever the command runs (`data.json`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DataRecord {
    /// What the data was when the run started (also in every checkpoint).
    pub fingerprint: DataFingerprint,
    /// The CSV file as an absolute path (none for a synthetic set).
    pub path: Option<PathBuf>,
    /// Values per example the model reads.
    pub input_width: usize,
    /// The target column, which a prediction file may keep (it is ignored).
    pub target: Option<String>,
    /// The scaling statistics fitted on the training split.
    pub scaler: Option<Scaler>,
    /// Class names in index order (classification only).
    pub classes: Option<Vec<String>>,
}

/// Writes `data.json` atomically.
pub fn write_data_record(dir: &Path, record: &DataRecord) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let json = serde_json::to_string_pretty(record).map_err(io::Error::other)?;
    write_file_atomically(&dir.join(DATA), json.as_bytes())
}

/// Reads `data.json`.
pub fn read_data_record(dir: &Path) -> Result<DataRecord, TrainedError> {
    let path = dir.join(DATA);
    let text = std::fs::read_to_string(&path).map_err(|source| TrainedError::Io {
        path: path.clone(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| TrainedError::Json { path, source })
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

/// The header line of `probes.csv`: `step,layer`, then one column per
/// [`ProbeStat::PER_LAYER`] statistic, by its one name.
pub fn probes_header() -> String {
    let names: Vec<&str> = ProbeStat::PER_LAYER.iter().map(|s| s.name()).collect();
    format!("step,layer,{}", names.join(","))
}

/// The header line of `probes_time.csv`.
pub fn time_header() -> String {
    format!("step,layer,t,{}", ProbeStat::GradHiddenSq { t: 0 }.name())
}

/// The header line of `probes_gates.csv`.
pub fn gates_header() -> String {
    let stat = ProbeStat::GateSaturation {
        gate: crate::probe::Gate::Hidden,
    };
    format!("step,layer,gate,{}", stat.name())
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

/// A record file that does not read: which file, which line, what is wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file} line {line}: {message}")]
pub struct RecordError {
    pub file: &'static str,
    pub line: usize,
    pub message: String,
}

/// Parses `metrics.jsonl`: the step rows and the epoch rows.
pub fn parse_metrics(text: &str) -> Result<(Vec<StepRow>, Vec<EpochRow>), RecordError> {
    let (mut steps, mut epochs) = (Vec::new(), Vec::new());
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let bad = |message: String| RecordError {
            file: METRICS,
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
pub fn parse_probes(text: &str, layers: &[String]) -> Result<Vec<ProbeRow>, RecordError> {
    let header = Header::parse(text.lines().next().unwrap_or_default());
    let bad_header = |message: String| RecordError {
        file: PROBES,
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
        let bad = |message: String| RecordError {
            file: PROBES,
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
pub fn parse_time(text: &str, layers: &[String]) -> Result<Vec<TimeRow>, RecordError> {
    let header = Header::parse(text.lines().next().unwrap_or_default());
    let names = [
        "step",
        "layer",
        "t",
        ProbeStat::GradHiddenSq { t: 0 }.name(),
    ];
    let mut at = [0; 4];
    for (col, name) in at.iter_mut().zip(names) {
        *col = header.column(name).ok_or_else(|| RecordError {
            file: PROBES_TIME,
            line: 1,
            message: format!("no `{name}` column"),
        })?;
    }
    let mut rows = Vec::new();
    for (line, record) in data_lines(text) {
        let bad = |message: String| RecordError {
            file: PROBES_TIME,
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

#[cfg(test)]
mod tests {
    use super::{parse_probes, probes_header, read_trained, write_trained, Header};
    use crate::probe::ProbeStat;

    /// A `probes.csv` written before `grad_zero_frac` existed (the previous column list, in
    /// its order) reads: its columns by name, the missing one as NaN.
    #[test]
    fn a_probe_file_from_before_a_column_existed_still_reads() {
        let old = "step,layer,grad_w_norm,grad_b_norm,grad_a_norm,weight_norm,update_norm,act_mean,act_std,saturation,nonfinite_fwd,nonfinite_bwd\n\
                   4,hidden,1.5,0.5,2.5,3,0.01,0.1,0.9,,0,0\n";
        let rows = parse_probes(old, &["hidden".to_owned()]).expect("reads");
        assert_eq!(rows.len(), 1);
        let v = &rows[0].values;
        assert_eq!((rows[0].step, v[ProbeStat::GradActSq]), (4, 2.5));
        assert!(v[ProbeStat::Saturation].is_nan());
        assert!(v[ProbeStat::GradZeroFrac].is_nan());
        assert!(probes_header().ends_with(",grad_zero_frac"));
    }

    /// The model written at train time is the model read back, after any override.
    #[test]
    fn the_trained_model_round_trips_through_the_run_folder() {
        let src = include_str!("../../examples/xor.net");
        let set = crate::sema::Override::parse("optimizer.lr=0.123").expect("an override");
        let model = crate::sema::check_source("xor.net", src, &[set])
            .model
            .expect("xor checks");
        let dir = tempfile::tempdir().expect("a temp folder");
        write_trained(dir.path(), &model, src, false).expect("writes");
        let trained = read_trained(dir.path()).expect("reads");
        assert_eq!(trained.model, model);
        assert_eq!(trained.model.train.optimizer.lr(), 0.123);
        assert_eq!(trained.src, src);
    }

    #[test]
    fn columns_are_found_by_name_wherever_they_are() {
        let h = Header::parse("step,layer,act_mean,grad_a_norm");
        assert_eq!(h.column("grad_a_norm"), Some(3));
        assert_eq!(h.column("step"), Some(0));
        assert_eq!(h.column("grad_zero_frac"), None);
        assert_eq!(h.len(), 4);
    }
}
