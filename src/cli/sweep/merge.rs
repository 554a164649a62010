//! `netc compare SWEEP_DIR` and `netc sweep --status SWEEP_DIR`: what the variants of a sweep
//! have written so far, merged: how many are done, running, interrupted, failed or pending
//! (see [`super::state`]), one table and overlaid plots of the done ones (compare's), and
//! the mean ± std over seeds of the final accuracy and of the first-to-last ‖∂L/∂a‖ ratio.

use super::spec::{self, Sweep};
use super::state::{self, State};
use crate::cli::compare::{self, Outcome};
use std::path::Path;
use std::process::ExitCode;

/// Prints the merge of the sweep in `dir` (text, or one JSON object) and writes its plots
/// and `compare.html` into `dir`. Fails when the folder is no sweep or a variant failed.
pub fn run(dir: &Path, json: bool) -> ExitCode {
    let sweep = match Sweep::read(dir) {
        Ok(sweep) => sweep,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let merged = merge(&sweep, dir);
    let done: Vec<&Outcome> = merged.outcomes().collect();
    let table = compare::table(&done);
    let text = format!(
        "{}\n{table}{}",
        merged.summary(dir),
        aggregates_text(&merged.aggregates())
    );
    if json {
        println!("{}", merged.json(dir));
    } else {
        print!("{text}");
    }
    match compare::write_comparison(dir, &text, &compare::overlaid_plots(&done)) {
        Ok(path) if !json => println!("plots and report: {}", path.display()),
        Ok(_) => {}
        Err(e) => eprintln!(
            "error: cannot write the comparison into {}: {e}",
            dir.display()
        ),
    }
    if merged.count("failed") == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// One variant of the sweep as found on disk.
pub struct Found {
    pub entry: spec::Entry,
    pub state: State,
    /// The trained run, for a done variant.
    pub outcome: Option<Outcome>,
}

/// Every variant of the sweep, in order.
pub struct Merged {
    pub found: Vec<Found>,
}

/// Reads every variant's state, and the run of every done one.
pub fn merge(sweep: &Sweep, dir: &Path) -> Merged {
    let found = sweep
        .variants
        .iter()
        .map(|entry| {
            let run_dir = sweep.run_dir(dir, entry.index);
            let state = state::of(&run_dir, &spec::log_path(dir, entry.index));
            let (state, outcome) = match state {
                State::Done(stop) => match compare::read_outcome(&entry.label, &run_dir) {
                    Ok(outcome) => (State::Done(stop), Some(outcome)),
                    Err(e) => (State::Failed(e), None),
                },
                other => (other, None),
            };
            Found {
                entry: entry.clone(),
                state,
                outcome,
            }
        })
        .collect();
    Merged { found }
}

/// The mean ± sample standard deviation of the finite values among some runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    pub mean: f64,
    /// NaN for fewer than two values.
    pub std: f64,
    pub n: usize,
}

impl Spread {
    pub fn of(values: impl IntoIterator<Item = f64>) -> Spread {
        let values: Vec<f64> = values.into_iter().filter(|v| v.is_finite()).collect();
        let n = values.len();
        let mean = values.iter().sum::<f64>() / n as f64;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n as f64 - 1.0);
        Spread {
            mean,
            std: if n > 1 { var.sqrt() } else { f64::NAN },
            n,
        }
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({ "mean": self.mean, "std": self.std, "n": self.n })
    }
}

/// The done runs of one point of the grid, over its seeds.
pub struct Aggregate {
    /// The grid's choices but the seed.
    pub label: String,
    pub runs: usize,
    pub accuracy: Spread,
    pub ratio: Spread,
}

impl Merged {
    pub fn outcomes(&self) -> impl Iterator<Item = &Outcome> {
        self.found.iter().filter_map(|f| f.outcome.as_ref())
    }

    pub fn count(&self, name: &str) -> usize {
        self.found.iter().filter(|f| f.state.name() == name).count()
    }

    /// `sweep DIR: K variants: a done, b running, ...`, then one line per failed variant.
    fn summary(&self, dir: &Path) -> String {
        let counts: Vec<String> = State::NAMES
            .iter()
            .map(|name| format!("{} {name}", self.count(name)))
            .collect();
        let mut out = format!(
            "sweep {}: {} variants: {}\n",
            dir.display(),
            self.found.len(),
            counts.join(", ")
        );
        for f in &self.found {
            if let State::Failed(message) = &f.state {
                let first = message.lines().next().unwrap_or_default();
                out.push_str(&format!("failed: {} {first}\n", f.entry.name));
            }
        }
        out
    }

