//! The plots of a run, drawn with plotters into memory: PNG bytes (encoded with `png`) and
//! SVG text. Text uses the DejaVu Sans font compiled into the binary, so plots look the same on
//! a machine without system fonts. Writing the files is the caller's job.

use super::run::Run;
use super::Diagnosis;
use crate::probe::ProbeStat;
use plotters::prelude::*;
use plotters::style::FontStyle;

/// Width and height of every plot, in pixels.
pub const SIZE: (u32, u32) = (720, 420);

static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
static REGISTER: std::sync::Once = std::sync::Once::new();

/// A line chart: named series of (x, y) points, optionally with a log-scale y axis (points
/// with y ≤ 0 or not finite are left out there).
#[derive(Debug, Clone)]
pub struct LinePlot {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub log_y: bool,
    pub series: Vec<(String, Vec<(f64, f64)>)>,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot draw the plot `{title}`: {message}")]
pub struct PlotError {
    pub title: String,
    pub message: String,
}

impl LinePlot {
    fn error(&self, e: impl std::fmt::Display) -> PlotError {
        PlotError {
            title: self.title.clone(),
            message: e.to_string(),
        }
    }

    fn points(&self, s: &[(f64, f64)]) -> Vec<(f64, f64)> {
        s.iter()
            .copied()
            .filter(|&(x, y)| x.is_finite() && y.is_finite() && (!self.log_y || y > 0.0))
            .collect()
    }

    /// The corner of the plot with the fewest points, where the legend hides the least.
    fn legend_corner(&self) -> SeriesLabelPosition {
        let (x, y) = self.bounds();
        let scale = |v: f64, r: &std::ops::Range<f64>, log: bool| {
            if log {
                (v.ln() - r.start.ln()) / (r.end.ln() - r.start.ln())
            } else {
                (v - r.start) / (r.end - r.start)
            }
        };
        let mut counts = [0usize; 4];
        for (px, py) in self.series.iter().flat_map(|(_, s)| self.points(s)) {
            let (u, v) = (scale(px, &x, false), scale(py, &y, self.log_y));
            let right = usize::from(u > 0.6);
            let upper = usize::from(v > 0.6);
            counts[right + 2 * upper] +=
                usize::from(!(0.4..=0.6).contains(&u) && !(0.4..=0.6).contains(&v));
        }
        let corners = [
            SeriesLabelPosition::LowerLeft,
            SeriesLabelPosition::LowerRight,
            SeriesLabelPosition::UpperLeft,
            SeriesLabelPosition::UpperRight,
        ];
        let best = [3, 1, 2, 0]
            .into_iter()
            .min_by_key(|&i| counts[i])
            .unwrap_or(3);
        corners[best].clone()
    }

    fn bounds(&self) -> (std::ops::Range<f64>, std::ops::Range<f64>) {
        let all: Vec<(f64, f64)> = self
            .series
            .iter()
            .flat_map(|(_, s)| self.points(s))
            .collect();
        let fold = |f: fn(&(f64, f64)) -> f64| {
            all.iter()
                .map(f)
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                    (lo.min(v), hi.max(v))
                })
        };
        let (x0, x1) = fold(|p| p.0);
        let (y0, y1) = fold(|p| p.1);
        if !x0.is_finite() {
            return (0.0..1.0, if self.log_y { 0.1..1.0 } else { 0.0..1.0 });
        }
        let x = if x1 > x0 { x0..x1 } else { x0 - 0.5..x0 + 0.5 };
        let y = if self.log_y {
            y0 / 2.0..y1 * 2.0
        } else {
            let pad = ((y1 - y0) * 0.05).max(1e-9);
            y0 - pad..y1 + pad
        };
        (x, y)
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, plotters::coord::Shift>,
    ) -> Result<(), PlotError> {
        root.fill(&WHITE).map_err(|e| self.error(e))?;
        let (x, y) = self.bounds();
        let mut builder = ChartBuilder::on(root);
        builder
            .caption(&self.title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70);
        if self.log_y {
            let mut chart = builder
                .build_cartesian_2d(x, y.log_scale())
                .map_err(|e| self.error(e))?;
            chart
                .configure_mesh()
                .x_desc(self.x_label.as_str())
                .y_desc(self.y_label.as_str())
                .x_label_formatter(&|v| format!("{v:.0}"))
                .y_label_formatter(&|v| format!("{v:.0e}"))
                .label_style(("sans-serif", 13))
                .draw()
                .map_err(|e| self.error(e))?;
            self.draw_series(&mut chart)
        } else {
            let mut chart = builder
                .build_cartesian_2d(x, y)
                .map_err(|e| self.error(e))?;
            chart
                .configure_mesh()
                .x_desc(self.x_label.as_str())
                .y_desc(self.y_label.as_str())
                .label_style(("sans-serif", 13))
                .draw()
                .map_err(|e| self.error(e))?;
            self.draw_series(&mut chart)
        }
    }

    fn draw_series<'a, DB: DrawingBackend + 'a, X, Y>(
        &self,
        chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    ) -> Result<(), PlotError>
    where
        X: Ranged<ValueType = f64>,
        Y: Ranged<ValueType = f64>,
    {
        for (i, (name, s)) in self.series.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let points = self.points(s);
            let style = ShapeStyle {
                color,
                filled: true,
                stroke_width: 2,
            };
            let markers = points.len() <= 40;
            chart
                .draw_series(LineSeries::new(points.clone(), style))
                .map_err(|e| self.error(e))?
                .label(name.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], style));
            if markers {
                chart
                    .draw_series(points.iter().map(|&p| Circle::new(p, 3, style)))
                    .map_err(|e| self.error(e))?;
            }
        }
        if self.series.len() > 1 {
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .label_font(("sans-serif", 12))
                .position(self.legend_corner())
                .draw()
                .map_err(|e| self.error(e))?;
        }
        Ok(())
    }
}

