//! Parameter names from other tools. A weights file written elsewhere names its tensors its own
//! way (`nn.Sequential` gives `0.weight`, `2.bias`; `nn.LSTM` gives `weight_ih_l0`); a
//! [`NameMap`] turns them into netc's names before the file is checked against the model:
//! rules from `--rename 'PATTERN=REPLACEMENT'` (regular expressions, applied in order), exact
//! pairs from `--name-map map.json`, and always PyTorch's recurrent suffix `_l0`.
//! [`propose`] finds the map itself from the order and shapes of the tensors
//! (`netc params FILE --like W.safetensors`), and refuses when that is not clear-cut.

use super::ParamStore;
use regex::Regex;
use std::collections::BTreeMap;
use thiserror::Error;

/// How a loaded file's names become the model's names.
#[derive(Debug, Clone, Default)]
pub struct NameMap {
    /// Exact `file name → model name` pairs (`--name-map`), tried first.
    exact: BTreeMap<String, String>,
    /// `--rename` rules, each applied in turn to the name the previous ones left.
    rules: Vec<(Regex, String)>,
}

/// A rename rule or map that cannot be used.
#[derive(Debug, Error, PartialEq)]
pub enum NameMapError {
    #[error("`--rename {0}` needs the form PATTERN=REPLACEMENT")]
    NoEquals(String),
    #[error("`--rename {rule}`: {reason}")]
    BadPattern { rule: String, reason: String },
    #[error(
        "the name map is not a JSON object of strings (`{{\"0.weight\": \"dense1.weight\"}}`): {0}"
    )]
    BadJson(String),
    #[error("both `{first}` and `{second}` in the file become `{target}`")]
    Collision {
        first: String,
        second: String,
        target: String,
    },
}

impl NameMap {
    /// Rules from `--rename` arguments (`0\.=dense1.`, `^fc(\d+)=dense$1`).
    pub fn with_rules(mut self, rules: &[String]) -> Result<NameMap, NameMapError> {
        for rule in rules {
            let (pattern, replacement) = rule
                .split_once('=')
                .ok_or_else(|| NameMapError::NoEquals(rule.clone()))?;
            let regex = Regex::new(pattern).map_err(|e| NameMapError::BadPattern {
                rule: rule.clone(),
                reason: e.to_string(),
            })?;
            self.rules.push((regex, replacement.to_owned()));
        }
        Ok(self)
    }

    /// Exact pairs from a JSON object (`--name-map map.json`, as `netc params --like --json`
    /// writes it).
    pub fn with_json(mut self, json: &str) -> Result<NameMap, NameMapError> {
        let pairs: BTreeMap<String, String> =
            serde_json::from_str(json).map_err(|e| NameMapError::BadJson(e.to_string()))?;
        self.exact.extend(pairs);
        Ok(self)
    }

    /// The model's name for a tensor the file calls `name`.
    pub fn rename(&self, name: &str) -> String {
        if let Some(target) = self.exact.get(name) {
            return target.clone();
        }
        let mut out = name.to_owned();
        for (regex, replacement) in &self.rules {
            out = regex.replace(&out, replacement.as_str()).into_owned();
        }
        strip_layer_index(&out).unwrap_or(out)
    }

    /// `store` under the model's names. Two tensors that land on one name are an error.
    pub fn apply(&self, store: ParamStore) -> Result<ParamStore, NameMapError> {
        let mut out = ParamStore::new();
        let mut origin: BTreeMap<String, String> = BTreeMap::new();
        for (name, tensor) in store.tensors {
            let target = self.rename(&name);
            if let Some(first) = origin.insert(target.clone(), name.clone()) {
                return Err(NameMapError::Collision {
                    first,
                    second: name,
                    target,
                });
            }
            out.insert(target, tensor);
        }
        Ok(out)
    }
}

