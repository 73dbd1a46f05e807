//! The dialogs' key handling: the creation, import and rename forms, the reveal and its save
//! prompt, the export prompt, confirmations, the tenant picker, and pastes into any of them.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use tui_input::Input;
use zeroize::Zeroizing;

use super::{App, Generation, GenerationPhase, edit, insert};
use crate::files::expand_home;
use crate::rules::validate_tenant;
use crate::tui::dialogs::{
    Confirm, Confirmable, CreateForm, Dialog, FieldProblem, ImportField, ImportForm, PathPrompt,
    PathPurpose, PendingKey, RenameForm, Reveal, TenantPicker,
};
use crate::tui::event::{Effect, ImportSource, Job, Secret};
use crate::tui::keymap::{Action, Context, lookup};

impl App {
    // ----- create -----

    pub(super) fn open_create_form(&mut self) -> Vec<Effect> {
        if let Some(generation) = &self.generation {
            let name = generation.name.clone();
            self.info(format!(
                "key pair '{name}' is still being made; Esc cancels it"
            ));
            return Vec::new();
        }
        if let Some(message) = self.quota_full() {
            self.report_error("create", &message);
            return Vec::new();
        }

        let generation = self.take_generation_id();
        self.dialogs.push(Dialog::Create(CreateForm {
            name: Input::default(),
            generation,
            key: PendingKey::Generating,
            problem: None,
        }));
        vec![Effect::Run(Job::Generate { generation })]
    }

    pub(super) fn on_create_key(&mut self, mut form: CreateForm, key: KeyEvent) -> Vec<Effect> {
        match lookup(Context::Form, &key) {
            Some(Action::Close) => return Vec::new(),
            Some(Action::Submit) => return self.submit_create(form),
            Some(Action::NextField) => {}
            _ => {
                if edit(&mut form.name, key) {
                    form.problem = self.name_problem(form.name.value(), None, false);
                }
            }
        }
        self.dialogs.push(Dialog::Create(form));
        Vec::new()
    }

    pub(super) fn submit_create(&mut self, mut form: CreateForm) -> Vec<Effect> {
        let name = form.name.value().to_owned();
        form.problem = self.name_problem(&name, None, true);
        if form.problem.is_some() {
            self.dialogs.push(Dialog::Create(form));
            return Vec::new();
        }

        let mut generation = Generation {
            id: form.generation,
            tenant: self.tenant.clone(),
            name: name.clone(),
            started: self.now,
            phase: GenerationPhase::Generating,
        };
        let effects = match form.key {
            PendingKey::Ready(key) => {
                generation.phase = GenerationPhase::Storing;
                vec![Effect::Run(Job::Create {
                    generation: generation.id,
                    tenant: generation.tenant.clone(),
                    name,
                    key,
                })]
            }
            PendingKey::Generating => Vec::new(),
            PendingKey::Failed(_) => {
                generation.id = self.take_generation_id();
                vec![Effect::Run(Job::Generate {
                    generation: generation.id,
                })]
            }
        };
        self.generation = Some(generation);
        effects
    }

    // ----- import -----

    pub(super) fn on_import_key(&mut self, mut form: ImportForm, key: KeyEvent) -> Vec<Effect> {
        if form.busy {
            self.dialogs.push(Dialog::Import(form));
            return Vec::new();
        }

        match lookup(Context::Form, &key) {
            Some(Action::Close) => return Vec::new(),
            // With a key already pasted, the name is the last thing missing.
            Some(Action::Submit) if form.focus == ImportField::Name && form.pasted.is_none() => {
                form.focus = ImportField::Key;
            }
            Some(Action::Submit) => return self.submit_import(form),
            Some(Action::NextField) => {
                form.focus = match form.focus {
                    ImportField::Name => ImportField::Key,
                    ImportField::Key => ImportField::Name,
                };
            }
            _ => match form.focus {
                ImportField::Name => {
                    if edit(&mut form.name, key) {
                        form.problem = self.name_problem(form.name.value(), None, false);
                        form.error = None;
                    }
                }
                ImportField::Key if form.pasted.is_some() => {
                    if matches!(key.code, KeyCode::Backspace | KeyCode::Delete)
                        || (key.code == KeyCode::Char('u')
                            && key.modifiers == KeyModifiers::CONTROL)
                    {
                        form.pasted = None;
                        form.error = None;
                    }
                }
                ImportField::Key => {
                    if edit(&mut form.path, key) {
                        form.error = None;
                    }
                }
            },
        }
        self.dialogs.push(Dialog::Import(form));
        Vec::new()
    }

