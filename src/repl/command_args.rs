//! The arguments of each `:command`: how the text after a command's name is read into the
//! fields of its [`Command`], with a span into the line for every mistake.

use super::command::{
    is_name, usage_of, Amount, Command, CommandError, Picture, Place, Stage, Target,
};
use std::ops::Range;

/// The text after a command's name, and where it starts in the line.
#[derive(Clone, Copy)]
pub(super) struct Rest<'a> {
    pub(super) text: &'a str,
    pub(super) at: usize,
}

impl Rest<'_> {
    pub(super) fn span(&self) -> Range<usize> {
        self.at..self.at + self.text.len().max(1)
    }

    pub(super) fn required(&self, what: &str, usage: &str) -> Result<String, CommandError> {
        if self.text.is_empty() {
            return Err(CommandError {
                message: format!("missing {what}"),
                span: self.span(),
                help: Some(format!("usage: {usage}")),
            });
        }
        Ok(self.text.to_owned())
    }

    pub(super) fn none(&self, name: &str) -> Result<(), CommandError> {
        if self.text.is_empty() {
            return Ok(());
        }
        Err(CommandError {
            message: format!("`{name}` takes no arguments"),
            span: self.span(),
            help: None,
        })
    }
}

pub(super) fn parse_set(rest: Rest) -> Result<Command, CommandError> {
    let usage = usage_of(":set").unwrap_or_default();
    let Some(eq) = rest.text.find('=') else {
        return Err(CommandError {
            message: "`:set` needs `TARGET = VALUE`".to_owned(),
            span: rest.span(),
            help: Some(format!("usage: {usage}")),
        });
    };
    let target_text = rest.text[..eq].trim();
    let value_raw = &rest.text[eq + 1..];
    let value = value_raw.trim();
    let value_at = rest.at + eq + 1 + (value_raw.len() - value_raw.trim_start().len());
    let target_span = rest.at..rest.at + eq.max(1);
    if target_text.is_empty() || value.is_empty() {
        return Err(CommandError {
            message: "`:set` needs both a target and a value".to_owned(),
            span: rest.span(),
            help: Some(format!("usage: {usage}")),
        });
    }
    let target = match target_text.split_once('.') {
        Some((head, attr)) if is_name(head) && is_name(attr) => Target::Dotted {
            head: head.to_owned(),
            attr: attr.to_owned(),
        },
        None if is_name(target_text) => Target::Setting(target_text.to_owned()),
        _ => {
            return Err(CommandError {
                message: format!("`{target_text}` is not `layer.attr` or a setting name"),
                span: target_span,
                help: Some(format!("usage: {usage}")),
            })
        }
    };
    Ok(Command::Set {
        target,
        value: value.to_owned(),
        value_at,
    })
}

pub(super) fn parse_insert(rest: Rest) -> Result<Command, CommandError> {
    let usage = usage_of(":insert").unwrap_or_default();
    let words: Vec<(usize, &str)> = words(rest.text).take(2).collect();
    let bad = |message: String| CommandError {
        message,
        span: rest.span(),
        help: Some(format!("usage: {usage}")),
    };
    let [(_, place), (layer_at, layer)] = words[..] else {
        return Err(bad(
            "`:insert` needs a place, a layer and a statement".to_owned()
        ));
    };
    let place = match place {
        "before" => Place::Before,
        "after" => Place::After,
        other => return Err(bad(format!("`{other}` is not `before` or `after`"))),
    };
    let after_layer = layer_at + layer.len();
    let stmt_raw = &rest.text[after_layer..];
    let stmt = stmt_raw.trim();
    if stmt.is_empty() {
        return Err(bad(format!(
            "what to insert {} `{layer}`?",
            if place == Place::Before {
                "before"
            } else {
                "after"
            }
        )));
    }
    Ok(Command::Insert {
        place,
        layer: layer.to_owned(),
        stmt: stmt.to_owned(),
        stmt_at: rest.at + after_layer + (stmt_raw.len() - stmt_raw.trim_start().len()),
    })
}

