//! `netc repl [FILE]`: the interactive session's terminal side: line editing, history across
//! sessions, completion, and, when stdin is not a terminal, a plain line-by-line script mode.

use crate::repl::complete::{open_brackets, LineHelper};
use crate::repl::{Io, Outcome, Repl};
use crate::runtime::exec::Backend;
use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;
use rustyline::{CompletionType, Config, Editor};
use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;

#[derive(clap::Args, Debug)]
pub struct ReplArgs {
    /// A .net file to load first.
    pub file: Option<PathBuf>,
    /// Exit with failure at the first input that fails (for scripts piped to stdin).
    #[arg(long)]
    pub strict: bool,
    /// In script mode, print each input after a `netc> ` prompt before its output (transcripts).
    #[arg(long)]
    pub echo: bool,
    /// Which backend runs the programs.
    #[arg(long, value_enum, default_value = "jit")]
    pub backend: Backend,
}

const PROMPT: &str = "netc> ";
const CONTINUE: &str = "  ... ";

pub fn run(args: ReplArgs) -> ExitCode {
    let mut repl = Repl::new(args.backend);
    let flag = Arc::clone(&repl.interrupt);
    // Ctrl-C at the prompt is the line editor's (it clears the line); during training it stops
    // the run after the current step.
    let _ = ctrlc::set_handler(move || flag.store(true, Ordering::Relaxed));
    let interactive = std::io::stdin().is_terminal();
    let (stdout, stderr) = (std::io::stdout(), std::io::stderr());
    let (mut out, mut err) = (stdout.lock(), stderr.lock());
    let mut io = Io {
        out: &mut out,
        err: &mut err,
        color: interactive && std::io::stderr().is_terminal(),
        progress: interactive && std::io::stderr().is_terminal(),
    };
    if let Some(file) = &args.file {
        let line = format!(":load {}", file.display());
        if args.echo {
            let _ = writeln!(io.out, "{PROMPT}{line}");
        }
        if repl.execute(&line, &mut io) == Outcome::Failed && args.strict {
            return ExitCode::FAILURE;
        }
    }
    if interactive {
        interactive_loop(&mut repl, &mut io)
    } else {
        script_loop(&mut repl, &mut io, &args)
    }
}

/// Reads stdin line by line, no prompts; a statement whose brackets are open continues on the
/// next lines.
fn script_loop(repl: &mut Repl, io: &mut Io, args: &ReplArgs) -> ExitCode {
    let stdin = std::io::stdin();
    let mut pending = String::new();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        if args.echo {
            let prompt = if pending.is_empty() { PROMPT } else { CONTINUE };
            let _ = writeln!(io.out, "{prompt}{line}");
        }
        if !pending.is_empty() {
            pending.push('\n');
        }
        pending.push_str(&line);
        if !pending.trim_start().starts_with(':') && open_brackets(&pending) > 0 {
            continue;
        }
        let input = std::mem::take(&mut pending);
        let _ = io.out.flush();
        match repl.execute(&input, io) {
            Outcome::Quit => return ExitCode::SUCCESS,
            Outcome::Failed if args.strict => return ExitCode::FAILURE,
            Outcome::Failed | Outcome::Done => {}
        }
        let _ = io.err.flush();
    }
    if !pending.is_empty() && repl.execute(&pending, io) == Outcome::Failed && args.strict {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn interactive_loop(repl: &mut Repl, io: &mut Io) -> ExitCode {
    let config = Config::builder()
        .completion_type(CompletionType::List)
        .auto_add_history(false)
        .max_history_size(10_000)
        .map(|b| b.build());
    let editor = config.and_then(Editor::<LineHelper, FileHistory>::with_config);
    let mut editor = match editor {
        Ok(e) => e,
        Err(e) => {
            let _ = writeln!(io.err, "error: cannot start the line editor: {e}");
            return ExitCode::FAILURE;
        }
    };
    editor.set_helper(Some(LineHelper::new()));
    let history = history_path();
    if let Some(path) = &history {
        // A missing history file is the normal first session.
        let _ = editor.load_history(path);
    }
    let _ = writeln!(
        io.out,
        "netc repl: `:help` lists the commands, Tab completes, Ctrl-D leaves"
    );
    loop {
        if let Some(helper) = editor.helper_mut() {
            helper.layers = repl.layer_words();
        }
        let line = match editor.readline(PROMPT) {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => {
                let _ = writeln!(io.err, "error: {e}");
                break;
            }
        };
        if !line.trim().is_empty() {
            let _ = editor.add_history_entry(line.as_str());
            save_history(&mut editor, history.as_ref(), io);
        }
        if repl.execute(&line, io) == Outcome::Quit {
            break;
        }
        let _ = io.out.flush();
    }
    save_history(&mut editor, history.as_ref(), io);
    ExitCode::SUCCESS
}

fn save_history(editor: &mut Editor<LineHelper, FileHistory>, path: Option<&PathBuf>, io: &mut Io) {
    let Some(path) = path else { return };
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Err(e) = editor.save_history(path) {
        let _ = writeln!(
            io.err,
            "warning: cannot save the history to {}: {e}",
            path.display()
        );
    }
}

/// Where history is kept: `$NETC_HISTORY` (empty: nowhere), else the user's data folder
/// (`$XDG_DATA_HOME/netc/history`, or `~/.local/share/netc/history`).
pub fn history_path() -> Option<PathBuf> {
    history_path_from(
        std::env::var_os("NETC_HISTORY"),
        std::env::var_os("XDG_DATA_HOME"),
        std::env::var_os("HOME"),
    )
}

fn history_path_from(
    netc: Option<std::ffi::OsString>,
    xdg: Option<std::ffi::OsString>,
    home: Option<std::ffi::OsString>,
) -> Option<PathBuf> {
    if let Some(path) = netc {
        return (!path.is_empty()).then(|| PathBuf::from(path));
    }
    let data = match xdg.filter(|x| !x.is_empty()) {
        Some(x) => PathBuf::from(x),
        None => PathBuf::from(home.filter(|h| !h.is_empty())?).join(".local/share"),
    };
    Some(data.join("netc").join("history"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_location() {
        let s = |v: &str| Some(std::ffi::OsString::from(v));
        assert_eq!(
            history_path_from(s("/tmp/h"), s("/x"), s("/home/u")),
            Some(PathBuf::from("/tmp/h"))
        );
        assert_eq!(history_path_from(s(""), s("/x"), s("/home/u")), None);
        assert_eq!(
            history_path_from(None, s("/x"), s("/home/u")),
            Some(PathBuf::from("/x/netc/history"))
        );
        assert_eq!(
            history_path_from(None, None, s("/home/u")),
            Some(PathBuf::from("/home/u/.local/share/netc/history"))
        );
        assert_eq!(history_path_from(None, None, None), None);
    }
}
