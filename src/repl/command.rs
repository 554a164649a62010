//! What a line typed at the prompt means: a `:command` with its arguments, or a statement of
//! the language. Pure parsing, no IO; a bad command is an error with a span into the line.

use super::command_args::{
    parse_amount, parse_insert, parse_place, parse_plot, parse_seed, parse_set, parse_stage,
    parse_wrap, Rest,
};
pub use super::picture::Picture;
pub use super::verbs::{command_names, help, usage_of, Verb};
use std::ops::Range;

/// One line of input, understood.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// Nothing to do: an empty line or a comment.
    Blank,
    /// A statement of the language: a layer, a `repeat`/`residual`, a `block`, a train setting.
    Statement(String),
    Command(Command),
}

/// The REPL's commands (see `:help` and docs/repl.md).
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Load(String),
    Show,
    Source,
    /// `:set target = value`; `value_at` is where the value starts in the line.
    Set {
        target: Target,
        value: String,
        value_at: usize,
    },
    /// `:insert before|after PLACE STATEMENT`; `stmt_at` is where the statement starts.
    Insert {
        place: Place,
        at: Address,
        stmt: String,
        stmt_at: usize,
    },
    Remove(Address),
    /// `:wrap FIRST..LAST residual [args]`.
    Wrap {
        first: Address,
        last: Address,
        args: String,
    },
    Train(Amount),
    Grads,
    Spark(Option<String>),
    /// `:plot FILE [grads|profile|loss]`.
    Plot {
        file: String,
        picture: Picture,
    },
    Diff,
    Ir(Stage),
    Undo,
    Reset(Option<u64>),
    Save(String),
    Help(Option<String>),
    Quit,
}

/// What `:set` changes.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// `layer.attr` (or `setting.arg`: which one is decided against the model).
    Dotted { head: String, attr: String },
    /// A bare name: a train setting.
    Setting(String),
}

/// The statement of the model an edit is aimed at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// A layer's statement (`dense2`), or a `repeat` as a whole by its name (`repeat1`).
    Named(String),
    /// The statement that starts on this line of `:source` (1-based).
    Line(usize),
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Address::Named(name) => write!(f, "{name}"),
            Address::Line(line) => write!(f, "line {line}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    Before,
    After,
}

/// Which program `:ir` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The forward program (eval mode) in the tensor IR.
    Forward,
    /// The whole training step: forward, backward, probes, clipping, optimizer.
    Step,
    /// The Cranelift IR generated for the training step.
    Clif,
}

/// How long `:train` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Amount {
    /// What the train section says (`epochs` or `steps`).
    Configured,
    Steps(u64),
    Epochs(u64),
}

/// A line that is not a valid command: what is wrong, where in the line, how to fix it.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandError {
    pub message: String,
    pub span: Range<usize>,
    pub help: Option<String>,
}

/// Parses one line.
pub fn parse(line: &str) -> Result<Input, CommandError> {
    let trimmed = line.trim();
    if trimmed.is_empty() || trimmed.starts_with("//") {
        return Ok(Input::Blank);
    }
    if !trimmed.starts_with(':') {
        return Ok(Input::Statement(trimmed.to_owned()));
    }
    let start = line.len() - line.trim_start().len();
    let name_end = line[start..]
        .find(char::is_whitespace)
        .map_or(line.len(), |i| start + i);
    let name = &line[start..name_end];
    let rest_at = name_end + (line[name_end..].len() - line[name_end..].trim_start().len());
    let rest = Rest {
        text: line[rest_at..].trim_end(),
        at: rest_at,
    };
    let name_span = start..name_end;
    parse_command(name, name_span, rest).map(Input::Command)
}

fn parse_command(name: &str, name_span: Range<usize>, rest: Rest) -> Result<Command, CommandError> {
    let Some(verb) = Verb::find(name) else {
        let known: Vec<&str> = command_names().collect();
        let help = match crate::sema::names::did_you_mean(name, known.iter().copied()) {
            Some(best) => format!("did you mean `{best}`? (`:help` lists every command)"),
            None => "`:help` lists every command".to_owned(),
        };
        return Err(CommandError {
            message: format!("unknown command `{name}`"),
            span: name_span,
            help: Some(help),
        });
    };
    let usage = verb.info().usage;
    let optional = |rest: Rest| (!rest.text.is_empty()).then(|| rest.text.to_owned());
    Ok(match verb {
        Verb::Load => Command::Load(rest.required("a file name", usage)?),
        Verb::Show => rest.none(name).map(|_| Command::Show)?,
        Verb::Source => rest.none(name).map(|_| Command::Source)?,
        Verb::Set => parse_set(rest)?,
        Verb::Insert => parse_insert(rest)?,
        Verb::Remove => Command::Remove(parse_place(rest, usage)?),
        Verb::Wrap => parse_wrap(rest)?,
        Verb::Train => Command::Train(parse_amount(rest)?),
        Verb::Grads => rest.none(name).map(|_| Command::Grads)?,
        Verb::Spark => Command::Spark(optional(rest)),
        Verb::Plot => parse_plot(rest)?,
        Verb::Diff => rest.none(name).map(|_| Command::Diff)?,
        Verb::Ir => Command::Ir(parse_stage(rest)?),
        Verb::Undo => rest.none(name).map(|_| Command::Undo)?,
        Verb::Reset => Command::Reset(parse_seed(rest)?),
        Verb::Save => Command::Save(rest.required("a file name", usage)?),
        Verb::Help => Command::Help(optional(rest)),
        Verb::Quit => Command::Quit,
    })
}