pub(super) fn parse_wrap(rest: Rest) -> Result<Command, CommandError> {
    let usage = usage_of(":wrap").unwrap_or_default();
    let mut it = words(rest.text);
    let range = it.next().map(|(_, w)| w).unwrap_or_default();
    let bad = |message: String| CommandError {
        message,
        span: rest.span(),
        help: Some(format!("usage: {usage}")),
    };
    let Some((first, last)) = range.split_once("..") else {
        return Err(bad(
            "`:wrap` needs a range of layers `FIRST..LAST`".to_owned()
        ));
    };
    if !is_name(first) || !is_name(last) {
        return Err(bad(format!("`{range}` is not `FIRST..LAST`")));
    }
    let args = match it.next() {
        None => String::new(),
        Some((at, "residual")) => rest.text[at + "residual".len()..].trim().to_owned(),
        Some((_, other)) => {
            return Err(bad(format!(
                "only `residual` can wrap layers, not `{other}`"
            )))
        }
    };
    Ok(Command::Wrap {
        first: first.to_owned(),
        last: last.to_owned(),
        args,
    })
}

pub(super) fn parse_amount(rest: Rest) -> Result<Amount, CommandError> {
    let usage = usage_of(":train").unwrap_or_default();
    let words: Vec<(usize, &str)> = words(rest.text).collect();
    let bad = |message: String| CommandError {
        message,
        span: rest.span(),
        help: Some(format!("usage: {usage}")),
    };
    let count = match words.first() {
        None => return Ok(Amount::Configured),
        Some((_, n)) => n
            .replace('_', "")
            .parse::<u64>()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| bad(format!("`{n}` is not a positive whole number")))?,
    };
    match words.get(1).map(|(_, w)| *w) {
        None | Some("steps" | "step") => Ok(Amount::Steps(count)),
        Some("epochs" | "epoch") => Ok(Amount::Epochs(count)),
        Some(other) => Err(bad(format!("`{other}` is not `steps` or `epochs`"))),
    }
}

pub(super) fn parse_plot(rest: Rest) -> Result<Command, CommandError> {
    let usage = usage_of(":plot").unwrap_or_default();
    let words: Vec<(usize, &str)> = words(rest.text).collect();
    let bad = |message: String| CommandError {
        message,
        span: rest.span(),
        help: Some(format!("usage: {usage}")),
    };
    match words[..] {
        [] => Err(bad("missing a file name".to_owned())),
        [(_, file)] => Ok(Command::Plot {
            file: file.to_owned(),
            picture: Picture::Grads,
        }),
        [(_, file), (_, word)] => match Picture::parse(word) {
            Some(picture) => Ok(Command::Plot {
                file: file.to_owned(),
                picture,
            }),
            None => Err(bad(format!("`{word}` is not `grads`, `profile` or `loss`"))),
        },
        _ => Err(bad("`:plot` takes a file name and a picture".to_owned())),
    }
}

pub(super) fn parse_stage(rest: Rest) -> Result<Stage, CommandError> {
    match rest.text {
        "" | "forward" => Ok(Stage::Forward),
        "step" => Ok(Stage::Step),
        "clif" => Ok(Stage::Clif),
        other => Err(CommandError {
            message: format!("`{other}` is not `forward`, `step` or `clif`"),
            span: rest.span(),
            help: Some("usage: :ir [forward|step|clif]".to_owned()),
        }),
    }
}

pub(super) fn parse_seed(rest: Rest) -> Result<Option<u64>, CommandError> {
    if rest.text.is_empty() {
        return Ok(None);
    }
    rest.text
        .parse::<u64>()
        .map(Some)
        .map_err(|_| CommandError {
            message: format!("`{}` is not a seed (a whole number)", rest.text),
            span: rest.span(),
            help: Some("usage: :reset [SEED]".to_owned()),
        })
}

/// Whitespace-separated words with their byte offsets.
fn words(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split_whitespace()
        .map(move |w| (w.as_ptr() as usize - text.as_ptr() as usize, w))
}
