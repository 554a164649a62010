//! Tab completion and multi-line input: which words fit at the cursor (commands, layer names,
//! attributes, activations, initializers, optimizers...), and whether a line's braces are still
//! open. [`candidates`] is pure; [`LineHelper`] plugs it into rustyline.

use super::command::command_names;
use crate::model::{Activation, Clip, DataSource, Init, Loss, Optimizer, Schedule};
use crate::sema::names;
use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Helper};

/// A layer of the current model as completion sees it: its name and the attributes its
/// statement takes (the checker's own list, `sema::layer_params`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerWords {
    pub name: String,
    pub attrs: &'static [&'static str],
}

/// The completions of the word ending at `pos`: where that word starts, and the candidates.
pub fn candidates(line: &str, pos: usize, layers: &[LayerWords]) -> (usize, Vec<String>) {
    let pos = pos.min(line.len());
    let head = &line[..pos];
    let start = head
        .rfind(|c: char| c.is_whitespace() || matches!(c, '=' | ',' | '(' | '.'))
        .map_or(0, |i| i + 1);
    let word = &head[start..];
    let before = head[..start].trim_end();
    let words: Vec<&str> = head[..start].split_whitespace().collect();
    let pool: Vec<&str> = if line.trim_start().starts_with(':') {
        command_pool(&words, before, layers)
    } else {
        statement_pool(before)
    };
    let mut out: Vec<String> = pool
        .into_iter()
        .filter(|c| c.starts_with(word) && *c != word)
        .map(str::to_owned)
        .collect();
    out.sort();
    out.dedup();
    (start, out)
}

/// Candidates inside a `:command` line.
fn command_pool<'a>(words: &[&str], before: &str, layers: &'a [LayerWords]) -> Vec<&'a str> {
    let Some(&command) = words.first() else {
        return command_names().collect();
    };
    if let Some(pool) = value_pool(before) {
        return pool;
    }
    let names = || layers.iter().map(|l| l.name.as_str()).collect::<Vec<_>>();
    match (command, words.len()) {
        (":set", 2) if before.ends_with('.') => {
            // `:set dense1.`: the attributes of dense1's statement, or a setting's arguments.
            let head = words[1].trim_end_matches('.');
            layers
                .iter()
                .find(|l| l.name == head)
                .map_or(Vec::new(), |l| l.attrs.to_vec())
        }
        (":set", 1) => names()
            .into_iter()
            .chain(names::SETTINGS.iter().copied())
            .collect(),
        (":insert", 1) => vec!["before", "after"],
        (":insert", 2) => places(names()),
        (":insert", _) => names::layers(),
        (":remove" | ":rm", 1) => places(names()),
        (":spark", 1) => names(),
        (":wrap", 1) => places(names()),
        (":wrap", 2) if before.ends_with('.') => names(),
        (":wrap", 2) => vec!["residual"],
        (":train" | ":t", 2) => vec!["steps", "epochs"],
        (":ir", 1) => vec!["forward", "step", "clif"],
        (":plot", 2) => vec!["grads", "profile", "loss"],
        (":help" | ":h", 1) => command_names().map(|n| n.trim_start_matches(':')).collect(),
        _ => Vec::new(),
    }
}

/// What an edit can be aimed at: the layers, and `line` for `line N`.
fn places(mut layers: Vec<&str>) -> Vec<&str> {
    layers.push("line");
    layers
}

/// Candidates inside a statement of the language.
fn statement_pool(before: &str) -> Vec<&'static str> {
    if let Some(pool) = value_pool(before) {
        return pool;
    }
    if before.is_empty() || before.ends_with('{') {
        let mut pool: Vec<&str> = names::layers();
        pool.extend(["input", "repeat", "residual", "block"]);
        pool.extend(names::SETTINGS.iter().copied());
        return pool;
    }
    if before.ends_with(',') {
        // `dense 32, `: the attributes a statement of that kind takes.
        let kind = before
            .rsplit(['{', '\n'])
            .next()
            .and_then(|s| s.split_whitespace().next())
            .unwrap_or_default();
        return crate::sema::layer_params(kind).to_vec();
    }
    Vec::new()
}

/// After `KEY =`: the words that can be KEY's value.
fn value_pool(before: &str) -> Option<Vec<&'static str>> {
    let lhs = before.strip_suffix('=')?.trim_end();
    let key = lhs
        .rsplit(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .next()
        .unwrap_or_default();
    // The word families' own lists (src/sema/words.rs), and the checker's for the rest.
    Some(match key {
        "act" => Activation::names(),
        "init" | "bias_init" | "projection" => Init::names(),
        "optimizer" => Optimizer::names(),
        "loss" => Loss::names(),
        "schedule" => Schedule::names(),
        "clip" => Clip::names(),
        "data" => DataSource::names(),
        "bias" | "affine" => vec!["true", "false"],
        _ => return None,
    })
}

