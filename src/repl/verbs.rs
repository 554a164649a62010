//! The REPL's commands, listed once: every [`Verb`] with its names, usage and what it does.
//! The parser finds a command here, `:help` prints this table and completion offers its
//! names, so a command cannot exist without its help.

use std::fmt::Write;

/// One command of the REPL (its arguments are parsed into a `Command`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Load,
    Show,
    Source,
    Set,
    Insert,
    Remove,
    Wrap,
    Train,
    Grads,
    Spark,
    Plot,
    Diff,
    Ir,
    Undo,
    Reset,
    Save,
    Help,
    Quit,
}

/// What `:help` says of a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Info {
    /// The full name, `:train`.
    pub name: &'static str,
    /// Short forms that mean the same (`:t`).
    pub aliases: &'static [&'static str],
    pub usage: &'static str,
    /// One line for the list.
    pub what: &'static str,
    /// More for `:help NAME`, when one line is not enough.
    pub more: &'static str,
}

/// Where an edit goes, as `:help` for the editing commands explains it.
const PLACES: &str = "PLACE is a layer (`dense2`), a `repeat` by its name (`repeat1`: the first \
     `repeat` of the model, as `:show` lists them) or a line of `:source` (`line 7`). A layer \
     made by a `repeat` shares its statement with the other copies; name the repeat (or its \
     line) to change the repeat as a whole.";

impl Verb {
    /// Every command, in `:help` order.
    pub const ALL: [Verb; 18] = [
        Verb::Load,
        Verb::Show,
        Verb::Source,
        Verb::Set,
        Verb::Insert,
        Verb::Remove,
        Verb::Wrap,
        Verb::Train,
        Verb::Grads,
        Verb::Spark,
        Verb::Plot,
        Verb::Diff,
        Verb::Ir,
        Verb::Undo,
        Verb::Reset,
        Verb::Save,
        Verb::Help,
        Verb::Quit,
    ];

    /// The command a typed name (`:train`, `:t`) stands for.
    pub fn find(name: &str) -> Option<Verb> {
        Verb::ALL.into_iter().find(|v| {
            let info = v.info();
            info.name == name || info.aliases.contains(&name)
        })
    }

    pub fn info(self) -> Info {
        let (name, aliases, usage, what, more): (_, &'static [&'static str], _, _, _) = match self {
            Verb::Load => (":load", &[":l"], ":load FILE.net", "load a model file (the previous model comes back with `:undo`)", ""),
            Verb::Show => (":show", &[], ":show", "the layers with shapes and parameter counts, the repeats, and the train settings", ""),
            Verb::Source => (":source", &[":src"], ":source", "the current model as .net text (also while it is being typed)", ""),
            Verb::Set => (":set", &[], ":set LAYER.ATTR = VALUE | :set SETTING[.ARG] = VALUE", "change a layer attribute (act, init, units, ...) or a train setting", "A layer made by a `repeat` changes in every copy."),
            Verb::Insert => (":insert", &[], ":insert before|after PLACE STATEMENT", "insert a statement next to a layer, a repeat or a line", PLACES),
            Verb::Remove => (":remove", &[":rm"], ":remove PLACE", "remove a layer's statement, a repeat or a line's statement", PLACES),
            Verb::Wrap => (":wrap", &[], ":wrap FIRST..LAST residual [ARGS]", "wrap consecutive statements in a residual block", PLACES),
            Verb::Train => (":train", &[":t"], ":train [N [steps|epochs]]", "train (continues from the current weights until the model changes)", "With no N, the length the train section says. A learning-rate schedule spans the run the train section describes, however many `:train` commands it takes."),
            Verb::Grads => (":grads", &[":g"], ":grads", "per-layer gradient table of the last run, with a log-scale bar (one scale for the session)", ""),
            Verb::Spark => (":spark", &[], ":spark [LAYER]", "sparklines of the loss and of a layer's ‖∂L/∂a‖ over the last run", ""),
            Verb::Plot => (":plot", &[], ":plot FILE.png|FILE.svg [grads|profile|loss]", "draw the last runs as a picture (PNG, or SVG for a .svg name)", "`grads` (the default): the last run's ‖∂L/∂a‖ of every layer over its steps, log scale. `profile`: the last two runs' ‖∂L/∂a‖ by depth, `:diff` as a picture. `loss`: the last two runs' training loss over their steps."),
            Verb::Diff => (":diff", &[], ":diff", "the last two runs side by side: per-layer gradients, final loss and accuracy", ""),
            Verb::Ir => (":ir", &[], ":ir [forward|step|clif]", "the tensor IR of the forward program or the training step, or the Cranelift IR", ""),
            Verb::Undo => (":undo", &[":u"], ":undo", "undo the last change to the model, saying what it was", ""),
            Verb::Reset => (":reset", &[], ":reset [SEED]", "fresh weights (with a new seed if given)", ""),
            Verb::Save => (":save", &[":w"], ":save FILE.net", "save the current model, formatted as `netc fmt` would", ""),
            Verb::Help => (":help", &[":h", ":?"], ":help [COMMAND]", "this list, or one command's usage", ""),
            Verb::Quit => (":quit", &[":q", ":exit"], ":quit", "leave (also Ctrl-D)", ""),
        };
        Info {
            name,
            aliases,
            usage,
            what,
            more,
        }
    }
}

