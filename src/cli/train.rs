//! `netc train FILE`: train a model, showing progress and the per-layer gradient picture.

use super::args::NameArgs;
use super::common::{self, ModelArgs, ThreadArgs};
use super::out;
use crate::runtime::record::{EpochRecord, StepRecord};
use crate::runtime::run_folder;
use crate::runtime::train::{self, Observer, RunInfo, StopReason, TrainOptions};
use indicatif::{ProgressBar, ProgressState, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub threads: ThreadArgs,
    /// The run folder (default: a new `runs/<model>-<unix second>`, `-2`, `-3`... when taken);
    /// one that holds a run is refused unless `--overwrite`.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// With `--out`: replace the run already in that folder.
    #[arg(long, requires = "out")]
    pub overwrite: bool,
    /// Continue the run in this folder from its last checkpoint.
    #[arg(long, value_name = "DIR", conflicts_with = "out")]
    pub resume: Option<PathBuf>,
    /// With `--resume`: go on even though the data differs from the run's (its size, rows or
    /// contents, as the checkpoint's fingerprint records them).
    #[arg(long, requires = "resume")]
    pub allow_data_change: bool,
    /// Start from these parameters (safetensors, PyTorch names and layouts).
    #[arg(long, value_name = "W.safetensors")]
    pub load: Option<PathBuf>,
    #[command(flatten)]
    pub names: NameArgs,
    /// Train this many steps (shortcut for `--set steps=N`).
    #[arg(long)]
    pub steps: Option<usize>,
    /// Train this many epochs (shortcut for `--set epochs=N`).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Stop after step N as if interrupted, saving a checkpoint; continue with `--resume`.
    #[arg(long, value_name = "N")]
    pub pause_at: Option<u64>,
    /// Leave the probes out of the compiled step (to measure their cost).
    #[arg(long)]
    pub no_probes: bool,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
    /// Train variants side by side, e.g. `--vary act=sigmoid,relu --vary init=normal(0, 0.1),he_normal`
    /// (model attributes `act`, `init`, `bias_init`, or any `--set` key): every combination,
    /// same seed and data, in parallel, with one table and overlaid plots.
    #[arg(long, value_name = "KEY=V1,V2")]
    pub vary: Vec<String>,
    /// `--seeds`, `--variant`, `--shard`: which variants of the grid, as `netc sweep` runs them.
    #[command(flatten)]
    pub sweep: super::sweep::VariantArgs,
    /// Do not print the diagnosis or write the plots at the end.
    #[arg(long)]
    pub no_report: bool,
    /// Print one JSON object per step and per epoch on stdout.
    #[arg(long, conflicts_with = "quiet")]
    pub json: bool,
}

pub fn run(mut args: TrainArgs) -> ExitCode {
    if let Some(n) = args.steps {
        args.model.set.push(format!("steps={n}"));
    }
    if let Some(n) = args.epochs {
        args.model.set.push(format!("epochs={n}"));
    }
    let Ok(loaded) = common::load(&args.model) else {
        return ExitCode::FAILURE;
    };
    let model = &loaded.model;
    // A resumed run reads its own checkpoint, under netc's names: only `--load` is renamed.
    let load = match args.names.optional_weights(args.load.as_deref(), "--load") {
        Ok(load) => load,
        Err(e) => {
            common::report(e);
            return ExitCode::FAILURE;
        }
    };
    let out_dir = match run_dir(&args, &model.name) {
        Ok(dir) => dir,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::FAILURE;
        }
    };
    let interrupt = Arc::new(AtomicBool::new(false));
    let reporting = Arc::new(AtomicBool::new(false));
    let (flag, after_training) = (Arc::clone(&interrupt), Arc::clone(&reporting));
    // During training Ctrl-C asks the loop to stop at the next step and save a checkpoint;
    // once training is over (the diagnosis and plots) nothing is left to save, so it exits.
    let _ = ctrlc::set_handler(move || {
        if after_training.load(Ordering::Relaxed) {
            std::process::exit(INTERRUPTED);
        }
        flag.store(true, Ordering::Relaxed);
    });
    let opts = TrainOptions {
        backend: args.model.backend,
        threads: usize::from(args.threads.threads),
        out_dir: out_dir.clone(),
        resume: args.resume.is_some(),
        load,
        probes: !args.no_probes,
        interrupt,
        allow_data_change: args.allow_data_change,
        pause_at: args.pause_at,
    };
    if let Err(e) = run_folder::write_trained(&out_dir, model, &loaded.src, args.resume.is_some()) {
        eprintln!(
            "error: cannot write the run folder {}: {e}",
            out_dir.display()
        );
        return ExitCode::FAILURE;
    }
    let mut progress = Progress::new(&args);
    progress.live = Some(super::live::LiveTable::new(model, &[], 0));
    progress.model = Some(model.clone());
    let result = train::train(model, &loaded.base_dir, &opts, &mut progress);
    progress.finish();
    reporting.store(true, Ordering::Relaxed);
    match result {
        Ok(report) => {
            // `-q` and `--json` quiet the terminal only: the plots and report.html are still
            // written (and the diagnosis goes into the JSON `end` event).
            let terminal = !args.quiet && !args.json;
            if terminal {
                print_summary(&report, &progress, &loaded.src, args.no_report);
            } else if report.stop == StopReason::Interrupted {
                eprintln!("{}", interrupted_text(&report));
            }
            let diagnosis = (!args.no_report)
                .then(|| print_report(&report.out_dir, terminal))
                .flatten();
            if args.json {
                println!(
                    "{}",
                    serde_json::json!({ "event": "end", "report": report, "diagnosis": diagnosis })
                );
            }
            match report.stop {
                StopReason::NonFinite(_) => ExitCode::FAILURE,
                StopReason::Interrupted => ExitCode::from(INTERRUPTED as u8),
                StopReason::Finished => ExitCode::SUCCESS,
            }
        }
        Err(e) => {
            common::report(e);
            ExitCode::FAILURE
        }
    }
}

