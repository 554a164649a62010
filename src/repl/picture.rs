//! `:plot`: the session's runs as pictures (PNG, or SVG when the file name ends in `.svg`).
//! Which lines to draw is chosen here; drawing them is the report's plotting code.

use super::engine::Run;
use super::view::profile;
use crate::probe::ProbeStat;
use crate::report::plot::{LinePlot, Plot};

/// What `:plot` draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Picture {
    /// ‖∂L/∂a‖ of every layer over the last run's steps.
    Grads,
    /// ‖∂L/∂a‖ by depth for the last two runs: `:diff` as a picture.
    Profile,
    /// The training loss over the steps of the last two runs.
    Loss,
}

impl Picture {
    pub fn parse(word: &str) -> Option<Picture> {
        match word {
            "grads" => Some(Picture::Grads),
            "profile" => Some(Picture::Profile),
            "loss" => Some(Picture::Loss),
            _ => None,
        }
    }
}

/// The lines of `picture` from the session's runs (the last one or two); `None` without runs.
pub fn lines(runs: &[Run], picture: Picture) -> Option<LinePlot> {
    let last = runs.last()?;
    let recent = &runs[runs.len().saturating_sub(2)..];
    let label = |r: &Run| format!("#{} {}", r.number, r.label);
    Some(match picture {
        Picture::Grads => LinePlot {
            title: format!("run #{}: ‖∂L/∂a‖ per layer", last.number),
            x_label: "step".into(),
            y_label: "‖∂L/∂a‖ (log)".into(),
            log_y: true,
            series: (0..last.layers.len())
                .map(|i| {
                    let points = last
                        .records
                        .iter()
                        .filter_map(|r| {
                            Some((
                                r.step as f64,
                                r.probe(i, ProbeStat::GradActSq)?.max(0.0).sqrt(),
                            ))
                        })
                        .collect();
                    (last.layers[i].clone(), points)
                })
                .collect(),
        },
        Picture::Profile => LinePlot {
            title: "‖∂L/∂a‖ by layer (input → output), mean of the last steps".into(),
            x_label: "layer (1 = first)".into(),
            y_label: "‖∂L/∂a‖ (log)".into(),
            log_y: true,
            series: recent
                .iter()
                .map(|r| {
                    let points = profile(r)
                        .iter()
                        .enumerate()
                        .filter_map(|(i, p)| Some((i as f64 + 1.0, p.grad_act?)))
                        .collect();
                    (label(r), points)
                })
                .collect(),
        },
        Picture::Loss => LinePlot {
            title: "training loss".into(),
            x_label: "step".into(),
            y_label: "loss".into(),
            log_y: false,
            series: recent
                .iter()
                .map(|r| {
                    (
                        label(r),
                        r.records.iter().map(|s| (s.step as f64, s.loss)).collect(),
                    )
                })
                .collect(),
        },
    })
}

/// The file's bytes: SVG text for a `.svg` name, PNG otherwise.
pub fn render(plot: LinePlot, svg: bool) -> Result<Vec<u8>, String> {
    let plot = Plot::Line(plot);
    if svg {
        plot.svg()
            .map(String::into_bytes)
            .map_err(|e| e.to_string())
    } else {
        plot.png().map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::record::StepRecord;

    fn run(number: usize, grad: f64) -> Run {
        Run {
            number,
            label: format!("r{number}"),
            layers: vec!["a".to_owned(), "b".to_owned()],
            records: (1..=4)
                .map(|t| StepRecord {
                    step: t,
                    epoch: 0,
                    loss: 1.0 / t as f64,
                    grad_norm: 1.0,
                    grad_norm_clipped: 1.0,
                    lr: 0.1,
                    probes: vec![
                        (0, ProbeStat::GradActSq, grad * grad),
                        (1, ProbeStat::GradActSq, 1.0),
                    ],
                })
                .collect(),
            eval: None,
            stopped: None,
        }
    }

    #[test]
    fn pictures_take_the_last_runs() {
        assert!(lines(&[], Picture::Grads).is_none());
        let runs = [run(1, 1e-6), run(2, 1e-3), run(3, 1e-1)];
        let grads = lines(&runs, Picture::Grads).expect("a plot");
        assert_eq!(grads.series.len(), 2, "one line per layer");
        assert_eq!(grads.series[0].1[0], (1.0, 1e-1));
        let profile = lines(&runs, Picture::Profile).expect("a plot");
        let names: Vec<&str> = profile.series.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["#2 r2", "#3 r3"]);
        assert_eq!(profile.series[1].1, [(1.0, 1e-1), (2.0, 1.0)]);
        let loss = lines(&runs, Picture::Loss).expect("a plot");
        assert_eq!(loss.series[0].1.len(), 4);
    }

    #[test]
    fn files_are_png_or_svg() {
        let plot = lines(&[run(1, 1e-3)], Picture::Profile).expect("a plot");
        let png = render(plot.clone(), false).expect("a PNG");
        assert_eq!(&png[..4], b"\x89PNG");
        let svg = render(plot, true).expect("an SVG");
        assert!(String::from_utf8_lossy(&svg).contains("<svg"));
    }
}
