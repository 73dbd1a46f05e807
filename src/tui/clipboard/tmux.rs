//! Asking the surrounding tmux what it does with OSC 52, and removing its paste buffers that
//! hold a copied secret.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use zeroize::Zeroizing;

/// The most output read from one tmux command; a longer paste buffer cannot be a copied key.
const OUTPUT_LIMIT: usize = 256 * 1024;

/// Runs `tmux` with arguments; tests put a scripted tmux in its place.
pub trait TmuxCommand: Send {
    /// The standard output of `tmux ARGS` (at most 256 KiB of it), or `None` when tmux could
    /// not be run or reported failure.
    fn output(&self, args: &[&str]) -> Option<Zeroizing<Vec<u8>>>;
}

/// The `tmux` found on `PATH`, reaching the server named in `TMUX` as tmux itself does, or the
/// server on a given socket.
#[derive(Debug, Default)]
pub struct SystemTmux {
    socket: Option<PathBuf>,
}

impl SystemTmux {
    /// tmux on the server listening on `socket` (`tmux -S socket`).
    pub fn with_socket(socket: impl Into<PathBuf>) -> Self {
        Self {
            socket: Some(socket.into()),
        }
    }
}

impl TmuxCommand for SystemTmux {
    fn output(&self, args: &[&str]) -> Option<Zeroizing<Vec<u8>>> {
        let mut command = Command::new("tmux");
        if let Some(socket) = &self.socket {
            command.arg("-S").arg(socket);
        }
        let mut child = command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;

        let Some(mut stdout) = child.stdout.take() else {
            let _ = child.wait();
            return None;
        };

        // Room for the whole read up front, so that a buffer holding a secret is never moved
        // to a larger allocation and left behind unzeroed. Output past the limit cannot be a
        // copied key; it is drained so that tmux can finish.
        let mut output = Zeroizing::new(Vec::with_capacity(OUTPUT_LIMIT + 1024));
        let read = (&mut stdout)
            .take(OUTPUT_LIMIT as u64)
            .read_to_end(&mut output);
        let drained = std::io::copy(&mut stdout, &mut std::io::sink());
        let status = child.wait().ok()?;

        (read.is_ok() && drained.is_ok() && status.success()).then_some(output)
    }
}

/// What the tmux around this pane does with an application's OSC 52.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TmuxClipboard {
    /// `allow-passthrough` is `on` (or `all`): a wrapped sequence reaches the outer terminal
    /// and tmux keeps nothing.
    Passthrough,
    /// `set-clipboard on`: tmux takes the plain sequence, keeps it as a paste buffer and
    /// passes it on to a terminal it knows can take it.
    SetClipboard,
    /// Neither: tmux drops the sequence. Carries the two settings for the message.
    Ignored {
        passthrough: String,
        set_clipboard: String,
    },
    /// tmux could not be asked (not on `PATH`, or its server did not answer).
    Unknown,
}

/// Asks tmux for the options that apply to `pane` (from `TMUX_PANE`), inheriting from the
/// window and global options as tmux does.
pub fn clipboard_route(tmux: &dyn TmuxCommand, pane: Option<&str>) -> TmuxClipboard {
    let passthrough = match pane {
        Some(pane) => option_value(
            tmux,
            &["show-options", "-Apqv", "-t", pane, "allow-passthrough"],
        ),
        None => option_value(tmux, &["show-options", "-gqv", "allow-passthrough"]),
    };
    let set_clipboard = option_value(tmux, &["show-options", "-sqv", "set-clipboard"]);

    if matches!(passthrough.as_deref(), Some("on" | "all")) {
        return TmuxClipboard::Passthrough;
    }

    match set_clipboard.as_deref() {
        Some("on") => TmuxClipboard::SetClipboard,
        Some(set_clipboard) => TmuxClipboard::Ignored {
            // tmux before 3.3 has no allow-passthrough option and so does not answer for it.
            passthrough: passthrough.unwrap_or_else(|| "off".to_owned()),
            set_clipboard: set_clipboard.to_owned(),
        },
        None => TmuxClipboard::Unknown,
    }
}

/// The value tmux prints for an option query, trimmed; `None` when tmux fails or prints
/// nothing.
fn option_value(tmux: &dyn TmuxCommand, args: &[&str]) -> Option<String> {
    let output = tmux.output(args)?;
    let value = std::str::from_utf8(&output).ok()?.trim();
    (!value.is_empty()).then(|| value.to_owned())
}

/// Deletes every tmux paste buffer whose content is exactly `secret`, and returns how many.
/// Buffers of another size are never read.
pub fn delete_buffers_holding(tmux: &dyn TmuxCommand, secret: &[u8]) -> usize {
    let Some(listing) = tmux.output(&["list-buffers", "-F", "#{buffer_size} #{buffer_name}"])
    else {
        return 0;
    };
    let Ok(listing) = std::str::from_utf8(&listing) else {
        return 0;
    };

    let mut deleted = 0;
    for line in listing.lines() {
        let Some((size, name)) = line.split_once(' ') else {
            continue;
        };
        if size.parse::<usize>().ok() != Some(secret.len()) {
            continue;
        }

        let holds_secret = tmux
            .output(&["show-buffer", "-b", name])
            .is_some_and(|content| content.as_slice() == secret);
        if holds_secret && tmux.output(&["delete-buffer", "-b", name]).is_some() {
            deleted += 1;
        }
    }
    deleted
}
