//! The keyboard console: a key-pair list, creation and import forms and a detail pane, on a
//! tokio event loop with the service's blocking calls in background tasks.
//!
//! The parts (docs/console.md describes them): [`app`] holds the state and turns events into
//! effects, [`render`] and [`popups`] draw it, [`keymap`] is the one binding table, [`jobs`]
//! runs background work, and [`runtime`] is the event loop and the terminal's set-up.

pub mod app;
pub mod clipboard;
pub mod dialogs;
pub mod event;
pub mod jobs;
pub mod keymap;
pub mod popups;
pub mod render;
pub mod runtime;
pub mod text;

use std::path::PathBuf;

pub use clipboard::ClipboardMode;

/// What the console starts with (from the CLI's global options).
#[derive(Debug, Clone)]
pub struct ConsoleOptions {
    /// The store directory.
    pub store: PathBuf,
    /// The tenant shown first.
    pub tenant: String,
    /// How copies reach the clipboard.
    pub clipboard: ClipboardMode,
}

/// Runs the console until the user quits, restoring the terminal on every way out.
///
/// # Errors
/// When the terminal cannot be set up, or the store cannot be opened at all.
pub fn run(options: ConsoleOptions) -> anyhow::Result<()> {
    runtime::run(options)
}
