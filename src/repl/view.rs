//! What the REPL shows, as text: the model table, the per-layer gradient table with its
//! log-scale bars, sparklines, the side-by-side diff of two runs, and the help. Pure functions
//! from session data to strings.

use super::address::{line_of, repeats};
use super::engine::Run;
use super::workspace::{Snapshot, Undone};
use crate::lower::{self, LowerOptions};
use crate::model::NestedLayer;
use crate::probe::ProbeStat;
use std::fmt::Write;

/// How many of a run's last steps the gradient profile averages (one step is noisy).
pub const PROFILE_STEPS: usize = 20;

/// One layer's gradient picture, averaged over a run's last steps.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerProfile {
    pub name: String,
    /// ‖∂L/∂a‖: the back-propagated signal at the layer's output.
    pub grad_act: Option<f64>,
    /// ‖∂L/∂W‖
    pub grad_weight: Option<f64>,
    /// Fraction of saturated (or dead) units.
    pub saturation: Option<f64>,
}

/// The per-layer profile of a run: norms (not squares), averaged over the last steps.
pub fn profile(run: &Run) -> Vec<LayerProfile> {
    let last = &run.records[run.records.len().saturating_sub(PROFILE_STEPS)..];
    let mean = |layer: usize, stat: ProbeStat, root: bool| {
        let values: Vec<f64> = last
            .iter()
            .filter_map(|r| r.probe(layer, stat))
            .filter(|v| v.is_finite())
            .map(|v| if root { v.max(0.0).sqrt() } else { v })
            .collect();
        (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
    };
    run.layers
        .iter()
        .enumerate()
        .map(|(i, name)| LayerProfile {
            name: name.clone(),
            grad_act: mean(i, ProbeStat::GradActSq, true),
            grad_weight: mean(i, ProbeStat::GradWeightSq, true),
            saturation: mean(i, ProbeStat::Saturation, false),
        })
        .collect()
}

/// The training loss at the end of a run (mean of its last steps).
pub fn final_loss(run: &Run) -> Option<f64> {
    let last = &run.records[run.records.len().saturating_sub(PROFILE_STEPS)..];
    let finite: Vec<f64> = last
        .iter()
        .map(|r| r.loss)
        .filter(|l| l.is_finite())
        .collect();
    (!finite.is_empty()).then(|| finite.iter().sum::<f64>() / finite.len() as f64)
}

/// `:show`: every layer with its statement, shapes and trainable parameter count.
pub fn show_model(snap: &Snapshot) -> String {
    let model = &snap.model;
    let forward = lower::lower(model, &LowerOptions::eval(1));
    let count = |layer: &str| -> usize {
        forward
            .params
            .iter()
            .filter(|p| p.layer == layer && p.kind.trainable())
            .map(|p| p.shape.iter().product::<usize>())
            .sum()
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "model {}: input {} {}",
        model.name,
        model.input.name,
        shape(&model.input.kind.shape())
    );
    let _ = writeln!(
        out,
        "  {:<14} {:>4}  {:<44} {:>14}  {:>8}",
        "layer", "line", "statement", "shape", "params"
    );
    let mut total = 0;
    for NestedLayer { layer, depth } in model.layers_in_probe_order() {
        let n = count(&layer.name);
        total += n;
        let indent = "  ".repeat(depth);
        let text = statement_text(&snap.src, layer.span);
        let shapes = format!("{} → {}", shape(&layer.in_shape), shape(&layer.out_shape));
        let name = format!("{indent}{}", layer.name);
        let line = line_of(&snap.src, layer.span.start);
        let _ = writeln!(
            out,
            "  {name:<14} {line:>4}  {text:<44} {shapes:>14}  {n:>8}"
        );
    }
    repeat_lines(&mut out, snap);
    let t = &model.train;
    let length = t
        .steps
        .map_or(format!("{} epochs", t.epochs), |s| format!("{s} steps"));
    let _ = writeln!(
        out,
        "{total} trainable parameters; output {}",
        shape(&model.output_shape)
    );
    let _ = writeln!(
        out,
        "train: {} with {}, batch {}, {length}, seed {}",
        setting_text(&snap.src, "loss").unwrap_or_else(|| t.loss.name().to_owned()),
        setting_text(&snap.src, "optimizer")
            .unwrap_or_else(|| format!("{} (the default)", t.optimizer.name())),
        t.batch,
        t.seed
    );
    out
}

/// One line per `repeat` of the model: the name edits call it by, its line, and the layers
/// it makes.
fn repeat_lines(out: &mut String, snap: &Snapshot) {
    let (file, _) = crate::syntax::parse_file(&snap.src);
    for repeat in repeats(&snap.src, &file) {
        let made: Vec<String> = snap
            .model
            .flat_layers()
            .into_iter()
            .filter(|l| repeat.span.start <= l.span.start && l.span.end <= repeat.span.end)
            .map(|l| l.name.clone())
            .collect();
        let text = statement_text(&snap.src, repeat.span);
        let makes = match (made.first(), made.last()) {
            (Some(a), Some(b)) if made.len() > 1 => format!("makes {a} … {b}"),
            (Some(a), _) => format!("makes {a}"),
            (None, _) => String::new(),
        };
        let _ = writeln!(
            out,
            "  {:<14} {:>4}  {text} {makes}",
            repeat.name, repeat.line
        );
    }
}

/// The first line of the statement at `span`, shortened to fit a column.
fn statement_text(src: &str, span: crate::span::Span) -> String {
    let text = src.get(span.start..span.end).unwrap_or_default();
    let first = text.lines().next().unwrap_or_default().trim();
    let first = first.split(" //").next().unwrap_or(first).trim_end();
    if first.chars().count() > 44 {
        let cut: String = first.chars().take(43).collect();
        format!("{cut}…")
    } else {
        first.to_owned()
    }
}

/// The value of train setting `key` as written in the source.
fn setting_text(src: &str, key: &str) -> Option<String> {
    let (file, _) = crate::syntax::parse_file(src);
    file.items.iter().find_map(|item| match item {
        crate::syntax::ast::Item::Train(t) => t.settings.iter().find_map(|line| match line {
            crate::syntax::ast::SettingLine::Setting(s) if s.key.text == key => src
                .get(s.value.span.start..s.value.span.end)
                .map(str::to_owned),
            _ => None,
        }),
        _ => None,
    })
}

fn shape(dims: &[usize]) -> String {
    let inner: Vec<String> = dims.iter().map(usize::to_string).collect();
    format!("[{}]", inner.join(", "))
}

/// A loss for a sentence: `0.5322`, or `3.92e22` when it is huge or tiny.
pub fn number(v: f64) -> String {
    if v != 0.0 && v.is_finite() && !(1e-3..1e4).contains(&v.abs()) {
        format!("{v:.3e}")
    } else {
        format!("{v:.4}")
    }
}

/// A norm for a table: `3.2e-4`, or `-` when not probed.
fn norm(v: Option<f64>) -> String {
    v.map_or("-".to_owned(), |v| format!("{v:.2e}"))
}

fn percent(v: Option<f64>) -> String {
    v.map_or("-".to_owned(), |v| format!("{:.0}%", v * 100.0))
}

/// The decades a set of norms spans, for log-scale bars: (low exponent, high exponent).
pub fn decades(values: impl Iterator<Item = f64>) -> Option<(i32, i32)> {
    let logs: Vec<f64> = values
        .filter(|v| *v > 0.0 && v.is_finite())
        .map(f64::log10)
        .collect();
    let lo = logs.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = logs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if logs.is_empty() {
        return None;
    }
    let (lo, hi) = (lo.floor() as i32, hi.ceil() as i32);
    Some((lo, hi.max(lo + 1)))
}

/// A bar `width` cells long at full scale, for `value` on a log scale over `range` decades.
pub fn log_bar(value: Option<f64>, range: (i32, i32), width: usize) -> String {
    const EIGHTHS: [char; 8] = ['▏', '▎', '▍', '▌', '▋', '▊', '▉', '█'];
    let Some(v) = value.filter(|v| *v > 0.0 && v.is_finite()) else {
        return String::new();
    };
    let (lo, hi) = (f64::from(range.0), f64::from(range.1));
    let fraction = ((v.log10() - lo) / (hi - lo)).clamp(0.0, 1.0);
    let eighths = (fraction * (width * 8) as f64).round() as usize;
    let mut bar = "█".repeat(eighths / 8);
    if eighths % 8 > 0 {
        bar.push(EIGHTHS[eighths % 8 - 1]);
    }
    if bar.is_empty() {
        bar.push('▏');
    }
    bar
}

/// The decades of ‖∂L/∂a‖ over every run of the session: the one scale of `:grads` bars, so
/// the bars of two runs compare by eye.
pub fn session_scale(runs: &[Run]) -> Option<(i32, i32)> {
    let profiles: Vec<LayerProfile> = runs.iter().flat_map(profile).collect();
    decades(profiles.iter().filter_map(|p| p.grad_act))
}

/// `:grads`: the gradient table of a run, with a bar of ‖∂L/∂a‖ per layer on the log scale
/// `range` (the session's, see [`session_scale`]).
pub fn grads_table(run: &Run, range: Option<(i32, i32)>) -> String {
    let rows = profile(run);
    let mut out = String::new();
    let steps = run.records.len().min(PROFILE_STEPS);
    let _ = writeln!(
        out,
        "run #{} ({}), mean of the last {steps} steps:",
        run.number, run.label
    );
    let scale = range.map_or(String::new(), |(lo, hi)| {
        format!("‖∂L/∂a‖ log scale 1e{lo} … 1e{hi}")
    });
    let _ = writeln!(
        out,
        "  {:<14} {:>10} {:>10} {:>9}  {scale}",
        "layer", "‖∂L/∂a‖", "‖∂L/∂W‖", "saturated"
    );
    for r in &rows {
        let bar = range.map_or(String::new(), |range| log_bar(r.grad_act, range, 30));
        let _ = writeln!(
            out,
            "  {:<14} {:>10} {:>10} {:>9}  {bar}",
            r.name,
            norm(r.grad_act),
            norm(r.grad_weight),
            percent(r.saturation)
        );
    }
    out
}

/// A sparkline of `values` in at most `width` cells (bucket means), linear or log scale.
pub fn sparkline(values: &[f64], width: usize, log: bool) -> String {
    const TICKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let scaled: Vec<f64> = values
        .iter()
        .filter(|v| v.is_finite() && (!log || **v > 0.0))
        .map(|&v| if log { v.log10() } else { v })
        .collect();
    if scaled.is_empty() || width == 0 {
        return String::new();
    }
    let buckets = scaled.len().min(width);
    let means: Vec<f64> = (0..buckets)
        .map(|b| {
            let (from, to) = (
                b * scaled.len() / buckets,
                ((b + 1) * scaled.len() / buckets).max(b * scaled.len() / buckets + 1),
            );
            scaled[from..to].iter().sum::<f64>() / (to - from) as f64
        })
        .collect();
    let lo = means.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = means.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    means
        .iter()
        .map(|m| {
            let level = if hi > lo {
                ((m - lo) / (hi - lo) * 7.0).round() as usize
            } else {
                3
            };
            TICKS[level.min(7)]
        })
        .collect()
}

/// `:spark`: the loss and one layer's ‖∂L/∂a‖ over a run, as sparklines with their ends.
pub fn spark(run: &Run, layer: usize) -> String {
    let mut out = String::new();
    let losses: Vec<f64> = run.records.iter().map(|r| r.loss).collect();
    let ends = |v: &[f64]| {
        let first = v.iter().copied().find(|x| x.is_finite());
        let last = v.iter().rev().copied().find(|x| x.is_finite());
        (norm(first), norm(last))
    };
    let (a, b) = ends(&losses);
    let _ = writeln!(
        out,
        "run #{} ({}), {} steps",
        run.number,
        run.label,
        run.records.len()
    );
    let _ = writeln!(
        out,
        "  {:<22} {a:>9} {} {b}",
        "loss",
        sparkline(&losses, 60, false)
    );
    let name = run.layers.get(layer).cloned().unwrap_or_default();
    let grads: Vec<f64> = run
        .records
        .iter()
        .filter_map(|r| r.probe(layer, ProbeStat::GradActSq))
        .map(|v| v.max(0.0).sqrt())
        .collect();
    let (a, b) = ends(&grads);
    let label = format!("{name} ‖∂L/∂a‖ (log)");
    let _ = writeln!(
        out,
        "  {label:<22} {a:>9} {} {b}",
        sparkline(&grads, 60, true)
    );
    out
}

/// `:diff`: two runs side by side: each layer's ‖∂L/∂a‖ and ‖∂L/∂W‖ with the ratio, then the
/// final loss and validation metrics.
pub fn diff(a: &Run, b: &Run) -> String {
    let (pa, pb) = (profile(a), profile(b));
    let mut names: Vec<&str> = pb.iter().map(|p| p.name.as_str()).collect();
    for p in &pa {
        if !names.contains(&p.name.as_str()) {
            names.push(&p.name);
        }
    }
    let mut out = String::new();
    let _ = writeln!(out, "run #{}: {}", a.number, a.label);
    let _ = writeln!(out, "run #{}: {}", b.number, b.label);
    let (ha, hb) = (format!("#{}", a.number), format!("#{}", b.number));
    let _ = writeln!(
        out,
        "  {:<14} {:>10} {:>10} {:>7}   {:>10} {:>10} {:>7}",
        "layer",
        format!("‖∂L/∂a‖ {ha}"),
        hb,
        "change",
        format!("‖∂L/∂W‖ {ha}"),
        hb,
        "change"
    );
    diff_rows(&mut out, &pa, &pb, &names);
    let kept = |p: &[LayerProfile]| {
        let first = p.iter().find_map(|l| l.grad_act)?;
        let last = p.iter().rev().find_map(|l| l.grad_act)?;
        (last > 0.0).then(|| {
            let kept = first / last;
            if kept < 0.01 {
                format!("{kept:.1e}")
            } else {
                format!("{kept:.2}")
            }
        })
    };
    let _ = writeln!(
        out,
        "  ‖∂L/∂a‖ at the first layer ÷ at the last (how much signal gets back): #{} {}, #{} {}",
        a.number,
        kept(&pa).unwrap_or_else(|| "-".to_owned()),
        b.number,
        kept(&pb).unwrap_or_else(|| "-".to_owned())
    );
    let metric = |r: &Run| {
        let acc = r
            .eval
            .as_ref()
            .and_then(|e| e.valid_accuracy)
            .map_or(String::new(), |v| format!(", valid acc {:.1}%", v * 100.0));
        let valid = r.eval.as_ref().map_or(String::new(), |e| {
            format!(", valid loss {}", number(e.valid_loss))
        });
        let loss = final_loss(r).map_or("-".to_owned(), number);
        format!("train loss {loss}{valid}{acc}")
    };
    let _ = writeln!(out, "  #{:<3} {}", a.number, metric(a));
    let _ = writeln!(out, "  #{:<3} {}", b.number, metric(b));
    out
}

/// One row per layer of `:diff`: both runs' norms and the changes.
fn diff_rows(out: &mut String, pa: &[LayerProfile], pb: &[LayerProfile], names: &[&str]) {
    let find = |prof: &[LayerProfile], name: &str| prof.iter().find(|p| p.name == name).cloned();
    for &name in names {
        let (x, y) = (find(pa, name), find(pb, name));
        let ga = x.as_ref().and_then(|p| p.grad_act);
        let gb = y.as_ref().and_then(|p| p.grad_act);
        let wa = x.as_ref().and_then(|p| p.grad_weight);
        let wb = y.as_ref().and_then(|p| p.grad_weight);
        let _ = writeln!(
            out,
            "  {name:<14} {:>10} {:>10} {:>7}   {:>10} {:>10} {:>7}",
            norm(ga),
            norm(gb),
            change(ga, gb),
            norm(wa),
            norm(wb),
            change(wa, wb),
        );
    }
}

/// How `before` became `after`, as a ratio.
fn change(before: Option<f64>, after: Option<f64>) -> String {
    match (before, after) {
        (Some(u), Some(v)) if u > 0.0 && v > 0.0 => ratio(v / u),
        _ => "-".to_owned(),
    }
}

/// A ratio as `×12` or `÷3.4`.
fn ratio(r: f64) -> String {
    if r >= 1.0 {
        format!("×{}", short(r))
    } else {
        format!("÷{}", short(1.0 / r))
    }
}

fn short(v: f64) -> String {
    if v >= 1000.0 {
        format!("{v:.1e}")
    } else if v >= 10.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// What `:undo` says: the change it took back, the lines of the model it changed (`-` the
/// lines the change had brought, `+` those it brings back), and how many changes are left.
pub fn undone(undone: &Undone, left: usize) -> String {
    const SHOWN: usize = 6;
    // Lines compare without their spacing: the formatter re-aligns a section's `=` signs.
    let words = |text: &str| -> Vec<String> {
        let lines = text
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "));
        lines.filter(|l| !l.is_empty()).collect()
    };
    let (before, after) = (words(&undone.before), words(&undone.after));
    let same_start = before
        .iter()
        .zip(&after)
        .take_while(|(a, b)| a == b)
        .count();
    let same_end = before[same_start..]
        .iter()
        .rev()
        .zip(after[same_start..].iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let mut out = format!("undid: {}\n", undone.what);
    let mut lines = |sign: char, text: &[String]| {
        for line in text.iter().take(SHOWN) {
            let _ = writeln!(out, "  {sign} {line}");
        }
        if text.len() > SHOWN {
            let _ = writeln!(out, "  {sign} … {} more lines", text.len() - SHOWN);
        }
    };
    lines('-', &before[same_start..before.len() - same_end]);
    lines('+', &after[same_start..after.len() - same_end]);
    let plural = if left == 1 { "" } else { "s" };
    let _ = writeln!(out, "({left} more change{plural} can be undone)");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::record::StepRecord;

    fn run(number: usize, grads: [f64; 2]) -> Run {
        let records = (1..=3)
            .map(|t| StepRecord {
                step: t,
                epoch: 0,
                loss: 1.0 / t as f64,
                grad_norm: 1.0,
                grad_norm_clipped: 1.0,
                lr: 0.1,
                probes: vec![
                    (0, ProbeStat::GradActSq, grads[0] * grads[0]),
                    (1, ProbeStat::GradActSq, grads[1] * grads[1]),
                    (0, ProbeStat::Saturation, 0.5),
                ],
            })
            .collect();
        Run {
            number,
            label: format!("run {number}"),
            layers: vec!["dense1".to_owned(), "dense2".to_owned()],
            records,
            eval: None,
            stopped: None,
        }
    }

    #[test]
    fn profile_takes_roots_and_means() {
        let p = profile(&run(1, [1e-4, 1e-1]));
        assert!((p[0].grad_act.unwrap_or(0.0) - 1e-4).abs() < 1e-12);
        assert_eq!(p[0].saturation, Some(0.5));
        assert_eq!(p[1].grad_weight, None);
        assert!(
            (final_loss(&run(1, [1.0, 1.0])).unwrap_or(0.0) - (1.0 + 0.5 + 1.0 / 3.0) / 3.0).abs()
                < 1e-12
        );
    }

    #[test]
    fn log_bars_scale_by_decades() {
        assert_eq!(decades([1e-4, 0.05].into_iter()), Some((-4, -1)));
        assert_eq!(decades([0.0].into_iter()), None);
        assert_eq!(log_bar(Some(1e-1), (-4, -1), 6), "██████");
        assert_eq!(log_bar(Some(1e-4), (-4, -1), 6), "▏");
        assert_eq!(log_bar(Some(1e-2), (-4, -1), 6), "████");
        assert_eq!(log_bar(None, (-4, -1), 6), "");
    }

    #[test]
    fn sparklines() {
        assert_eq!(
            sparkline(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0], 8, false),
            "▁▂▃▄▅▆▇█"
        );
        assert_eq!(sparkline(&[4.0, 3.0, 2.0, 1.0], 2, false), "█▁");
        assert_eq!(sparkline(&[1.0, 10.0, 100.0], 3, true), "▁▅█");
        assert_eq!(sparkline(&[], 10, false), "");
    }

    #[test]
    fn diff_shows_ratios() {
        let text = diff(&run(1, [1e-4, 1e-2]), &run(2, [1e-2, 1e-2]));
        let dense1 = text
            .lines()
            .find(|l| l.trim_start().starts_with("dense1"))
            .unwrap_or_default();
        assert!(dense1.contains("×100"), "{text}");
        let dense2 = text
            .lines()
            .find(|l| l.trim_start().starts_with("dense2"))
            .unwrap_or_default();
        assert!(dense2.contains("×1.00"), "{text}");
    }
}
