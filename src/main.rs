//! The `netc` command: a thin shell over the library's `cli` module.

fn main() -> std::process::ExitCode {
    restore_sigpipe();
    netc::cli::main()
}

/// Rust ignores SIGPIPE, so a write to a closed pipe (`netc train --json | head -1`) becomes an
/// error that `println!` turns into a panic. Like cargo and other Unix tools, the command
/// instead ends quietly when its reader goes away: the default action of SIGPIPE.
#[cfg(unix)]
fn restore_sigpipe() {
    // SAFETY: `signal` only sets the disposition of SIGPIPE back to its default; it is called
    // once, before any thread starts, and no handler of ours runs.
    #[allow(unsafe_code)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

#[cfg(not(unix))]
fn restore_sigpipe() {}