/// Any plot netc draws.
#[derive(Debug, Clone)]
pub enum Plot {
    Line(LinePlot),
    Heat(Heatmap),
}

impl Plot {
    /// The plot as PNG bytes.
    pub fn png(&self) -> Result<Vec<u8>, PlotError> {
        let (w, h) = SIZE;
        let mut rgb = vec![255u8; (w * h * 3) as usize];
        {
            let root = BitMapBackend::with_buffer(&mut rgb, SIZE).into_drawing_area();
            self.draw(&root)?;
            root.present().map_err(|e| self.error(e))?;
        }
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, w, h);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(|e| self.error(e))?;
        writer.write_image_data(&rgb).map_err(|e| self.error(e))?;
        writer.finish().map_err(|e| self.error(e))?;
        Ok(out)
    }

    /// The plot as SVG text.
    pub fn svg(&self) -> Result<String, PlotError> {
        let mut text = String::new();
        {
            let root = SVGBackend::with_string(&mut text, SIZE).into_drawing_area();
            self.draw(&root)?;
            root.present().map_err(|e| self.error(e))?;
        }
        Ok(text)
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, plotters::coord::Shift>,
    ) -> Result<(), PlotError> {
        REGISTER.call_once(|| {
            // The font is compiled in; a failure would be a broken build, and plots then
            // simply have no text.
            let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
        });
        match self {
            Plot::Line(p) => p.draw(root),
            Plot::Heat(h) => h.draw(root),
        }
    }

    fn error(&self, e: impl std::fmt::Display) -> PlotError {
        let title = match self {
            Plot::Line(p) => p.title.clone(),
            Plot::Heat(h) => h.title.clone(),
        };
        PlotError {
            title,
            message: e.to_string(),
        }
    }
}

/// ‖∂L/∂a‖ of every layer over the recorded steps (log scale).
pub fn grad_over_steps(run: &Run) -> LinePlot {
    let series = run
        .layers
        .iter()
        .enumerate()
        .map(|(i, name)| {
            (
                name.clone(),
                run.series(i, ProbeStat::GradActSq)
                    .into_iter()
                    .map(|(s, v)| (s as f64, v))
                    .collect(),
            )
        })
        .collect();
    LinePlot {
        title: "‖∂L/∂a‖ per layer over training".into(),
        x_label: "step".into(),
        y_label: "‖∂L/∂a‖ (log)".into(),
        log_y: true,
        series,
    }
}

/// The first, middle and last of `steps` (sorted), without repeats: the steps a profile is
/// drawn at.
pub(super) fn first_middle_last(steps: &[u64]) -> Vec<u64> {
    let mut chosen: Vec<u64> = [steps.first(), steps.get(steps.len() / 2), steps.last()]
        .into_iter()
        .flatten()
        .copied()
        .collect();
    chosen.dedup();
    chosen
}

