//! Copying to the user's clipboard from an SSH session: OSC 52 (wrapped for tmux or GNU screen
//! as they require) or the desktop clipboard through arboard, and clearing a copied secret.

use std::io::Write;
use std::str::FromStr;

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
    /// The toast, e.g. "sent to the terminal via OSC 52 (tmux passthrough)".
    pub message: String,
    /// A warning to show as well, e.g. that tmux keeps the key in a paste buffer.
    pub warning: Option<String>,
}

/// The clipboard paths available in this session, decided once at start-up.
#[derive(Debug)]
pub struct Clipboard {
    mode: ClipboardMode,
}

impl Clipboard {
    /// Looks at the environment (SSH, DISPLAY, tmux and its options, screen) once.
    pub fn detect(mode: ClipboardMode) -> Self {
        Self { mode }
    }

    /// Copies `text`, writing any OSC 52 sequence to `terminal` in one write.
    pub fn copy(&mut self, text: &str, terminal: &mut dyn Write) -> CopyOutcome {
        let _ = (text, terminal, self.mode);
        unimplemented!("clipboard helper")
    }

    /// Clears a secret copied earlier, where it still lies: arboard only if it still holds it,
    /// OSC 52 with an empty selection, and a tmux paste buffer that holds exactly it.
    pub fn clear_secret(&mut self, secret: &str, terminal: &mut dyn Write) {
        let _ = (secret, terminal);
        unimplemented!("clipboard helper")
    }
}
