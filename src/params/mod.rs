//! Named parameter tensors and their safetensors files: the format PyTorch, JAX and the
//! Hugging Face tools read and write, so weights move between netc and PyTorch unchanged.
//!
//! # Files
//! [`ParamStore::save_safetensors`] writes little-endian F32 tensors under their parameter
//! names (`hidden1.weight`, `bn3.running_mean`, ...) in PyTorch's layouts, with a string →
//! string metadata map in the header's `__metadata__` entry (omitted when empty, as PyTorch does).
//! The file is written atomically ([`write_file_atomically`]): readers see the old file or the
//! new one, never a mixture.
//!
//! [`ParamStore::load_safetensors`] reads F32 tensors as they are. F16 and BF16 are widened to
//! f32, which is exact; F64 is rounded to the nearest f32 (weights saved from a float64 PyTorch
//! model load, at f32 precision). Any other dtype (integers, bool, fp8, ...) is an error naming
//! the tensor. A file that is truncated, has a malformed header or inconsistent offsets is an
//! error naming the file; reading never panics, whatever the bytes.

pub mod names;

use crate::ir::Tensor;
use miette::Diagnostic;
use names::{NameMap, NameMapError};
use safetensors::{Dtype, SafeTensorError, SafeTensors, View};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Parameters by name, iterated in name order (the order safetensors stores them in, so a
/// round trip through a file preserves the store exactly, order included).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParamStore {
    tensors: BTreeMap<String, Tensor<f32>>,
}

/// Why parameters could not be read, written or used.
#[derive(Debug, Error, Diagnostic)]
pub enum ParamsError {
    #[error("cannot {action} {}: {source}", path.display())]
    #[diagnostic(code(netc::params::io))]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("{} is not a valid safetensors file: {reason}", path.display())]
    #[diagnostic(
        code(netc::params::format),
        help("the file may be truncated or corrupted, or not a safetensors file at all")
    )]
    Format { path: PathBuf, reason: String },

    #[error("cannot encode parameters for {}: {source}", path.display())]
    #[diagnostic(code(netc::params::encode))]
    Encode {
        path: PathBuf,
        source: SafeTensorError,
    },

    #[error("tensor `{name}` in {} has dtype {dtype}, which netc cannot load", path.display())]
    #[diagnostic(
        code(netc::params::dtype),
        help("netc loads F32 (and converts F16, BF16 and F64); in PyTorch, save `t.float()`")
    )]
    UnsupportedDtype {
        path: PathBuf,
        name: String,
        dtype: String,
    },

    #[error("cannot rename the tensors of {}: {source}", path.display())]
    #[diagnostic(
        code(netc::params::rename),
        help("`netc params FILE --like W.safetensors` proposes a map from the file's order and shapes")
    )]
    Rename { path: PathBuf, source: NameMapError },

    #[error("{} do not match the model:\n{report}", source_name(file))]
    #[diagnostic(
        code(netc::params::mismatch),
        help("`netc params FILE` lists the model's parameter names and shapes; dense weights are [out, in] as in PyTorch")
    )]
    Mismatch {
        file: Option<PathBuf>,
        report: MismatchReport,
    },
}

fn source_name(file: &Option<PathBuf>) -> String {
    match file {
        Some(path) => format!("the parameters in {}", path.display()),
        None => "the parameters".to_string(),
    }
}

impl ParamsError {
    /// Names `path` as the origin of a [`ParamsError::Mismatch`] (other errors already name
    /// their file and are returned unchanged).
    pub fn in_file(self, path: &Path) -> ParamsError {
        match self {
            ParamsError::Mismatch { report, .. } => ParamsError::Mismatch {
                file: Some(path.to_path_buf()),
                report,
            },
            other => other,
        }
    }
}

/// Everything that differs between a store and the parameters a model expects, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MismatchReport {
    /// Expected by the model, absent from the store: (name, expected shape).
    pub missing: Vec<(String, Vec<usize>)>,
    /// Present in the store, unknown to the model: (name, shape found).
    pub unexpected: Vec<(String, Vec<usize>)>,
    /// (name, expected shape, shape found).
    pub wrong_shape: Vec<(String, Vec<usize>, Vec<usize>)>,
}

impl MismatchReport {
    pub fn is_empty(&self) -> bool {
        self.missing.is_empty() && self.unexpected.is_empty() && self.wrong_shape.is_empty()
    }
}

