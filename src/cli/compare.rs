//! `netc compare A.net B.net ...` and `netc train FILE --vary key=v1,v2`: train variants with
//! the same seed and data, in parallel across cores (std threads), then print one table and
//! write overlaid plots of the depth profiles and the losses (the grid of `--vary` is
//! [`super::grid`]'s). `netc compare SWEEP_DIR` hands over to the sweep's merge.

use super::grid::{self, folder_name, parse_overrides, Variant};
use super::train::TrainArgs;
use crate::health::Diagnosis;
use crate::params::{write_file_atomically, WeightsFile};
use crate::probe::ProbeStat;
use crate::report::plot::{LinePlot, Plot};
use crate::report::{self, Run};
use crate::runtime::exec::Backend;
use crate::runtime::train::{self, Observer, TrainOptions};
use crate::sema::Override;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

#[derive(clap::Args, Debug)]
pub struct CompareArgs {
    /// The .net files to compare (the first one's seed is used for all), or one sweep folder
    /// (`netc sweep --out SWEEP_DIR`) to merge what its variants have written so far.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Override a setting of every file's train section.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Which backend runs the programs.
    #[arg(long, value_enum, default_value = "jit")]
    pub backend: Backend,
    /// The folder for the runs and the overlaid plots (default `runs/compare-<time>`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print the comparison as one JSON object on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// A trained variant, read back from its run folder and diagnosed.
pub struct Outcome {
    pub label: String,
    pub run: Run,
    pub diagnosis: Diagnosis,
}

pub fn run(args: CompareArgs) -> ExitCode {
    if let [dir] = args.files.as_slice() {
        if dir.is_dir() {
            return super::sweep::merge::run(dir, args.json);
        }
    }
    let mut variants = Vec::new();
    for file in &args.files {
        let Ok(src) = super::common::read_text(file) else {
            return ExitCode::FAILURE;
        };
        let label = file.file_stem().map_or_else(
            || file.display().to_string(),
            |s| s.to_string_lossy().into_owned(),
        );
        let base_dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
        variants.push(Variant {
            label,
            src,
            base_dir,
            overrides: Vec::new(),
            choices: Vec::new(),
        });
    }
    let Ok(set) = parse_overrides(&args.set) else {
        return ExitCode::FAILURE;
    };
    let seed = variants
        .first()
        .and_then(|v| crate::sema::check_source(&v.label, &v.src, &set).model)
        .map(|m| m.train.seed);
    for v in &mut variants {
        v.overrides = set.clone();
        if let Some(seed) = seed.filter(|_| !set.iter().any(|o| o.key == "seed")) {
            v.overrides.push(Override {
                key: "seed".into(),
                value: seed.to_string(),
            });
        }
    }
    let out = args.out.clone().unwrap_or_else(|| default_dir("compare"));
    finish(
        train_all(&variants, &out, args.backend, None),
        &out,
        args.json,
    )
}

/// `netc train FILE --vary ...`: every combination of the varied values.
pub fn run_vary(args: &TrainArgs) -> ExitCode {
    let Ok(variants) = grid::vary_grid(args) else {
        return ExitCode::FAILURE;
    };
    // Every variant starts from the same `--load` weights, renamed as the flags say.
    let load = match args.names.optional_weights(args.load.as_deref(), "--load") {
        Ok(load) => load,
        Err(e) => {
            super::common::report(e);
            return ExitCode::FAILURE;
        }
    };
    let out = args.out.clone().unwrap_or_else(|| default_dir("vary"));
    let backend = args.model.backend;
    finish(
        train_all(&variants, &out, backend, load.as_ref()),
        &out,
        false,
    )
}

/// A new folder no other run has; should it fail, writing into the fallback reports why.
fn default_dir(kind: &str) -> PathBuf {
    crate::runtime::run_folder::create_new_run_dir(Path::new("runs"), kind)
        .unwrap_or_else(|_| PathBuf::from("runs").join(kind))
}

/// Trains every variant, at most one per core at a time, each from `load` when given (else
/// its initializers); each gets `out/<i>-<label>` ([`folder_name`]).
pub fn train_all(
    variants: &[Variant],
    out: &Path,
    backend: Backend,
    load: Option<&WeightsFile>,
) -> Vec<Result<Outcome, String>> {
    let jobs: Vec<Job> = variants
        .iter()
        .enumerate()
        .map(|(i, variant)| Job {
            variant,
            dir: out.join(folder_name(i, &variant.label)),
            resume: false,
        })
        .collect();
    train_jobs(&jobs, backend, load)
}

/// One variant to train into its own folder, fresh or from the folder's checkpoint.
pub struct Job<'v> {
    pub variant: &'v Variant,
    pub dir: PathBuf,
    pub resume: bool,
}

