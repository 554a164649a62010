//! Training checkpoints that are never lost: weights, optimizer state, step and run metadata in
//! one file, replaced atomically.
//!
//! # Format
//! A checkpoint is one safetensors file, `DIR/checkpoint.safetensors` ([`CHECKPOINT_FILE`]):
//! - tensors (F32): every weight as `params/<name>`, every other persistent tensor (optimizer
//!   moments, running statistics, ...) as `state/<name>`;
//! - header metadata (strings):
//!   - `format` = `netc-checkpoint-1` ([`FORMAT`]),
//!   - `step`, `epoch`: decimal integers,
//!   - `meta`: the free-form JSON of [`Checkpoint::meta`] (the model's name, the seed and the
//!     data's fingerprint, [`super::resume::DataFingerprint`]), as compact JSON text,
//!   - `checksum`: 16 hex digits, the 64-bit FNV-1a hash of every tensor in name order (its name,
//!     its shape as little-endian u64s, its f32 values' little-endian bytes), so a flipped bit in
//!     the data is caught on load rather than trained on.
//!
//! Being safetensors, a checkpoint opens in PyTorch (`safetensors.torch.load_file`) too.
//!
//! `meta` round-trips exactly, floats included: serde_json is built with `float_roundtrip`, so a
//! float read back has the bits that were written (its default parser may be off in the last
//! bit, which would break a bit-for-bit resume). [`rng_state`] and [`restore_rng`] put a ChaCha8
//! generator's exact position into `meta`. Tensors are stored exactly.
//!
//! # Never lost
//! [`save`] encodes everything in memory first, then writes `DIR/checkpoint.safetensors.tmp`,
//! flushes it to disk (`fsync`), renames it over `checkpoint.safetensors` (atomic on POSIX file
//! systems) and flushes the folder so the rename itself is durable. If the process dies at any
//! point, `checkpoint.safetensors` is either the previous complete checkpoint or the new complete
//! one; a partial `.tmp` file left behind is ignored by [`load`] and overwritten by the next save.

use crate::params::{self, ParamStore, ParamsError};
use miette::Diagnostic;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The checkpoint's file name inside a run folder.
pub const CHECKPOINT_FILE: &str = super::run_folder::CHECKPOINT;

/// The `format` metadata value this version writes and reads.
pub const FORMAT: &str = "netc-checkpoint-1";

const PARAMS_PREFIX: &str = "params/";
const STATE_PREFIX: &str = "state/";

/// Everything needed to continue a training run as if it had never stopped.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// Optimizer steps taken so far.
    pub step: u64,
    /// Epochs completed so far.
    pub epoch: u64,
    /// The trainable weights, by parameter name.
    pub params: ParamStore,
    /// Other persistent tensors: optimizer moments, running statistics.
    pub state: ParamStore,
    /// RNG and data position, config hash, metrics so far.
    pub meta: serde_json::Value,
}

/// Why a checkpoint could not be saved or loaded; every variant names the file or folder.
#[derive(Debug, Error, Diagnostic)]
pub enum CheckpointError {
    #[error("no checkpoint in {}: {} does not exist", dir.display(), path.display())]
    #[diagnostic(
        code(netc::checkpoint::missing),
        help("a run folder holds `checkpoint.safetensors` once training has saved a checkpoint; pass the run's `--out` folder")
    )]
    NotFound { dir: PathBuf, path: PathBuf },

    #[error("cannot {action} {}: {source}", path.display())]
    #[diagnostic(code(netc::checkpoint::io))]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },

    #[error(transparent)]
    #[diagnostic(transparent)]
    Params(#[from] ParamsError),

    #[error("{} is not a netc checkpoint: {reason}", path.display())]
    #[diagnostic(code(netc::checkpoint::invalid))]
    Invalid { path: PathBuf, reason: String },

    #[error("{} is corrupted: its contents hash to {found}, but it was written with checksum {expected}", path.display())]
    #[diagnostic(
        code(netc::checkpoint::corrupted),
        help("the file was damaged after it was written (disk or copy error); resume from another copy of the run folder")
    )]
    Corrupted {
        path: PathBuf,
        expected: String,
        found: String,
    },
}