    pub(super) fn submit_import(&mut self, mut form: ImportForm) -> Vec<Effect> {
        let name = form.name.value().to_owned();
        form.problem = self.name_problem(&name, None, true);
        if form.problem.is_some() {
            form.focus = ImportField::Name;
            self.dialogs.push(Dialog::Import(form));
            return Vec::new();
        }

        let path = form.path.value().trim().to_owned();
        let source = match (&form.pasted, path.is_empty()) {
            (Some(pasted), _) => ImportSource::Pasted(pasted.clone()),
            (None, false) => ImportSource::File(expand_home(&path)),
            (None, true) => {
                form.error =
                    Some("paste a public key (or a private key PEM), or type a file path".into());
                self.dialogs.push(Dialog::Import(form));
                return Vec::new();
            }
        };

        form.busy = true;
        form.error = None;
        self.dialogs.push(Dialog::Import(form));
        vec![Effect::Run(Job::Import {
            tenant: self.tenant.clone(),
            name,
            source,
        })]
    }

    // ----- rename -----

    pub(super) fn open_rename_form(&mut self) {
        let Some(item) = self.selected_item() else {
            self.info("no key pair is selected");
            return;
        };
        let form = RenameForm {
            key_pair_id: item.key_pair_id.clone(),
            old_name: item.key_pair_name.clone(),
            name: Input::new(item.key_pair_name.clone()),
            problem: None,
            error: None,
            busy: false,
        };
        self.dialogs.push(Dialog::Rename(form));
    }

    pub(super) fn on_rename_key(&mut self, mut form: RenameForm, key: KeyEvent) -> Vec<Effect> {
        if form.busy {
            self.dialogs.push(Dialog::Rename(form));
            return Vec::new();
        }

        match lookup(Context::Form, &key) {
            Some(Action::Close) => return Vec::new(),
            Some(Action::Submit) => {
                let name = form.name.value().to_owned();
                form.problem = self.name_problem(&name, Some(&form.key_pair_id), true);
                if name == form.old_name {
                    form.problem = Some(FieldProblem {
                        message: "the name is unchanged".into(),
                        position: None,
                    });
                }
                if form.problem.is_none() {
                    form.busy = true;
                    form.error = None;
                    let job = Job::Rename {
                        tenant: self.tenant.clone(),
                        key_pair_id: form.key_pair_id.clone(),
                        old_name: form.old_name.clone(),
                        new_name: name,
                    };
                    self.dialogs.push(Dialog::Rename(form));
                    return vec![Effect::Run(job)];
                }
            }
            Some(Action::NextField) => {}
            _ => {
                if edit(&mut form.name, key) {
                    let id = form.key_pair_id.clone();
                    form.problem = self.name_problem(form.name.value(), Some(&id), false);
                    form.error = None;
                }
            }
        }
        self.dialogs.push(Dialog::Rename(form));
        Vec::new()
    }

    // ----- reveal and saving -----