/// The exit code of a command stopped by Ctrl-C: 128 + SIGINT, as shells report it.
const INTERRUPTED: i32 = 130;

/// What an interrupted run says: how far it got and where its checkpoint is.
fn interrupted_text(report: &train::TrainReport) -> String {
    format!(
        "interrupted after {} steps; the checkpoint is in {} (continue with `--resume {}`)",
        report.steps,
        report.out_dir.display(),
        report.out_dir.display()
    )
}

/// The run's folder: the one resumed, `--out` (refused when it holds an earlier run, unless
/// `--overwrite`), or a new one under `runs/` whose name no other run has.
fn run_dir(args: &TrainArgs, model: &str) -> Result<PathBuf, String> {
    if let Some(dir) = &args.resume {
        return Ok(dir.clone());
    }
    let Some(dir) = &args.out else {
        return run_folder::create_new_run_dir(std::path::Path::new("runs"), model)
            .map_err(|e| format!("cannot create a run folder under runs/: {e}"));
    };
    let earlier = run_folder::existing_run_files(dir);
    if earlier.is_empty() {
        return Ok(dir.clone());
    }
    if !args.overwrite {
        return Err(format!(
            "--out {} already holds a run ({}); pass --overwrite to replace it, \
             `--resume {}` to continue it, or leave out --out for a new folder under runs/",
            dir.display(),
            earlier.join(", "),
            dir.display()
        ));
    }
    run_folder::clear_run_files(dir)
        .map_err(|e| format!("cannot clear the earlier run in {}: {e}", dir.display()))?;
    Ok(dir.clone())
}

/// How progress is shown: a bar on a terminal, plain lines otherwise, JSON, or nothing.
enum Mode {
    Bar(ProgressBar),
    Lines { every: u64 },
    Json,
    Quiet,
}

struct Progress {
    mode: Mode,
    start: Instant,
    info: Option<RunInfo>,
    last_step: Option<StepRecord>,
    last_epoch: Option<EpochRecord>,
    model: Option<crate::model::Model>,
    live: Option<super::live::LiveTable>,
}

impl Progress {
    fn new(args: &TrainArgs) -> Progress {
        let mode = if args.quiet {
            Mode::Quiet
        } else if args.json {
            Mode::Json
        } else if std::io::stderr().is_terminal() {
            Mode::Bar(ProgressBar::hidden())
        } else {
            Mode::Lines { every: 1 }
        };
        Progress {
            mode,
            start: Instant::now(),
            info: None,
            last_step: None,
            last_epoch: None,
            model: None,
            live: None,
        }
    }

    fn finish(&mut self) {
        if let Mode::Bar(bar) = &self.mode {
            bar.finish_and_clear();
        }
    }

    fn valid_text(&self) -> String {
        match &self.last_epoch {
            Some(EpochRecord {
                valid_accuracy: Some(a),
                valid_loss,
                ..
            }) => format!(
                "valid loss {} acc {:.1}%",
                out::metric(*valid_loss, 4),
                a * 100.0
            ),
            Some(e) if e.valid_loss.is_nan() => "no validation split".to_owned(),
            Some(e) => format!("valid loss {}", out::metric(e.valid_loss, 4)),
            None => String::new(),
        }
    }
}

