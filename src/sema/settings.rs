//! The train section as a whole: unknown and repeated keys, `--set` overrides, defaults, and
//! the final [`TrainConfig`] with its loss settled against the model and the data.

use super::args::Range;
use super::data::DataFacts;
use super::layers::Expanded;
use super::{args, data, header, loss, names, overrides, train, Override};
use crate::diag::Diagnostic;
use crate::model::{Clip, Loss, OnNonFinite, Optimizer, ProbeConfig, Schedule, TrainConfig};
use crate::span::Span;
use crate::syntax::ast::{Setting, SettingLine, TrainDef};

/// Reads every setting of `def` (after `overrides`), filling in the documented defaults.
pub fn train_config(
    diags: &mut Vec<Diagnostic>,
    def: &TrainDef,
    overrides: &[Override],
    expanded: &Expanded,
) -> Option<TrainConfig> {
    let anchor = header(def.span);
    let (settings, parse_errors) = prepared_settings(diags, def, overrides, anchor);
    let from_overrides = diags.len();
    let get = |key: &str| settings.iter().find(|s| s.key.text == key);
    let data = match get("data") {
        Some(s) => {
            data::data_source(diags, &s.value).map(|(src, facts)| (src, facts, s.value.span))
        }
        None => {
            if !parse_errors {
                diags.push(missing_data(anchor));
            }
            None
        }
    };
    let given_loss = get("loss").map(|s| (train::loss(diags, &s.value), s.value.span));
    let optimizer = get("optimizer").map_or(Some(Optimizer::DEFAULT), |s| {
        train::optimizer(diags, &s.value)
    });
    let schedule = get("schedule").map_or(Some(Schedule::Constant), |s| {
        train::schedule(diags, &s.value)
    });
    let clip = get("clip").map_or(Some(Clip::None), |s| train::clip(diags, &s.value));
    let l2 = get("l2").map_or(Some(0.0), |s| {
        train::number(diags, &s.value, "l2", Range::NonNegative)
    });
    let count =
        |diags: &mut Vec<Diagnostic>, key: &str, default: Option<u64>, bounds| match get(key) {
            Some(s) => train::count(diags, &s.value, key, bounds).map(Some),
            None => Some(default),
        };
    let batch = count(diags, "batch", Some(32), (1, 1 << 20));
    let epochs = count(diags, "epochs", Some(10), (1, 1_000_000));
    let steps = count(diags, "steps", None, (1, u32::MAX as u64));
    let seed = count(diags, "seed", Some(0), (0, u64::MAX));
    let checkpoint_every = count(diags, "checkpoint_every", Some(500), (1, u32::MAX as u64));
    let probes = get("probes").map_or(
        Some(ProbeConfig {
            enabled: true,
            every: 1,
            keep: None,
        }),
        |s| train::probes(diags, &s.value),
    );
    let on_nonfinite = get("on_nonfinite").map_or(Some(OnNonFinite::Stop), |s| {
        train::on_nonfinite(diags, &s.value)
    });
    let (source, facts, data_span) = data?;
    let loss = settle_loss(diags, given_loss, expanded, (facts, data_span), anchor);
    if !overrides.is_empty() {
        mark_overridden(&mut diags[from_overrides..], anchor);
    }
    Some(TrainConfig {
        data: source,
        loss: loss?,
        optimizer: optimizer?,
        schedule: schedule?,
        clip: clip?,
        l2: l2?,
        batch: batch?? as usize,
        epochs: epochs?? as usize,
        steps: steps?.map(|s| s as usize),
        seed: seed??,
        probes: probes?,
        on_nonfinite: on_nonfinite?,
        checkpoint_every: checkpoint_every?? as usize,
        span: def.span,
    })
}

/// The settings that parsed, unknown and repeated keys reported, overrides applied; and
/// whether some line did not parse.
fn prepared_settings(
    diags: &mut Vec<Diagnostic>,
    def: &TrainDef,
    overrides: &[Override],
    anchor: Span,
) -> (Vec<Setting>, bool) {
    let parsed: Vec<Setting> = def
        .settings
        .iter()
        .filter_map(|s| match s {
            SettingLine::Setting(s) => Some(s.clone()),
            SettingLine::Error(_) => None,
        })
        .collect();
    let parse_errors = def.settings.len() != parsed.len();
    let mut settings = unique_settings(diags, parsed);
    overrides::apply(diags, &mut settings, overrides, anchor);
    (settings, parse_errors)
}

fn missing_data(anchor: Span) -> Diagnostic {
    Diagnostic::error(
        "netc::train::missing_data",
        anchor,
        "the train section does not say which data to train on",
    )
    .with_label("no `data = ...`")
    .with_help("add `data = csv(\"file.csv\", target = \"label\")` or a synthetic set like `data = moons(n = 500)`")
}

/// Values from `--set` carry the train header's span; say so in their labels.
fn mark_overridden(diags: &mut [Diagnostic], anchor: Span) {
    for diag in diags {
        if diag.span == anchor && !diag.code.starts_with("netc::override::") {
            diag.label = format!("{} (from `--set`)", diag.label);
        }
    }
}

fn settle_loss(
    diags: &mut Vec<Diagnostic>,
    given: Option<(Option<Loss>, Span)>,
    expanded: &Expanded,
    data: (DataFacts, Span),
    anchor: Span,
) -> Option<Loss> {
    let (Some(input), Some(output)) = (&expanded.input, &expanded.output_shape) else {
        return None;
    };
    let given = match given {
        Some((loss, span)) => Some((loss?, span)),
        None => None,
    };
    let cx = loss::LossContext {
        input,
        layers: &expanded.layers,
        output,
        data: Some(data),
        train_span: anchor,
    };
    loss::settle(diags, given, &cx)
}

/// Reports unknown and repeated keys; keeps the first of each known key.
fn unique_settings(diags: &mut Vec<Diagnostic>, settings: Vec<Setting>) -> Vec<Setting> {
    let mut kept: Vec<Setting> = Vec::new();
    for setting in settings {
        let key = &setting.key;
        if !names::SETTINGS.contains(&key.text.as_str()) {
            diags.push(args::unknown(
                "netc::name::unknown_setting",
                "setting",
                &key.text,
                key.span,
                names::SETTINGS,
            ));
            continue;
        }
        if let Some(first) = kept.iter().find(|s| s.key.text == key.text) {
            diags.push(
                Diagnostic::error(
                    "netc::train::duplicate_setting",
                    key.span,
                    format!("`{}` is set twice", key.text),
                )
                .with_label("set again here")
                .with_related(first.key.span, "first set here")
                .with_help("keep one of the two lines"),
            );
            continue;
        }
        kept.push(setting);
    }
    kept
}
