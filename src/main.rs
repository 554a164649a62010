//! The `netc` command: a thin shell over the library's `cli` module.
fn main() -> std::process::ExitCode {
    netc::cli::main()
}