impl std::fmt::Display for MismatchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut lines = Vec::new();
        for (name, shape) in &self.missing {
            lines.push(format!("  missing:     {name} {shape:?}"));
        }
        for (name, shape) in &self.unexpected {
            lines.push(format!("  unexpected:  {name} {shape:?}"));
        }
        for (name, expected, found) in &self.wrong_shape {
            lines.push(format!(
                "  wrong shape: {name} is {found:?}, the model needs {expected:?}"
            ));
        }
        write!(f, "{}", lines.join("\n"))
    }
}

impl ParamStore {
    pub fn new() -> ParamStore {
        ParamStore::default()
    }

    pub fn get(&self, name: &str) -> Option<&Tensor<f32>> {
        self.tensors.get(name)
    }

    pub fn get_mut(&mut self, name: &str) -> Option<&mut Tensor<f32>> {
        self.tensors.get_mut(name)
    }

    /// Adds or replaces a tensor; returns the one it replaced.
    pub fn insert(&mut self, name: impl Into<String>, tensor: Tensor<f32>) -> Option<Tensor<f32>> {
        self.tensors.insert(name.into(), tensor)
    }

    pub fn remove(&mut self, name: &str) -> Option<Tensor<f32>> {
        self.tensors.remove(name)
    }

    /// (name, tensor) in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Tensor<f32>)> {
        self.tensors
            .iter()
            .map(|(name, tensor)| (name.as_str(), tensor))
    }

    /// Names in name order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    /// Total number of scalar values over all tensors.
    pub fn numel(&self) -> usize {
        self.tensors.values().map(Tensor::numel).sum()
    }

    /// Encodes the store as the bytes of a safetensors file. `path` only names the file in
    /// errors.
    pub fn to_safetensors_bytes(
        &self,
        metadata: &BTreeMap<String, String>,
        path: &Path,
    ) -> Result<Vec<u8>, ParamsError> {
        let header_metadata: Option<HashMap<String, String>> = if metadata.is_empty() {
            None
        } else {
            Some(
                metadata
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            )
        };
        let views = self.iter().map(|(name, tensor)| (name, F32View(tensor)));
        let bytes = safetensors::serialize(views, header_metadata).map_err(|source| {
            ParamsError::Encode {
                path: path.to_path_buf(),
                source,
            }
        })?;
        Ok(canonical_header(bytes))
    }

    /// Decodes the bytes of a safetensors file (see the module docs for dtypes). `path` only
    /// names the file in errors.
    pub fn from_safetensors_bytes(
        bytes: &[u8],
        path: &Path,
    ) -> Result<(ParamStore, BTreeMap<String, String>), ParamsError> {
        let format_error = |reason: String| ParamsError::Format {
            path: path.to_path_buf(),
            reason,
        };
        precheck_offsets(bytes).map_err(format_error)?;
        let (_, header) =
            SafeTensors::read_metadata(bytes).map_err(|e| format_error(e.to_string()))?;
        let file = SafeTensors::deserialize(bytes).map_err(|e| format_error(e.to_string()))?;
        let mut store = ParamStore::new();
        for (name, view) in file.iter() {
            let data = decode_f32(view.dtype(), view.data()).ok_or_else(|| {
                ParamsError::UnsupportedDtype {
                    path: path.to_path_buf(),
                    name: name.to_string(),
                    dtype: view.dtype().to_string(),
                }
            })?;
            store.insert(name, Tensor::new(view.shape().to_vec(), data));
        }
        let metadata = header
            .metadata()
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok((store, metadata))
    }

    /// Writes the store and `metadata` to `path` atomically (see [`write_file_atomically`]).
    pub fn save_safetensors(
        &self,
        path: &Path,
        metadata: &BTreeMap<String, String>,
    ) -> Result<(), ParamsError> {
        let bytes = self.to_safetensors_bytes(metadata, path)?;
        write_file_atomically(path, &bytes).map_err(|source| ParamsError::Io {
            action: "write",
            path: path.to_path_buf(),
            source,
        })
    }

    /// Reads a safetensors file: the tensors and the header's metadata map (empty if absent).
    pub fn load_safetensors(
        path: &Path,
    ) -> Result<(ParamStore, BTreeMap<String, String>), ParamsError> {
        let bytes = std::fs::read(path).map_err(|source| ParamsError::Io {
            action: "read",
            path: path.to_path_buf(),
            source,
        })?;
        ParamStore::from_safetensors_bytes(&bytes, path)
    }

    /// Loads `path` and checks it against `expected` (what `--load W.safetensors` does); a
    /// mismatch names the file. PyTorch's recurrent names (`lstm1.weight_ih_l0`) are taken
    /// for netc's (`lstm1.weight_ih`).
    pub fn load_expecting<S: AsRef<str>, D: AsRef<[usize]>>(
        path: &Path,
        expected: &[(S, D)],
    ) -> Result<(ParamStore, BTreeMap<String, String>), ParamsError> {
        ParamStore::load_renamed(path, expected, &NameMap::default())
    }

    /// [`ParamStore::load_expecting`] with the file's names first turned into the model's by
    /// `names` (`--rename`, `--name-map`).
    pub fn load_renamed<S: AsRef<str>, D: AsRef<[usize]>>(
        path: &Path,
        expected: &[(S, D)],
        names: &NameMap,
    ) -> Result<(ParamStore, BTreeMap<String, String>), ParamsError> {
        let (store, metadata) = ParamStore::load_safetensors(path)?;
        let store = names.apply(store).map_err(|source| ParamsError::Rename {
            path: path.to_path_buf(),
            source,
        })?;
        store.check_against(expected).map_err(|e| e.in_file(path))?;
        Ok((store, metadata))
    }

    /// Checks that the store holds exactly the `expected` (name, shape) pairs. Every missing,
    /// unexpected and wrongly shaped tensor is reported at once, in name order.
    pub fn check_against<S: AsRef<str>, D: AsRef<[usize]>>(
        &self,
        expected: &[(S, D)],
    ) -> Result<(), ParamsError> {
        let expected: BTreeMap<&str, &[usize]> = expected
            .iter()
            .map(|(name, shape)| (name.as_ref(), shape.as_ref()))
            .collect();
        let mut report = MismatchReport::default();
        for (&name, &shape) in &expected {
            match self.get(name) {
                None => report.missing.push((name.to_string(), shape.to_vec())),
                Some(tensor) if tensor.shape != shape => report.wrong_shape.push((
                    name.to_string(),
                    shape.to_vec(),
                    tensor.shape.clone(),
                )),
                Some(_) => {}
            }
        }
        for (name, tensor) in self.iter() {
            if !expected.contains_key(name) {
                report
                    .unexpected
                    .push((name.to_string(), tensor.shape.clone()));
            }
        }
        if report.is_empty() {
            Ok(())
        } else {
            Err(ParamsError::Mismatch { file: None, report })
        }
    }
}