/// ‖∂L/∂a‖ against depth (layer index) at the first, middle and last recorded steps.
pub fn depth_profile(run: &Run) -> LinePlot {
    let chosen = first_middle_last(&run.probe_steps());
    let series = chosen
        .iter()
        .map(|&s| {
            (
                format!("step {s}"),
                (0..run.layers.len())
                    .map(|i| {
                        (
                            i as f64 + 1.0,
                            run.probe(s, i, ProbeStat::GradActSq).unwrap_or(f64::NAN),
                        )
                    })
                    .collect(),
            )
        })
        .collect();
    LinePlot {
        title: "depth profile: ‖∂L/∂a‖ by layer (input → output)".into(),
        x_label: "layer (1 = first)".into(),
        y_label: "‖∂L/∂a‖ (log)".into(),
        log_y: true,
        series,
    }
}

/// Training loss per step and validation loss per epoch.
pub fn loss_curves(run: &Run) -> LinePlot {
    let train: Vec<(f64, f64)> = run.steps.iter().map(|s| (s.step as f64, s.loss)).collect();
    let valid: Vec<(f64, f64)> = run
        .epochs
        .iter()
        .map(|e| (e.step as f64, e.valid_loss))
        .collect();
    let finite: Vec<f64> = train
        .iter()
        .map(|p| p.1)
        .filter(|v| v.is_finite() && *v > 0.0)
        .collect();
    let (lo, hi) = finite.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), &v| {
        (lo.min(v), hi.max(v))
    });
    LinePlot {
        title: "loss".into(),
        x_label: "step".into(),
        y_label: "loss".into(),
        log_y: hi > 100.0 * lo,
        series: vec![("train".into(), train), ("validation".into(), valid)],
    }
}

/// Predicted (mean-field) and measured (first recorded step) depth profiles, each relative
/// to the last layer.
pub fn predicted_vs_measured(d: &Diagnosis) -> LinePlot {
    let predicted = d
        .prediction
        .layers
        .iter()
        .enumerate()
        .map(|(i, l)| (i as f64 + 1.0, l.grad_a))
        .collect();
    let measured = d
        .measured_profile
        .iter()
        .enumerate()
        .map(|(i, &m)| (i as f64 + 1.0, m))
        .collect();
    LinePlot {
        title: "predicted vs measured ‖∂L/∂a‖ at initialization".into(),
        x_label: "layer (1 = first)".into(),
        y_label: "relative to last layer (log)".into(),
        log_y: true,
        series: vec![
            ("predicted".into(), predicted),
            ("measured (first step)".into(), measured),
        ],
    }
}

/// Every plot of a run with its file stem (the through-time plots for recurrent runs).
pub fn all(run: &Run, d: &Diagnosis) -> Vec<(&'static str, Plot)> {
    let mut plots = vec![
        ("grad_norms", Plot::Line(grad_over_steps(run))),
        ("grad_heatmap", Plot::Heat(grad_heatmap(run))),
        ("depth_profile", Plot::Line(depth_profile(run))),
        ("loss", Plot::Line(loss_curves(run))),
        (
            "predicted_vs_measured",
            Plot::Line(predicted_vs_measured(d)),
        ),
    ];
    if !run.time.is_empty() {
        plots.push((
            "grad_through_time",
            Plot::Line(super::through_time::grad_through_time(run)),
        ));
        plots.push((
            "time_heatmap",
            Plot::Heat(super::through_time::time_heatmap(run)),
        ));
    }
    plots
}

/// A (layer or time step) × step grid of log10 values, first row at the bottom.
#[derive(Debug, Clone)]
pub struct Heatmap {
    pub title: String,
    /// What the cells show, for the title (`‖∂L/∂a‖`).
    pub quantity: String,
    /// The y axis' description (`layer`, `time step t`).
    pub y_desc: String,
    pub rows: Vec<String>,
    pub steps: Vec<u64>,
    /// `values[row][column]`, log10 of the value (NaN where missing or zero).
    pub values: Vec<Vec<f64>>,
}

/// At most this many step columns; longer runs are subsampled evenly.
pub const HEATMAP_COLUMNS: usize = 200;