/// netc's name of PyTorch's one-layer recurrent tensors: `lstm1.weight_ih_l0` →
/// `lstm1.weight_ih`. Deeper layers (`_l1`) have no netc counterpart and keep their name.
fn strip_layer_index(name: &str) -> Option<String> {
    let base = name.strip_suffix("_l0")?;
    let tensor = base.rsplit('.').next()?;
    matches!(tensor, "weight_ih" | "weight_hh" | "bias_ih" | "bias_hh").then(|| base.to_owned())
}

/// One parameter the model expects: its name, its layer and its shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Expected<'a> {
    pub name: &'a str,
    pub layer: &'a str,
    pub shape: &'a [usize],
}

/// One matched pair of a proposed map.
#[derive(Debug, Clone, PartialEq)]
pub struct Matched {
    pub file_name: String,
    pub model_name: String,
    pub shape: Vec<usize>,
}

/// Why no map could be proposed.
#[derive(Debug, Error, PartialEq)]
pub enum ProposeError {
    #[error("no group of tensors in the file matches layer `{layer}` ({wants})")]
    NoMatch { layer: String, wants: String },
    #[error(
        "layer `{layer}` ({wants}) could be any of {}: their names give no order; map them with --rename or --name-map",
        .candidates.join(", ")
    )]
    Ambiguous {
        layer: String,
        wants: String,
        candidates: Vec<String>,
    },
    #[error("the file has tensors no layer of the model takes: {}", .0.join(", "))]
    Unexpected(Vec<String>),
}

/// A map from `loaded`'s names to the model's, matching whole layers: the tensors of one
/// module (`0.weight`, `0.bias`) go to one netc layer with the same tensor names and shapes.
/// A layer whose shapes only one module has takes that module; layers with equal shapes take
/// the modules in the order their numbered names give (`nn.Sequential`'s `0`, `2`, `10`), and
/// are refused as ambiguous when the names have no numbers to order them by.
pub fn propose(
    loaded: &ParamStore,
    expected: &[Expected<'_>],
) -> Result<Vec<Matched>, ProposeError> {
    let mut modules = file_modules(loaded);
    let mut out = Vec::new();
    for (layer, wants) in model_layers(expected) {
        let candidates: Vec<usize> = (0..modules.len())
            .filter(|&i| modules[i].signature == wants)
            .collect();
        let chosen = match candidates.as_slice() {
            [] => {
                return Err(ProposeError::NoMatch {
                    layer: layer.to_owned(),
                    wants: describe(&wants),
                })
            }
            [one] => *one,
            [first, ..] if candidates.iter().all(|&i| modules[i].numbered) => *first,
            _ => {
                return Err(ProposeError::Ambiguous {
                    layer: layer.to_owned(),
                    wants: describe(&wants),
                    candidates: candidates
                        .iter()
                        .map(|&i| modules[i].prefix.clone())
                        .collect(),
                })
            }
        };
        let module = modules.remove(chosen);
        for ((tensor, shape), file_name) in module.signature.into_iter().zip(module.names) {
            out.push(Matched {
                file_name,
                model_name: format!("{layer}.{tensor}"),
                shape,
            });
        }
    }
    if !modules.is_empty() {
        let left = modules
            .iter()
            .flat_map(|m| m.names.iter().cloned())
            .collect();
        return Err(ProposeError::Unexpected(left));
    }
    Ok(out)
}

/// What a module or layer holds: (tensor name as netc names it, shape), sorted.
type Signature = Vec<(String, Vec<usize>)>;

/// The tensors of one module of the file: what it holds, in tensor-name order.
struct Module {
    prefix: String,
    signature: Signature,
    /// The file's full names, in the signature's order.
    names: Vec<String>,
    /// The prefix has a number that orders it among its siblings.
    numbered: bool,
}

fn file_modules(loaded: &ParamStore) -> Vec<Module> {
    let mut groups: BTreeMap<String, Vec<(String, Vec<usize>, String)>> = BTreeMap::new();
    for (name, tensor) in loaded.iter() {
        let (prefix, tensor_name) = name.rsplit_once('.').unwrap_or(("", name));
        let netc_tensor = strip_layer_index(&format!("x.{tensor_name}"))
            .map_or(tensor_name.to_owned(), |n| n["x.".len()..].to_owned());
        groups.entry(prefix.to_owned()).or_default().push((
            netc_tensor,
            tensor.shape.clone(),
            name.to_owned(),
        ));
    }
    let mut modules: Vec<Module> = groups
        .into_iter()
        .map(|(prefix, mut tensors)| {
            tensors.sort();
            Module {
                numbered: prefix.chars().any(|c| c.is_ascii_digit()),
                signature: tensors
                    .iter()
                    .map(|(t, s, _)| (t.clone(), s.clone()))
                    .collect(),
                names: tensors.into_iter().map(|(_, _, n)| n).collect(),
                prefix,
            }
        })
        .collect();
    modules.sort_by_key(|m| natural_key(&m.prefix));
    modules
}

/// The model's layers in order, each with its (tensor, shape) signature, sorted.
fn model_layers<'a>(expected: &[Expected<'a>]) -> Vec<(&'a str, Signature)> {
    let mut layers: Vec<(&str, Signature)> = Vec::new();
    for p in expected {
        let tensor = p
            .name
            .strip_prefix(p.layer)
            .and_then(|t| t.strip_prefix('.'));
        let entry = (tensor.unwrap_or(p.name).to_owned(), p.shape.to_vec());
        match layers.iter_mut().find(|(layer, _)| *layer == p.layer) {
            Some((_, sig)) => sig.push(entry),
            None => layers.push((p.layer, vec![entry])),
        }
    }
    for (_, sig) in &mut layers {
        sig.sort();
    }
    layers
}