/// Writes `bytes` to `path` so that a crash at any moment leaves either the old file or the
/// new one: the bytes go to `<path>.tmp` in the same folder, which is flushed to disk
/// (`fsync`), renamed over `path` (atomic on POSIX file systems), and then the folder itself is
/// flushed so the rename survives a power loss. A stale `<path>.tmp` from an earlier crash is
/// simply overwritten.
pub fn write_file_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let temp = temp_path(path);
    let mut file = std::fs::File::create(&temp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&temp, path)?;
    sync_parent_dir(path)
}

/// The temporary file [`write_file_atomically`] writes before renaming: `<path>.tmp`.
pub fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(".tmp");
    PathBuf::from(name)
}

/// Flushes the folder entry of `path` (a no-op where folders cannot be opened, as on Windows).
fn sync_parent_dir(path: &Path) -> std::io::Result<()> {
    let parent = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    if cfg!(unix) {
        std::fs::File::open(parent)?.sync_all()?;
    }
    Ok(())
}

/// A tensor seen through safetensors' [`View`]: F32, little-endian.
struct F32View<'a>(&'a Tensor<f32>);

impl View for F32View<'_> {
    fn dtype(&self) -> Dtype {
        Dtype::F32
    }

    fn shape(&self) -> &[usize] {
        &self.0.shape
    }

    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Owned(self.0.data.iter().flat_map(|v| v.to_le_bytes()).collect())
    }

    fn data_len(&self) -> usize {
        self.0.data.len() * 4
    }
}

/// The values of a tensor's little-endian bytes as f32, or `None` for a dtype netc does not
/// load. The length of `bytes` has been validated against the shape by safetensors.
fn decode_f32(dtype: Dtype, bytes: &[u8]) -> Option<Vec<f32>> {
    let values = match dtype {
        Dtype::F32 => bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        Dtype::F64 => bytes
            .chunks_exact(8)
            .map(|b| {
                let mut word = [0u8; 8];
                word.copy_from_slice(b);
                f64::from_le_bytes(word) as f32
            })
            .collect(),
        Dtype::F16 => bytes
            .chunks_exact(2)
            .map(|b| f16_to_f32(u16::from_le_bytes([b[0], b[1]])))
            .collect(),
        Dtype::BF16 => bytes
            .chunks_exact(2)
            .map(|b| f32::from_bits(u32::from(u16::from_le_bytes([b[0], b[1]])) << 16))
            .collect(),
        _ => return None,
    };
    Some(values)
}