    pub(super) fn on_reveal_key(&mut self, mut reveal: Reveal, key: KeyEvent) -> Vec<Effect> {
        if reveal.confirm_close {
            if matches!(key.code, KeyCode::Char('y' | 'Y')) {
                return Vec::new();
            }
            reveal.confirm_close = false;
            self.dialogs.push(Dialog::Reveal(reveal));
            return Vec::new();
        }

        let mut effects = Vec::new();
        match lookup(Context::Reveal, &key) {
            Some(Action::Close) if reveal.secured => return Vec::new(),
            Some(Action::Close) => reveal.confirm_close = true,
            Some(Action::CopyPrivateKey) => {
                // The clipboard holds one private key at a time: a copy of another key clears
                // the earlier one (its tmux paste buffer too) before it is replaced.
                if let Some(earlier) = self.copied_secret.replace(reveal.pem.clone())
                    && earlier.expose() != reveal.pem.expose()
                {
                    effects.push(Effect::ClearSecret(earlier));
                }
                effects.push(Effect::Copy {
                    text: reveal.pem.clone(),
                    secret: true,
                });
            }
            Some(Action::SavePrivateKey) => {
                let default = format!("./{}.adb_key", reveal.name);
                self.dialogs.push(Dialog::Reveal(reveal));
                self.dialogs.push(Dialog::Path(PathPrompt {
                    purpose: PathPurpose::SavePrivateKey,
                    input: Input::new(default),
                    error: None,
                    busy: false,
                }));
                return Vec::new();
            }
            Some(Action::Down) => reveal.scroll = reveal.scroll.saturating_add(1),
            Some(Action::Up) => reveal.scroll = reveal.scroll.saturating_sub(1),
            _ => {}
        }
        self.dialogs.push(Dialog::Reveal(reveal));
        effects
    }

    pub(super) fn open_export_prompt(&mut self) {
        let key_pair_ids: Vec<String> = self.marked.iter().cloned().collect();
        self.dialogs.push(Dialog::Path(PathPrompt {
            purpose: PathPurpose::Export {
                tenant: self.tenant.clone(),
                key_pair_ids,
            },
            input: Input::new("./adb_keys".into()),
            error: None,
            busy: false,
        }));
    }

    pub(super) fn on_path_key(&mut self, mut prompt: PathPrompt, key: KeyEvent) -> Vec<Effect> {
        if prompt.busy {
            self.dialogs.push(Dialog::Path(prompt));
            return Vec::new();
        }

        match lookup(Context::Form, &key) {
            Some(Action::Close) => return Vec::new(),
            Some(Action::Submit) => {
                let text = prompt.input.value().trim().to_owned();
                if text.is_empty() {
                    prompt.error = Some("type the path of the file to write".into());
                } else {
                    let path = expand_home(&text);
                    let job = self.write_job(&prompt.purpose, path, false);
                    if let Some(job) = job {
                        prompt.busy = true;
                        prompt.error = None;
                        self.dialogs.push(Dialog::Path(prompt));
                        return vec![Effect::Run(job)];
                    }
                }
            }
            Some(Action::NextField) => {}
            _ => {
                if edit(&mut prompt.input, key) {
                    prompt.error = None;
                }
            }
        }
        self.dialogs.push(Dialog::Path(prompt));
        Vec::new()
    }

    /// The file write a path prompt asks for; the private key comes from the reveal below.
    pub(super) fn write_job(
        &self,
        purpose: &PathPurpose,
        path: std::path::PathBuf,
        overwrite: bool,
    ) -> Option<Job> {
        match purpose {
            PathPurpose::SavePrivateKey => {
                let reveal = self.dialogs.iter().rev().find_map(|dialog| match dialog {
                    Dialog::Reveal(reveal) => Some(reveal),
                    _ => None,
                })?;
                Some(Job::SavePrivateKey {
                    path,
                    pem: reveal.pem.clone(),
                    public_line: reveal.public_line.clone(),
                    overwrite,
                })
            }
            PathPurpose::Export {
                tenant,
                key_pair_ids,
            } => Some(Job::Export {
                tenant: tenant.clone(),
                key_pair_ids: key_pair_ids.clone(),
                path,
                overwrite,
            }),
        }
    }

    // ----- delete and other confirmations -----

    pub(super) fn open_delete_confirmation(&mut self) {
        let mut targets: Vec<(String, String)> = self
            .items
            .iter()
            .filter(|item| self.marked.contains(&item.key_pair_id))
            .map(|item| (item.key_pair_id.clone(), item.key_pair_name.clone()))
            .collect();
        if targets.is_empty()
            && let Some(item) = self.selected_item()
        {
            targets.push((item.key_pair_id.clone(), item.key_pair_name.clone()));
        }
        if targets.is_empty() {
            self.info("no key pair is selected");
            return;
        }

        self.dialogs.push(Dialog::Confirm(Confirm {
            action: Confirmable::Delete {
                tenant: self.tenant.clone(),
                targets,
            },
            confirm_focused: false,
        }));
    }