/// Trains the jobs, at most one per core at a time; the results in the jobs' order.
pub fn train_jobs(
    jobs: &[Job],
    backend: Backend,
    load: Option<&WeightsFile>,
) -> Vec<Result<Outcome, String>> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<Outcome, String>>>> =
        Mutex::new((0..jobs.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..cores.min(jobs.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(job) = jobs.get(i) else { break };
                let result = train_recorded(job, backend, load);
                if let Ok(mut r) = results.lock() {
                    r[i] = Some(result);
                }
            });
        }
    });
    let results = results.into_inner().unwrap_or_default();
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err("not run".to_owned())))
        .collect()
}

struct Silent;
impl Observer for Silent {}

/// Trains one job and records how it ended in its folder (`end.json`), so a sweep can tell a
/// finished variant from one that stopped part-way.
fn train_recorded(
    job: &Job,
    backend: Backend,
    load: Option<&WeightsFile>,
) -> Result<Outcome, String> {
    use super::sweep::state::{self, End};
    // A stale end (an earlier interrupted attempt) must not outlive the attempt starting now.
    state::clear_end(&job.dir).map_err(|e| format!("{}: {e}", job.dir.display()))?;
    let result = train_one(job, backend, load);
    let end = match &result {
        Ok((_, report)) => End::of_report(report),
        Err(message) => End::failed(message),
    };
    state::write_end(&job.dir, &end).map_err(|e| format!("{}: {e}", job.dir.display()))?;
    result.map(|(outcome, _)| outcome)
}

fn train_one(
    job: &Job,
    backend: Backend,
    load: Option<&WeightsFile>,
) -> Result<(Outcome, train::TrainReport), String> {
    let (v, dir) = (job.variant, job.dir.as_path());
    let checked = crate::sema::check_source(&v.label, &v.src, &v.overrides);
    let model = checked.model.ok_or_else(|| {
        let text = crate::diag::render(&checked.diagnostics, &v.label, &v.src, false);
        format!("{}: the model does not check\n{text}", v.label)
    })?;
    crate::runtime::run_folder::write_trained(dir, &model, &v.src, job.resume)
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    let opts = TrainOptions {
        backend,
        // The variants already train side by side, one per core.
        threads: 1,
        out_dir: dir.to_path_buf(),
        resume: job.resume,
        load: load.cloned(),
        probes: true,
        interrupt: Arc::new(AtomicBool::new(false)),
        allow_data_change: false,
        pause_at: None,
    };
    let report = train::train(&model, &v.base_dir, &opts, &mut Silent)
        .map_err(|e| format!("{}: {e}", v.label))?;
    let outcome = read_outcome(&v.label, dir)?;
    Ok((outcome, report))
}

/// A trained variant read back from its run folder and diagnosed.
pub fn read_outcome(label: &str, dir: &Path) -> Result<Outcome, String> {
    let run = report::read_run(dir).map_err(|e| format!("{label}: {e}"))?;
    let diagnosis = crate::health::diagnose(&run);
    Ok(Outcome {
        label: label.to_owned(),
        run,
        diagnosis,
    })
}