/// log10 ‖∂L/∂a‖ of every layer (rows) over the recorded steps (columns).
pub fn grad_heatmap(run: &Run) -> Heatmap {
    let all = run.probe_steps();
    let stride = all.len().div_ceil(HEATMAP_COLUMNS).max(1);
    let steps: Vec<u64> = all.iter().step_by(stride).copied().collect();
    let values = (0..run.layers.len())
        .map(|i| {
            steps
                .iter()
                .map(|&s| {
                    run.probe(s, i, ProbeStat::GradActSq).map_or(f64::NAN, |v| {
                        if v > 0.0 {
                            v.log10()
                        } else {
                            f64::NAN
                        }
                    })
                })
                .collect()
        })
        .collect();
    Heatmap {
        title: String::new(),
        quantity: "‖∂L/∂a‖".into(),
        y_desc: "layer".into(),
        rows: run.layers.clone(),
        steps,
        values,
    }
    .titled()
}

impl Heatmap {
    /// The title states the colour scale, so the plot needs no colour bar.
    pub fn titled(mut self) -> Heatmap {
        let (lo, hi) = self.range();
        self.title = format!("log10 {}: dark {lo:.1} … bright {hi:.1}", self.quantity);
        if self.values.iter().flatten().any(|v| !v.is_finite()) {
            self.title.push_str(" (grey: 0 or ∞)");
        }
        self
    }

    fn range(&self) -> (f64, f64) {
        let finite = self
            .values
            .iter()
            .flatten()
            .copied()
            .filter(|v| v.is_finite());
        let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        if lo.is_finite() {
            (lo, hi.max(lo + 1e-9))
        } else {
            (0.0, 1.0)
        }
    }

    fn error(&self, e: impl std::fmt::Display) -> PlotError {
        PlotError {
            title: self.title.clone(),
            message: e.to_string(),
        }
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, plotters::coord::Shift>,
    ) -> Result<(), PlotError> {
        root.fill(&WHITE).map_err(|e| self.error(e))?;
        let (cols, rows) = (self.steps.len().max(1), self.rows.len().max(1));
        let steps = self.steps.clone();
        let names = self.rows.clone();
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(90)
            .build_cartesian_2d(-0.5..cols as f64 - 0.5, -0.5..rows as f64 - 0.5)
            .map_err(|e| self.error(e))?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("step")
            .y_desc(self.y_desc.as_str())
            .x_labels(cols.min(10))
            .x_label_formatter(&|v| {
                if (v - v.round()).abs() < 0.01 {
                    steps
                        .get(v.round().max(0.0) as usize)
                        .map_or(String::new(), |s| s.to_string())
                } else {
                    String::new()
                }
            })
            .y_labels(rows.min(20))
            .y_label_formatter(&|v| {
                if (v - v.round()).abs() < 0.01 {
                    names
                        .get(v.round().max(0.0) as usize)
                        .cloned()
                        .unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .label_style(("sans-serif", 12))
            .draw()
            .map_err(|e| self.error(e))?;
        let (lo, hi) = self.range();
        let cells = self.values.iter().enumerate().flat_map(|(r, row)| {
            row.iter().enumerate().map(move |(c, &v)| {
                let color = if v.is_finite() {
                    colormap((v - lo) / (hi - lo))
                } else {
                    RGBColor(200, 200, 200)
                };
                Rectangle::new(
                    [
                        (c as f64 - 0.5, r as f64 - 0.5),
                        (c as f64 + 0.5, r as f64 + 0.5),
                    ],
                    color.filled(),
                )
            })
        });
        chart.draw_series(cells).map_err(|e| self.error(e))?;
        Ok(())
    }
}

/// A viridis-like map from [0, 1] to colour: dark blue, teal, green, yellow.
fn colormap(t: f64) -> RGBColor {
    const STOPS: [(f64, [f64; 3]); 5] = [
        (0.0, [68.0, 1.0, 84.0]),
        (0.25, [59.0, 82.0, 139.0]),
        (0.5, [33.0, 145.0, 140.0]),
        (0.75, [94.0, 201.0, 98.0]),
        (1.0, [253.0, 231.0, 37.0]),
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let i = STOPS
        .iter()
        .position(|s| s.0 >= t)
        .unwrap_or(STOPS.len() - 1)
        .max(1);
    let ((t0, a), (t1, b)) = (STOPS[i - 1], STOPS[i]);
    let f = (t - t0) / (t1 - t0);
    let mix = |k: usize| (a[k] + (b[k] - a[k]) * f).round() as u8;
    RGBColor(mix(0), mix(1), mix(2))
}
