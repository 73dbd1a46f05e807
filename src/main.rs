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
#[expect(
    unsafe_code,
    reason = "umask(2) has no safe wrapper in std; it only sets a mask"
)]
fn restrict_umask() {
    // SAFETY: umask only replaces the process's file-mode mask and cannot fail; it runs first,
    // before any thread is started.
    unsafe {
        libc::umask(0o077);
    }
}
