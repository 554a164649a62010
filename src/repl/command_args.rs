//! The arguments of each `:command`: how the text after a command's name is read into the
//! fields of its [`Command`], with a span into the line for every mistake.

use super::command::{
    is_name, usage_of, Address, Amount, Command, CommandError, Picture, Place, Stage, Target,
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
    let bad = |message: String| CommandError {
        message,
        span: rest.span(),
        help: Some(format!("usage: {usage}")),
    };
    let mut words = words(rest.text);
    let place = match words.next() {
        Some((_, "before")) => Place::Before,
        Some((_, "after")) => Place::After,
        Some((_, other)) => return Err(bad(format!("`{other}` is not `before` or `after`"))),
        None => {
            return Err(bad(
                "`:insert` needs a place, a layer and a statement".to_owned()
            ))
        }
    };
    let (at, end) = match (words.next(), words.next()) {
        (Some((_, "line")), Some((n_at, n))) => (line_number(n, rest)?, n_at + n.len()),
        (Some((name_at, name)), _) => (Address::Named(name.to_owned()), name_at + name.len()),
        (None, _) => {
            return Err(bad(
                "`:insert` needs a place, a layer and a statement".to_owned()
            ))
        }
    };
    let stmt_raw = &rest.text[end..];
    let stmt = stmt_raw.trim();
    if stmt.is_empty() {
        let word = match place {
            Place::Before => "before",
            Place::After => "after",
        };
        return Err(bad(format!("what to insert {word} `{at}`?")));
    }
    Ok(Command::Insert {
        place,
        at,
        stmt: stmt.to_owned(),
        stmt_at: rest.at + end + (stmt_raw.len() - stmt_raw.trim_start().len()),
    })
}

/// A statement's address: a name (`dense2`, `repeat1`) or `line N`.
pub(super) fn parse_place(rest: Rest, usage: &str) -> Result<Address, CommandError> {
    address(rest.text, rest)?.ok_or_else(|| CommandError {
        message: "missing a layer, a repeat or `line N`".to_owned(),
        span: rest.span(),
        help: Some(format!("usage: {usage}")),
    })
}

/// `text` read as an address; `None` when it is empty.
fn address(text: &str, rest: Rest) -> Result<Option<Address>, CommandError> {
    let text = text.trim();
    match text.split_whitespace().collect::<Vec<_>>()[..] {
        [] => Ok(None),
        ["line", n] => line_number(n, rest).map(Some),
        [name] if is_name(name) => Ok(Some(Address::Named(name.to_owned()))),
        _ => Err(CommandError {
            message: format!("`{text}` is not a layer, a repeat or `line N`"),
            span: rest.span(),
            help: Some(
                "name a layer (`dense2`), a repeat (`repeat1`) or a line (`line 7`)".to_owned(),
            ),
        }),
    }
}

fn line_number(word: &str, rest: Rest) -> Result<Address, CommandError> {
    match word.parse::<usize>() {
        Ok(n) if n > 0 => Ok(Address::Line(n)),
        _ => Err(CommandError {
            message: format!("`{word}` is not a line number"),
            span: rest.span(),
            help: Some("lines count from 1, as `:source` prints the model".to_owned()),
        }),
    }
}

pub(super) fn parse_wrap(rest: Rest) -> Result<Command, CommandError> {
    let usage = usage_of(":wrap").unwrap_or_default();
    let bad = |message: String| CommandError {
        message,
        span: rest.span(),
        help: Some(format!("usage: {usage}")),
    };
    // The range runs up to the word after it (`residual`), which may follow `line N`.
    let (range, tail) = match words(rest.text).find(|(_, w)| !w.contains("..") && !is_range_part(w))
    {
        Some((at, _)) => (&rest.text[..at], &rest.text[at..]),
        None => (rest.text, ""),
    };
    let Some((first, last)) = range.split_once("..") else {
        return Err(bad(
            "`:wrap` needs a range of layers `FIRST..LAST`".to_owned()
        ));
    };
    let (Some(first), Some(last)) = (address(first, rest)?, address(last, rest)?) else {
        return Err(bad(format!("`{}` is not `FIRST..LAST`", range.trim())));
    };
    let args = match words(tail).next() {
        None => String::new(),
        Some((at, "residual")) => tail[at + "residual".len()..].trim().to_owned(),
        Some((_, other)) => {
            return Err(bad(format!(
                "only `residual` can wrap layers, not `{other}`"
            )))
        }
    };
    Ok(Command::Wrap { first, last, args })
}

/// A word that can be part of a `:wrap` range: `line` and line numbers.
fn is_range_part(word: &str) -> bool {
    word == "line" || word.chars().all(|c| c.is_ascii_digit())
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