    /// The done runs grouped by their choices without the seed, in grid order.
    pub fn aggregates(&self) -> Vec<Aggregate> {
        let mut groups: Vec<(String, Vec<&Outcome>)> = Vec::new();
        for f in &self.found {
            let Some(outcome) = &f.outcome else { continue };
            let key = group_label(&f.entry.choices);
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, members)) => members.push(outcome),
                None => groups.push((key, vec![outcome])),
            }
        }
        groups
            .into_iter()
            .map(|(label, members)| Aggregate {
                label,
                runs: members.len(),
                accuracy: Spread::of(members.iter().map(|o| final_accuracy(o))),
                ratio: Spread::of(members.iter().map(|o| compare::first_last_ratio(o))),
            })
            .collect()
    }

    fn json(&self, dir: &Path) -> serde_json::Value {
        let counts: serde_json::Map<String, serde_json::Value> = State::NAMES
            .iter()
            .map(|name| ((*name).to_owned(), self.count(name).into()))
            .collect();
        let runs: Vec<serde_json::Value> = self.found.iter().map(found_json).collect();
        let aggregates: Vec<serde_json::Value> = self
            .aggregates()
            .iter()
            .map(|a| {
                serde_json::json!({
                    "label": a.label,
                    "runs": a.runs,
                    "final_accuracy": a.accuracy.json(),
                    "first_last_ratio": a.ratio.json(),
                })
            })
            .collect();
        serde_json::json!({
            "sweep": dir,
            "variants": self.found.len(),
            "counts": counts,
            "runs": runs,
            "aggregates": aggregates,
        })
    }
}

fn found_json(f: &Found) -> serde_json::Value {
    let mut row = f
        .outcome
        .as_ref()
        .map_or_else(|| serde_json::json!({}), compare::row_json);
    if let Some(map) = row.as_object_mut() {
        map.insert("index".into(), f.entry.index.into());
        map.insert("name".into(), f.entry.name.clone().into());
        map.insert("label".into(), f.entry.label.clone().into());
        map.insert("state".into(), f.state.name().into());
        match &f.state {
            State::Done(stop) => {
                map.insert("stop".into(), serde_json::json!(stop));
            }
            State::Failed(message) => {
                map.insert("message".into(), message.clone().into());
            }
            State::Interrupted | State::Running | State::Pending => {}
        }
    }
    row
}

/// The label of a point of the grid without its seed (`base` when only seeds vary).
fn group_label(choices: &[(String, String)]) -> String {
    let parts: Vec<String> = choices
        .iter()
        .filter(|(key, _)| key != "seed")
        .map(|(key, value)| format!("{key}={value}"))
        .collect();
    if parts.is_empty() {
        "base".to_owned()
    } else {
        parts.join(" ")
    }
}

/// The validation accuracy after the last epoch (NaN for a regression, or none yet).
fn final_accuracy(o: &Outcome) -> f64 {
    o.run
        .epochs
        .last()
        .and_then(|e| e.valid_accuracy)
        .unwrap_or(f64::NAN)
}

/// The over-seeds table, when some point of the grid has more than one done run.
fn aggregates_text(aggregates: &[Aggregate]) -> String {
    if aggregates.iter().all(|a| a.runs < 2) {
        return String::new();
    }
    let pct = |v: f64| {
        if v.is_finite() {
            format!("{:.1}%", v * 100.0)
        } else {
            "-".to_owned()
        }
    };
    let mut out = format!(
        "\nover seeds (mean ± std):\n{:<34} {:>4} {:>18} {:>22}\n",
        "variant", "runs", "final accuracy", "first/last"
    );
    for a in aggregates {
        let acc = format!("{} ± {}", pct(a.accuracy.mean), pct(a.accuracy.std));
        let ratio = format!(
            "{} ± {}",
            crate::report::sci(a.ratio.mean),
            crate::report::sci(a.ratio.std)
        );
        out.push_str(&format!(
            "{:<34} {:>4} {acc:>18} {ratio:>22}\n",
            a.label, a.runs
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{group_label, Spread};

    #[test]
    fn the_spread_is_the_mean_and_sample_std_of_the_finite_values() {
        // mean (1 + 2 + 3) / 3 = 2; sample variance ((1 + 0 + 1) / 2) = 1.
        let s = Spread::of([1.0, 2.0, 3.0, f64::NAN]);
        assert_eq!((s.mean, s.std, s.n), (2.0, 1.0, 3));
        assert!(Spread::of([0.5]).std.is_nan());
    }

    #[test]
    fn seeds_of_one_point_of_the_grid_group_together() {
        let choices =
            |seed: &str| vec![("act".into(), "relu".into()), ("seed".into(), seed.into())];
        assert_eq!(group_label(&choices("1")), group_label(&choices("2")));
        assert_eq!(group_label(&choices("1")), "act=relu");
        assert_eq!(group_label(&[("seed".into(), "3".into())]), "base");
    }
}