    pub(super) fn on_confirm_key(&mut self, mut confirm: Confirm, key: KeyEvent) -> Vec<Effect> {
        match lookup(Context::Confirm, &key) {
            Some(Action::Close) => {
                self.on_confirm_cancelled(&confirm.action);
                Vec::new()
            }
            Some(Action::ToggleFocus) => {
                confirm.confirm_focused = !confirm.confirm_focused;
                self.dialogs.push(Dialog::Confirm(confirm));
                Vec::new()
            }
            Some(Action::Submit) if confirm.confirm_focused => self.on_confirmed(confirm.action),
            Some(Action::Submit) => {
                self.on_confirm_cancelled(&confirm.action);
                Vec::new()
            }
            _ => {
                self.dialogs.push(Dialog::Confirm(confirm));
                Vec::new()
            }
        }
    }

    /// The only place a destructive action runs: the confirmed arm.
    pub(super) fn on_confirmed(&mut self, action: Confirmable) -> Vec<Effect> {
        match action {
            Confirmable::Delete { tenant, targets } => {
                let key_pair_ids = targets.into_iter().map(|(id, _)| id).collect();
                vec![Effect::Run(Job::Delete {
                    tenant,
                    key_pair_ids,
                })]
            }
            Confirmable::OverwritePrivateKey { path, .. } => {
                let job = self.write_job(&PathPurpose::SavePrivateKey, path, true);
                self.set_prompt_busy(job.is_some());
                job.map(Effect::Run).into_iter().collect()
            }
            Confirmable::OverwriteExport {
                path,
                tenant,
                key_pair_ids,
            } => {
                self.set_prompt_busy(true);
                vec![Effect::Run(Job::Export {
                    tenant,
                    key_pair_ids,
                    path,
                    overwrite: true,
                })]
            }
        }
    }

    pub(super) fn on_confirm_cancelled(&mut self, action: &Confirmable) {
        let existing = action.existing_files();
        if existing.is_empty() {
            return;
        }
        let verb = if existing.len() == 1 {
            "exists and was kept"
        } else {
            "exist and were kept"
        };
        let names = quoted_paths(&existing);
        if let Some(Dialog::Path(prompt)) = self.dialogs.last_mut() {
            prompt.error = Some(format!("{names} {verb}; type another path"));
        }
    }

    /// The path typed in the open path prompt, as its write job was given it (the prompt
    /// takes no keys while the job runs, so it still holds that path).
    pub(super) fn prompt_path(&self) -> Option<std::path::PathBuf> {
        match self.dialogs.last() {
            Some(Dialog::Path(prompt)) => Some(expand_home(prompt.input.value().trim())),
            _ => None,
        }
    }

    pub(super) fn set_prompt_busy(&mut self, busy: bool) {
        if let Some(Dialog::Path(prompt)) = self.dialogs.last_mut() {
            prompt.busy = busy;
        }
    }

    // ----- tenants -----

    pub(super) fn open_tenant_picker(&mut self) -> Vec<Effect> {
        let mut picker = TenantPicker {
            input: Input::default(),
            tenants: None,
            entries: Vec::new(),
            selected: 0,
            offset: 0,
            error: None,
        };
        picker.refresh(&self.tenant);
        picker.selected = picker
            .entries
            .iter()
            .position(|entry| entry.tenant == self.tenant)
            .unwrap_or(0);
        self.dialogs.push(Dialog::Tenants(picker));
        vec![Effect::Run(Job::Tenants)]
    }