/// The checkpoint file of a run folder: `dir/checkpoint.safetensors`.
pub fn checkpoint_path(dir: &Path) -> PathBuf {
    dir.join(CHECKPOINT_FILE)
}

/// Writes `checkpoint` to `dir/checkpoint.safetensors` atomically (see the module docs),
/// creating `dir` if needed, and returns the file's path.
pub fn save(dir: &Path, checkpoint: &Checkpoint) -> Result<PathBuf, CheckpointError> {
    std::fs::create_dir_all(dir).map_err(|source| CheckpointError::Io {
        action: "create the folder",
        path: dir.to_path_buf(),
        source,
    })?;
    let path = checkpoint_path(dir);
    let bytes = encode(checkpoint, &path)?;
    params::write_file_atomically(&path, &bytes).map_err(|source| CheckpointError::Io {
        action: "write",
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

/// Reads the checkpoint in `dir`.
pub fn load(dir: &Path) -> Result<Checkpoint, CheckpointError> {
    let path = checkpoint_path(dir);
    let bytes = std::fs::read(&path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => CheckpointError::NotFound {
            dir: dir.to_path_buf(),
            path: path.clone(),
        },
        _ => CheckpointError::Io {
            action: "read",
            path: path.clone(),
            source,
        },
    })?;
    decode(&bytes, &path)
}

/// The bytes of a checkpoint file. `path` only names the file in errors.
pub fn encode(checkpoint: &Checkpoint, path: &Path) -> Result<Vec<u8>, CheckpointError> {
    let mut tensors = ParamStore::new();
    for (name, tensor) in checkpoint.params.iter() {
        tensors.insert(format!("{PARAMS_PREFIX}{name}"), tensor.clone());
    }
    for (name, tensor) in checkpoint.state.iter() {
        tensors.insert(format!("{STATE_PREFIX}{name}"), tensor.clone());
    }
    let metadata = BTreeMap::from([
        ("format".to_string(), FORMAT.to_string()),
        ("step".to_string(), checkpoint.step.to_string()),
        ("epoch".to_string(), checkpoint.epoch.to_string()),
        ("meta".to_string(), checkpoint.meta.to_string()),
        ("checksum".to_string(), tensor_checksum(&tensors)),
    ]);
    Ok(tensors.to_safetensors_bytes(&metadata, path)?)
}

/// A checkpoint from the bytes of its file. `path` only names the file in errors.
pub fn decode(bytes: &[u8], path: &Path) -> Result<Checkpoint, CheckpointError> {
    let (tensors, metadata) = ParamStore::from_safetensors_bytes(bytes, path)?;
    let invalid = |reason: String| CheckpointError::Invalid {
        path: path.to_path_buf(),
        reason,
    };
    let field = |key: &str| {
        metadata
            .get(key)
            .ok_or_else(|| invalid(format!("the header has no `{key}` entry")))
    };
    let format = field("format")?;
    if format != FORMAT {
        return Err(invalid(format!(
            "its format is `{format}`, this netc reads `{FORMAT}`"
        )));
    }
    let expected = field("checksum")?;
    let found = tensor_checksum(&tensors);
    if *expected != found {
        return Err(CheckpointError::Corrupted {
            path: path.to_path_buf(),
            expected: expected.clone(),
            found,
        });
    }
    let count = |key: &str| -> Result<u64, CheckpointError> {
        let text = field(key)?;
        text.parse()
            .map_err(|_| invalid(format!("`{key}` is `{text}`, not a whole number")))
    };
    let (step, epoch) = (count("step")?, count("epoch")?);
    let meta = serde_json::from_str(field("meta")?)
        .map_err(|e| invalid(format!("`meta` is not valid JSON: {e}")))?;
    let (params, state) = split_tensors(tensors).map_err(invalid)?;
    Ok(Checkpoint {
        step,
        epoch,
        params,
        state,
        meta,
    })
}

/// Separates `params/…` from `state/…` tensors, stripping the prefixes.
fn split_tensors(tensors: ParamStore) -> Result<(ParamStore, ParamStore), String> {
    let mut params = ParamStore::new();
    let mut state = ParamStore::new();
    for (name, tensor) in tensors.iter() {
        if let Some(param) = name.strip_prefix(PARAMS_PREFIX) {
            params.insert(param, tensor.clone());
        } else if let Some(entry) = name.strip_prefix(STATE_PREFIX) {
            state.insert(entry, tensor.clone());
        } else {
            return Err(format!(
                "tensor `{name}` is neither under `{PARAMS_PREFIX}` nor `{STATE_PREFIX}`"
            ));
        }
    }
    Ok((params, state))
}

/// The `checksum` entry of a checkpoint holding `tensors` (names with their `params/` or
/// `state/` prefixes): the FNV-1a hash of every tensor's name, shape and values in name order,
/// as 16 hex digits.
pub fn tensor_checksum(tensors: &ParamStore) -> String {
    let mut hash = Fnv1a::new();
    for (name, tensor) in tensors.iter() {
        hash.write(&(name.len() as u64).to_le_bytes());
        hash.write(name.as_bytes());
        hash.write(&(tensor.shape.len() as u64).to_le_bytes());
        for &dim in &tensor.shape {
            hash.write(&(dim as u64).to_le_bytes());
        }
        for value in &tensor.data {
            hash.write(&value.to_le_bytes());
        }
    }
    format!("{:016x}", hash.0)
}

/// The FNV-1a hash of `bytes` as 16 hex digits: the data fingerprint's hash of a CSV file.
pub fn content_hash(bytes: &[u8]) -> String {
    let mut hash = Fnv1a::new();
    hash.write(bytes);
    format!("{:016x}", hash.0)
}

/// 64-bit FNV-1a: not cryptographic, but catches accidental damage and is stable forever.
struct Fnv1a(u64);

impl Fnv1a {
    fn new() -> Fnv1a {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// The exact position of a ChaCha8 generator as JSON, for [`Checkpoint::meta`]:
/// `{"seed": "<64 hex digits>", "stream": "<decimal>", "word_pos": "<decimal>"}` (strings, so
/// no JSON reader rounds them).
pub fn rng_state(rng: &ChaCha8Rng) -> serde_json::Value {
    let seed: String = rng.get_seed().iter().map(|b| format!("{b:02x}")).collect();
    serde_json::json!({
        "seed": seed,
        "stream": rng.get_stream().to_string(),
        "word_pos": rng.get_word_pos().to_string(),
    })
}

/// The generator [`rng_state`] described: it continues with exactly the values the saved one
/// would have produced next.
pub fn restore_rng(state: &serde_json::Value) -> Result<ChaCha8Rng, String> {
    let text = |key: &str| {
        state
            .get(key)
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| format!("the RNG state has no string `{key}`"))
    };
    let seed_hex = text("seed")?;
    let mut seed = [0u8; 32];
    let hex_ok = seed_hex.len() == 64 && seed_hex.is_ascii();
    for (i, byte) in seed.iter_mut().enumerate() {
        *byte = hex_ok
            .then(|| u8::from_str_radix(&seed_hex[2 * i..2 * i + 2], 16).ok())
            .flatten()
            .ok_or_else(|| format!("the RNG seed `{seed_hex}` is not 64 hex digits"))?;
    }
    let stream: u64 = text("stream")?
        .parse()
        .map_err(|_| "the RNG stream is not a whole number".to_string())?;
    let word_pos: u128 = text("word_pos")?
        .parse()
        .map_err(|_| "the RNG word position is not a whole number".to_string())?;
    let mut rng = ChaCha8Rng::from_seed(seed);
    rng.set_stream(stream);
    rng.set_word_pos(word_pos);
    Ok(rng)
}
