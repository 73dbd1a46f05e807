//! The desktop clipboard through arboard, behind a trait so that tests can stand in for it.

use zeroize::Zeroizing;

/// A desktop clipboard: X11 here (arboard is built without its Wayland backend, so a Wayland
/// session without Xwayland falls back to OSC 52).
pub trait SystemClipboard: Send {
    /// Puts `text` on the clipboard.
    ///
    /// # Errors
    /// The clipboard's own message when there is no display or it refuses the text.
    fn set_text(&mut self, text: &str) -> Result<(), String>;

    /// Whether the clipboard holds exactly `text` now.
    ///
    /// # Errors
    /// The clipboard's own message when it cannot be read.
    fn holds(&mut self, text: &str) -> Result<bool, String>;

    /// Empties the clipboard.
    ///
    /// # Errors
    /// The clipboard's own message when it cannot be written.
    fn clear(&mut self) -> Result<(), String>;
}

/// arboard, connected on first use and kept open: on X11 the copying program serves the
/// clipboard for as long as it runs.
#[derive(Default)]
pub struct Arboard {
    clipboard: Option<arboard::Clipboard>,
}

impl Arboard {
    fn connected(&mut self) -> Result<&mut arboard::Clipboard, String> {
        if self.clipboard.is_none() {
            self.clipboard = Some(arboard::Clipboard::new().map_err(|error| error.to_string())?);
        }
        self.clipboard
            .as_mut()
            .ok_or_else(|| "no system clipboard".to_owned())
    }
}

impl std::fmt::Debug for Arboard {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Arboard")
            .field("connected", &self.clipboard.is_some())
            .finish()
    }
}

impl SystemClipboard for Arboard {
    fn set_text(&mut self, text: &str) -> Result<(), String> {
        self.connected()?
            .set_text(text)
            .map_err(|error| error.to_string())
    }

    fn holds(&mut self, text: &str) -> Result<bool, String> {
        let current = Zeroizing::new(self.connected()?.get_text().map_err(|e| e.to_string())?);
        Ok(current.as_str() == text)
    }

    fn clear(&mut self) -> Result<(), String> {
        self.connected()?.clear().map_err(|error| error.to_string())
    }
}
