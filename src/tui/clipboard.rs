//! Copying to the user's clipboard from an SSH session: OSC 52 (wrapped for tmux or GNU screen
//! as they require) or the desktop clipboard through arboard, and clearing a copied secret.
//!
//! Known limits: a terminal never says whether it took an OSC 52 sequence, so no outcome
//! claims more than that it was sent. tmux ignores an empty OSC 52, so with `set-clipboard on`
//! (and no passthrough) clearing deletes tmux's paste buffer but cannot reach the terminal
//! outside tmux. arboard keeps its own copy of the text in memory, which it does not zeroize.

mod osc52;
mod system;
mod tmux;

use std::ffi::OsString;
use std::io::Write;
use std::str::FromStr;

use sha2::{Digest, Sha256};

pub use system::{Arboard, SystemClipboard};
pub use tmux::{SystemTmux, TmuxClipboard, TmuxCommand};

/// `--clipboard auto|osc52|system|off` (and `ADBKEYS_CLIPBOARD`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClipboardMode {
    /// OSC 52 over SSH or without a display, else arboard with OSC 52 as the fallback.
    #[default]
    Auto,
    Osc52,
    System,
    Off,
}

impl FromStr for ClipboardMode {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "auto" => Ok(Self::Auto),
            "osc52" => Ok(Self::Osc52),
            "system" => Ok(Self::System),
            "off" => Ok(Self::Off),
            other => Err(format!(
                "clipboard mode '{other}' is not one of auto, osc52, system, off"
            )),
        }
    }
}

/// The result of a copy, for the status line. It never claims more than is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyOutcome {
    /// Whether anything was sent or stored at all.
    pub delivered: bool,
    /// The toast, e.g. "sent to the terminal via OSC 52 through tmux passthrough".
    pub message: String,
    /// A warning to show as well, e.g. that tmux keeps the key in a paste buffer.
    pub warning: Option<String>,
}

impl CopyOutcome {
    fn delivered(message: &str, warning: Option<String>) -> Self {
        Self {
            delivered: true,
            message: message.to_owned(),
            warning,
        }
    }

    fn failed(message: String) -> Self {
        Self {
            delivered: false,
            message,
            warning: None,
        }
    }
}

/// What the environment says about the session, read once at start-up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClipboardEnv {
    /// `SSH_CONNECTION` or `SSH_TTY` is set: a desktop clipboard here is the jump host's.
    pub ssh: bool,
    /// `DISPLAY` or `WAYLAND_DISPLAY` is set.
    pub display: bool,
    /// `TMUX` is set: the terminal is a tmux pane.
    pub tmux: bool,
    /// `TMUX_PANE`, whose options tmux is asked for.
    pub tmux_pane: Option<String>,
    /// GNU screen (`STY` set, or `TERM` starting with `screen`) and not tmux.
    pub screen: bool,
}

impl ClipboardEnv {
    /// From this process's environment.
    pub fn from_process() -> Self {
        Self::from_lookup(|name| std::env::var_os(name))
    }

    /// From any lookup of environment variables; an empty value counts as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<OsString>) -> Self {
        let value = |name: &str| lookup(name).filter(|value| !value.is_empty());
        let set = |name: &str| value(name).is_some();

        let tmux = set("TMUX");
        let term_is_screen =
            value("TERM").is_some_and(|term| term.to_string_lossy().starts_with("screen"));

        Self {
            ssh: set("SSH_CONNECTION") || set("SSH_TTY"),
            display: set("DISPLAY") || set("WAYLAND_DISPLAY"),
            tmux,
            tmux_pane: value("TMUX_PANE").map(|pane| pane.to_string_lossy().into_owned()),
            screen: !tmux && (set("STY") || term_is_screen),
        }
    }

    /// Whether `auto` uses OSC 52 rather than the desktop clipboard.
    fn prefers_osc52(&self) -> bool {
        self.ssh || !self.display
    }
}

/// How an OSC 52 sequence gets to the terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Osc52Route {
    Direct,
    Screen,
    Tmux(TmuxClipboard),
}

/// The clipboard paths available in this session. The environment is read once at start-up;
/// tmux is asked at each copy, so an option the user turns on after a refusal applies at once.
pub struct Clipboard {
    mode: ClipboardMode,
    env: ClipboardEnv,
    tmux: Box<dyn TmuxCommand>,
    system: Box<dyn SystemClipboard>,
    /// Whether the desktop clipboard was written, so clearing never connects to it needlessly.
    system_used: bool,
    /// SHA-256 of the text last sent by OSC 52: clearing sends an empty selection only while
    /// the secret is the last thing this program sent that way.
    osc52_last: Option<Vec<u8>>,
}

impl std::fmt::Debug for Clipboard {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Clipboard")
            .field("mode", &self.mode)
            .field("env", &self.env)
            .field("system_used", &self.system_used)
            .finish_non_exhaustive()
    }
}

impl Clipboard {
    /// Looks at the environment (SSH, DISPLAY, tmux, screen) once.
    pub fn detect(mode: ClipboardMode) -> Self {
        Self::with_parts(
            mode,
            ClipboardEnv::from_process(),
            Box::new(SystemTmux::default()),
            Box::new(Arboard::default()),
        )
    }

    /// A clipboard over a given environment, tmux and desktop clipboard (tests use stand-ins).
    pub fn with_parts(
        mode: ClipboardMode,
        env: ClipboardEnv,
        tmux: Box<dyn TmuxCommand>,
        system: Box<dyn SystemClipboard>,
    ) -> Self {
        Self {
            mode,
            env,
            tmux,
            system,
            system_used: false,
            osc52_last: None,
        }
    }

    /// The mode this clipboard was made with.
    pub fn mode(&self) -> ClipboardMode {
        self.mode
    }

