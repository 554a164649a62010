//! The flags every command that loads a weights file shares: how the file's tensor names
//! become the model's (`--rename`, `--name-map`), one definition for train, eval, predict
//! and grad.

use crate::params::{self, ParamsError, WeightsFile};
use std::path::{Path, PathBuf};

/// `--rename PATTERN=REPLACEMENT ... --name-map MAP.json`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct NameArgs {
    /// Rename the weights file's tensors before loading them: a regular expression and its
    /// replacement (`$1` is the first group), applied in order; repeatable.
    /// E.g. `--rename '^0\.=dense1.'` or `--rename '^fc(\d+)\.=dense$1.'`.
    #[arg(long, value_name = "PATTERN=REPLACEMENT")]
    pub rename: Vec<String>,
    /// A JSON object from the file's names to the model's (`{"0.weight": "dense1.weight"}`),
    /// as `netc params FILE --like W.safetensors --json` writes it; tried before `--rename`.
    #[arg(long, value_name = "MAP.json")]
    pub name_map: Option<PathBuf>,
}

impl NameArgs {
    /// The weights file at `path` with these flags' name map.
    pub fn weights(&self, path: &Path) -> Result<WeightsFile, ParamsError> {
        let names = params::read_name_map(&self.rename, self.name_map.as_deref())?;
        Ok(WeightsFile {
            path: path.to_path_buf(),
            names,
        })
    }

    /// `--rename` or `--name-map` was given.
    pub fn is_given(&self) -> bool {
        !self.rename.is_empty() || self.name_map.is_some()
    }

    /// [`NameArgs::weights`] for a command whose weights file is optional: renaming without
    /// a file to rename is an error (`flag` is that command's flag, for the message).
    pub fn optional_weights(
        &self,
        path: Option<&Path>,
        flag: &'static str,
    ) -> Result<Option<WeightsFile>, ParamsError> {
        match path {
            Some(path) => self.weights(path).map(Some),
            None if self.is_given() => Err(ParamsError::NothingToRename { flag }),
            None => Ok(None),
        }
    }
}
