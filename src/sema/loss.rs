//! The loss: inferred when not written, then checked against the model's output (softmax,
//! sigmoid, width) and against what the data gives (input width, classes or targets).

use super::data::{DataFacts, Target};
use crate::diag::Diagnostic;
use crate::model::{Activation, Input, InputKind, Layer, LayerKind, Loss, Task};
use crate::span::Span;

/// What the loss is checked against.
pub struct LossContext<'a> {
    pub input: &'a Input,
    pub layers: &'a [Layer],
    pub output: &'a [usize],
    /// The data's facts and the span of `data = ...`.
    pub data: Option<(DataFacts, Span)>,
    /// Where to point when the loss is inferred: the train section.
    pub train_span: Span,
}

/// The final activation of the model, if its last layer has one, with that layer's span.
pub fn final_activation(layers: &[Layer]) -> Option<(Activation, Span)> {
    match &layers.last()?.kind {
        LayerKind::Dense { act, .. } => Some((*act, layers.last()?.span)),
        LayerKind::Activation(act) => Some((*act, layers.last()?.span)),
        LayerKind::Conv2d(conv) => Some((conv.act, layers.last()?.span)),
        LayerKind::BatchNorm { .. }
        | LayerKind::LayerNorm { .. }
        | LayerKind::Dropout { .. }
        | LayerKind::Pool2d(_)
        | LayerKind::GlobalAvgPool
        | LayerKind::Flatten
        | LayerKind::Residual { .. }
        | LayerKind::Recurrent(_) => None,
    }
}

/// Settles the loss (given or inferred) and checks it; `None` after an error.
pub fn settle(
    diags: &mut Vec<Diagnostic>,
    given: Option<(Loss, Span)>,
    cx: &LossContext<'_>,
) -> Option<Loss> {
    check_input(diags, cx);
    let width = cx.output.last().copied().unwrap_or(0);
    let last = final_activation(cx.layers);
    let (loss, span) = match given {
        Some(given) => given,
        None => (infer(diags, cx, width, last)?, cx.train_span),
    };
    let before = diags.iter().filter(|d| d.is_error()).count();
    check_output(diags, loss, span, width, last, cx);
    if let Some((facts, data_span)) = cx.data {
        check_targets(diags, loss, span, width, facts.target, data_span, cx);
    }
    let after = diags.iter().filter(|d| d.is_error()).count();
    (after == before).then_some(loss)
}

fn infer(
    diags: &mut Vec<Diagnostic>,
    cx: &LossContext<'_>,
    width: usize,
    last: Option<(Activation, Span)>,
) -> Option<Loss> {
    match last {
        Some((Activation::Softmax, _)) => return Some(Loss::CrossEntropy),
        Some((Activation::Sigmoid, _)) => return Some(Loss::BinaryCrossEntropy),
        _ => {}
    }
    let classes = |width: usize| {
        if width == 1 {
            Loss::BinaryCrossEntropy
        } else {
            Loss::CrossEntropy
        }
    };
    match cx.data.map(|(facts, _)| facts.target) {
        Some(Target::Classes(_)) | Some(Target::Unknown(Some(Task::Classification))) => {
            Some(classes(width))
        }
        Some(Target::Regression(_)) | Some(Target::Unknown(Some(Task::Regression))) => {
            Some(Loss::Mse)
        }
        Some(Target::Unknown(None)) | None => {
            diags.push(
                Diagnostic::error(
                    "netc::loss::cannot_infer",
                    cx.train_span,
                    "cannot tell which loss to use: the data may hold classes or numbers",
                )
                .with_label("no `loss = ...` here")
                .with_help("add `loss = cross_entropy` for classes or `loss = mse` for numbers"),
            );
            None
        }
    }
}

fn check_input(diags: &mut Vec<Diagnostic>, cx: &LossContext<'_>) {
    let Some((facts, data_span)) = cx.data else {
        return;
    };
    let Some(features) = facts.features else {
        return;
    };
    let (given, help) = match (&cx.input.kind, facts.steps) {
        (InputKind::Tensor { shape }, None) if facts.image.is_some() => (
            facts.image.is_some_and(|image| shape[..] == image[..]),
            format!(
                "write `input {}: {:?}` to match the data's `shape`",
                cx.input.name,
                facts.image.unwrap_or_default()
            ),
        ),
        (InputKind::Tensor { shape }, None) => (
            shape.last().copied() == Some(features),
            format!("write `input {}: [{features}]`", cx.input.name),
        ),
        (InputKind::Seq { steps, dim }, Some(data_steps)) => (
            *steps == data_steps && *dim == features,
            format!(
                "write `input {}: seq({data_steps}, {features})`",
                cx.input.name
            ),
        ),
        (InputKind::Tensor { .. }, Some(data_steps)) => (
            false,
            format!(
                "write `input {}: seq({data_steps}, {features})`",
                cx.input.name
            ),
        ),
        (InputKind::Seq { .. }, None) => (
            false,
            format!("write `input {}: [{features}]`", cx.input.name),
        ),
    };
    if given {
        return;
    }
    let gives = match (facts.steps, facts.image) {
        (Some(steps), _) => format!("sequences of {steps} steps × {features} features"),
        (None, Some(image)) => format!("images {image:?}"),
        (None, None) => format!("{features} features"),
    };
    diags.push(
        Diagnostic::error(
            "netc::data::input_mismatch",
            cx.input.span,
            format!(
                "the model takes {:?} per example, but the data gives {gives}",
                cx.input.kind.shape()
            ),
        )
        .with_label(format!("expects {:?}", cx.input.kind.shape()))
        .with_related(
            data_span,
            format!("this data set gives {gives} per example"),
        )
        .with_help(help),
    );
}