    pub(super) fn on_tenants_key(
        &mut self,
        mut picker: TenantPicker,
        key: KeyEvent,
    ) -> Vec<Effect> {
        match lookup(Context::Tenants, &key) {
            Some(Action::Close) => return Vec::new(),
            Some(Action::Down) => {
                picker.selected = (picker.selected + 1).min(picker.entries.len().saturating_sub(1));
            }
            Some(Action::Up) => picker.selected = picker.selected.saturating_sub(1),
            Some(Action::Submit) => match picker.entries.get(picker.selected) {
                Some(entry) if entry.problem.is_none() => {
                    let tenant = entry.tenant.clone();
                    if validate_tenant(&tenant).is_ok() {
                        return self.switch_tenant(tenant);
                    }
                }
                Some(entry) => picker.error = entry.problem.clone(),
                None => picker.error = Some("no tenant matches; type a new tenant name".into()),
            },
            _ => {
                if edit(&mut picker.input, key) {
                    picker.error = None;
                    picker.refresh(&self.tenant);
                }
            }
        }
        self.dialogs.push(Dialog::Tenants(picker));
        Vec::new()
    }

    pub(super) fn switch_tenant(&mut self, tenant: String) -> Vec<Effect> {
        if tenant == self.tenant {
            return Vec::new();
        }

        self.info(format!("switched to tenant '{tenant}'"));
        self.tenant = tenant;
        self.items.clear();
        self.visible.clear();
        self.marked.clear();
        self.selected = 0;
        self.offset = 0;
        self.filter.reset();
        self.filter_editing = false;
        self.loaded = false;
        self.load_error = None;
        vec![self.reload()]
    }

    // ----- paste -----

    pub(super) fn on_paste(&mut self, text: String) {
        let text = Zeroizing::new(text);
        let one_line: String = text.chars().filter(|c| !c.is_control()).collect();
        let looks_like_key = text.contains(['\n', '\r']) || text.trim().len() > 128;

        match self.dialogs.last_mut() {
            // A key lands in the key field whichever field has the focus, and the focus stays
            // where it was, so typing after the paste goes on in that field. A short line
            // is text for the focused field (a name, or a key file's path): no key is that short.
            Some(Dialog::Import(form)) if !form.busy => {
                if looks_like_key {
                    form.pasted = Some(Secret::new(text));
                    form.error = None;
                } else if form.focus == ImportField::Key && form.pasted.is_none() {
                    insert(&mut form.path, &one_line);
                    form.error = None;
                } else if form.focus == ImportField::Name {
                    insert(&mut form.name, &one_line);
                }
            }
            Some(Dialog::Create(form)) => insert(&mut form.name, &one_line),
            Some(Dialog::Rename(form)) if !form.busy => insert(&mut form.name, &one_line),
            Some(Dialog::Path(prompt)) if !prompt.busy => insert(&mut prompt.input, &one_line),
            Some(Dialog::Tenants(picker)) => {
                insert(&mut picker.input, &one_line);
                picker.refresh(&self.tenant);
            }
            Some(_) => {}
            None if self.filter_editing => {
                insert(&mut self.filter, &one_line);
                self.refilter();
            }
            None => {}
        }

        // A name field changed by the paste is checked like typing.
        let problem = match self.dialogs.last() {
            Some(Dialog::Create(form)) => Some((form.name.value().to_owned(), None)),
            Some(Dialog::Import(form)) => Some((form.name.value().to_owned(), None)),
            Some(Dialog::Rename(form)) => {
                Some((form.name.value().to_owned(), Some(form.key_pair_id.clone())))
            }
            _ => None,
        }
        .map(|(name, own_id)| self.name_problem(&name, own_id.as_deref(), false));
        if let Some(problem) = problem {
            match self.dialogs.last_mut() {
                Some(Dialog::Create(form)) => form.problem = problem,
                Some(Dialog::Import(form)) => form.problem = problem,
                Some(Dialog::Rename(form)) => form.problem = problem,
                _ => {}
            }
        }
    }
}

/// `'a'`, or `'a' and 'b'`: the files an overwrite question or its refusal names.
pub fn quoted_paths(paths: &[&std::path::Path]) -> String {
    paths
        .iter()
        .map(|path| format!("'{}'", path.display()))
        .collect::<Vec<_>>()
        .join(" and ")
}
