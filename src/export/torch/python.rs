//! Python text for the exported module: an indentation-aware writer, literals that read back
//! exactly, identifiers, and the attribute path of each netc parameter inside the module.

/// Python text with an indentation level.
#[derive(Default)]
pub(super) struct Python {
    pub(super) text: String,
    indent: usize,
}

impl Python {
    pub(super) fn line(&mut self, line: impl AsRef<str>) {
        let line = line.as_ref();
        if !line.is_empty() {
            self.text.push_str(&"    ".repeat(self.indent));
        }
        self.text.push_str(line);
        self.text.push('\n');
    }

    pub(super) fn block(&mut self, head: impl AsRef<str>, body: impl FnOnce(&mut Python)) {
        self.line(head);
        self.indent += 1;
        body(self);
        self.indent -= 1;
    }
}

/// `self.dense1.weight` for `dense1.weight`.
pub(super) fn param_path(name: &str) -> String {
    param_path_from(name, "self")
}

pub(super) fn param_path_from(name: &str, root: &str) -> String {
    let (layer, tensor) = name.split_once('.').unwrap_or((name, ""));
    let tensor = torch_tensor_name(tensor);
    format!("{}.{tensor}", attr_from(layer, root))
}

/// PyTorch's name of a layer's tensor: recurrent modules number their layers (`_l0`).
fn torch_tensor_name(tensor: &str) -> String {
    match tensor {
        "weight_ih" | "weight_hh" | "bias_ih" | "bias_hh" => format!("{tensor}_l0"),
        other => other.to_owned(),
    }
}

pub(super) fn attr(layer: &str) -> String {
    attr_from(layer, "self")
}

/// `root.name`, or `getattr(root, "name")` where the name is a Python keyword.
fn attr_from(layer: &str, root: &str) -> String {
    if PYTHON_KEYWORDS.contains(&layer) {
        format!("getattr({root}, \"{layer}\")")
    } else {
        format!("{root}.{layer}")
    }
}

const PYTHON_KEYWORDS: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield",
];

/// `deep_sigmoid` → `DeepSigmoid`.
pub(super) fn class_name(model: &str) -> String {
    let mut out = String::new();
    for part in model.split('_').filter(|p| !p.is_empty()) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.push_str(chars.as_str());
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(0, "Net");
    }
    out
}

pub(super) fn py_bool(b: bool) -> &'static str {
    if b {
        "True"
    } else {
        "False"
    }
}

/// A Python float literal that reads back to the same f64.
pub(super) fn float(v: f64) -> String {
    let mut s = format!("{v:?}");
    if s == "inf" {
        s = "math.inf".to_owned();
    } else if s == "-inf" {
        s = "-math.inf".to_owned();
    } else if s == "NaN" {
        s = "math.nan".to_owned();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_names_are_python_identifiers() {
        assert_eq!(class_name("deep_sigmoid"), "DeepSigmoid");
        assert_eq!(class_name("xor"), "Xor");
        assert_eq!(class_name("3layers"), "Net3layers");
    }

    #[test]
    fn floats_read_back_exactly() {
        assert_eq!(float(0.1), "0.1");
        assert_eq!(float(1.0), "1.0");
        assert_eq!(float(1e-8), "1e-8");
        assert_eq!(float(f64::INFINITY), "math.inf");
    }

    #[test]
    fn recurrent_tensors_take_pytorchs_layer_suffix() {
        assert_eq!(param_path("lstm1.weight_ih"), "self.lstm1.weight_ih_l0");
        assert_eq!(param_path("dense1.weight"), "self.dense1.weight");
        assert_eq!(param_path("lambda.bias"), "getattr(self, \"lambda\").bias");
    }
}