fn check_output(
    diags: &mut Vec<Diagnostic>,
    loss: Loss,
    span: Span,
    width: usize,
    last: Option<(Activation, Span)>,
    cx: &LossContext<'_>,
) {
    let last_span = cx.layers.last().map_or(span, |l| l.span);
    match (loss, last) {
        (Loss::CrossEntropy, _) if width < 2 => diags.push(
            Diagnostic::error(
                "netc::loss::incompatible",
                span,
                format!("cross_entropy needs one output per class (at least 2), but the model outputs {:?}", cx.output),
            )
            .with_label("cross_entropy chosen here")
            .with_related(last_span, format!("the model's output is {:?}", cx.output))
            .with_help("use `binary_cross_entropy` for one output, or end with one unit per class"),
        ),
        (Loss::BinaryCrossEntropy, Some((Activation::Softmax, act_span))) => diags.push(
            Diagnostic::error(
                "netc::loss::incompatible",
                span,
                "binary_cross_entropy applies a sigmoid to each output, but the model ends with a softmax",
            )
            .with_label("binary_cross_entropy chosen here")
            .with_related(act_span, "the softmax is here")
            .with_help("use `loss = cross_entropy` with a softmax, or end with `act = sigmoid`"),
        ),
        (Loss::CrossEntropy, Some((act @ (Activation::Sigmoid | Activation::Relu | Activation::Tanh), act_span))) => diags.push(
            Diagnostic::warning(
                "netc::lint::squashed_logits",
                act_span,
                format!("cross_entropy applies softmax to the raw outputs, but the last layer squashes them with {}", act.name()),
            )
            .with_label("this activation limits the logits")
            .with_related(span, "cross_entropy chosen here")
            .with_help("end with no activation (or `softmax`, which the loss fuses)"),
        ),
        _ => {}
    }
}

fn check_targets(
    diags: &mut Vec<Diagnostic>,
    loss: Loss,
    span: Span,
    width: usize,
    target: Target,
    data_span: Span,
    cx: &LossContext<'_>,
) {
    let last_span = cx.layers.last().map_or(span, |l| l.span);
    let name = loss.name();
    let wanted = match (target, loss) {
        (Target::Classes(k), Loss::CrossEntropy) => k,
        (Target::Classes(2), Loss::BinaryCrossEntropy) => 1,
        (Target::Classes(2), Loss::Mse) if width == 1 => 1,
        (Target::Classes(k), Loss::Mse) => k,
        (Target::Classes(k), Loss::BinaryCrossEntropy) => {
            diags.push(
                Diagnostic::error(
                    "netc::data::target_mismatch",
                    span,
                    format!("binary_cross_entropy needs two classes, but the data has {k}"),
                )
                .with_label("binary loss chosen here")
                .with_related(data_span, format!("this data set has {k} classes"))
                .with_help("use `loss = cross_entropy` with one output per class"),
            );
            return;
        }
        (Target::Regression(t), Loss::Mse) => t,
        (Target::Regression(_), Loss::CrossEntropy | Loss::BinaryCrossEntropy) => {
            diags.push(
                Diagnostic::error(
                    "netc::data::target_mismatch",
                    span,
                    format!("{name} needs class labels, but this data set has real-valued targets"),
                )
                .with_label(format!("{name} chosen here"))
                .with_related(data_span, "this data set is a regression task")
                .with_help("use `loss = mse`"),
            );
            return;
        }
        (Target::Unknown(_), _) => return,
    };
    // A per-step head outputs [T, k]: T·k values per example against the data's targets.
    let total: usize = cx.output.iter().product();
    if wanted == width && total == width {
        return;
    }
    let help = if cx.output.len() > 1 {
        format!(
            "the model outputs a value per step; give the last recurrent layer `return = last` \
             and end with `dense {wanted}`"
        )
    } else {
        format!("end the model with `dense {wanted}`")
    };
    diags.push(
        Diagnostic::error(
            "netc::data::output_mismatch",
            last_span,
            format!(
                "with {name} on this data the model must output [{wanted}], but it outputs {:?}",
                cx.output
            ),
        )
        .with_label(format!("outputs {:?}", cx.output))
        .with_related(
            data_span,
            match target {
                Target::Classes(k) => format!("this data set has {k} classes"),
                Target::Regression(t) => format!("this data set has {t} targets"),
                Target::Unknown(_) => "the data".to_string(),
            },
        )
        .with_help(help),
    );
}