/// How many braces, brackets and parentheses are still open at the end of `text` (strings and
/// `//` comments skipped). Input continues on the next line while this is positive.
pub fn open_brackets(text: &str) -> i64 {
    let mut depth = 0i64;
    for line in text.lines() {
        let mut in_string = false;
        let mut prev = ' ';
        for c in line.chars() {
            match c {
                '"' if prev != '\\' => in_string = !in_string,
                '/' if !in_string && prev == '/' => break,
                '{' | '(' | '[' if !in_string => depth += 1,
                '}' | ')' | ']' if !in_string => depth -= 1,
                _ => {}
            }
            prev = c;
        }
    }
    depth
}

/// rustyline's view of the REPL: completion, and continuation while brackets are open.
pub struct LineHelper {
    /// The current model's layers.
    pub layers: Vec<LayerWords>,
    files: FilenameCompleter,
}

impl LineHelper {
    pub fn new() -> LineHelper {
        LineHelper {
            layers: Vec::new(),
            files: FilenameCompleter::new(),
        }
    }
}

impl Default for LineHelper {
    fn default() -> LineHelper {
        LineHelper::new()
    }
}

impl Completer for LineHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let first = line.split_whitespace().next().unwrap_or_default();
        let typed = &line[..pos.min(line.len())];
        if matches!(first, ":load" | ":l" | ":save" | ":w" | ":plot")
            && typed.split_whitespace().count() + usize::from(typed.ends_with(' ')) == 2
        {
            return self.files.complete(line, pos, ctx);
        }
        let (start, words) = candidates(line, pos, &self.layers);
        let pairs = words
            .into_iter()
            .map(|w| Pair {
                display: w.clone(),
                replacement: w,
            })
            .collect();
        Ok((start, pairs))
    }
}

impl Hinter for LineHelper {
    type Hint = String;
}

impl Highlighter for LineHelper {}

impl Validator for LineHelper {
    fn validate(&self, ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        let input = ctx.input();
        if !input.trim_start().starts_with(':') && open_brackets(input) > 0 {
            return Ok(ValidationResult::Incomplete);
        }
        Ok(ValidationResult::Valid(None))
    }
}

impl Helper for LineHelper {}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(line: &str) -> (usize, Vec<String>) {
        let layer = |name: &str, kind: &str| LayerWords {
            name: name.to_owned(),
            attrs: crate::sema::layer_params(kind),
        };
        let layers = vec![
            layer("dense1", "dense"),
            layer("dense2", "dense"),
            layer("out", "dense"),
            layer("norm", "layernorm"),
        ];
        candidates(line, line.len(), &layers)
    }

    #[test]
    fn commands_and_layers() {
        assert_eq!(complete(":tr"), (0, vec![":train".to_owned()]));
        assert_eq!(complete(":set de").1, ["dense1", "dense2"]);
        assert_eq!(complete(":set dense1.a"), (12, vec!["act".to_owned()]));
        assert_eq!(
            complete(":set dense1.").1,
            ["act", "bias", "bias_init", "init", "units"],
            "a dense layer's attributes, not `affine`, `eps` or `p`"
        );
        assert_eq!(complete(":set norm.").1, ["affine", "eps"]);
        assert_eq!(
            complete("dense 32, ").1,
            ["act", "bias", "bias_init", "init", "units"]
        );
        assert_eq!(complete("dropout 0.1, ").1, ["p"]);
        assert_eq!(complete(":insert af").1, ["after"]);
        assert_eq!(complete(":insert after o").1, ["out"]);
        assert_eq!(complete(":wrap dense1..d").1, ["dense1", "dense2"]);
        assert_eq!(complete(":train 3 ep").1, ["epochs"]);
    }

    #[test]
    fn values_by_key() {
        assert_eq!(complete(":set dense1.act = sig").1, ["sigmoid"]);
        assert_eq!(
            complete(":set dense1.init=he_").1,
            ["he_normal", "he_uniform"]
        );
        assert_eq!(complete("dense 32, act = re").1, ["relu"]);
        assert_eq!(complete("optimizer = ad").1, ["adagrad", "adam", "adamw"]);
        assert_eq!(complete("dense 32, init = xavier_u").1, ["xavier_uniform"]);
        assert!(complete("den").1.contains(&"dense".to_owned()));
    }

    #[test]
    fn brackets() {
        assert_eq!(open_brackets("block res(w) {"), 1);
        assert_eq!(open_brackets("repeat 2 { dense 3 }"), 0);
        assert_eq!(open_brackets("data = csv(\"a{b\", target = \"y\") // {"), 0);
    }
}