/// Prints the table (or the JSON rows), writes the overlaid plots and the HTML page.
fn finish(results: Vec<Result<Outcome, String>>, out: &Path, json: bool) -> ExitCode {
    let ok: Vec<&Outcome> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    for e in results.iter().filter_map(|r| r.as_ref().err()) {
        eprintln!("error: {e}");
    }
    let text = table(&ok);
    if json {
        let rows: Vec<serde_json::Value> = ok.iter().map(|o| row_json(o)).collect();
        println!("{}", serde_json::json!({ "runs": rows }));
    } else {
        print!("{text}");
    }
    match write_comparison(out, &text, &overlaid_plots(&ok)) {
        Ok(path) if !json => println!("runs, plots and report: {}", path.display()),
        Ok(_) => {}
        Err(e) => eprintln!(
            "error: cannot write the comparison into {}: {e}",
            out.display()
        ),
    }
    if ok.len() == results.len() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Writes the overlaid plots (PNG and SVG) and `compare.html` into `out`, each file
/// atomically; returns the page's path.
pub fn write_comparison(
    out: &Path,
    text: &str,
    plots: &[(&'static str, Plot)],
) -> Result<PathBuf, String> {
    let write = |name: String, bytes: &[u8]| {
        write_file_atomically(&out.join(name), bytes).map_err(|e| e.to_string())
    };
    std::fs::create_dir_all(out).map_err(|e| e.to_string())?;
    for (stem, p) in plots {
        write(format!("{stem}.png"), &p.png().map_err(|e| e.to_string())?)?;
        write(
            format!("{stem}.svg"),
            p.svg().map_err(|e| e.to_string())?.as_bytes(),
        )?;
    }
    let html = report::html::page("netc compare", text, plots).map_err(|e| e.to_string())?;
    write("compare.html".to_owned(), html.as_bytes())?;
    Ok(out.join("compare.html"))
}

/// The facts of one row of [`table`] as JSON (NaN as null).
pub fn row_json(o: &Outcome) -> serde_json::Value {
    let last_epoch = o.run.epochs.last();
    serde_json::json!({
        "label": o.label,
        "dir": o.run.dir,
        "steps": o.run.steps.last().map(|s| s.step),
        "final_loss": o.run.steps.last().map(|s| s.loss),
        "valid_loss": last_epoch.map(|e| e.valid_loss),
        "valid_accuracy": last_epoch.and_then(|e| e.valid_accuracy),
        "first_last_ratio": first_last_ratio(o),
        "predicted_ratio": o.diagnosis.prediction.factor,
        "healthy": o.diagnosis.healthy(),
        "findings": findings(o),
    })
}

/// The measured first-to-last ‖∂L/∂a‖ ratio at the end of the run (NaN without probes).
pub fn first_last_ratio(o: &Outcome) -> f64 {
    o.diagnosis.layers.first().map_or(f64::NAN, |l| l.rel)
}

/// The diagnosis' findings by kind, lower case (`vanishing`, `exploding`, ...).
fn findings(o: &Outcome) -> Vec<String> {
    o.diagnosis
        .findings
        .iter()
        .map(|f| format!("{:?}", f.kind).to_lowercase())
        .collect()
}

/// One row per variant: final loss, validation, the first/last ‖∂L/∂a‖ ratio measured at the
/// end and predicted, and the diagnosis.
pub fn table(outcomes: &[&Outcome]) -> String {
    let mut out = format!(
        "{:<34} {:>10} {:>9} {:>11} {:>11}  {}\n",
        "variant", "loss", "valid", "first/last", "predicted", "diagnosis"
    );
    for o in outcomes {
        let loss = o.run.steps.last().map_or(f64::NAN, |s| s.loss);
        let valid = o.run.epochs.last().map_or("-".to_owned(), |e| {
            e.valid_accuracy
                .map_or(format!("{:.4}", e.valid_loss), |a| {
                    format!("{:.1}%", a * 100.0)
                })
        });
        let ratio = first_last_ratio(o);
        let diagnosis = if o.diagnosis.healthy() {
            "healthy".to_owned()
        } else {
            findings(o).join(", ")
        };
        out.push_str(&format!(
            "{:<34} {:>10.4} {:>9} {:>11} {:>11}  {}\n",
            o.label,
            loss,
            valid,
            report::sci(ratio),
            report::sci(o.diagnosis.prediction.factor),
            diagnosis
        ));
    }
    out
}

/// The depth profiles at the last recorded step and the training losses, one line a variant.
pub fn overlaid_plots(outcomes: &[&Outcome]) -> Vec<(&'static str, Plot)> {
    let depth = outcomes
        .iter()
        .map(|o| {
            let last = o.run.probe_steps().last().copied().unwrap_or(0);
            (
                o.label.clone(),
                (0..o.run.layers.len())
                    .map(|i| {
                        (
                            i as f64 + 1.0,
                            o.run
                                .probe(last, i, ProbeStat::GradActSq)
                                .unwrap_or(f64::NAN),
                        )
                    })
                    .collect(),
            )
        })
        .collect();
    let loss = outcomes
        .iter()
        .map(|o| {
            (
                o.label.clone(),
                o.run
                    .steps
                    .iter()
                    .map(|s| (s.step as f64, s.loss))
                    .collect(),
            )
        })
        .collect();
    vec![
        (
            "compare_depth",
            Plot::Line(LinePlot {
                title: "depth profile at the last step".into(),
                x_label: "layer (1 = first)".into(),
                y_label: "‖∂L/∂a‖ (log)".into(),
                log_y: true,
                series: depth,
            }),
        ),
        (
            "compare_loss",
            Plot::Line(LinePlot {
                title: "training loss".into(),
                x_label: "step".into(),
                y_label: "loss (log)".into(),
                log_y: true,
                series: loss,
            }),
        ),
    ]
}
