//! The plots of a recurrent run through time, from `probes_time.csv`: ‖∂L/∂h_t‖ against t at
//! the first, middle and last recorded steps (log scale), and a t × step heatmap — the classic
//! picture of a gradient dying (or blowing up) on its way back to t = 0.

use super::plot::{first_middle_last, Heatmap, LinePlot, HEATMAP_COLUMNS};
use super::run::Run;

/// ‖∂L/∂h_t‖ against t at the first, middle and last recorded steps, one line per (layer,
/// step); the layer's name is in the legend only when there are several recurrent layers.
pub fn grad_through_time(run: &Run) -> LinePlot {
    let chosen = first_middle_last(&run.time_steps());
    let layers = run.recurrent_layers();
    let mut series = Vec::new();
    for &layer in &layers {
        for &step in &chosen {
            let name = if layers.len() > 1 {
                format!("{} step {step}", run.layers[layer])
            } else {
                format!("step {step}")
            };
            let points = run
                .through_time(layer, step)
                .into_iter()
                .map(|(t, v)| (f64::from(t), v))
                .collect();
            series.push((name, points));
        }
    }
    let which = match layers.as_slice() {
        [one] => format!(" of `{}`", run.layers[*one]),
        _ => String::new(),
    };
    LinePlot {
        title: format!("‖∂L/∂h_t‖{which} through time"),
        x_label: "time step t (0 = first input)".into(),
        y_label: "‖∂L/∂h_t‖ (log)".into(),
        log_y: true,
        series,
    }
}

/// log10 ‖∂L/∂h_t‖ of the first recurrent layer: one row per time step (t = 0 at the bottom),
/// one column per recorded step (at most [`HEATMAP_COLUMNS`], subsampled evenly).
pub fn time_heatmap(run: &Run) -> Heatmap {
    let layer = run.recurrent_layers().first().copied().unwrap_or(0);
    let all = run.time_steps();
    let stride = all.len().div_ceil(HEATMAP_COLUMNS).max(1);
    let steps: Vec<u64> = all.iter().step_by(stride).copied().collect();
    let columns: Vec<Vec<(u32, f64)>> = steps.iter().map(|&s| run.through_time(layer, s)).collect();
    let length = columns
        .iter()
        .filter_map(|c| c.last().map(|p| p.0 as usize + 1))
        .max()
        .unwrap_or(0);
    let log = |v: f64| if v > 0.0 { v.log10() } else { f64::NAN };
    let values = (0..length)
        .map(|t| {
            columns
                .iter()
                .map(|c| {
                    c.iter()
                        .find(|p| p.0 as usize == t)
                        .map_or(f64::NAN, |p| log(p.1))
                })
                .collect()
        })
        .collect();
    Heatmap {
        title: String::new(),
        quantity: format!(
            "‖∂L/∂h_t‖ of `{}`",
            run.layers.get(layer).map_or("?", |n| n)
        ),
        y_desc: "time step t".into(),
        rows: (0..length).map(|t| t.to_string()).collect(),
        steps,
        values,
    }
    .titled()
}
