//! Child processes for the tests that need other processes: the test binary runs itself,
//! with only its `child_process_entry` test, and that test reads what to do (a role, a
//! directory and an argument) from its environment.

// Each test binary that includes this file uses part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};

/// Set in a child's environment to say what it should do, where and with what.
const CHILD_ROLE: &str = "ADBKEYS_TEST_CHILD_ROLE";
const CHILD_DIR: &str = "ADBKEYS_TEST_CHILD_DIR";
const CHILD_ARG: &str = "ADBKEYS_TEST_CHILD_ARG";

/// What a child process was started to do.
pub struct ChildRequest {
    pub role: String,
    pub dir: PathBuf,
    pub arg: String,
}

impl ChildRequest {
    /// The request this process was started with as a child; `None` in a normal test run.
    pub fn of_this_process() -> Option<Self> {
        let role = std::env::var(CHILD_ROLE).ok()?;
        Some(Self {
            role,
            dir: PathBuf::from(std::env::var_os(CHILD_DIR).expect("a directory")),
            arg: std::env::var(CHILD_ARG).expect("an argument"),
        })
    }
}

/// A child process that is killed and reaped when the test ends, also when it fails.
pub struct ChildProcess {
    pub child: Child,
    stdout: Option<BufReader<ChildStdout>>,
}

impl ChildProcess {
    /// The test binary run as a child with `role`, `dir` and `arg`, its output piped.
    pub fn spawn(role: &str, dir: &Path, arg: &str) -> Self {
        let child = Command::new(std::env::current_exe().expect("the test binary"))
            .args(["--exact", "child_process_entry", "--ignored", "--nocapture"])
            .args(["--test-threads", "1"])
            .env(CHILD_ROLE, role)
            .env(CHILD_DIR, dir)
            .env(CHILD_ARG, arg)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the test binary runs as a child");
        Self::new(child)
    }

    /// Guards `child`, a process started otherwise; its stdout is read if it was piped.
    pub fn new(mut child: Child) -> Self {
        let stdout = child.stdout.take().map(BufReader::new);
        Self { child, stdout }
    }

    /// The next complete line of the child's output, with its newline; `None` at the end. A
    /// line cut short by the child's end has no newline: it was never fully written.
    fn next_line(&mut self) -> Option<String> {
        let stdout = self.stdout.as_mut().expect("a piped stdout");
        let mut line = String::new();
        stdout.read_line(&mut line).expect("the child's output");
        line.ends_with('\n').then_some(line)
    }

    /// What follows `marker` on the next line of the child's output that holds it.
    pub fn wait_for(&mut self, marker: &str) -> String {
        loop {
            let Some(line) = self.next_line() else {
                panic!(
                    "the child ended before printing '{marker}': {}",
                    self.stderr()
                );
            };
            if let Some(found) = after_marker(&line, marker) {
                return found;
            }
        }
    }

    /// What follows `marker` on each of the child's complete output lines that hold it, read
    /// to the end.
    pub fn lines_with(&mut self, marker: &str) -> Vec<String> {
        let mut found = Vec::new();
        while let Some(line) = self.next_line() {
            found.extend(after_marker(&line, marker));
        }
        found
    }

    /// The child's error output, read to the end.
    pub fn stderr(&mut self) -> String {
        let mut text = String::new();
        if let Some(mut stderr) = self.child.stderr.take() {
            let _ = stderr.read_to_string(&mut text);
        }
        text
    }

    /// Waits for the child to end; whether it succeeded. Prints its error output if not.
    pub fn succeeded(mut self) -> bool {
        let status = self.child.wait().expect("the child ends");
        if !status.success() {
            eprintln!("the child failed ({status}): {}", self.stderr());
        }
        status.success()
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What follows `marker` in `line`, trimmed. libtest may print the test's name on the same
/// line, before the child's own output.
fn after_marker(line: &str, marker: &str) -> Option<String> {
    let at = line.find(marker)?;
    Some(line[at + marker.len()..].trim().to_string())
}
