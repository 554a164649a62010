//! The words of the language that have no family of their own (layer kinds, the keys of the
//! `train` section), the list of every layer kind, and "did you mean".

use crate::model::Activation;

/// Layer kinds other than the activations and the recurrent cells, whose names come from
/// their families ([`Activation::names`], [`crate::model::Cell::names`]).
pub const LAYER_KINDS: &[&str] = &[
    "dense",
    "linear",
    "batchnorm",
    "layernorm",
    "dropout",
    "conv2d",
    "maxpool",
    "avgpool",
    "global_avgpool",
    "flatten",
];

/// Layer kinds a model body may use, besides blocks and the recurrent cells: the kinds above,
/// then every activation (each is also a layer).
pub fn layers() -> Vec<&'static str> {
    let activations = Activation::names();
    LAYER_KINDS.iter().copied().chain(activations).collect()
}

/// Keys of the `train` section.
pub const SETTINGS: &[&str] = &[
    "data",
    "loss",
    "optimizer",
    "schedule",
    "clip",
    "l2",
    "batch",
    "epochs",
    "steps",
    "seed",
    "probes",
    "on_nonfinite",
    "checkpoint_every",
];

/// The closest candidate within a small edit distance, for "did you mean `x`?".
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).clamp(1, 3);
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// A help line: "did you mean `x`?" or the list of what is allowed.
pub fn suggest(word: &str, candidates: &[&str]) -> String {
    match did_you_mean(word, candidates.iter().copied()) {
        Some(best) => format!("did you mean `{best}`?"),
        None => format!("expected one of: {}", candidates.join(", ")),
    }
}

/// Levenshtein distance, over chars; long words are cut short so garbage stays cheap.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().take(64).collect();
    let b: Vec<char> = b.chars().take(64).collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            let next = (prev + cost).min(row[j] + 1).min(row[j + 1] + 1);
            prev = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(edit_distance("sigmod", "sigmoid"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(did_you_mean("sigmod", Activation::names()), Some("sigmoid"));
        assert_eq!(did_you_mean("zzzzzzzz", Activation::names()), None);
    }
}