    /// Copies `text`, writing any OSC 52 sequence to `terminal` in one write.
    pub fn copy(&mut self, text: &str, terminal: &mut dyn Write) -> CopyOutcome {
        match self.mode {
            ClipboardMode::Off => {
                CopyOutcome::failed("clipboard is off (--clipboard off)".to_owned())
            }
            ClipboardMode::Osc52 => self.copy_osc52(text, terminal),
            ClipboardMode::System => self
                .copy_system(text)
                .unwrap_or_else(|error| CopyOutcome::failed(format!("system clipboard: {error}"))),
            ClipboardMode::Auto if self.env.prefers_osc52() => self.copy_osc52(text, terminal),
            ClipboardMode::Auto => self.copy_system(text).unwrap_or_else(|error| {
                let mut outcome = self.copy_osc52(text, terminal);
                let fallback = format!("system clipboard unavailable ({error}), used OSC 52");
                outcome.warning = Some(match outcome.warning.take() {
                    Some(warning) => format!("{fallback}; {warning}"),
                    None => fallback,
                });
                outcome
            }),
        }
    }

    /// Clears a secret copied earlier, where it still lies: arboard only if it still holds it,
    /// OSC 52 with an empty selection, and a tmux paste buffer that holds exactly it.
    pub fn clear_secret(&mut self, secret: &str, terminal: &mut dyn Write) {
        if self.system_used && self.system.holds(secret) == Ok(true) {
            // Nothing to tell the user if this fails: the status line has moved on.
            let _ = self.system.clear();
        }

        if self.osc52_last.as_deref() == Some(digest(secret).as_slice()) {
            let empty = osc52::plain(b"");
            let sequence = match self.osc52_route() {
                Osc52Route::Direct => Some(empty),
                Osc52Route::Screen => Some(osc52::screen_chunks(&empty)),
                Osc52Route::Tmux(TmuxClipboard::Passthrough) => {
                    Some(osc52::tmux_passthrough(&empty))
                }
                Osc52Route::Tmux(TmuxClipboard::SetClipboard | TmuxClipboard::Unknown) => {
                    Some(empty)
                }
                Osc52Route::Tmux(TmuxClipboard::Ignored { .. }) => None,
            };
            if let Some(sequence) = sequence {
                let _ = write_at_once(terminal, &sequence);
            }
            self.osc52_last = None;
        }

        if self.env.tmux {
            tmux::delete_buffers_holding(self.tmux.as_ref(), secret.as_bytes());
        }
    }

    fn copy_system(&mut self, text: &str) -> Result<CopyOutcome, String> {
        self.system.set_text(text)?;
        self.system_used = true;
        Ok(CopyOutcome::delivered(
            "copied to the system clipboard",
            None,
        ))
    }

    fn copy_osc52(&mut self, text: &str, terminal: &mut dyn Write) -> CopyOutcome {
        let sequence = osc52::plain(text.as_bytes());
        let (bytes, message, warning) = match self.osc52_route() {
            Osc52Route::Direct => (sequence, "sent to the terminal via OSC 52", None),
            Osc52Route::Screen => (
                osc52::screen_chunks(&sequence),
                "sent to the terminal via OSC 52 through GNU screen",
                None,
            ),
            Osc52Route::Tmux(TmuxClipboard::Passthrough) => (
                osc52::tmux_passthrough(&sequence),
                "sent to the terminal via OSC 52 through tmux passthrough",
                None,
            ),
            Osc52Route::Tmux(TmuxClipboard::SetClipboard) => (
                sequence,
                "sent to the terminal via OSC 52 through tmux",
                Some(
                    "tmux keeps a copy in a paste buffer until it is cleared; \
                     'tmux set -g allow-passthrough on' avoids that"
                        .to_owned(),
                ),
            ),
            Osc52Route::Tmux(TmuxClipboard::Unknown) => (
                sequence,
                "sent to the terminal via OSC 52",
                Some(
                    "tmux did not say whether it passes OSC 52 on; if nothing arrives, run \
                     'tmux set -g allow-passthrough on'"
                        .to_owned(),
                ),
            ),
            Osc52Route::Tmux(TmuxClipboard::Ignored {
                passthrough,
                set_clipboard,
            }) => {
                // The way out comes first: a status line may cut the rest off.
                return CopyOutcome {
                    delivered: false,
                    message: "tmux drops OSC 52: run 'tmux set -g allow-passthrough on' and copy \
                              again, or save to a file"
                        .to_owned(),
                    warning: Some(format!(
                        "'tmux set -g set-clipboard on' works too but keeps a paste buffer \
                         (now allow-passthrough '{passthrough}', set-clipboard '{set_clipboard}')"
                    )),
                };
            }
        };

        if let Err(error) = write_at_once(terminal, &bytes) {
            return CopyOutcome::failed(format!("could not write to the terminal: {error}"));
        }
        self.osc52_last = Some(digest(text));
        CopyOutcome::delivered(message, warning)
    }

    fn osc52_route(&self) -> Osc52Route {
        if self.env.tmux {
            Osc52Route::Tmux(tmux::clipboard_route(
                self.tmux.as_ref(),
                self.env.tmux_pane.as_deref(),
            ))
        } else if self.env.screen {
            Osc52Route::Screen
        } else {
            Osc52Route::Direct
        }
    }
}

/// The whole sequence in one write call, then flushed: a terminal takes each OSC 52 as a
/// whole new selection, so it must never arrive in pieces mixed with other output.
fn write_at_once(terminal: &mut dyn Write, bytes: &[u8]) -> std::io::Result<()> {
    terminal.write_all(bytes)?;
    terminal.flush()
}

fn digest(text: &str) -> Vec<u8> {
    Sha256::digest(text.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests;
