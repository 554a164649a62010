//! A sweep's definition, `SWEEP_DIR/sweep.json`: the `.net` file, the grid and the numbered
//! variants, written once so that every later command on the folder (`--status`, `compare`,
//! the array tasks) needs only the folder. Also the names of the other files a sweep folder
//! holds.

use crate::cli::grid::{self, Variant};
use std::path::{Path, PathBuf};

/// The sweep's definition.
pub const SWEEP_FILE: &str = "sweep.json";
/// The Slurm job array script (`netc sweep --slurm`).
pub const SBATCH_FILE: &str = "sweep.sbatch";
/// The folder of the array tasks' logs, one `<index>.log` per variant.
pub const LOGS: &str = "logs";

/// What defines the variants besides the file: the same words `netc train` takes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Grid {
    /// Each `--vary KEY=V1,V2`, in order.
    pub vary: Vec<String>,
    /// `--seeds N`.
    pub seeds: Option<u32>,
    /// Each `--set KEY=VALUE`, with `--steps`/`--epochs` as `steps=N`/`epochs=N` at the end.
    pub set: Vec<String>,
}

/// One numbered variant of the sweep.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Entry {
    pub index: usize,
    /// Its run folder's name inside the sweep folder, `<index>-<label>`.
    pub name: String,
    pub label: String,
    /// The grid's value of each varied key.
    pub choices: Vec<(String, String)>,
}

/// The content of `sweep.json`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Sweep {
    /// The `.net` file, as an absolute path.
    pub file: PathBuf,
    pub grid: Grid,
    pub variants: Vec<Entry>,
}

impl Sweep {
    /// The sweep of `file` over `grid`, with the variants to train; errors are printed.
    pub fn define(file: &Path, grid: Grid) -> Result<(Sweep, Vec<Variant>), ()> {
        let file = std::fs::canonicalize(file)
            .map_err(|e| eprintln!("error: cannot read {}: {e}", file.display()))?;
        let variants = grid::grid_of(&file, &grid.set, &grid.vary, grid.seeds)?;
        let entries = variants
            .iter()
            .enumerate()
            .map(|(index, v)| Entry {
                index,
                name: grid::folder_name(index, &v.label),
                label: v.label.clone(),
                choices: v.choices.clone(),
            })
            .collect();
        let sweep = Sweep {
            file,
            grid,
            variants: entries,
        };
        Ok((sweep, variants))
    }

    /// Reads the definition in the sweep folder `dir`.
    pub fn read(dir: &Path) -> Result<Sweep, String> {
        let path = dir.join(SWEEP_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            format!(
                "{} is not a sweep folder: cannot read {}: {e}",
                dir.display(),
                path.display()
            )
        })?;
        serde_json::from_str(&text)
            .map_err(|e| format!("{} is not a sweep's definition: {e}", path.display()))
    }

    /// Makes `dir` this sweep's folder: writes `sweep.json` unless it is there already, and
    /// refuses a folder that holds another sweep (its variants would be numbered otherwise).
    pub fn claim(&self, dir: &Path) -> Result<(), String> {
        if dir.join(SWEEP_FILE).exists() {
            let there = Sweep::read(dir)?;
            if there != *self {
                return Err(format!(
                    "{} holds another sweep (of {}, {:?}); give this one its own --out",
                    dir.display(),
                    there.file.display(),
                    there.grid
                ));
            }
            return Ok(());
        }
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let json = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        write_shared(&dir.join(SWEEP_FILE), json.as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", dir.join(SWEEP_FILE).display()))
    }

    /// The run folder of variant `index` in the sweep folder `dir`.
    pub fn run_dir(&self, dir: &Path, index: usize) -> PathBuf {
        let name = self
            .variants
            .get(index)
            .map_or_else(|| index.to_string(), |e| e.name.clone());
        dir.join(name)
    }

    /// The arguments of `netc train` that define this sweep's grid: `FILE --vary ...
    /// [--seeds N] [--set ...]` (what an array task is run with, before `--out`).
    pub fn train_args(&self) -> Vec<String> {
        let mut args = vec!["train".to_owned(), self.file.display().to_string()];
        for v in &self.grid.vary {
            args.extend(["--vary".to_owned(), v.clone()]);
        }
        if let Some(n) = self.grid.seeds {
            args.extend(["--seeds".to_owned(), n.to_string()]);
        }
        for s in &self.grid.set {
            args.extend(["--set".to_owned(), s.clone()]);
        }
        args
    }
}

/// The Slurm log of variant `index`'s array task in the sweep folder `dir`.
pub fn log_path(dir: &Path, index: usize) -> PathBuf {
    dir.join(LOGS).join(format!("{index}.log"))
}

/// Writes `path` atomically when several processes may write it at once (the array tasks of
/// one sweep, each claiming the folder): each writes its own temporary file, named by its
/// process id, and renames it over `path`, so no task ever truncates another's file.
fn write_shared(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let temp = path.with_file_name(format!(
        ".{}.{}.tmp",
        name.unwrap_or_default(),
        std::process::id()
    ));
    std::fs::write(&temp, bytes)?;
    std::fs::File::open(&temp)?.sync_all()?;
    std::fs::rename(&temp, path)
}