/// "weight [32, 64], bias [32]".
fn describe(signature: &[(String, Vec<usize>)]) -> String {
    signature
        .iter()
        .map(|(t, s)| format!("{t} {s:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A sort key that orders `layers.2` before `layers.10`.
fn natural_key(s: &str) -> Vec<(u64, String)> {
    let mut key = Vec::new();
    let mut chars = s.chars().peekable();
    while chars.peek().is_some() {
        let text: String = std::iter::from_fn(|| chars.next_if(|c| !c.is_ascii_digit())).collect();
        let digits: String = std::iter::from_fn(|| chars.next_if(|c| c.is_ascii_digit())).collect();
        key.push((0, text));
        if !digits.is_empty() {
            key.push((digits.parse().unwrap_or(u64::MAX), String::new()));
        }
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::Tensor;

    fn store(entries: &[(&str, &[usize])]) -> ParamStore {
        let mut s = ParamStore::new();
        for (name, shape) in entries {
            let n = shape.iter().product();
            s.insert(*name, Tensor::new(shape.to_vec(), vec![0.0; n]));
        }
        s
    }

    fn expected<'a>(entries: &'a [(&'a str, &'a [usize])]) -> Vec<Expected<'a>> {
        entries
            .iter()
            .map(|(name, shape)| Expected {
                name,
                layer: name.split('.').next().unwrap_or(name),
                shape,
            })
            .collect()
    }

    #[test]
    fn rules_apply_in_order_and_recurrent_suffixes_drop() {
        let map = NameMap::default()
            .with_rules(&[r"^fc(\d+)=dense$1".to_owned(), r"^dense3=logits".to_owned()])
            .expect("rules");
        assert_eq!(map.rename("fc1.weight"), "dense1.weight");
        assert_eq!(map.rename("fc3.bias"), "logits.bias");
        assert_eq!(map.rename("lstm1.weight_hh_l0"), "lstm1.weight_hh");
        assert_eq!(map.rename("lstm1.weight_hh_l1"), "lstm1.weight_hh_l1");
    }

    #[test]
    fn bad_rules_and_collisions_are_errors() {
        let err = NameMap::default().with_rules(&["nothing".to_owned()]);
        assert_eq!(
            err.err(),
            Some(NameMapError::NoEquals("nothing".to_owned()))
        );
        assert!(matches!(
            NameMap::default().with_rules(&["(=x".to_owned()]),
            Err(NameMapError::BadPattern { .. })
        ));
        let map = NameMap::default()
            .with_rules(&[r"^\d+=same".to_owned()])
            .expect("rule");
        let e = map.apply(store(&[("0.weight", &[2]), ("1.weight", &[2])]));
        assert!(matches!(e, Err(NameMapError::Collision { .. })), "{e:?}");
    }

    #[test]
    fn a_sequential_state_dict_maps_by_order_of_its_numbers() {
        // nn.Sequential(Linear(4, 8), Tanh(), Linear(8, 8), Tanh(), ..., Linear(8, 3)): the
        // two 8×8 layers are told apart only by their indices, 2 before 10.
        let file = store(&[
            ("0.weight", &[8, 4]),
            ("0.bias", &[8]),
            ("10.weight", &[8, 8]),
            ("10.bias", &[8]),
            ("2.weight", &[8, 8]),
            ("2.bias", &[8]),
            ("12.weight", &[3, 8]),
            ("12.bias", &[3]),
        ]);
        let model = [
            ("dense1.weight", &[8usize, 4][..]),
            ("dense1.bias", &[8][..]),
            ("dense2.weight", &[8, 8][..]),
            ("dense2.bias", &[8][..]),
            ("dense3.weight", &[8, 8][..]),
            ("dense3.bias", &[8][..]),
            ("out.weight", &[3, 8][..]),
            ("out.bias", &[3][..]),
        ];
        let matched = propose(&file, &expected(&model)).expect("proposed");
        let pairs: Vec<(&str, &str)> = matched
            .iter()
            .map(|m| (m.file_name.as_str(), m.model_name.as_str()))
            .collect();
        assert!(pairs.contains(&("2.weight", "dense2.weight")), "{pairs:?}");
        assert!(pairs.contains(&("10.bias", "dense3.bias")), "{pairs:?}");
        assert!(pairs.contains(&("12.weight", "out.weight")), "{pairs:?}");
        assert_eq!(pairs.len(), 8);
    }

    #[test]
    fn unordered_twins_are_ambiguous_and_strays_are_named() {
        let file = store(&[("enc.weight", &[4, 4]), ("dec.weight", &[4, 4])]);
        let model = [("a.weight", &[4usize, 4][..]), ("b.weight", &[4, 4][..])];
        let e = propose(&file, &expected(&model));
        assert!(matches!(e, Err(ProposeError::Ambiguous { .. })), "{e:?}");
        let file = store(&[("0.weight", &[4, 4]), ("9.weight", &[2, 2])]);
        let model = [("a.weight", &[4usize, 4][..])];
        assert_eq!(
            propose(&file, &expected(&model)),
            Err(ProposeError::Unexpected(vec!["9.weight".to_owned()]))
        );
        let model = [("a.weight", &[5usize, 4][..])];
        assert!(matches!(
            propose(&file, &expected(&model)),
            Err(ProposeError::NoMatch { .. })
        ));
    }

    #[test]
    fn pytorch_recurrent_modules_match_netc_layers() {
        let file = store(&[
            ("0.weight_ih_l0", &[64, 3]),
            ("0.weight_hh_l0", &[64, 16]),
            ("1.weight", &[1, 16]),
        ]);
        let model = [
            ("lstm1.weight_ih", &[64usize, 3][..]),
            ("lstm1.weight_hh", &[64, 16][..]),
            ("dense1.weight", &[1, 16][..]),
        ];
        let matched = propose(&file, &expected(&model)).expect("proposed");
        assert_eq!(matched[0].file_name, "0.weight_hh_l0");
        assert_eq!(matched[0].model_name, "lstm1.weight_hh");
    }

    #[test]
    fn natural_order_reads_numbers_as_numbers() {
        let mut names = vec!["layers.10", "layers.2", "head", "layers.1"];
        names.sort_by_key(|n| natural_key(n));
        assert_eq!(names, ["head", "layers.1", "layers.2", "layers.10"]);
    }
}
