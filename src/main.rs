//! The `adbkeys` binary: the CLI, or the console when no subcommand is given.

use std::process::ExitCode;

use clap::Parser;

use adbkeys::cli::{self, Cli};

fn main() -> ExitCode {
    restrict_umask();
    if let Err(error) = adbkeys::secrets::disable_core_dumps() {
        eprintln!("adbkeys: warning: core dumps could not be turned off: {error}");
    }
    cli::run(Cli::parse())
}

/// Makes every file and directory this process creates private to its user (the store, the
/// logs, saved keys), whatever the caller's umask.
fn restrict_umask() {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
}
