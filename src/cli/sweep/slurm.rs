//! `netc sweep ... --slurm`: the sweep as a Slurm job array, `SWEEP_DIR/sweep.sbatch`, one
//! array task per variant not yet complete, each running `netc train ... --variant
//! $SLURM_ARRAY_TASK_ID` with this very binary; `--submit` hands it to `sbatch`.

use super::spec::{self, Sweep};
use std::path::{Path, PathBuf};

/// The flags of the job array.
#[derive(clap::Args, Debug, Clone)]
pub struct SlurmArgs {
    /// Write SWEEP_DIR/sweep.sbatch, a Slurm job array with one task per variant to run.
    #[arg(long)]
    pub slurm: bool,
    /// Submit the script with `sbatch` and print the job id.
    #[arg(long, requires = "slurm")]
    pub submit: bool,
    /// CPUs of each task (`#SBATCH --cpus-per-task`).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub cpus_per_task: u32,
    /// Time limit of each task, in Slurm's words (`30:00`, `1-00:00:00`).
    #[arg(long)]
    pub time: Option<String>,
    /// Memory of each task, in Slurm's words (`2G`).
    #[arg(long)]
    pub mem: Option<String>,
    /// The partition to run in.
    #[arg(long)]
    pub partition: Option<String>,
    /// At most this many tasks at once (`--array=...%N`).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_parallel: Option<u32>,
    /// An extra `#SBATCH` line, e.g. `--sbatch-line '--qos=short'`; repeatable.
    #[arg(long = "sbatch-line", value_name = "LINE", allow_hyphen_values = true)]
    pub sbatch_lines: Vec<String>,
}

/// Everything the script says: the sweep, its folder and binary (absolute paths), the tasks.
pub struct Script<'a> {
    pub sweep: &'a Sweep,
    pub dir: &'a Path,
    pub netc: &'a Path,
    /// The variants the array runs (those not complete), ascending.
    pub tasks: &'a [usize],
    /// `--backend`, when not the default.
    pub backend: Option<&'a str>,
    pub args: &'a SlurmArgs,
}

/// The text of `sweep.sbatch`, or why the flags cannot make one.
pub fn script(s: &Script) -> Result<String, String> {
    let name = s
        .sweep
        .file
        .file_stem()
        .map_or("sweep".into(), |n| n.to_string_lossy());
    let logs = s.dir.join(spec::LOGS);
    let mut lines = vec![
        "#!/bin/bash".to_owned(),
        format!(
            "# Written by `netc sweep --slurm`: one array task per variant of {}.",
            s.dir.join(spec::SWEEP_FILE).display()
        ),
        format!("#SBATCH --job-name=netc-{name}"),
        format!(
            "#SBATCH --array={}",
            array_spec(s.tasks, s.args.max_parallel)
        ),
        format!("#SBATCH --cpus-per-task={}", s.args.cpus_per_task),
        format!("#SBATCH --output={}/%a.log", logs.display()),
    ];
    let optional = [
        ("time", &s.args.time),
        ("mem", &s.args.mem),
        ("partition", &s.args.partition),
    ];
    for (flag, value) in optional {
        if let Some(value) = value {
            lines.push(sbatch_line(&format!("--{flag}={value}"))?);
        }
    }
    for extra in &s.args.sbatch_lines {
        lines.push(sbatch_line(extra)?);
    }
    let mut command = vec![s.netc.display().to_string()];
    command.extend(s.sweep.train_args());
    command.extend(s.backend.map(|b| format!("--backend={b}")));
    command.extend(["--out".to_owned(), s.dir.display().to_string()]);
    let command: Vec<String> = command.iter().map(|a| quote(a)).collect();
    lines.extend([
        String::new(),
        "# Each task trains one variant into its own folder; a complete one is skipped and an"
            .to_owned(),
        "# interrupted one resumes from its checkpoint.".to_owned(),
        "status=0".to_owned(),
        format!(
            "{} --variant \"$SLURM_ARRAY_TASK_ID\" || status=$?",
            command.join(" ")
        ),
        "if [ \"$status\" -ne 0 ]; then".to_owned(),
        "    echo \"error: netc exited with status $status\" >&2".to_owned(),
        "fi".to_owned(),
        "exit \"$status\"".to_owned(),
    ]);
    Ok(lines.join("\n") + "\n")
}

