//! The grid of variants of `--vary KEY=V1,V2 ...` and `--seeds N`, expanded once for `netc
//! train --vary`, `netc sweep` and `train --variant`/`--shard`, so variant `i` is the same
//! model for all of them; and the name of each variant's run folder.

use super::train::TrainArgs;
use crate::sema::Override;
use std::path::{Path, PathBuf};

/// One model to train: its label, source and overrides.
#[derive(Debug, Clone)]
pub struct Variant {
    pub label: String,
    pub src: String,
    pub base_dir: PathBuf,
    pub overrides: Vec<Override>,
    /// The grid's value of each varied key, in `--vary` order (`seed` last with `--seeds`).
    pub choices: Vec<(String, String)>,
}

/// The `--set` list of `netc train` with its `--steps` and `--epochs` shortcuts appended, in
/// that order: the one form a sweep records, so a task handed `--set steps=N` and a command
/// given `--steps N` define the same grid.
pub fn train_settings(args: &TrainArgs) -> Vec<String> {
    let mut set = args.model.set.clone();
    set.extend(args.steps.map(|n| format!("steps={n}")));
    set.extend(args.epochs.map(|n| format!("epochs={n}")));
    set
}

/// The variants of `netc train FILE --vary ... [--seeds N]`; errors are printed.
pub fn vary_grid(args: &TrainArgs) -> Result<Vec<Variant>, ()> {
    let set = train_settings(args);
    grid_of(&args.model.file, &set, &args.vary, args.sweep.seeds)
}

/// The variants of `file` under the `--set` overrides `set` over the grid of `vary` and
/// `seeds` (see [`grid`]); errors are printed.
pub fn grid_of(
    file: &Path,
    set: &[String],
    vary: &[String],
    seeds: Option<u32>,
) -> Result<Vec<Variant>, ()> {
    let src = super::common::read_text(file)?;
    let base = Variant {
        label: String::new(),
        src,
        base_dir: file.parent().map(Path::to_path_buf).unwrap_or_default(),
        overrides: parse_overrides(set)?,
        choices: Vec::new(),
    };
    grid(base, vary, seeds).map_err(|e| eprintln!("error: {e}"))
}

/// The grid of `--vary KEY=V1,V2 ...` and `--seeds N` over `base`, numbered in this order:
/// the first `--vary` varies slowest and the last fastest, each key's values in the order
/// given, and the seeds (the model's seed, +1, ..., +N-1) fastest of all. Variant `i` of a
/// grid is the same variant for every command that expands it.
pub fn grid(base: Variant, vary: &[String], seeds: Option<u32>) -> Result<Vec<Variant>, String> {
    let seed_values = seeds.map(|n| seed_axis(&base, n)).transpose()?;
    let mut variants = vec![base];
    for spec in vary {
        let Some((key, values)) = spec.split_once('=') else {
            return Err(format!("bad --vary `{spec}`: expected KEY=V1,V2"));
        };
        let (key, values) = (key.trim(), split_top_level(values));
        if values.is_empty() {
            return Err(format!("bad --vary `{spec}`: no values after `=`"));
        }
        if key == "seed" && seeds.is_some() {
            return Err(format!(
                "--seeds and --vary `{spec}` both vary the seed: keep one"
            ));
        }
        variants =
            expand(&variants, key, &values).map_err(|e| format!("bad --vary `{spec}`: {e}"))?;
    }
    if let Some(values) = seed_values {
        variants = expand(&variants, "seed", &values)?;
    }
    for v in &mut variants {
        if v.label.is_empty() {
            v.label = "base".to_owned();
        }
    }
    Ok(variants)
}

/// The `--seeds N` values: the base model's seed (after `--set`) and the N-1 after it.
fn seed_axis(base: &Variant, n: u32) -> Result<Vec<String>, String> {
    let checked = crate::sema::check_source("the model", &base.src, &base.overrides);
    let seed = checked
        .model
        .map(|m| m.train.seed)
        .ok_or("--seeds: the model does not check (run `netc check` on it)")?;
    (0..u64::from(n))
        .map(|k| seed.checked_add(k).map(|s| s.to_string()))
        .collect::<Option<Vec<String>>>()
        .ok_or_else(|| format!("--seeds {n}: seed {seed} + {n} is beyond the largest seed"))
}

pub fn parse_overrides(set: &[String]) -> Result<Vec<Override>, ()> {
    set.iter()
        .map(|s| Override::parse(s).map_err(|e| eprintln!("error: bad --set `{s}`: {e}")))
        .collect()
}

/// Every variant times every value of `key`: model attributes are rewritten in the source,
/// anything else becomes a `--set` override.
pub fn expand(variants: &[Variant], key: &str, values: &[String]) -> Result<Vec<Variant>, String> {
    let mut out = Vec::new();
    for v in variants {
        for value in values {
            let mut next = v.clone();
            if matches!(key, "act" | "init" | "bias_init") {
                let (file, _) = crate::syntax::parse_file(&v.src);
                next.src = crate::syntax::edit::set_layer_attribute(&v.src, &file, key, value)
                    .ok_or_else(|| format!("the model has no `{key} = ...` to vary"))?;
            } else {
                next.overrides.push(Override {
                    key: key.to_owned(),
                    value: value.clone(),
                });
            }
            next.choices.push((key.to_owned(), value.clone()));
            next.label = if v.label.is_empty() {
                format!("{key}={value}")
            } else {
                format!("{} {key}={value}", v.label)
            };
            out.push(next);
        }
    }
    Ok(out)
}

/// Splits `a,b(1, 2),c` on the commas outside parentheses.
pub fn split_top_level(s: &str) -> Vec<String> {
    let (mut parts, mut depth, mut cur) = (Vec::new(), 0i32, String::new());
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(cur.trim().to_owned());
                cur.clear();
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    parts.push(cur.trim().to_owned());
    parts.into_iter().filter(|p| !p.is_empty()).collect()
}

/// The folder of variant `index` inside a comparison or sweep folder: `<index>-<label>`, the
/// label with everything but letters, digits, `_` and `.` turned into `-`.
pub fn folder_name(index: usize, label: &str) -> String {
    let label: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("{index}-{label}")
}

#[cfg(test)]
mod tests {
    use super::split_top_level;

    #[test]
    fn vary_values_split_outside_parentheses() {
        assert_eq!(
            split_top_level("normal(0, 0.1),he_normal"),
            ["normal(0, 0.1)", "he_normal"]
        );
        assert_eq!(split_top_level("sigmoid, relu"), ["sigmoid", "relu"]);
    }
}