/// Is `s` a name of the language (a layer, an attribute, a setting)?
pub fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(line: &str) -> Command {
        match parse(line) {
            Ok(Input::Command(c)) => c,
            other => panic!("{line:?} gave {other:?}"),
        }
    }

    #[test]
    fn statements_and_blanks() {
        assert_eq!(parse("  "), Ok(Input::Blank));
        assert_eq!(parse("// note"), Ok(Input::Blank));
        assert_eq!(
            parse(" dense 32, act = relu "),
            Ok(Input::Statement("dense 32, act = relu".to_owned()))
        );
    }

    #[test]
    fn set_layer_attribute_and_setting() {
        let line = ":set dense3.act = relu";
        match command(line) {
            Command::Set {
                target: Target::Dotted { head, attr },
                value,
                value_at,
            } => {
                assert_eq!(
                    (head.as_str(), attr.as_str(), value.as_str()),
                    ("dense3", "act", "relu")
                );
                assert_eq!(&line[value_at..], "relu");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            command(":set batch=64"),
            Command::Set {
                target: Target::Setting("batch".to_owned()),
                value: "64".to_owned(),
                value_at: 11
            }
        );
        let err = parse(":set dense3.act").unwrap_err();
        assert!(err.message.contains("TARGET = VALUE"), "{err:?}");
    }

    #[test]
    fn train_amounts() {
        assert_eq!(command(":train"), Command::Train(Amount::Configured));
        assert_eq!(command(":train 300"), Command::Train(Amount::Steps(300)));
        assert_eq!(
            command(":train 2 epochs"),
            Command::Train(Amount::Epochs(2))
        );
        assert_eq!(
            command(":t 1_000 steps"),
            Command::Train(Amount::Steps(1000))
        );
        let err = parse(":train 0").unwrap_err();
        assert_eq!(err.span, 7..8);
        assert!(parse(":train 3 weeks").is_err());
    }

    #[test]
    fn insert_remove_wrap() {
        let named = |n: &str| Address::Named(n.to_owned());
        let line = ":insert after dense2 dropout 0.1";
        match command(line) {
            Command::Insert {
                place,
                at,
                stmt,
                stmt_at,
            } => {
                assert_eq!(
                    (place, at, stmt.as_str()),
                    (Place::After, named("dense2"), "dropout 0.1")
                );
                assert_eq!(&line[stmt_at..], "dropout 0.1");
            }
            other => panic!("{other:?}"),
        }
        let line = ":insert before line 4 relu";
        match command(line) {
            Command::Insert { at, stmt_at, .. } => {
                assert_eq!(at, Address::Line(4));
                assert_eq!(&line[stmt_at..], "relu");
            }
            other => panic!("{other:?}"),
        }
        assert!(parse(":insert beside dense2 relu").is_err());
        assert!(parse(":insert after dense2").is_err());
        assert!(parse(":insert after line x relu").is_err());
        assert_eq!(command(":remove dense4"), Command::Remove(named("dense4")));
        assert_eq!(command(":rm repeat1"), Command::Remove(named("repeat1")));
        assert_eq!(command(":remove line 7"), Command::Remove(Address::Line(7)));
        assert!(parse(":remove line 0").is_err());
        assert_eq!(
            command(":wrap dense2..dense3 residual"),
            Command::Wrap {
                first: named("dense2"),
                last: named("dense3"),
                args: String::new()
            }
        );
        assert_eq!(
            command(":wrap line 3..line 5 residual"),
            Command::Wrap {
                first: Address::Line(3),
                last: Address::Line(5),
                args: String::new()
            }
        );
        assert_eq!(
            command(":wrap a..b residual projection = he_normal"),
            Command::Wrap {
                first: named("a"),
                last: named("b"),
                args: "projection = he_normal".to_owned()
            }
        );
        assert!(parse(":wrap a..b repeat").is_err());
        assert!(parse(":wrap dense2").is_err());
    }

    #[test]
    fn unknown_command_suggests() {
        let err = parse("  :trian 10").unwrap_err();
        assert_eq!(err.span, 2..8);
        assert_eq!(
            err.help.as_deref(),
            Some("did you mean `:train`? (`:help` lists every command)")
        );
    }

    #[test]
    fn simple_commands() {
        assert_eq!(command(":reset"), Command::Reset(None));
        assert_eq!(command(":reset 7"), Command::Reset(Some(7)));
        assert!(parse(":reset x").is_err());
        assert_eq!(command(":q"), Command::Quit);
        assert_eq!(
            command(":help train"),
            Command::Help(Some("train".to_owned()))
        );
        assert!(parse(":diff now").is_err());
        assert_eq!(command(":ir"), Command::Ir(Stage::Forward));
        assert_eq!(
            command(":plot a.png profile"),
            Command::Plot {
                file: "a.png".to_owned(),
                picture: Picture::Profile
            }
        );
        assert!(parse(":plot a.png heat").is_err());
        assert!(parse(":plot").is_err());
        assert_eq!(command(":ir clif"), Command::Ir(Stage::Clif));
        assert!(parse(":ir backward").is_err());
        assert_eq!(usage_of("train"), Some(":train [N [steps|epochs]]"));
    }
}
