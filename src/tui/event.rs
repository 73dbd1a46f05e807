//! What flows into the app (terminal input, ticks, results of background work) and what flows
//! out of it (effects the event loop carries out).

use std::path::PathBuf;
use std::time::Instant;

use crossterm::event::KeyEvent;
use zeroize::Zeroizing;

use crate::error::ApiError;
use crate::keys::{GeneratedKeyPair, KeyError};
use crate::service::{CreatedKeyPair, KeyPairDetail, KeyPairSummary, TenantSummary};
use crate::tui::clipboard::CopyOutcome;

/// A secret text (a private key PEM, or pasted key material): zeroized when dropped, and
/// never shown by `Debug`, so that no log line can carry it.
#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    pub fn new(text: Zeroizing<String>) -> Self {
        Self(text)
    }

    /// The text, for the one place that must use it (a copy, a file write).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret({} bytes)", self.0.len())
    }
}

/// One input to [`App::update`](crate::tui::app::App::update).
#[derive(Debug)]
pub enum AppEvent {
    Key(KeyEvent),
    /// A bracketed paste, whole.
    Paste(String),
    Resize {
        width: u16,
        height: u16,
    },
    /// The clock: spinners, toasts, the clipboard countdown and the periodic reload.
    Tick(Instant),
    /// SIGTERM or SIGHUP: clear a copied key and quit.
    Shutdown,
    /// A background job finished.
    Done(JobResult),
}

/// Something the app asks the event loop to do; the app never does I/O itself.
#[derive(Debug)]
pub enum Effect {
    /// Runs on a blocking thread and reports back as [`AppEvent::Done`].
    Run(Job),
    /// Copies through the clipboard (it may write an OSC 52 sequence to the terminal) and
    /// reports back as [`JobResult::Copied`].
    Copy { text: Secret, secret: bool },
    /// Clears a private key copied earlier.
    ClearSecret(Secret),
    /// Leaves the event loop.
    Quit,
}

/// Where an import's key comes from.
#[derive(Debug)]
pub enum ImportSource {
    /// Pasted text: an `adbkey.pub` line or a private key PEM.
    Pasted(Secret),
    /// A file to read.
    File(PathBuf),
}

/// Background work: service calls, key generation and file writes.
#[derive(Debug)]
pub enum Job {
    List {
        tenant: String,
        /// Increases with each request, so an older answer never replaces a newer one.
        request: u64,
    },
    Tenants,
    Generate {
        generation: u64,
    },
    Create {
        generation: u64,
        tenant: String,
        name: String,
        key: Box<GeneratedKeyPair>,
    },
    Import {
        tenant: String,
        name: String,
        source: ImportSource,
    },
    Rename {
        tenant: String,
        key_pair_id: String,
        old_name: String,
        new_name: String,
    },
    Delete {
        tenant: String,
        key_pair_ids: Vec<String>,
    },
    SavePrivateKey {
        path: PathBuf,
        pem: Secret,
        public_line: String,
        overwrite: bool,
    },
    Export {
        tenant: String,
        key_pair_ids: Vec<String>,
        path: PathBuf,
        overwrite: bool,
    },
}

impl Job {
    /// A short name for messages and logs (never any of the job's data).
    pub fn name(&self) -> &'static str {
        match self {
            Self::List { .. } => "list",
            Self::Tenants => "tenants",
            Self::Generate { .. } => "key generation",
            Self::Create { .. } => "create",
            Self::Import { .. } => "import",
            Self::Rename { .. } => "rename",
            Self::Delete { .. } => "delete",
            Self::SavePrivateKey { .. } => "save",
            Self::Export { .. } => "export",
        }
    }
}

/// A key pair just created, with its private key: `Debug` shows only its ID.
pub struct NewKeyPair(pub CreatedKeyPair);

impl std::fmt::Debug for NewKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NewKeyPair({})", self.0.key_pair_id)
    }
}

/// How a file write ended when it did not fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Written; the paths that were written.
    Written(Vec<PathBuf>),
    /// Nothing written: these paths exist (every one the write would replace) and overwriting
    /// was not confirmed.
    Exists(Vec<PathBuf>),
}

/// The result of a [`Job`] (or of a copy).
#[derive(Debug)]
pub enum JobResult {
    Listed {
        tenant: String,
        request: u64,
        result: Result<Vec<KeyPairDetail>, ApiError>,
    },
    Tenants(Result<Vec<TenantSummary>, ApiError>),
    Generated {
        generation: u64,
        result: Result<Box<GeneratedKeyPair>, KeyError>,
    },
    Created {
        generation: u64,
        result: Result<NewKeyPair, ApiError>,
    },
    Imported(Result<KeyPairSummary, String>),
    Renamed {
        old_name: String,
        new_name: String,
        result: Result<(), ApiError>,
    },
    Deleted {
        count: usize,
        result: Result<(), ApiError>,
    },
    SavedPrivateKey(Result<WriteOutcome, String>),
    Exported(Result<WriteOutcome, String>),
    Copied {
        outcome: CopyOutcome,
        secret: bool,
    },
    /// The job panicked; `job` names it. The app returns to a usable state.
    Failed {
        job: &'static str,
    },
}
