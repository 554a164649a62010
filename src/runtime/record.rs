//! The run folder's records: `metrics.jsonl` (one JSON object per step and per epoch) and
//! `probes.csv` (one row per layer per recorded step, norms rather than squared norms).
//! Models with recurrent layers also get `probes_time.csv` (`step,layer,t,grad_h_norm`: one row
//! per recorded step, recurrent layer and time step, ‖∂L/∂h_t‖) and `probes_gates.csv`
//! (`step,layer,gate,saturation`). Columns are documented in docs/cli.md and docs/recurrent.md.

use crate::ir::{ProbeStat, Role};
use crate::step::StepProgram;
use serde::Serialize;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::Path;

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
}

/// What evaluation on the validation split measured after an epoch.
#[derive(Debug, Clone, Serialize)]
pub struct EpochRecord {
    pub epoch: u64,
    pub step: u64,
    pub valid_loss: f64,
    pub valid_accuracy: Option<f64>,
}

/// The probe columns, in file order: (statistic, column name, whether the file holds its
/// square root).
pub const PROBE_COLUMNS: [(ProbeStat, &str, bool); 10] = [
    (ProbeStat::GradWeightSq, "grad_w_norm", true),
    (ProbeStat::GradBiasSq, "grad_b_norm", true),
    (ProbeStat::GradActSq, "grad_a_norm", true),
    (ProbeStat::WeightSq, "weight_norm", true),
    (ProbeStat::UpdateSq, "update_norm", true),
    (ProbeStat::ActMean, "act_mean", false),
    (ProbeStat::ActStd, "act_std", false),
    (ProbeStat::Saturation, "saturation", false),
    (ProbeStat::NonFiniteForward, "nonfinite_fwd", false),
    (ProbeStat::NonFiniteBackward, "nonfinite_bwd", false),
];

/// Appends records to a run folder.
pub struct Recorder {
    metrics: BufWriter<File>,
    probes: BufWriter<File>,
    layers: Vec<String>,
    every: u64,
    /// The through-time files, for models with recurrent layers.
    time: Option<TimeFiles>,
}

/// `probes_time.csv` and `probes_gates.csv`, with the gate names the step program uses.
struct TimeFiles {
    time: BufWriter<File>,
    gates: BufWriter<File>,
    /// (layer index, gate index) → gate name (`i`, `f`, `g`, `o`, `r`, `z`, `n`, `h`).
    gate_names: Vec<((usize, u8), String)>,
}

impl Recorder {
    /// Opens the run folder's record files: fresh, or appended to when resuming.
    pub fn create(dir: &Path, program: &StepProgram, resume: bool) -> io::Result<Recorder> {
        std::fs::create_dir_all(dir)?;
        let open = |name: &str| -> io::Result<File> {
            let mut o = OpenOptions::new();
            o.create(true);
            if resume {
                o.append(true);
            } else {
                o.write(true).truncate(true);
            }
            o.open(dir.join(name))
        };
        let metrics = BufWriter::new(open("metrics.jsonl")?);
        let mut probes = BufWriter::new(open("probes.csv")?);
        if !resume {
            let header: Vec<&str> = PROBE_COLUMNS.iter().map(|c| c.1).collect();
            writeln!(probes, "step,layer,{}", header.join(","))?;
        }
        let has_probes = program
            .graph
            .outputs
            .iter()
            .any(|o| matches!(o.role, Role::Probe { .. }));
        let layers: Vec<String> = program.layers.iter().map(|(n, _)| n.clone()).collect();
        let mut gate_names = Vec::new();
        let mut through_time = false;
        for o in &program.graph.outputs {
            let Role::Probe { layer, stat } = &o.role else {
                continue;
            };
            if let ProbeStat::GateSaturation { gate } = stat {
                // the output is named `probe.<layer>.gate_sat.<gate name>`
                let name = o.name.rsplit('.').next().unwrap_or("?").to_owned();
                if let Some(l) = layers.iter().position(|n| n == layer) {
                    gate_names.push(((l, *gate), name));
                }
            }
            through_time |= matches!(stat, ProbeStat::GradHiddenSq { .. });
        }
        let time = if through_time {
            let mut time = BufWriter::new(open("probes_time.csv")?);
            let mut gates = BufWriter::new(open("probes_gates.csv")?);
            if !resume {
                writeln!(time, "step,layer,t,grad_h_norm")?;
                writeln!(gates, "step,layer,gate,saturation")?;
            }
            Some(TimeFiles {
                time,
                gates,
                gate_names,
            })
        } else {
            None
        };
        Ok(Recorder {
            metrics,
            probes,
            layers,
            every: if has_probes { 1 } else { 0 },
            time,
        })
    }

    /// Writes the through-time rows of a recorded step.
    fn through_time(&mut self, r: &StepRecord) -> io::Result<()> {
        let Some(files) = &mut self.time else {
            return Ok(());
        };
        for &(layer, stat, v) in &r.probes {
            let name = &self.layers[layer];
            match stat {
                ProbeStat::GradHiddenSq { t } => {
                    writeln!(files.time, "{},{name},{t},{}", r.step, v.sqrt())?
                }
                ProbeStat::GateSaturation { gate } => {
                    let gate_name = files
                        .gate_names
                        .iter()
                        .find(|(k, _)| *k == (layer, gate))
                        .map_or("?", |(_, n)| n.as_str());
                    writeln!(files.gates, "{},{name},{gate_name},{v}", r.step)?
                }
                // the per-layer statistics go to probes.csv
                ProbeStat::GradWeightSq
                | ProbeStat::GradBiasSq
                | ProbeStat::GradActSq
                | ProbeStat::WeightSq
                | ProbeStat::UpdateSq
                | ProbeStat::ActMean
                | ProbeStat::ActStd
                | ProbeStat::Saturation
                | ProbeStat::NonFiniteForward
                | ProbeStat::NonFiniteBackward => {}
            }
        }
        Ok(())
    }

    /// Records probes every `every` steps (0 = never).
    pub fn set_probe_stride(&mut self, every: u64) {
        self.every = every;
    }

    pub fn step(&mut self, r: &StepRecord) -> io::Result<()> {
        serde_json::to_writer(&mut self.metrics, r)?;
        writeln!(self.metrics)?;
        if self.every > 0 && r.step % self.every == 0 {
            for (i, layer) in self.layers.iter().enumerate() {
                write!(self.probes, "{},{}", r.step, layer)?;
                for (stat, _, root) in PROBE_COLUMNS {
                    match r.probe(i, stat) {
                        Some(v) if root => write!(self.probes, ",{}", v.sqrt())?,
                        Some(v) => write!(self.probes, ",{v}")?,
                        None => write!(self.probes, ",")?,
                    }
                }
                writeln!(self.probes)?;
            }
            self.through_time(r)?;
        }
        Ok(())
    }

    pub fn epoch(&mut self, r: &EpochRecord) -> io::Result<()> {
        serde_json::to_writer(&mut self.metrics, r)?;
        writeln!(self.metrics)?;
        self.flush()
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.metrics.flush()?;
        if let Some(files) = &mut self.time {
            files.time.flush()?;
            files.gates.flush()?;
        }
        self.probes.flush()
    }
}
