//! `netc compare A.net B.net ...` and `netc train FILE --vary key=v1,v2`: train variants with
//! the same seed and data, in parallel across cores (std threads), then print one table and
//! write overlaid plots of the depth profiles and the losses.

use super::common::ModelArgs;
use super::train::TrainArgs;
use crate::health::Diagnosis;
use crate::params::WeightsFile;
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
    /// The .net files to compare (the first one's seed is used for all).
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
}

/// One model to train: its label, source and overrides.
#[derive(Debug, Clone)]
pub struct Variant {
    pub label: String,
    pub src: String,
    pub base_dir: PathBuf,
    pub overrides: Vec<Override>,
}

/// A trained variant, read back from its run folder and diagnosed.
pub struct Outcome {
    pub label: String,
    pub run: Run,
    pub diagnosis: Diagnosis,
}

pub fn run(args: CompareArgs) -> ExitCode {
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
    finish(train_all(&variants, &out, args.backend, None), &out)
}

/// `netc train FILE --vary ...`: every combination of the varied values.
pub fn run_vary(args: &TrainArgs) -> ExitCode {
    let ModelArgs { file, set, backend } = &args.model;
    let Ok(src) = super::common::read_text(file) else {
        return ExitCode::FAILURE;
    };
    let Ok(mut set) = parse_overrides(set) else {
        return ExitCode::FAILURE;
    };
    set.extend(args.steps.map(|n| Override {
        key: "steps".into(),
        value: n.to_string(),
    }));
    set.extend(args.epochs.map(|n| Override {
        key: "epochs".into(),
        value: n.to_string(),
    }));
    let base = Variant {
        label: String::new(),
        src,
        base_dir: file.parent().map(Path::to_path_buf).unwrap_or_default(),
        overrides: set,
    };
    let mut variants = vec![base];
    for spec in &args.vary {
        let Some((key, values)) = spec.split_once('=') else {
            eprintln!("error: bad --vary `{spec}`: expected KEY=V1,V2");
            return ExitCode::FAILURE;
        };
        match expand(&variants, key.trim(), &split_top_level(values)) {
            Ok(v) => variants = v,
            Err(e) => {
                eprintln!("error: bad --vary `{spec}`: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    // Every variant starts from the same `--load` weights, renamed as the flags say.
    let load = match args.names.optional_weights(args.load.as_deref(), "--load") {
        Ok(load) => load,
        Err(e) => {
            super::common::report(e);
            return ExitCode::FAILURE;
        }
    };
    let out = args.out.clone().unwrap_or_else(|| default_dir("vary"));
    finish(train_all(&variants, &out, *backend, load.as_ref()), &out)
}

fn parse_overrides(set: &[String]) -> Result<Vec<Override>, ()> {
    set.iter()
        .map(|s| Override::parse(s).map_err(|e| eprintln!("error: bad --set `{s}`: {e}")))
        .collect()
}

/// A new folder no other run has; should it fail, writing into the fallback reports why.
fn default_dir(kind: &str) -> PathBuf {
    crate::runtime::run_folder::create_new_run_dir(Path::new("runs"), kind)
        .unwrap_or_else(|_| PathBuf::from("runs").join(kind))
}

/// Every variant times every value of `key`: model attributes are rewritten in the source,
/// anything else becomes a `--set` override.
pub fn expand(variants: &[Variant], key: &str, values: &[String]) -> Result<Vec<Variant>, String> {
    let mut out = Vec::new();
    for v in variants {
        for value in values {
            let mut next = v.clone();
            if matches!(key, "act" | "init" | "bias_init") {
                let (file, _) = crate::syntax::parse_file(&v.src);
                next.src = crate::syntax::edit::set_layer_attribute(&v.src, &file, key, value)
                    .ok_or_else(|| format!("the model has no `{key} = ...` to vary"))?;
            } else {
                next.overrides.push(Override {
                    key: key.to_owned(),
                    value: value.clone(),
                });
            }
            next.label = if v.label.is_empty() {
                format!("{key}={value}")
            } else {
                format!("{} {key}={value}", v.label)
            };
            out.push(next);
        }
    }
    Ok(out)
}

/// Splits `a,b(1, 2),c` on the commas outside parentheses.
pub fn split_top_level(s: &str) -> Vec<String> {
    let (mut parts, mut depth, mut cur) = (Vec::new(), 0i32, String::new());
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(cur.trim().to_owned());
                cur.clear();
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    parts.push(cur.trim().to_owned());
    parts.into_iter().filter(|p| !p.is_empty()).collect()
}

/// Trains every variant, at most one per core at a time, each from `load` when given (else
/// its initializers); each gets `out/<i>-<label>`.
pub fn train_all(
    variants: &[Variant],
    out: &Path,
    backend: Backend,
    load: Option<&WeightsFile>,
) -> Vec<Result<Outcome, String>> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<Outcome, String>>>> =
        Mutex::new((0..variants.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..cores.min(variants.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(v) = variants.get(i) else { break };
                let dir = out.join(format!("{i}-{}", sanitize(&v.label)));
                let result = train_one(v, &dir, backend, load);
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

fn sanitize(label: &str) -> String {
    label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

struct Silent;
impl Observer for Silent {}

fn train_one(
    v: &Variant,
    dir: &Path,
    backend: Backend,
    load: Option<&WeightsFile>,
) -> Result<Outcome, String> {
    let checked = crate::sema::check_source(&v.label, &v.src, &v.overrides);
    let model = checked.model.ok_or_else(|| {
        let text = crate::diag::render(&checked.diagnostics, &v.label, &v.src, false);
        format!("{}: the model does not check\n{text}", v.label)
    })?;
    crate::runtime::run_folder::write_trained(dir, &model, &v.src, false)
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    let opts = TrainOptions {
        backend,
        // The variants already train side by side, one per core.
        threads: 1,
        out_dir: dir.to_path_buf(),
        resume: false,
        load: load.cloned(),
        probes: true,
        interrupt: Arc::new(AtomicBool::new(false)),
        allow_data_change: false,
        pause_at: None,
    };
    train::train(&model, &v.base_dir, &opts, &mut Silent)
        .map_err(|e| format!("{}: {e}", v.label))?;
    let run = report::read_run(dir).map_err(|e| format!("{}: {e}", v.label))?;
    let diagnosis = crate::health::diagnose(&run);
    Ok(Outcome {
        label: v.label.clone(),
        run,
        diagnosis,
    })
}

/// Prints the table, writes the overlaid plots and the HTML page.
fn finish(results: Vec<Result<Outcome, String>>, out: &Path) -> ExitCode {
    let ok: Vec<&Outcome> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    for e in results.iter().filter_map(|r| r.as_ref().err()) {
        eprintln!("error: {e}");
    }
    print!("{}", table(&ok));
    let plots = overlaid_plots(&ok);
    let write = || -> Result<PathBuf, String> {
        std::fs::create_dir_all(out).map_err(|e| e.to_string())?;
        for (stem, p) in &plots {
            std::fs::write(
                out.join(format!("{stem}.png")),
                p.png().map_err(|e| e.to_string())?,
            )
            .map_err(|e| e.to_string())?;
            std::fs::write(
                out.join(format!("{stem}.svg")),
                p.svg().map_err(|e| e.to_string())?,
            )
            .map_err(|e| e.to_string())?;
        }
        let html =
            report::html::page("netc compare", &table(&ok), &plots).map_err(|e| e.to_string())?;
        let path = out.join("compare.html");
        std::fs::write(&path, html).map_err(|e| e.to_string())?;
        Ok(path)
    };
    match write() {
        Ok(path) => println!("runs, plots and report: {}", path.display()),
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
        let ratio = o.diagnosis.layers.first().map_or(f64::NAN, |l| l.rel);
        let diagnosis = if o.diagnosis.healthy() {
            "healthy".to_owned()
        } else {
            o.diagnosis
                .findings
                .iter()
                .map(|f| format!("{:?}", f.kind).to_lowercase())
                .collect::<Vec<_>>()
                .join(", ")
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

#[cfg(test)]
mod tests {
    use super::split_top_level;

    #[test]
    fn vary_values_split_outside_parentheses() {
        assert_eq!(
            split_top_level("normal(0, 0.1),he_normal"),
            ["normal(0, 0.1)", "he_normal"]
        );
        assert_eq!(split_top_level("sigmoid, relu"), ["sigmoid", "relu"]);
    }
}