/// `0-5`, `1,3-4`, with `%N` when at most N run at once.
fn array_spec(tasks: &[usize], max_parallel: Option<u32>) -> String {
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    for &t in tasks {
        match ranges.last_mut() {
            Some((_, end)) if *end + 1 == t => *end = t,
            Some(_) | None => ranges.push((t, t)),
        }
    }
    let list: Vec<String> = ranges
        .iter()
        .map(|&(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            }
        })
        .collect();
    let limit = max_parallel.map_or(String::new(), |n| format!("%{n}"));
    format!("{}{limit}", list.join(","))
}

/// One `#SBATCH` line from a flag given with or without its `#SBATCH` prefix; a line break
/// would smuggle a command into the script, so it is refused.
fn sbatch_line(flag: &str) -> Result<String, String> {
    if flag.contains(['\n', '\r']) {
        return Err(format!("--sbatch-line {flag:?}: one line only"));
    }
    let flag = flag.trim();
    let flag = flag.strip_prefix("#SBATCH").map_or(flag, str::trim_start);
    if !flag.starts_with('-') {
        return Err(format!(
            "--sbatch-line `{flag}`: expected an sbatch option such as `--qos=short`"
        ));
    }
    Ok(format!("#SBATCH {flag}"))
}

/// `arg` quoted for the shell (single quotes; a quote inside becomes `'\''`).
fn quote(arg: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-=+:,@%".contains(c);
    if !arg.is_empty() && arg.chars().all(plain) {
        return arg.to_owned();
    }
    format!("'{}'", arg.replace('\'', r"'\''"))
}

/// Runs `sbatch --parsable` on the script; its job id.
pub fn submit(script: &Path) -> Result<String, String> {
    let out = std::process::Command::new("sbatch")
        .arg("--parsable")
        .arg(script)
        .output()
        .map_err(|e| format!("cannot run sbatch (is Slurm installed here?): {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "sbatch refused {}: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    // `--parsable` prints `jobid` or `jobid;cluster`.
    let id = stdout
        .trim()
        .split(';')
        .next()
        .unwrap_or_default()
        .to_owned();
    if id.is_empty() {
        return Err("sbatch printed no job id".to_owned());
    }
    Ok(id)
}

/// The absolute path of the running netc binary, which the tasks run.
pub fn this_binary() -> Result<PathBuf, String> {
    std::env::current_exe().map_err(|e| format!("cannot find the netc binary's path: {e}"))
}

#[cfg(test)]
mod tests {
    use super::{array_spec, quote, sbatch_line};

    #[test]
    fn the_array_lists_runs_of_tasks_as_ranges() {
        assert_eq!(array_spec(&[0, 1, 2, 3, 4, 5], Some(2)), "0-5%2");
        assert_eq!(array_spec(&[1, 3, 4, 7], None), "1,3-4,7");
    }

    #[test]
    fn extra_lines_are_sbatch_options_on_one_line() {
        assert_eq!(sbatch_line("--qos=short"), Ok("#SBATCH --qos=short".into()));
        assert_eq!(
            sbatch_line("#SBATCH --gres=gpu:1"),
            Ok("#SBATCH --gres=gpu:1".into())
        );
        assert!(sbatch_line("--qos=a\nrm -rf /").is_err());
        assert!(sbatch_line("echo hi").is_err());
    }

    #[test]
    fn arguments_are_quoted_for_the_shell() {
        assert_eq!(quote("act=tanh,relu"), "act=tanh,relu");
        assert_eq!(quote("init=normal(0, 0.1)"), "'init=normal(0, 0.1)'");
        assert_eq!(quote("it's"), r"'it'\''s'");
    }
}
