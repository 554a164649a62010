//! `netc sweep FILE --vary ... [--seeds N]`: a grid of variants (the grid of `train --vary`,
//! expanded by [`grid::grid`]) in one sweep folder, trained here or as a Slurm job array,
//! merged into one comparison; and `netc train FILE --vary ... --variant I | --shard I/N`,
//! which trains some of its variants (what each array task, GNU parallel job or indexed job
//! runs).
//!
//! The sweep folder: `sweep.json` (the definition, [`spec`]), one run folder per variant
//! (`<index>-<label>/`, each written only by the task training it, its end recorded last in
//! `end.json`), `sweep.sbatch` and `logs/<index>.log` under Slurm, and the merge's plots and
//! `compare.html`.

pub mod merge;
mod slurm;
pub mod spec;
pub mod state;

use super::compare::{self, Job};
use super::grid::{self, Variant};
use super::train::TrainArgs;
use crate::params::WeightsFile;
use crate::runtime::exec::Backend;
use crate::runtime::run_folder;
use spec::{Grid, Sweep};
use state::State;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct SweepArgs {
    /// The .net file.
    #[arg(required_unless_present = "status", conflicts_with = "status")]
    pub file: Option<PathBuf>,
    /// Vary a setting, as `train --vary` does: `--vary act=sigmoid,relu --vary optimizer.lr=0.1,0.01`.
    #[arg(long, value_name = "KEY=V1,V2")]
    pub vary: Vec<String>,
    /// Train every variant with N seeds: the file's seed, +1, ..., +N-1 (the grid's last axis).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub seeds: Option<u32>,
    /// Override a setting of the train section of every variant.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Train this many steps (shortcut for `--set steps=N`).
    #[arg(long)]
    pub steps: Option<usize>,
    /// Train this many epochs (shortcut for `--set epochs=N`).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Which backend runs the programs.
    #[arg(long, value_enum, default_value = "jit")]
    pub backend: Backend,
    /// The sweep folder (default `runs/sweep-<file name>`).
    #[arg(long, value_name = "SWEEP_DIR")]
    pub out: Option<PathBuf>,
    /// Print the numbered variants and stop.
    #[arg(long)]
    pub list: bool,
    /// Print JSON on stdout: the definition with `--list`, the merge otherwise.
    #[arg(long)]
    pub json: bool,
    /// Where the sweep in SWEEP_DIR stands: done, running, interrupted, failed, pending, and
    /// the comparison of the done variants.
    #[arg(long, value_name = "SWEEP_DIR")]
    pub status: Option<PathBuf>,
    #[command(flatten)]
    pub slurm: slurm::SlurmArgs,
}

/// The flags of `netc train` that pick variants of its `--vary` grid.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct VariantArgs {
    /// With `--vary`: also train every variant with N seeds (the file's seed, +1, ..., +N-1).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub seeds: Option<u32>,
    /// Train only variant I of the grid (numbered as `netc sweep --list` shows) into
    /// OUT/I-<label>/: skipped when complete, resumed from its checkpoint when interrupted.
    #[arg(long, value_name = "I", requires = "out", conflicts_with_all = ["shard", "resume"])]
    pub variant: Option<usize>,
    /// Train every N-th variant of the grid from variant I (`0/3`, `1/3` and `2/3` together
    /// train each variant once), each as `--variant` does.
    #[arg(long, value_name = "I/N", requires = "out", conflicts_with = "resume", value_parser = Shard::parse)]
    pub shard: Option<Shard>,
}

impl VariantArgs {
    /// Whether the flags pick variants (else `--vary` trains them all, side by side).
    pub fn selects(&self) -> bool {
        self.variant.is_some() || self.shard.is_some()
    }
}

/// `--shard I/N`: the variants `I, I+N, I+2N, ...`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// Parses `I/N` with `0 ≤ I < N`.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let (i, n) = text
            .split_once('/')
            .ok_or_else(|| format!("expected I/N, e.g. 0/4, not `{text}`"))?;
        let number = |s: &str, what: &str| {
            s.trim()
                .parse::<usize>()
                .map_err(|_| format!("{what} `{s}` is not a whole number (expected I/N, e.g. 0/4)"))
        };
        let (index, count) = (number(i, "I")?, number(n, "N")?);
        if count == 0 {
            return Err("N must be at least 1".to_owned());
        }
        if index >= count {
            return Err(format!(
                "I = {index} must be below N = {count} (shards are numbered from 0)"
            ));
        }
        Ok(Shard { index, count })
    }

    /// The variants of a grid of `total` this shard trains.
    pub fn indices(&self, total: usize) -> Vec<usize> {
        (self.index..total).step_by(self.count).collect()
    }
}

