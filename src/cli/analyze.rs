//! `netc analyze FILE`: the gradient-health prediction before training — the lints, and the
//! depth profile variance propagation predicts, with the layers that vanish or explode.

use super::common::{self, ModelArgs};
use crate::diag;
use crate::health::{self, lint, Prediction, Trend};
use std::io::IsTerminal;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct AnalyzeArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Print the prediction as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: AnalyzeArgs) -> ExitCode {
    let Ok(loaded) = common::load(&args.model) else {
        return ExitCode::FAILURE;
    };
    let prediction = health::predict(&loaded.model);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&prediction).unwrap_or_default()
        );
        return ExitCode::SUCCESS;
    }
    // Loading already showed the bound through time with the checker's warnings.
    let lints = lint::across_depth(&loaded.model);
    if !lints.is_empty() {
        let name = args.model.file.display().to_string();
        eprint!(
            "{}",
            diag::render(&lints, &name, &loaded.src, std::io::stderr().is_terminal())
        );
    }
    print!("{}", render_prediction(&prediction, &loaded.src));
    ExitCode::SUCCESS
}

/// The prediction as a table with a log-scale bar per layer and a verdict.
pub fn render_prediction(p: &Prediction, src: &str) -> String {
    let mut out = String::from(
        "predicted at initialization (mean-field variance propagation, inputs of unit variance)\n",
    );
    out.push_str(&format!(
        "{:<14} {:>5} {:>11} {:>9} {:>12}  log10 ‖∂L/∂a‖ (last layer = 0)\n",
        "layer", "line", "pre-act var", "gain √χ", "‖∂L/∂a‖ rel"
    ));
    for l in &p.layers {
        let var = l.pre_var.map_or("-".to_owned(), |v| format!("{v:.3e}"));
        out.push_str(&format!(
            "{:<14} {:>5} {:>11} {:>9.3} {:>12.3e}  {}\n",
            l.name,
            common::line_of(src, l.span),
            var,
            l.chi.sqrt(),
            l.grad_a,
            super::common::log_bar(l.grad_a, 1.0)
        ));
    }
    out.push_str(&verdict(p, src));
    out
}

/// One or two sentences: what is predicted, for which layers, and what to try.
pub fn verdict(p: &Prediction, src: &str) -> String {
    let line = p
        .involved
        .first()
        .map_or(0, |&i| common::line_of(src, p.layers[i].span));
    let product = format!(
        "√χ ≈ {:.3} per layer on average over the {} layers above the first ({:.3}^{} = {:.3e}, the product of their gains in the table)",
        p.gain_per_layer, p.above, p.gain_per_layer, p.above, p.factor
    );
    match p.trend {
        Trend::Healthy => format!("healthy: ‖∂L/∂a‖ at the first layer ≈ {:.3e}× the last layer's (within 10^±2): {product}\n", p.factor),
        Trend::Vanishing => format!(
            "predicted VANISHING in layers {}: ‖∂L/∂a‖ at the first layer ≈ {:.3e}× the last layer's (10^{:.0}): {product}\n  try `act = relu, init = he_normal` at line {line}, or add `batchnorm` after each dense layer, or wrap layers in `residual`\n",
            p.involved_range(),
            p.factor,
            p.factor.log10()
        ),
        Trend::Exploding => format!(
            "predicted EXPLODING in layers {}: ‖∂L/∂a‖ at the first layer ≈ {:.3e}× the last layer's (10^{:.0}): {product}\n  try a variance-preserving init at line {line} (`init = he_normal` for relu, `init = xavier_normal` for tanh), or add `batchnorm`, and `clip = norm(1.0)` in the train section\n",
            p.involved_range(),
            p.factor,
            p.factor.log10()
        ),
    }
}