impl Observer for Progress {
    fn on_start(&mut self, info: &RunInfo) {
        match &mut self.mode {
            Mode::Bar(bar) => {
                *bar = ProgressBar::new(info.total_steps);
                bar.set_position(info.start_step);
                let style = ProgressStyle::with_template(
                    "{bar:30} {pos}/{len} steps  {rate}  eta {eta}  {prefix}\n{msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .with_key(
                    "rate",
                    |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = w.write_str(&out::rate(state.per_sec()));
                    },
                );
                bar.set_style(style);
            }
            Mode::Lines { every } => {
                *every = (info.total_steps / 20).max(1);
                eprintln!(
                    "training {}: {} parameters, {} steps ({} per epoch), {} train / {} valid rows",
                    info.model,
                    info.parameters,
                    info.total_steps,
                    info.steps_per_epoch,
                    info.train_rows,
                    info.valid_rows
                );
            }
            Mode::Json => println!("{}", serde_json::json!({ "event": "start", "info": info })),
            Mode::Quiet => {}
        }
        if let Some(model) = &self.model {
            self.live = Some(super::live::LiveTable::new(
                model,
                &info.layers,
                info.total_steps,
            ));
        }
        self.info = Some(info.clone());
    }

    fn on_step(&mut self, r: &StepRecord) {
        if let Some(live) = self.live.as_mut() {
            live.observe(r);
        }
        match &self.mode {
            Mode::Bar(bar) => {
                bar.set_position(r.step);
                let last = self.info.as_ref().is_some_and(|i| r.step >= i.total_steps);
                // The prefix follows every step, so its epoch never lags the step count; the
                // table below it is redrawn only when due.
                bar.set_prefix(format!(
                    "epoch {} loss {} {}",
                    r.epoch + 1,
                    out::metric(r.loss, 4),
                    self.valid_text()
                ));
                if let Some(live) = self.live.as_mut() {
                    if live.due() || last {
                        bar.set_message(live.render(r));
                    }
                }
            }
            Mode::Lines { every } => {
                if r.step % every == 0 || r.step == 1 {
                    eprintln!(
                        "step {:>6}  epoch {:>3}  loss {}  grad_norm {:.3e}",
                        r.step,
                        r.epoch + 1,
                        out::metric(r.loss, 5),
                        r.grad_norm
                    );
                }
            }
            Mode::Json => {
                let probes = r.shown_probes();
                println!(
                    "{}",
                    serde_json::json!({ "event": "step", "record": r, "probes": probes })
                );
            }
            Mode::Quiet => {}
        }
        self.last_step = Some(r.clone());
    }

    fn on_epoch(&mut self, r: &EpochRecord) {
        self.last_epoch = Some(r.clone());
        match &self.mode {
            Mode::Bar(bar) => {
                bar.println(format!("epoch {:>3}  {}", r.epoch + 1, self.valid_text()))
            }
            Mode::Lines { every } => {
                let total_epochs = self
                    .info
                    .as_ref()
                    .map_or(1, |i| i.total_steps.div_ceil(i.steps_per_epoch.max(1)));
                let stride = (total_epochs / 10).max(1);
                if (r.epoch + 1) % stride == 0 || r.epoch + 1 == total_epochs || *every == 0 {
                    eprintln!("epoch {:>3}  {}", r.epoch + 1, self.valid_text());
                }
            }
            Mode::Json => println!("{}", serde_json::json!({ "event": "epoch", "record": r })),
            Mode::Quiet => {}
        }
    }
}

/// The end-of-run summary: outcome, metrics, and the per-layer gradient table of the last step.
fn print_summary(report: &train::TrainReport, progress: &Progress, src: &str, with_table: bool) {
    let secs = progress.start.elapsed().as_secs_f64();
    match &report.stop {
        StopReason::Finished => println!("finished {} steps in {secs:.2}s", report.steps),
        StopReason::Interrupted => println!("{}", interrupted_text(report)),
        StopReason::NonFinite(nf) => {
            println!("{}", nf.describe(src));
            println!(
                "the last good checkpoint is kept in {}",
                report.out_dir.display()
            );
            println!("{}", train::NON_FINITE_HINT);
        }
    }
    println!(
        "loss {}  {}",
        out::metric(report.last_loss, 5),
        progress.valid_text()
    );
    if let (true, Some(live), Some(step)) = (with_table, &progress.live, &progress.last_step) {
        print!("{}", live.render(step));
    }
    println!("run folder: {}", report.out_dir.display());
}

/// The diagnosis of the finished run, with its plots and HTML page written into the run
/// folder; on the terminal (its table, findings and remedies) only when `terminal`.
fn print_report(dir: &std::path::Path, terminal: bool) -> Option<crate::health::Diagnosis> {
    let run = match crate::report::read_run(dir) {
        Ok(run) => run,
        Err(e) => {
            common::report(e);
            return None;
        }
    };
    let d = crate::health::diagnose(&run);
    if terminal {
        println!();
        print!("{}", super::report::text(&run, &d));
    }
    match super::report::write_plots(&run, &d, dir) {
        Ok(html) if terminal => println!("plots and report: {}", html.display()),
        Ok(_) => {}
        Err(e) => eprintln!("error: {e}"),
    }
    Some(d)
}