/// The commands' full names, for completion and "did you mean".
pub fn command_names() -> impl Iterator<Item = &'static str> {
    Verb::ALL.into_iter().map(|v| v.info().name)
}

/// The usage line of a command, by any of its names, with or without the colon.
pub fn usage_of(name: &str) -> Option<&'static str> {
    verb_named(name).map(|v| v.info().usage)
}

fn verb_named(name: &str) -> Option<Verb> {
    if name.starts_with(':') {
        Verb::find(name)
    } else {
        Verb::find(&format!(":{name}"))
    }
}

/// `:help`, or one command's usage and what it does.
pub fn help(topic: Option<&str>) -> String {
    if let Some(topic) = topic {
        let Some(info) = verb_named(topic).map(Verb::info) else {
            let topic = topic.trim_start_matches(':');
            return format!("no command `:{topic}`; `:help` lists them\n");
        };
        let mut out = format!("{}\n  {}\n", info.usage, info.what);
        if !info.more.is_empty() {
            for line in wrap(info.more, 88) {
                let _ = writeln!(out, "  {line}");
            }
        }
        if !info.aliases.is_empty() {
            let _ = writeln!(out, "  also: {}", info.aliases.join(", "));
        }
        return out;
    }
    let mut out = String::from(
        "Type a statement of the language to add it to the model, checked on the spot:\n  \
         `input x: [4]`, a layer (`dense 32, act = relu`), a `repeat`/`residual`, a `block`,\n  \
         a train setting (`optimizer = sgd(lr = 0.1)`) or a whole `train { ... }` section.\n  \
         Unbalanced braces continue on the next line.\n\
         Commands:\n",
    );
    for info in Verb::ALL.map(Verb::info) {
        if info.usage.chars().count() > 38 {
            let _ = writeln!(out, "  {}\n  {:<38} {}", info.usage, "", info.what);
        } else {
            let _ = writeln!(out, "  {:<38} {}", info.usage, info.what);
        }
    }
    out
}

/// `text` in lines of at most `width` characters, broken between words.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let line = lines
            .last_mut()
            .filter(|l| l.chars().count() + 1 + word.chars().count() <= width || l.is_empty());
        match line {
            Some(line) if line.is_empty() => line.push_str(word),
            Some(line) => {
                line.push(' ');
                line.push_str(word);
            }
            None => lines.push(word.to_owned()),
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_is_found_by_each_of_its_names_and_has_help() {
        let list = help(None);
        for verb in Verb::ALL {
            let info = verb.info();
            assert!(list.contains(info.usage), "{} is not in :help", info.name);
            for name in std::iter::once(info.name).chain(info.aliases.iter().copied()) {
                assert_eq!(Verb::find(name), Some(verb), "{name}");
                assert!(
                    help(Some(name)).starts_with(info.usage),
                    ":help {name}: {}",
                    help(Some(name))
                );
            }
        }
        assert!(
            help(Some("plot")).contains("profile"),
            "{}",
            help(Some("plot"))
        );
        assert!(help(Some("nope")).starts_with("no command `:nope`"));
    }

    /// docs/repl.md's table of commands has a row for every command, and no other.
    #[test]
    fn the_documented_commands_are_the_table() {
        let doc = include_str!("../../docs/repl.md");
        let rows: Vec<&str> = doc
            .lines()
            .filter_map(|l| l.strip_prefix("| `:"))
            .filter_map(|l| l.split([' ', '`']).next())
            .collect();
        let mut documented: Vec<String> = rows.iter().map(|r| format!(":{r}")).collect();
        documented.dedup();
        let names: Vec<String> = command_names().map(str::to_owned).collect();
        assert_eq!(documented, names);
    }
}
