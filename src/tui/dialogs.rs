//! The state of each dialog the console stacks over the list: the creation, import and rename
//! forms, the one-time reveal, path prompts, confirmations, the tenant picker and help.

use std::path::PathBuf;

use tui_input::Input;

use crate::keys::GeneratedKeyPair;
use crate::rules::{RuleError, validate_tenant};
use crate::service::TenantSummary;
use crate::tui::event::Secret;

/// One open dialog; the app keeps them in a stack, the innermost last.
#[derive(Debug)]
pub enum Dialog {
    Create(CreateForm),
    Import(ImportForm),
    Rename(RenameForm),
    Reveal(Reveal),
    Path(PathPrompt),
    Confirm(Confirm),
    Tenants(TenantPicker),
    Help { scroll: u16 },
}

/// A problem with a typed name, with where it lies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    pub message: String,
    /// 1-based character position of the offending character, if one is to blame.
    pub position: Option<usize>,
}

impl From<RuleError> for FieldProblem {
    fn from(error: RuleError) -> Self {
        Self {
            message: error.message,
            position: error.position,
        }
    }
}

/// The key generated in the background while the creation form is open.
#[derive(Debug)]
pub enum PendingKey {
    Generating,
    Ready(Box<GeneratedKeyPair>),
    Failed(String),
}

/// `n`: the name of a new key pair; its key is generated as soon as the form opens.
#[derive(Debug)]
pub struct CreateForm {
    pub name: Input,
    /// Identifies this form's background key, so a late key never lands in another form.
    pub generation: u64,
    pub key: PendingKey,
    pub problem: Option<FieldProblem>,
}

/// Which field of the import form has the focus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportField {
    Name,
    Key,
}

/// `i`: a name, then a pasted key or the path of a key file.
#[derive(Debug)]
pub struct ImportForm {
    pub name: Input,
    pub path: Input,
    /// A bracketed paste into the key field (it may be a private key PEM).
    pub pasted: Option<Secret>,
    pub focus: ImportField,
    pub problem: Option<FieldProblem>,
    /// The core's refusal of the last attempt, word for word.
    pub error: Option<String>,
    pub busy: bool,
}

/// `r`: a new name for the selected key pair.
#[derive(Debug)]
pub struct RenameForm {
    pub key_pair_id: String,
    pub old_name: String,
    pub name: Input,
    pub problem: Option<FieldProblem>,
    pub error: Option<String>,
    pub busy: bool,
}

/// The private key of a key pair just created, shown this once.
#[derive(Debug)]
pub struct Reveal {
    pub key_pair_id: String,
    pub name: String,
    pub pem: Secret,
    pub public_line: String,
    /// Copied or saved: closing needs no confirmation.
    pub secured: bool,
    /// "The private key will not be shown again. Close anyway? (y/N)" is showing.
    pub confirm_close: bool,
    pub scroll: u16,
}

/// What a path prompt is for.
#[derive(Debug, Clone)]
pub enum PathPurpose {
    /// Save the revealed private key (the reveal lies under the prompt).
    SavePrivateKey,
    /// Write the tenant's `adb_keys` (only these key pairs when not empty).
    Export {
        tenant: String,
        key_pair_ids: Vec<String>,
    },
}

/// A prompt for a file path, pre-filled with a default.
#[derive(Debug)]
pub struct PathPrompt {
    pub purpose: PathPurpose,
    pub input: Input,
    pub error: Option<String>,
    pub busy: bool,
}

/// A destructive action, held as data until the user confirms it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirmable {
    Delete {
        tenant: String,
        /// `(KeyPairId, name)` of each key pair to delete.
        targets: Vec<(String, String)>,
    },
    OverwritePrivateKey {
        path: PathBuf,
        /// The files that exist and would be replaced: the key file, its `.pub`, or both.
        existing: Vec<PathBuf>,
    },
    OverwriteExport {
        path: PathBuf,
        tenant: String,
        key_pair_ids: Vec<String>,
    },
}

impl Confirmable {
    /// The existing files an overwrite would replace (none for a deletion).
    pub fn existing_files(&self) -> Vec<&std::path::Path> {
        match self {
            Self::Delete { .. } => Vec::new(),
            Self::OverwritePrivateKey { existing, .. } => {
                existing.iter().map(PathBuf::as_path).collect()
            }
            Self::OverwriteExport { path, .. } => vec![path.as_path()],
        }
    }

    /// The dialog's title.
    pub fn title(&self) -> &'static str {
        match self {
            Self::Delete { .. } => "Delete key pairs",
            Self::OverwritePrivateKey { .. } | Self::OverwriteExport { .. } => "Overwrite file",
        }
    }

    /// The label of the button that carries the action out.
    pub fn verb(&self) -> &'static str {
        match self {
            Self::Delete { .. } => "Delete",
            Self::OverwritePrivateKey { .. } | Self::OverwriteExport { .. } => "Overwrite",
        }
    }
}

/// A confirmation; Cancel has the focus until the user moves it.
#[derive(Debug)]
pub struct Confirm {
    pub action: Confirmable,
    pub confirm_focused: bool,
}

/// One row of the tenant picker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantEntry {
    pub tenant: String,
    /// `None` for a tenant that does not exist yet.
    pub key_pair_count: Option<usize>,
    /// Why a typed new tenant cannot be used.
    pub problem: Option<String>,
}

/// `t`: the tenants with their counts; typing narrows them or names a new one.
#[derive(Debug)]
pub struct TenantPicker {
    pub input: Input,
    /// `None` until the store answers.
    pub tenants: Option<Vec<TenantSummary>>,
    pub entries: Vec<TenantEntry>,
    pub selected: usize,
    /// The first entry shown; the list scrolls to keep the selected one in view.
    pub offset: usize,
    pub error: Option<String>,
}

impl TenantPicker {
    /// The first entry to show when `rows` entries fit: `offset`, moved only as far as needed
    /// to bring the selected entry into view.
    pub fn first_shown(&self, rows: usize) -> usize {
        let rows = rows.max(1);
        let mut first = self.offset;
        if self.selected < first {
            first = self.selected;
        } else if self.selected >= first + rows {
            first = self.selected + 1 - rows;
        }
        first.min(self.entries.len().saturating_sub(rows))
    }

    /// Recomputes the rows from the typed text: a new tenant first when the text names none
    /// exactly, then the tenants containing the text. The current tenant is always listed.
    pub fn refresh(&mut self, current: &str) {
        let typed = self.input.value();
        let mut known: Vec<(String, usize)> = self
            .tenants
            .iter()
            .flatten()
            .map(|summary| (summary.tenant.clone(), summary.key_pair_count))
            .collect();
        if !known.iter().any(|(tenant, _)| tenant == current) {
            known.push((current.to_owned(), 0));
            known.sort();
        }

        let mut entries = Vec::new();
        if !typed.is_empty() && !known.iter().any(|(tenant, _)| tenant == typed) {
            entries.push(TenantEntry {
                tenant: typed.to_owned(),
                key_pair_count: None,
                problem: validate_tenant(typed).err().map(|error| error.message),
            });
        }
        entries.extend(
            known
                .into_iter()
                .filter(|(tenant, _)| tenant.contains(typed))
                .map(|(tenant, count)| TenantEntry {
                    tenant,
                    key_pair_count: Some(count),
                    problem: None,
                }),
        );

        self.entries = entries;
        self.selected = self.selected.min(self.entries.len().saturating_sub(1));
        if !typed.is_empty() {
            self.selected = 0;
        }
    }
}