/// IEEE 754 binary16 → binary32, exactly (subnormals, infinities and NaN included).
pub fn f16_to_f32(half: u16) -> f32 {
    let sign = u32::from(half >> 15) << 31;
    let exponent = u32::from((half >> 10) & 0x1f);
    let mantissa = u32::from(half & 0x3ff);
    let bits = match (exponent, mantissa) {
        (0, 0) => sign,
        (0, _) => {
            // Subnormal: value = mantissa · 2⁻²⁴, exact in f32.
            let magnitude = mantissa as f32 * (-24f32).exp2();
            sign | magnitude.to_bits()
        }
        (0x1f, 0) => sign | 0x7f80_0000,
        (0x1f, _) => sign | 0x7f80_0000 | (mantissa << 13),
        _ => sign | ((exponent + 127 - 15) << 23) | (mantissa << 13),
    };
    f32::from_bits(bits)
}

/// Rejects headers whose data offsets point past the end of the file before safetensors sees
/// them: its own check adds those offsets to the header length, which can overflow (and panic
/// in debug builds) on a crafted file.
fn precheck_offsets(bytes: &[u8]) -> Result<(), String> {
    let Some(length_bytes) = bytes.get(..8) else {
        return Err(format!("{} bytes is too short for a header", bytes.len()));
    };
    let mut word = [0u8; 8];
    word.copy_from_slice(length_bytes);
    let header_len = u64::from_le_bytes(word);
    let available = (bytes.len() - 8) as u64;
    if header_len > available {
        return Err(format!(
            "the header claims {header_len} bytes but the file has {available} after the length"
        ));
    }
    let data_len = available - header_len;
    let header = &bytes[8..8 + header_len as usize];
    let Ok(serde_json::Value::Object(entries)) = serde_json::from_slice(header) else {
        return Err("the header is not a JSON object".to_string());
    };
    for (name, entry) in &entries {
        let Some(offsets) = entry.get("data_offsets").and_then(|v| v.as_array()) else {
            continue;
        };
        for offset in offsets {
            if offset.as_u64().is_some_and(|end| end > data_len) {
                return Err(format!(
                    "tensor `{name}` points past the end of the file ({data_len} data bytes)"
                ));
            }
        }
    }
    Ok(())
}

/// Rewrites a safetensors header with its keys sorted. The safetensors crate writes the
/// metadata from a `HashMap`, whose order changes from run to run; sorted keys make the same
/// tensors and metadata give the same bytes, so runs can be compared file for file. Data
/// offsets are relative to the end of the header, so they stay valid; the header is padded
/// with spaces to a multiple of 8 bytes as the format asks.
fn canonical_header(bytes: Vec<u8>) -> Vec<u8> {
    let Some(len_bytes) = bytes.get(..8) else {
        return bytes;
    };
    let mut len = [0u8; 8];
    len.copy_from_slice(len_bytes);
    let n = u64::from_le_bytes(len) as usize;
    let Some(header) = bytes.get(8..8 + n) else {
        return bytes;
    };
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(header) else {
        return bytes;
    };
    // serde_json's map is a BTreeMap (no `preserve_order`), so this writes sorted keys.
    let Ok(mut text) = serde_json::to_vec(&value) else {
        return bytes;
    };
    while text.len() % 8 != 0 {
        text.push(b' ');
    }
    let mut out = Vec::with_capacity(8 + text.len() + bytes.len() - 8 - n);
    out.extend_from_slice(&(text.len() as u64).to_le_bytes());
    out.extend_from_slice(&text);
    out.extend_from_slice(&bytes[8 + n..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_conversion_covers_every_class() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x03ff), 1023.0 * 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x0400), 2f32.powi(-14));
        assert_eq!(f16_to_f32(0x8000).to_bits(), (-0.0f32).to_bits());
        assert_eq!(f16_to_f32(0x7c00), f32::INFINITY);
        assert_eq!(f16_to_f32(0xfc00), f32::NEG_INFINITY);
        assert!(f16_to_f32(0x7e00).is_nan());
        assert_eq!(f16_to_f32(0x3555), 0.333_251_95);
    }

    #[test]
    fn temp_path_sits_next_to_the_file() {
        assert_eq!(
            temp_path(Path::new("runs/a/checkpoint.safetensors")),
            PathBuf::from("runs/a/checkpoint.safetensors.tmp")
        );
    }

    #[test]
    fn precheck_rejects_offsets_past_the_end() {
        let header =
            br#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,18446744073709551615]}}"#;
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header);
        bytes.extend_from_slice(&[0; 4]);
        assert!(precheck_offsets(&bytes).is_err());
    }
}
