//! Where a sweep's variant stands, told from what is on disk only (so any machine that sees
//! the shared folder can tell): the end marker a trained variant leaves in its run folder, and
//! the Slurm log of its array task.
//!
//! - **done**: `end.json` says the run reached its end: all its steps, or a non-finite step
//!   under `on_nonfinite = stop` (that too is a result of the comparison).
//! - **interrupted**: `end.json` says it stopped early (Ctrl-C, a signal); re-running resumes it.
//! - **failed**: `end.json` holds an error, or the task's Slurm log has an `error:` line
//!   (netc's own errors, the script's exit status, Slurm's time limit or cancellation).
//! - **running**: started and not ended: the run folder or the task's log exists without an
//!   end. A process killed without a trace (`kill -9` outside Slurm) also looks so; re-running
//!   the sweep resumes it from its checkpoint.
//! - **pending**: nothing written yet.

use crate::params::write_file_atomically;
use crate::runtime::run_folder;
use crate::runtime::train::{StopReason, TrainReport};
use std::io;
use std::path::Path;

/// How a variant's training ended, as `end.json` records it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stop {
    Finished,
    NonFinite,
    Interrupted,
    Failed,
}

/// The content of `end.json`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct End {
    pub stop: Stop,
    /// Steps done (none when training did not start).
    pub steps: Option<u64>,
    /// What went wrong, for a failed run.
    pub message: Option<String>,
}

impl End {
    pub fn of_report(report: &TrainReport) -> End {
        let stop = match report.stop {
            StopReason::Finished => Stop::Finished,
            StopReason::NonFinite(_) => Stop::NonFinite,
            StopReason::Interrupted => Stop::Interrupted,
        };
        End {
            stop,
            steps: Some(report.steps),
            message: None,
        }
    }

    pub fn failed(message: &str) -> End {
        End {
            stop: Stop::Failed,
            steps: None,
            message: Some(message.to_owned()),
        }
    }
}

/// Records how the run in `dir` ended (atomically: a reader sees no end or the whole one).
pub fn write_end(dir: &Path, end: &End) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let json = serde_json::to_string_pretty(end).map_err(io::Error::other)?;
    write_file_atomically(&dir.join(run_folder::END), json.as_bytes())
}

/// Forgets the end of an earlier attempt, before a new one starts in `dir`.
pub fn clear_end(dir: &Path) -> io::Result<()> {
    match std::fs::remove_file(dir.join(run_folder::END)) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// Where one variant stands (see the module's documentation for how each is told apart).
#[derive(Debug, Clone, PartialEq)]
pub enum State {
    Done(Stop),
    Interrupted,
    Failed(String),
    Running,
    Pending,
}

impl State {
    /// The state's word in the status counts and the JSON.
    pub fn name(&self) -> &'static str {
        match self {
            State::Done(_) => "done",
            State::Interrupted => "interrupted",
            State::Failed(_) => "failed",
            State::Running => "running",
            State::Pending => "pending",
        }
    }

    /// Every state's word, in the order the counts are printed.
    pub const NAMES: [&'static str; 5] = ["done", "running", "interrupted", "failed", "pending"];
}

/// The state of the variant whose run folder is `dir` and whose Slurm log (if it ran as an
/// array task) is `log`.
pub fn of(dir: &Path, log: &Path) -> State {
    if let Ok(text) = std::fs::read_to_string(dir.join(run_folder::END)) {
        return match serde_json::from_str::<End>(&text) {
            Ok(End {
                stop: stop @ (Stop::Finished | Stop::NonFinite),
                ..
            }) => State::Done(stop),
            Ok(End {
                stop: Stop::Interrupted,
                ..
            }) => State::Interrupted,
            Ok(End {
                stop: Stop::Failed,
                message,
                ..
            }) => State::Failed(message.unwrap_or_default()),
            Err(e) => State::Failed(format!("{} does not read: {e}", run_folder::END)),
        };
    }
    let log_text = std::fs::read_to_string(log).ok();
    if let Some(line) = log_text.as_deref().and_then(error_line) {
        return State::Failed(line.to_owned());
    }
    if log_text.is_some() || dir.join(run_folder::TRAINED_MODEL).exists() {
        return State::Running;
    }
    State::Pending
}

/// The first line of a task's log that reports an error (netc's `error:` lines, the script's
/// exit status, `slurmstepd: error: *** ... CANCELLED ...`).
fn error_line(log: &str) -> Option<&str> {
    log.lines().map(str::trim).find(|l| l.contains("error:"))
}

#[cfg(test)]
mod tests {
    use super::{of, write_end, End, State, Stop};

    #[test]
    fn each_state_is_told_apart_by_what_is_on_disk() {
        let root = tempfile::tempdir().expect("a temp folder");
        let (dir, log) = (root.path().join("0-a"), root.path().join("0.log"));
        assert_eq!(of(&dir, &log), State::Pending);
        std::fs::write(&log, "training...\n").expect("writes");
        assert_eq!(of(&dir, &log), State::Running);
        std::fs::write(
            &log,
            "slurmstepd: error: *** JOB 7 CANCELLED DUE TO TIME LIMIT ***\n",
        )
        .expect("writes");
        assert!(matches!(of(&dir, &log), State::Failed(m) if m.contains("TIME LIMIT")));
        let end = End {
            stop: Stop::Finished,
            steps: Some(10),
            message: None,
        };
        write_end(&dir, &end).expect("writes");
        assert_eq!(of(&dir, &log), State::Done(Stop::Finished));
    }
}
