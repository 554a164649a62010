//! `spectral.csv` in the run folder, for models with recurrent layers: the largest singular
//! value of every gate block of each `weight_hh` (power iteration), at the start and at the
//! end of the run, next to Pascanu et al.'s 1/γ bound for plain `rnn` layers.
//!
//! Columns: `step,layer,gate,sigma_max,gamma,bound,regime` — `gamma` and `bound` (1/γ) are
//! empty and `regime` is `gated` for lstm/gru gates, where the plain bound does not apply;
//! otherwise `regime` is `vanishing` (σ_max < 1/γ: gradients through time are bound to vanish)
//! or `may_explode` (σ_max ≥ 1/γ, the necessary condition for exploding).

use crate::health::spectral::{predict, sigma_max, Regime};
use crate::model::{Cell, Layer, LayerKind, Model};
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::Path;

/// The file's name in the run folder.
pub const SPECTRAL_FILE: &str = super::run_folder::SPECTRAL;

/// Appends one row per recurrent gate block at `step` (the header first when the file is
/// new; `fresh` starts a new file). `weights` reads a parameter's current values by name.
/// Does nothing for models without recurrent layers.
pub fn record(
    dir: &Path,
    model: &Model,
    step: u64,
    fresh: bool,
    weights: &dyn Fn(&str) -> Option<Vec<f32>>,
) -> io::Result<()> {
    let layers: Vec<&Layer> = recurrent_layers(model);
    if layers.is_empty() {
        return Ok(());
    }
    let path = dir.join(SPECTRAL_FILE);
    let fresh = fresh || !path.exists();
    let mut options = OpenOptions::new();
    options.create(true);
    if fresh {
        options.write(true).truncate(true);
    } else {
        options.append(true);
    }
    let mut file = io::BufWriter::new(options.open(path)?);
    if fresh {
        writeln!(file, "step,layer,gate,sigma_max,gamma,bound,regime")?;
    }
    for layer in layers {
        let LayerKind::Recurrent(r) = &layer.kind else {
            continue;
        };
        let Some(w) = weights(&format!("{}.weight_hh", layer.name)) else {
            continue;
        };
        let n = r.units;
        for (k, gate) in r.cell.gate_names().iter().enumerate() {
            let Some(block) = w.get(k * n * n..(k + 1) * n * n) else {
                continue;
            };
            let sigma = sigma_max(block, n, n);
            let gamma = match r.cell {
                Cell::Rnn { act } => act.derivative_bound(),
                Cell::Lstm { .. } | Cell::Gru => None,
            };
            match gamma {
                Some(gamma) => {
                    let regime = match predict(sigma, gamma).regime {
                        Regime::Vanishing => "vanishing",
                        Regime::MayExplode => "may_explode",
                    };
                    writeln!(
                        file,
                        "{step},{},{gate},{sigma},{gamma},{},{regime}",
                        layer.name,
                        1.0 / gamma
                    )?
                }
                None => writeln!(file, "{step},{},{gate},{sigma},,,gated", layer.name)?,
            }
        }
    }
    file.flush()
}

/// Recurrent layers in probe order, residual bodies included.
fn recurrent_layers(model: &Model) -> Vec<&Layer> {
    model
        .layers_in_probe_order()
        .into_iter()
        .map(|n| n.layer)
        .filter(|l| match &l.kind {
            LayerKind::Recurrent(_) => true,
            LayerKind::Dense { .. }
            | LayerKind::Activation(_)
            | LayerKind::BatchNorm { .. }
            | LayerKind::LayerNorm { .. }
            | LayerKind::Dropout { .. }
            | LayerKind::Conv2d(_)
            | LayerKind::Pool2d(_)
            | LayerKind::GlobalAvgPool
            | LayerKind::Flatten
            | LayerKind::Residual { .. } => false,
        })
        .collect()
}
