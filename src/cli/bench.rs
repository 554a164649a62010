//! `netc bench [FILE...]`: time the compiled training step of models — by default the
//! workloads the PyTorch/JAX anchors time — and put the anchors' figures beside them.

use super::common;
use crate::runtime::bench::{self, BenchOptions, BenchResult};
use crate::runtime::exec::Backend;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// The models to time (default: benches/workloads/*.net).
    pub files: Vec<PathBuf>,
    /// Steps per timed round.
    #[arg(long, default_value_t = 200)]
    pub steps: usize,
    /// Timed rounds (probes on and off alternate).
    #[arg(long, default_value_t = 5)]
    pub rounds: usize,
    #[arg(long, value_enum, default_value = "jit")]
    pub backend: Backend,
    /// Threads for the JIT's library matrix products (the generated loops stay on one).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: u16,
    /// An anchors results.jsonl (from ../shared/anchors/run_all.sh) to compare with.
    #[arg(long, value_name = "results.jsonl")]
    pub anchors: Option<PathBuf>,
    /// Print one JSON object per model instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: BenchArgs) -> ExitCode {
    let files = if args.files.is_empty() {
        default_workloads()
    } else {
        args.files.clone()
    };
    if files.is_empty() {
        eprintln!("error: no models given and no benches/workloads/*.net here");
        return ExitCode::FAILURE;
    }
    let anchors = match &args.anchors {
        Some(path) => match read_anchors(path, args.threads) {
            Ok(a) => a,
            Err(e) => {
                eprintln!("error: cannot read {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        },
        None => HashMap::new(),
    };
    let opts = BenchOptions {
        backend: args.backend,
        steps: args.steps,
        rounds: args.rounds,
        threads: usize::from(args.threads),
    };
    if !args.json {
        println!(
            "| model | batch | compile ms | µs/step | GFLOP/s | µs/step no probes | probe overhead | JAX jit µs | ×JAX | PyTorch eager µs | ×PyTorch |"
        );
        println!("|---|---|---|---|---|---|---|---|---|---|---|");
    }
    let mut failed = false;
    for file in &files {
        let Ok(loaded) = common::load_with(file, &[]) else {
            failed = true;
            continue;
        };
        match bench::bench(&loaded.model, &opts) {
            Ok(r) => print_result(&r, &anchors, anchor_name(file), args.json),
            Err(e) => {
                eprintln!("error: {}: {e}", file.display());
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn print_result(
    r: &BenchResult,
    anchors: &HashMap<(String, String), f64>,
    name: String,
    json: bool,
) {
    let jax = anchors.get(&(name.clone(), "jax-jit".to_owned())).copied();
    let torch = anchors.get(&(name, "torch-eager".to_owned())).copied();
    if json {
        println!(
            "{}",
            serde_json::json!({ "result": r, "jax_us": jax, "torch_eager_us": torch })
        );
        return;
    }
    let cell = |v: Option<f64>| v.map_or("-".to_owned(), micros);
    let ratio = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{:.2}", v / r.us_per_step));
    println!(
        "| {} | {} | {:.1} | {} | {:.1} | {} | {:+.1}% | {} | {} | {} | {} |",
        r.model,
        r.batch,
        r.compile_ms,
        micros(r.us_per_step),
        r.matmul_flops / r.us_per_step / 1e3,
        micros(r.us_per_step_no_probes),
        r.probe_overhead_pct,
        cell(jax),
        ratio(jax),
        cell(torch),
        ratio(torch)
    );
}

/// A time in µs with one decimal, or three below 10 µs (a 0.52 µs step
/// printed as 0.5 hid a 5% change).
fn micros(us: f64) -> String {
    if us < 10.0 {
        format!("{us:.3}")
    } else {
        format!("{us:.1}")
    }
}

fn default_workloads() -> Vec<PathBuf> {
    let Ok(dir) = std::fs::read_dir("benches/workloads") else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = dir
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "net"))
        .collect();
    files.sort();
    files
}

/// `w1_mlp_mnist.net` → `mlp-mnist`, the anchors' workload name.
fn anchor_name(file: &Path) -> String {
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let rest = stem.split_once('_').map_or(stem.as_str(), |(_, r)| r);
    rest.replace('_', "-")
}

/// Median µs/step per (workload, framework) of the base variant run on `threads` threads (the
/// anchors time 1 and 2).
fn read_anchors(path: &Path, threads: u16) -> std::io::Result<HashMap<(String, String), f64>> {
    let text = std::fs::read_to_string(path)?;
    let mut all: HashMap<(String, String), Vec<f64>> = HashMap::new();
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let (Some(wl), Some(fw), Some(us)) = (
            v["workload"].as_str(),
            v["framework"].as_str(),
            v["us_per_step"].as_f64(),
        ) else {
            continue;
        };
        if v["variant"] == "base" && v["threads"] == threads {
            all.entry((wl.to_owned(), fw.to_owned()))
                .or_default()
                .push(us);
        }
    }
    Ok(all
        .into_iter()
        .map(|(k, mut v)| {
            v.sort_by(f64::total_cmp);
            (k, v[v.len() / 2])
        })
        .collect())
}
