//! What the app does with the result of each background job and copy.

use std::collections::BTreeSet;

use tui_input::Input;

use super::{App, GenerationPhase, SECRET_LIFETIME};
use crate::error::ApiError;
use crate::keys::{GeneratedKeyPair, KeyError};
use crate::service::{KeyPairDetail, KeyPairSummary};
use crate::tui::dialogs::{
    Confirm, Confirmable, CreateForm, Dialog, FieldProblem, PathPrompt, PathPurpose, PendingKey,
    Reveal,
};
use crate::tui::event::{Effect, Job, JobResult, NewKeyPair, Secret, WriteOutcome};
use crate::tui::text::key_pairs_noun;

impl App {
    // ----- results of background work -----

    pub(super) fn on_result(&mut self, result: JobResult) -> Vec<Effect> {
        match result {
            JobResult::Listed {
                tenant,
                request,
                result,
            } => {
                if request == self.list_requests {
                    self.reload_in_flight = false;
                }
                if tenant == self.tenant && request > self.list_applied {
                    self.list_applied = request;
                    self.on_listed(result);
                }
                Vec::new()
            }
            JobResult::Tenants(result) => {
                let current = self.tenant.clone();
                match (self.dialogs.last_mut(), result) {
                    (Some(Dialog::Tenants(picker)), Ok(tenants)) => {
                        picker.tenants = Some(tenants);
                        picker.refresh(&current);
                        picker.selected = picker
                            .entries
                            .iter()
                            .position(|entry| entry.tenant == current)
                            .unwrap_or(0);
                    }
                    (Some(Dialog::Tenants(picker)), Err(error)) => {
                        picker.error = Some(error.message);
                    }
                    _ => {}
                }
                Vec::new()
            }
            JobResult::Generated { generation, result } => self.on_generated(generation, result),
            JobResult::Created { generation, result } => self.on_created(generation, result),
            JobResult::Imported(result) => self.on_imported(result),
            JobResult::Renamed {
                old_name,
                new_name,
                result,
            } => self.on_renamed(&old_name, &new_name, result),
            JobResult::Deleted { count, result } => match result {
                Ok(()) => {
                    self.marked.clear();
                    self.info(format!("deleted {count} {}", key_pairs_noun(count)));
                    vec![self.reload()]
                }
                Err(error) => {
                    self.report_error("delete", &error.message);
                    vec![self.reload()]
                }
            },
            JobResult::SavedPrivateKey(result) => self.on_written(result, true),
            JobResult::Exported(result) => self.on_written(result, false),
            JobResult::Copied { outcome, secret } => {
                if outcome.delivered {
                    if secret {
                        self.secret_deadline = Some(self.now + SECRET_LIFETIME);
                        if let Some(reveal) = self.reveal_mut() {
                            reveal.secured = true;
                        }
                    }
                    let text = match &outcome.warning {
                        Some(warning) => format!("{}; {warning}", outcome.message),
                        None => outcome.message.clone(),
                    };
                    self.info(text);
                } else {
                    if secret {
                        self.copied_secret = None;
                    }
                    let text = match &outcome.warning {
                        Some(warning) => format!("{}; {warning}", outcome.message),
                        None => outcome.message.clone(),
                    };
                    self.report_error("copy", &text);
                }
                Vec::new()
            }
            JobResult::Failed { job } => {
                self.on_failed(job);
                Vec::new()
            }
        }
    }

    /// A background job died: whatever waited for it stops waiting.
    pub(super) fn on_failed(&mut self, job: &str) {
        self.report_error(job, "failed unexpectedly (see the log)");
        match job {
            "list" => self.reload_in_flight = false,
            "key generation" | "create" => self.generation = None,
            _ => {}
        }
        match self.dialogs.last_mut() {
            Some(Dialog::Import(form)) => form.busy = false,
            Some(Dialog::Rename(form)) => form.busy = false,
            Some(Dialog::Path(prompt)) => prompt.busy = false,
            _ => {}
        }
    }

    pub(super) fn on_listed(&mut self, result: Result<Vec<KeyPairDetail>, ApiError>) {
        match result {
            Ok(items) => {
                self.loaded = true;
                self.load_error = None;
                if items != self.items {
                    self.items = items;
                    let present: BTreeSet<&str> = self
                        .items
                        .iter()
                        .map(|item| item.key_pair_id.as_str())
                        .collect();
                    self.marked.retain(|id| present.contains(id.as_str()));
                    self.refilter();
                }
            }
            Err(error) => {
                if self.load_error.as_deref() != Some(error.message.as_str()) {
                    self.report_error("list", &error.message);
                }
                self.load_error = Some(error.message);
            }
        }
    }

    pub(super) fn on_generated(
        &mut self,
        generation: u64,
        result: Result<Box<GeneratedKeyPair>, KeyError>,
    ) -> Vec<Effect> {
        for dialog in &mut self.dialogs {
            if let Dialog::Create(form) = dialog
                && form.generation == generation
            {
                form.key = match result {
                    Ok(key) => PendingKey::Ready(key),
                    Err(error) => PendingKey::Failed(error.to_string()),
                };
                return Vec::new();
            }
        }

        let waiting = self.generation.as_ref().is_some_and(|pending| {
            pending.id == generation && pending.phase == GenerationPhase::Generating
        });
        if !waiting {
            // The form closed or the generation was cancelled: the key is dropped (zeroized).
            return Vec::new();
        }

        match result {
            Ok(key) => {
                let Some(pending) = self.generation.as_mut() else {
                    return Vec::new();
                };
                pending.phase = GenerationPhase::Storing;
                vec![Effect::Run(Job::Create {
                    generation,
                    tenant: pending.tenant.clone(),
                    name: pending.name.clone(),
                    key,
                })]
            }
            Err(error) => {
                self.generation = None;
                self.report_error("create", &error.to_string());
                Vec::new()
            }
        }
    }

