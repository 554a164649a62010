//! What a line typed at the prompt means: a `:command` with its arguments, or a statement of
//! the language. Pure parsing, no IO; a bad command is an error with a span into the line.

use super::command_args::{
    parse_amount, parse_insert, parse_plot, parse_seed, parse_set, parse_stage, parse_wrap, Rest,
};
pub use super::picture::Picture;
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
    /// `:insert before|after LAYER STATEMENT`; `stmt_at` is where the statement starts.
    Insert {
        place: Place,
        layer: String,
        stmt: String,
        stmt_at: usize,
    },
    Remove(String),
    /// `:wrap FIRST..LAST residual [args]`.
    Wrap {
        first: String,
        last: String,
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

/// Every command with its usage and one line on what it does, in `:help` order.
pub const COMMANDS: &[(&str, &str, &str)] = &[
    (
        ":load",
        ":load FILE.net",
        "load a model file (replaces the session's model)",
    ),
    (
        ":show",
        ":show",
        "the layers with shapes and parameter counts, and the train settings",
    ),
    (":source", ":source", "the current model as .net text"),
    (
        ":set",
        ":set LAYER.ATTR = VALUE | :set SETTING[.ARG] = VALUE",
        "change a layer attribute (act, init, units, ...) or a train setting",
    ),
    (
        ":insert",
        ":insert before|after LAYER STATEMENT",
        "insert a layer statement next to a layer",
    ),
    (":remove", ":remove LAYER", "remove a layer's statement"),
    (
        ":wrap",
        ":wrap FIRST..LAST residual [ARGS]",
        "wrap consecutive layers in a residual block",
    ),
    (
        ":train",
        ":train [N [steps|epochs]]",
        "train (continues from the current weights until the model changes)",
    ),
    (
        ":grads",
        ":grads",
        "per-layer gradient table of the last run, with a log-scale bar",
    ),
    (
        ":spark",
        ":spark [LAYER]",
        "sparklines of the loss and of a layer's ‖∂L/∂a‖ over the last run",
    ),
    (
        ":diff",
        ":diff",
        "the last two runs side by side: per-layer gradients, final loss and accuracy",
    ),
    (
        ":ir",
        ":ir [forward|step|clif]",
        "the tensor IR of the forward program or the training step, or the Cranelift IR",
    ),
    (":undo", ":undo", "undo the last change to the model"),
    (
        ":reset",
        ":reset [SEED]",
        "fresh weights (with a new seed if given)",
    ),
    (
        ":save",
        ":save FILE.net",
        "save the current model, formatted as `netc fmt` would",
    ),
    (
        ":help",
        ":help [COMMAND]",
        "this list, or one command's usage",
    ),
    (":quit", ":quit", "leave (also Ctrl-D)"),
];

/// The words the commands accept as a first argument, for completion.
pub fn command_names() -> impl Iterator<Item = &'static str> {
    COMMANDS.iter().map(|(name, _, _)| *name)
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
    let usage = |n: &str| usage_of(n).unwrap_or_default();
    Ok(match name {
        ":load" | ":l" => Command::Load(rest.required("a file name", &usage(":load"))?),
        ":show" => rest.none(name).map(|_| Command::Show)?,
        ":source" | ":src" => rest.none(name).map(|_| Command::Source)?,
        ":set" => parse_set(rest)?,
        ":insert" => parse_insert(rest)?,
        ":remove" | ":rm" => Command::Remove(rest.required("a layer name", &usage(":remove"))?),
        ":wrap" => parse_wrap(rest)?,
        ":train" | ":t" => Command::Train(parse_amount(rest)?),
        ":grads" | ":g" => rest.none(name).map(|_| Command::Grads)?,
        ":spark" => Command::Spark((!rest.text.is_empty()).then(|| rest.text.to_owned())),
        ":plot" => parse_plot(rest)?,
        ":diff" => rest.none(name).map(|_| Command::Diff)?,
        ":ir" => Command::Ir(parse_stage(rest)?),
        ":undo" | ":u" => rest.none(name).map(|_| Command::Undo)?,
        ":reset" => Command::Reset(parse_seed(rest)?),
        ":save" | ":w" => Command::Save(rest.required("a file name", &usage(":save"))?),
        ":help" | ":h" | ":?" => {
            Command::Help((!rest.text.is_empty()).then(|| rest.text.to_owned()))
        }
        ":quit" | ":q" | ":exit" => Command::Quit,
        other => {
            let known: Vec<&str> = command_names().collect();
            return Err(CommandError {
                message: format!("unknown command `{other}`"),
                span: name_span,
                help: Some(
                    match crate::sema::names::did_you_mean(other, known.iter().copied()) {
                        Some(best) => {
                            format!("did you mean `{best}`? (`:help` lists every command)")
                        }
                        None => "`:help` lists every command".to_owned(),
                    },
                ),
            });
        }
    })
}

/// The usage line of a command, by its full name (`:train`) or without the colon.
pub fn usage_of(name: &str) -> Option<String> {
    let full = if name.starts_with(':') {
        name.to_owned()
    } else {
        format!(":{name}")
    };
    COMMANDS
        .iter()
        .find(|(n, _, _)| *n == full)
        .map(|(_, usage, _)| (*usage).to_owned())
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
        let line = ":insert after dense2 dropout 0.1";
        match command(line) {
            Command::Insert {
                place,
                layer,
                stmt,
                stmt_at,
            } => {
                assert_eq!(
                    (place, layer.as_str(), stmt.as_str()),
                    (Place::After, "dense2", "dropout 0.1")
                );
                assert_eq!(&line[stmt_at..], "dropout 0.1");
            }
            other => panic!("{other:?}"),
        }
        assert!(parse(":insert beside dense2 relu").is_err());
        assert!(parse(":insert after dense2").is_err());
        assert_eq!(
            command(":remove dense4"),
            Command::Remove("dense4".to_owned())
        );
        assert_eq!(
            command(":wrap dense2..dense3 residual"),
            Command::Wrap {
                first: "dense2".to_owned(),
                last: "dense3".to_owned(),
                args: String::new()
            }
        );
        assert_eq!(
            command(":wrap a..b residual projection = he_normal"),
            Command::Wrap {
                first: "a".to_owned(),
                last: "b".to_owned(),
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
        assert_eq!(
            usage_of("train").as_deref(),
            Some(":train [N [steps|epochs]]")
        );
    }
}