/// `netc sweep`.
pub fn run(args: SweepArgs) -> ExitCode {
    if let Some(dir) = &args.status {
        return merge::run(dir, args.json);
    }
    let Some(file) = &args.file else {
        eprintln!("error: netc sweep needs a .net file (or --status SWEEP_DIR)");
        return ExitCode::FAILURE;
    };
    let mut set = args.set.clone();
    set.extend(args.steps.map(|n| format!("steps={n}")));
    set.extend(args.epochs.map(|n| format!("epochs={n}")));
    let grid = Grid {
        vary: args.vary.clone(),
        seeds: args.seeds,
        set,
    };
    let Ok((sweep, variants)) = Sweep::define(file, grid) else {
        return ExitCode::FAILURE;
    };
    if args.list {
        return list(&sweep, args.json);
    }
    let out = args.out.clone().unwrap_or_else(|| default_dir(file));
    if let Err(e) = sweep.claim(&out) {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    if args.slurm.slurm {
        return write_array(&sweep, &out, &args);
    }
    let all: Vec<usize> = (0..variants.len()).collect();
    // With `--json` stdout holds the merge's one object; what was trained goes to stderr.
    let lines = if args.json {
        Lines::Stderr
    } else {
        Lines::Stdout
    };
    let trained = train_variants(&sweep, &variants, &out, &all, args.backend, None, lines);
    let merged = merge::run(&out, args.json);
    if trained {
        merged
    } else {
        ExitCode::FAILURE
    }
}

/// `netc train FILE --vary ... --variant I` or `--shard I/N`.
pub fn train_selected(args: &TrainArgs) -> ExitCode {
    let Some(out) = &args.out else {
        eprintln!(
            "error: --variant and --shard need --out SWEEP_DIR, the folder every task shares"
        );
        return ExitCode::FAILURE;
    };
    let grid = Grid {
        vary: args.vary.clone(),
        seeds: args.sweep.seeds,
        set: grid::train_settings(args),
    };
    let Ok((sweep, variants)) = Sweep::define(&args.model.file, grid) else {
        return ExitCode::FAILURE;
    };
    let total = variants.len();
    let indices = match (args.sweep.variant, args.sweep.shard) {
        (Some(i), _) if i >= total => {
            eprintln!(
                "error: there is no variant {i}: the grid has {total} (0 to {}); `netc sweep FILE ... --list` numbers them",
                total - 1
            );
            return ExitCode::FAILURE;
        }
        (Some(i), _) => vec![i],
        (None, Some(shard)) => shard.indices(total),
        (None, None) => (0..total).collect(),
    };
    let load = match args.names.optional_weights(args.load.as_deref(), "--load") {
        Ok(load) => load,
        Err(e) => {
            super::common::report(e);
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = sweep.claim(out) {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    let backend = args.model.backend;
    let lines = if args.quiet {
        Lines::Quiet
    } else {
        Lines::Stdout
    };
    if train_variants(
        &sweep,
        &variants,
        out,
        &indices,
        backend,
        load.as_ref(),
        lines,
    ) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Where the line a trained variant gets goes.
#[derive(Debug, Clone, Copy)]
enum Lines {
    Stdout,
    Stderr,
    Quiet,
}

impl Lines {
    fn say(self, line: &str) {
        match self {
            Lines::Stdout => println!("{line}"),
            Lines::Stderr => eprintln!("{line}"),
            Lines::Quiet => {}
        }
    }
}

/// Trains the variants `indices` of the sweep in `dir`, side by side: a complete one is
/// skipped, one with a checkpoint resumes from it, the rest start fresh. Says one line a
/// variant (errors always on stderr); whether every one ended without error.
fn train_variants(
    sweep: &Sweep,
    variants: &[Variant],
    dir: &Path,
    indices: &[usize],
    backend: Backend,
    load: Option<&WeightsFile>,
    lines: Lines,
) -> bool {
    let mut jobs = Vec::new();
    for &i in indices {
        let run_dir = sweep.run_dir(dir, i);
        if let State::Done(_) = state::of(&run_dir, &spec::log_path(dir, i)) {
            lines.say(&format!(
                "variant {i} ({}): complete, skipped",
                variants[i].label
            ));
            continue;
        }
        let resume = run_dir.join(run_folder::CHECKPOINT).exists();
        jobs.push((
            i,
            Job {
                variant: &variants[i],
                dir: run_dir,
                resume,
            },
        ));
    }
    let (numbers, jobs): (Vec<usize>, Vec<Job>) = jobs.into_iter().unzip();
    let results = compare::train_jobs(&jobs, backend, load);
    let mut all_ok = true;
    for ((i, job), result) in numbers.iter().zip(&jobs).zip(results) {
        let how = if job.resume { "resumed" } else { "trained" };
        match result {
            Ok(_) => lines.say(&format!(
                "variant {i} ({}): {how} into {}",
                job.variant.label,
                job.dir.display()
            )),
            Err(e) => {
                all_ok = false;
                eprintln!("error: variant {i}: {e}");
            }
        }
    }
    all_ok
}

/// `--list`: the numbered variants, or the whole definition as JSON.
fn list(sweep: &Sweep, json: bool) -> ExitCode {
    if json {
        match serde_json::to_string_pretty(sweep) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        }
        return ExitCode::SUCCESS;
    }
    for e in &sweep.variants {
        println!("{:>4}  {:<40} {}", e.index, e.label, e.name);
    }
    ExitCode::SUCCESS
}

/// `--slurm [--submit]`: writes `sweep.sbatch` for the variants not complete, and submits it.
fn write_array(sweep: &Sweep, out: &Path, args: &SweepArgs) -> ExitCode {
    match try_write_array(sweep, out, args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn try_write_array(sweep: &Sweep, out: &Path, args: &SweepArgs) -> Result<(), String> {
    let dir = std::fs::canonicalize(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let tasks: Vec<usize> = (0..sweep.variants.len())
        .filter(|&i| {
            let run_dir = sweep.run_dir(&dir, i);
            !matches!(
                state::of(&run_dir, &spec::log_path(&dir, i)),
                State::Done(_)
            )
        })
        .collect();
    if tasks.is_empty() {
        eprintln!(
            "all {} variants are complete: nothing to run",
            sweep.variants.len()
        );
        return Ok(());
    }
    let netc = slurm::this_binary()?;
    let backend = match args.backend {
        Backend::Jit => None,
        Backend::Interp => Some("interp"),
    };
    let text = slurm::script(&slurm::Script {
        sweep,
        dir: &dir,
        netc: &netc,
        tasks: &tasks,
        backend,
        args: &args.slurm,
    })?;
    let logs = dir.join(spec::LOGS);
    std::fs::create_dir_all(&logs).map_err(|e| format!("{}: {e}", logs.display()))?;
    let path = dir.join(spec::SBATCH_FILE);
    crate::params::write_file_atomically(&path, text.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    eprintln!(
        "wrote {}: a job array of {} of the {} variants",
        path.display(),
        tasks.len(),
        sweep.variants.len()
    );
    if !args.slurm.submit {
        eprintln!("submit it with `sbatch {}`", path.display());
        return Ok(());
    }
    let id = slurm::submit(&path)?;
    println!("{id}");
    eprintln!(
        "submitted job {id}; follow it with `netc sweep --status {}`",
        dir.display()
    );
    Ok(())
}

/// `runs/sweep-<file stem>`: the same for every run of the same command, so re-running it
/// continues the sweep.
fn default_dir(file: &Path) -> PathBuf {
    let stem = file
        .file_stem()
        .map_or("net".into(), |s| s.to_string_lossy().into_owned());
    PathBuf::from("runs").join(format!("sweep-{stem}"))
}

#[cfg(test)]
mod tests {
    use super::Shard;

    #[test]
    fn shards_parse_and_pick_every_nth_variant() {
        let shard = Shard::parse("1/3").expect("a shard");
        assert_eq!(shard.indices(7), [1, 4]);
        assert!(Shard::parse("3/3").is_err_and(|e| e.contains("below N = 3")));
        assert!(Shard::parse("0/0").is_err_and(|e| e.contains("at least 1")));
        assert!(Shard::parse("x/2").is_err_and(|e| e.contains("not a whole number")));
        assert!(Shard::parse("2").is_err_and(|e| e.contains("expected I/N")));
    }
}