    pub(super) fn on_created(
        &mut self,
        generation: u64,
        result: Result<NewKeyPair, ApiError>,
    ) -> Vec<Effect> {
        let pending = self.generation.take_if(|pending| pending.id == generation);

        match result {
            Ok(NewKeyPair(created)) => {
                let mut message = format!(
                    "created {} '{}'",
                    created.key_pair_id, created.key_pair_name
                );
                // The tenant was switched while the key pair was made: say where it went.
                if let Some(pending) = &pending
                    && pending.tenant != self.tenant
                {
                    message.push_str(&format!(" in tenant '{}'", pending.tenant));
                }
                if !self.dialogs.is_empty() {
                    message.push_str("; its private key shows when this dialog closes");
                }
                self.info(message);
                self.arrive(Dialog::Reveal(Reveal {
                    key_pair_id: created.key_pair_id,
                    name: created.key_pair_name,
                    pem: Secret::new(created.private_key_body),
                    public_line: created.public_key_line,
                    secured: false,
                    confirm_close: false,
                    scroll: 0,
                }));
                vec![self.reload()]
            }
            Err(error) => {
                self.report_error("create", &error.message);
                let Some(pending) = pending else {
                    return Vec::new();
                };

                // Back to the form with the name and the reason, and a fresh key.
                let id = self.take_generation_id();
                let problem = FieldProblem {
                    message: error.message,
                    position: None,
                };
                self.arrive(Dialog::Create(CreateForm {
                    name: Input::new(pending.name),
                    generation: id,
                    key: PendingKey::Generating,
                    problem: Some(problem),
                }));
                vec![Effect::Run(Job::Generate { generation: id })]
            }
        }
    }

    pub(super) fn on_imported(&mut self, result: Result<KeyPairSummary, String>) -> Vec<Effect> {
        let form_open = matches!(self.dialogs.last(), Some(Dialog::Import(_)));
        match result {
            Ok(summary) => {
                if form_open {
                    self.dialogs.pop();
                }
                self.info(format!(
                    "imported {} '{}'",
                    summary.key_pair_id, summary.key_pair_name
                ));
                vec![self.reload()]
            }
            Err(message) => {
                tracing::warn!(target: "adbkeys::tui", "import: {message}");
                match self.dialogs.last_mut() {
                    Some(Dialog::Import(form)) => {
                        form.busy = false;
                        form.error = Some(message);
                    }
                    _ => self.report_error("import", &message),
                }
                Vec::new()
            }
        }
    }

    pub(super) fn on_renamed(
        &mut self,
        old_name: &str,
        new_name: &str,
        result: Result<(), ApiError>,
    ) -> Vec<Effect> {
        let form_open = matches!(self.dialogs.last(), Some(Dialog::Rename(_)));
        match result {
            Ok(()) => {
                if form_open {
                    self.dialogs.pop();
                }
                self.info(format!("renamed '{old_name}' to '{new_name}'"));
                vec![self.reload()]
            }
            Err(error) => {
                tracing::warn!(target: "adbkeys::tui", "{}", error.message);
                match self.dialogs.last_mut() {
                    Some(Dialog::Rename(form)) => {
                        form.busy = false;
                        form.error = Some(error.message);
                    }
                    _ => self.report_error("rename", &error.message),
                }
                Vec::new()
            }
        }
    }

    pub(super) fn on_written(
        &mut self,
        result: Result<WriteOutcome, String>,
        private: bool,
    ) -> Vec<Effect> {
        let prompt_open = matches!(self.dialogs.last(), Some(Dialog::Path(_)));
        match result {
            Ok(WriteOutcome::Written(paths)) => {
                if prompt_open {
                    self.dialogs.pop();
                }
                let shown: Vec<String> = paths
                    .iter()
                    .map(|path| format!("'{}'", path.display()))
                    .collect();
                if private {
                    if let Some(reveal) = self.reveal_mut() {
                        reveal.secured = true;
                    }
                    self.info(match shown.as_slice() {
                        [private_key, public_key] => format!(
                            "saved the private key to {private_key} (mode 0600) and its public \
                             key to {public_key}"
                        ),
                        _ => format!("saved the private key to {}", shown.join(" and ")),
                    });
                } else {
                    self.info(format!("exported adb_keys to {}", shown.join(", ")));
                }
            }
            Ok(WriteOutcome::Exists(existing)) => {
                let Some(path) = existing.first().cloned() else {
                    return Vec::new();
                };
                let action = match self.dialogs.last() {
                    Some(Dialog::Path(PathPrompt {
                        purpose:
                            PathPurpose::Export {
                                tenant,
                                key_pair_ids,
                            },
                        ..
                    })) => Some(Confirmable::OverwriteExport {
                        path,
                        tenant: tenant.clone(),
                        key_pair_ids: key_pair_ids.clone(),
                    }),
                    Some(Dialog::Path(_)) => Some(Confirmable::OverwritePrivateKey {
                        path: self.prompt_path().unwrap_or(path),
                        existing,
                    }),
                    _ => None,
                };
                self.set_prompt_busy(false);
                if let Some(action) = action {
                    self.dialogs.push(Dialog::Confirm(Confirm {
                        action,
                        confirm_focused: false,
                    }));
                }
            }
            Err(message) => {
                tracing::warn!(target: "adbkeys::tui", "write: {message}");
                match self.dialogs.last_mut() {
                    Some(Dialog::Path(prompt)) => {
                        prompt.busy = false;
                        prompt.error = Some(message);
                    }
                    _ => self.report_error(if private { "save" } else { "export" }, &message),
                }
            }
        }
        Vec::new()
    }
}
