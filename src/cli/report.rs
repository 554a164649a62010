//! `netc report RUN_DIR`: the diagnosis of a run, its plots (PNG and SVG) and one
//! self-contained HTML page, written into the run folder.

use super::common;
use crate::diag;
use crate::health::Diagnosis;
use crate::report::{self, plot, Run};
use crate::runtime::run_folder;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// The run folder written by `netc train`.
    pub run_dir: PathBuf,
    /// Print the diagnosis as JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Do not write the plots and report.html.
    #[arg(long)]
    pub no_plots: bool,
}

pub fn run(args: ReportArgs) -> ExitCode {
    let run = match report::read_run(&args.run_dir) {
        Ok(r) => r,
        Err(e) => {
            common::report(e);
            return ExitCode::FAILURE;
        }
    };
    let d = crate::health::diagnose(&run);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&d).unwrap_or_default());
    } else {
        print!("{}", text(&run, &d));
    }
    if !args.no_plots {
        match write_plots(&run, &d, &args.run_dir) {
            Ok(html) => eprintln!("plots and report: {}", html.display()),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

/// The report text with the run-time lints rendered against the run's model.net.
pub fn text(run: &Run, d: &Diagnosis) -> String {
    let mut out = report::render_text(run, d);
    if !d.lints.is_empty() {
        out.push_str(&diag::render(
            &d.lints,
            run_folder::SOURCE,
            &run.src,
            std::io::stdout().is_terminal(),
        ));
    }
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// Writes `<stem>.png`, `<stem>.svg` for every plot and `report.html` into `dir`.
pub fn write_plots(run: &Run, d: &Diagnosis, dir: &Path) -> Result<PathBuf, String> {
    let plots = plot::all(run, d);
    for (stem, p) in &plots {
        let png = p.png().map_err(|e| e.to_string())?;
        let svg = p.svg().map_err(|e| e.to_string())?;
        std::fs::write(dir.join(format!("{stem}.png")), png)
            .map_err(|e| format!("cannot write {stem}.png: {e}"))?;
        std::fs::write(dir.join(format!("{stem}.svg")), svg)
            .map_err(|e| format!("cannot write {stem}.svg: {e}"))?;
    }
    let title = format!("netc report: {}", run.model.name);
    let html = report::html::page(&title, &report::render_text(run, d), &plots)
        .map_err(|e| e.to_string())?;
    let path = dir.join(run_folder::REPORT_HTML);
    std::fs::write(&path, html).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}
