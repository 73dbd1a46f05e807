//! The console's state and its `update`: every key, paste, tick and background result becomes
//! a change of state plus a list of effects for the event loop. No I/O happens here, so tests
//! drive the whole console by feeding events.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use chrono::FixedOffset;
use crossterm::event::{Event as TerminalEvent, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::layout::Rect;
use tui_input::backend::crossterm::EventHandler;
use tui_input::{Input, InputRequest};
use zeroize::Zeroizing;

use crate::rules::{KEY_PAIR_QUOTA, validate_key_pair_name, validate_tenant};
use crate::service::KeyPairDetail;
use crate::tui::dialogs::{
    Confirm, Confirmable, CreateForm, Dialog, FieldProblem, ImportField, ImportForm, PathPrompt,
    PathPurpose, PendingKey, RenameForm, Reveal, TenantPicker,
};
use crate::tui::event::{
    AppEvent, Effect, ImportSource, Job, JobResult, NewKeyPair, Secret, WriteOutcome,
};
use crate::tui::files::expand_home;
use crate::tui::keymap::{Action, Context, lookup};
use crate::tui::render;

/// How often the list is read again, so other sessions' changes show within 2 s.
pub const RELOAD_EVERY: Duration = Duration::from_millis(1500);
/// How long a copied private key stays on the clipboard.
pub const SECRET_LIFETIME: Duration = Duration::from_secs(30);
const INFO_TOAST: Duration = Duration::from_secs(4);
const ERROR_TOAST: Duration = Duration::from_secs(6);
/// The smallest terminal the console draws its layout in.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 15;

/// A message in the status line until `until`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toast {
    pub text: String,
    pub error: bool,
    pub until: Instant,
}

/// Where a key generation stands once Enter was pressed in the creation form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GenerationPhase {
    /// Waiting for the RSA key; Esc cancels.
    Generating,
    /// The key is being stored (milliseconds; no longer cancellable).
    Storing,
}

/// The key pair being created in the background.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generation {
    pub id: u64,
    pub tenant: String,
    pub name: String,
    pub started: Instant,
    pub phase: GenerationPhase,
}

/// What the console starts from.
#[derive(Debug, Clone)]
pub struct AppOptions {
    pub tenant: String,
    /// The store path as the header shows it (already shortened with `~`).
    pub store_label: String,
    /// The offset used to show creation times in local time.
    pub utc_offset: FixedOffset,
    /// False under `NO_COLOR`.
    pub color: bool,
    pub now: Instant,
    pub width: u16,
    pub height: u16,
}

/// The whole state of the console. Rendering reads it; only [`App::update`] changes it.
#[derive(Debug)]
pub struct App {
    pub tenant: String,
    pub store_label: String,
    pub utc_offset: FixedOffset,
    pub color: bool,
    pub now: Instant,
    pub width: u16,
    pub height: u16,

    /// Every key pair of the tenant, oldest first, as last read from the store.
    pub items: Vec<KeyPairDetail>,
    /// Indices into `items` that pass the filter, in order.
    pub visible: Vec<usize>,
    /// Index into `visible`.
    pub selected: usize,
    /// First visible row of the table.
    pub offset: usize,
    /// KeyPairIds marked with Space.
    pub marked: BTreeSet<String>,
    pub filter: Input,
    pub filter_editing: bool,
    pub loaded: bool,
    pub load_error: Option<String>,

    pub dialogs: Vec<Dialog>,
    pub generation: Option<Generation>,
    pub toast: Option<Toast>,
    /// When the copied private key will be cleared from the clipboard.
    pub secret_deadline: Option<Instant>,
    pub quitting: bool,

    copied_secret: Option<Secret>,
    next_generation: u64,
    list_requests: u64,
    list_applied: u64,
    reload_in_flight: bool,
    last_reload: Instant,
}

impl App {
    /// A console showing nothing yet; [`App::start`] asks for the first list.
    pub fn new(options: AppOptions) -> Self {
        Self {
            tenant: options.tenant,
            store_label: options.store_label,
            utc_offset: options.utc_offset,
            color: options.color,
            now: options.now,
            width: options.width,
            height: options.height,
            items: Vec::new(),
            visible: Vec::new(),
            selected: 0,
            offset: 0,
            marked: BTreeSet::new(),
            filter: Input::default(),
            filter_editing: false,
            loaded: false,
            load_error: None,
            dialogs: Vec::new(),
            generation: None,
            toast: None,
            secret_deadline: None,
            quitting: false,
            copied_secret: None,
            next_generation: 1,
            list_requests: 0,
            list_applied: 0,
            reload_in_flight: false,
            last_reload: options.now,
        }
    }

    /// The effects to start with: the first read of the list.
    pub fn start(&mut self) -> Vec<Effect> {
        vec![self.reload()]
    }

    /// The key pair under the cursor.
    pub fn selected_item(&self) -> Option<&KeyPairDetail> {
        self.visible
            .get(self.selected)
            .and_then(|&index| self.items.get(index))
    }

    /// Whether the terminal is below the size the layout needs.
    pub fn too_small(&self) -> bool {
        self.width < MIN_WIDTH || self.height < MIN_HEIGHT
    }

    /// The binding context that receives keys now.
    pub fn context(&self) -> Context {
        match self.dialogs.last() {
            Some(Dialog::Create(_) | Dialog::Import(_) | Dialog::Rename(_) | Dialog::Path(_)) => {
                Context::Form
            }
            Some(Dialog::Reveal(_)) => Context::Reveal,
            Some(Dialog::Confirm(_)) => Context::Confirm,
            Some(Dialog::Tenants(_)) => Context::Tenants,
            Some(Dialog::Help { .. }) => Context::Help,
            None if self.filter_editing => Context::Filter,
            None => Context::List,
        }
    }

    /// Applies one event and returns what the event loop must do.
    pub fn update(&mut self, event: AppEvent) -> Vec<Effect> {
        match event {
            AppEvent::Key(key) => self.on_key(key),
            AppEvent::Paste(text) => {
                self.on_paste(text);
                Vec::new()
            }
            AppEvent::Resize { width, height } => {
                self.width = width;
                self.height = height;
                self.keep_selection_visible();
                Vec::new()
            }
            AppEvent::Tick(now) => self.on_tick(now),
            AppEvent::Shutdown => self.quit(),
            AppEvent::Done(result) => self.on_result(result),
        }
    }

    // ----- keys -----

    fn on_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        if key.kind == KeyEventKind::Release {
            return Vec::new();
        }

        match lookup(Context::Global, &key) {
            Some(Action::ForceQuit) => return self.quit(),
            Some(Action::Help) if !self.too_small() => {
                if matches!(self.dialogs.last(), Some(Dialog::Help { .. })) {
                    self.dialogs.pop();
                } else {
                    self.dialogs.push(Dialog::Help { scroll: 0 });
                }
                return Vec::new();
            }
            _ => {}
        }

        if self.too_small() {
            let quit = KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE);
            if self.dialogs.is_empty() && key.code == quit.code && key.modifiers == quit.modifiers {
                return self.quit();
            }
            return Vec::new();
        }

        match self.dialogs.pop() {
            Some(dialog) => self.on_dialog_key(dialog, key),
            None if self.filter_editing => {
                self.on_filter_key(key);
                Vec::new()
            }
            None => self.on_list_key(key),
        }
    }

    fn on_list_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let Some(action) = lookup(Context::List, &key) else {
            return Vec::new();
        };
        let page = self.table_rows().max(1);

        match action {
            Action::Down => self.select_by(1),
            Action::Up => self.select_by(-1),
            Action::Top => self.select(0),
            Action::Bottom => self.select(self.visible.len().saturating_sub(1)),
            Action::PageDown => self.select_by(signed(page)),
            Action::PageUp => self.select_by(-signed(page)),
            Action::HalfPageDown => self.select_by(signed(page.div_ceil(2))),
            Action::HalfPageUp => self.select_by(-signed(page.div_ceil(2))),
            Action::Create => return self.open_create_form(),
            Action::Import => self.dialogs.push(Dialog::Import(ImportForm {
                name: Input::default(),
                path: Input::default(),
                pasted: None,
                focus: ImportField::Name,
                problem: None,
                error: None,
                busy: false,
            })),
            Action::Delete => self.open_delete_confirmation(),
            Action::Rename => self.open_rename_form(),
            Action::Mark => self.toggle_mark(),
            Action::Filter => self.filter_editing = true,
            Action::CopyPublicKey => {
                if let Some(item) = self.selected_item() {
                    let text = Secret::new(Zeroizing::new(item.public_key_body.clone()));
                    return vec![Effect::Copy {
                        text,
                        secret: false,
                    }];
                }
                self.info("no key pair is selected");
            }
            Action::Export => self.open_export_prompt(),
            Action::Tenants => return self.open_tenant_picker(),
            Action::Close => self.on_list_escape(),
            Action::Help => self.dialogs.push(Dialog::Help { scroll: 0 }),
            Action::Quit => return self.quit(),
            _ => {}
        }
        Vec::new()
    }

    fn on_list_escape(&mut self) {
        if self
            .generation
            .as_ref()
            .is_some_and(|generation| generation.phase == GenerationPhase::Generating)
        {
            if let Some(generation) = self.generation.take() {
                self.info(format!(
                    "key generation for '{}' cancelled",
                    generation.name
                ));
            }
        } else if !self.filter.value().is_empty() {
            self.filter.reset();
            self.refilter();
        }
    }

    fn on_filter_key(&mut self, key: KeyEvent) {
        match lookup(Context::Filter, &key) {
            Some(Action::Submit) => self.filter_editing = false,
            Some(Action::Close) => {
                self.filter_editing = false;
                self.filter.reset();
                self.refilter();
            }
            _ => {
                if edit(&mut self.filter, key) {
                    self.refilter();
                }
            }
        }
    }

    fn on_dialog_key(&mut self, dialog: Dialog, key: KeyEvent) -> Vec<Effect> {
        match dialog {
            Dialog::Create(form) => self.on_create_key(form, key),
            Dialog::Import(form) => self.on_import_key(form, key),
            Dialog::Rename(form) => self.on_rename_key(form, key),
            Dialog::Reveal(reveal) => self.on_reveal_key(reveal, key),
            Dialog::Path(prompt) => self.on_path_key(prompt, key),
            Dialog::Confirm(confirm) => self.on_confirm_key(confirm, key),
            Dialog::Tenants(picker) => self.on_tenants_key(picker, key),
            Dialog::Help { scroll } => {
                match lookup(Context::Help, &key) {
                    Some(Action::Down) => {
                        self.dialogs.push(Dialog::Help {
                            scroll: scroll.saturating_add(1),
                        });
                    }
                    Some(Action::Up) => {
                        self.dialogs.push(Dialog::Help {
                            scroll: scroll.saturating_sub(1),
                        });
                    }
                    Some(Action::Close) => {}
                    _ => self.dialogs.push(Dialog::Help { scroll }),
                }
                Vec::new()
            }
        }
    }

    // ----- create -----

    fn open_create_form(&mut self) -> Vec<Effect> {
        if let Some(generation) = &self.generation {
            let name = generation.name.clone();
            self.info(format!(
                "key pair '{name}' is still being made; Esc cancels it"
            ));
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

    fn on_create_key(&mut self, mut form: CreateForm, key: KeyEvent) -> Vec<Effect> {
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

    fn submit_create(&mut self, mut form: CreateForm) -> Vec<Effect> {
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

    fn on_import_key(&mut self, mut form: ImportForm, key: KeyEvent) -> Vec<Effect> {
        if form.busy {
            self.dialogs.push(Dialog::Import(form));
            return Vec::new();
        }

        match lookup(Context::Form, &key) {
            Some(Action::Close) => return Vec::new(),
            Some(Action::Submit) if form.focus == ImportField::Name => {
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

    fn submit_import(&mut self, mut form: ImportForm) -> Vec<Effect> {
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

    fn open_rename_form(&mut self) {
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

    fn on_rename_key(&mut self, mut form: RenameForm, key: KeyEvent) -> Vec<Effect> {
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

    fn on_reveal_key(&mut self, mut reveal: Reveal, key: KeyEvent) -> Vec<Effect> {
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
                self.copied_secret = Some(reveal.pem.clone());
                effects.push(Effect::Copy {
                    text: reveal.pem.clone(),
                    secret: true,
                });
            }
            Some(Action::SavePrivateKey) => {
                let default = format!("./{}.adbkey", reveal.name);
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

    fn open_export_prompt(&mut self) {
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

    fn on_path_key(&mut self, mut prompt: PathPrompt, key: KeyEvent) -> Vec<Effect> {
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
    fn write_job(
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

    fn open_delete_confirmation(&mut self) {
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

    fn on_confirm_key(&mut self, mut confirm: Confirm, key: KeyEvent) -> Vec<Effect> {
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
    fn on_confirmed(&mut self, action: Confirmable) -> Vec<Effect> {
        match action {
            Confirmable::Delete { tenant, targets } => {
                let key_pair_ids = targets.into_iter().map(|(id, _)| id).collect();
                vec![Effect::Run(Job::Delete {
                    tenant,
                    key_pair_ids,
                })]
            }
            Confirmable::OverwritePrivateKey { path } => {
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

    fn on_confirm_cancelled(&mut self, action: &Confirmable) {
        if let Confirmable::OverwritePrivateKey { path } | Confirmable::OverwriteExport { path, .. } =
            action
            && let Some(Dialog::Path(prompt)) = self.dialogs.last_mut()
        {
            prompt.error = Some(format!(
                "'{}' exists and was kept; type another path",
                path.display()
            ));
        }
    }

    fn set_prompt_busy(&mut self, busy: bool) {
        if let Some(Dialog::Path(prompt)) = self.dialogs.last_mut() {
            prompt.busy = busy;
        }
    }

    // ----- tenants -----

    fn open_tenant_picker(&mut self) -> Vec<Effect> {
        let mut picker = TenantPicker {
            input: Input::default(),
            tenants: None,
            entries: Vec::new(),
            selected: 0,
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

    fn on_tenants_key(&mut self, mut picker: TenantPicker, key: KeyEvent) -> Vec<Effect> {
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

    fn switch_tenant(&mut self, tenant: String) -> Vec<Effect> {
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

    fn on_paste(&mut self, text: String) {
        let text = Zeroizing::new(text);
        let one_line: String = text.chars().filter(|c| !c.is_control()).collect();
        let looks_like_key = text.contains('\n') || text.trim().len() > 128;

        match self.dialogs.last_mut() {
            Some(Dialog::Import(form)) if !form.busy => {
                if form.focus == ImportField::Key || looks_like_key {
                    form.pasted = Some(Secret::new(text));
                    form.focus = ImportField::Key;
                    form.error = None;
                } else {
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

    // ----- clock -----

    fn on_tick(&mut self, now: Instant) -> Vec<Effect> {
        self.now = now;
        let mut effects = Vec::new();

        if self.toast.as_ref().is_some_and(|toast| now >= toast.until) {
            self.toast = None;
        }

        if self.secret_deadline.is_some_and(|deadline| now >= deadline) {
            self.secret_deadline = None;
            if let Some(secret) = self.copied_secret.take() {
                effects.push(Effect::ClearSecret(secret));
                self.info("the copied private key was cleared from the clipboard");
            }
        }

        if !self.reload_in_flight && now.duration_since(self.last_reload) >= RELOAD_EVERY {
            effects.push(self.reload());
        }
        effects
    }

    fn reload(&mut self) -> Effect {
        self.list_requests += 1;
        self.reload_in_flight = true;
        self.last_reload = self.now;
        Effect::Run(Job::List {
            tenant: self.tenant.clone(),
            request: self.list_requests,
        })
    }

    fn quit(&mut self) -> Vec<Effect> {
        self.quitting = true;
        let mut effects = Vec::new();
        if let Some(secret) = self.copied_secret.take() {
            effects.push(Effect::ClearSecret(secret));
        }
        effects.push(Effect::Quit);
        effects
    }

    // ----- results of background work -----

    fn on_result(&mut self, result: JobResult) -> Vec<Effect> {
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
                    let noun = if count == 1 { "key pair" } else { "key pairs" };
                    self.info(format!("deleted {count} {noun}"));
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
    fn on_failed(&mut self, job: &str) {
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

    fn on_listed(&mut self, result: Result<Vec<KeyPairDetail>, crate::error::ApiError>) {
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

    fn on_generated(
        &mut self,
        generation: u64,
        result: Result<Box<crate::keys::GeneratedKeyPair>, crate::keys::KeyError>,
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

    fn on_created(
        &mut self,
        generation: u64,
        result: Result<NewKeyPair, crate::error::ApiError>,
    ) -> Vec<Effect> {
        let pending = self.generation.take_if(|pending| pending.id == generation);

        match result {
            Ok(NewKeyPair(created)) => {
                self.info(format!(
                    "created {} '{}'",
                    created.key_pair_id, created.key_pair_name
                ));
                self.dialogs.push(Dialog::Reveal(Reveal {
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
                self.dialogs.push(Dialog::Create(CreateForm {
                    name: Input::new(pending.name),
                    generation: id,
                    key: PendingKey::Generating,
                    problem: Some(problem),
                }));
                vec![Effect::Run(Job::Generate { generation: id })]
            }
        }
    }

    fn on_imported(
        &mut self,
        result: Result<crate::service::KeyPairSummary, String>,
    ) -> Vec<Effect> {
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

    fn on_renamed(
        &mut self,
        old_name: &str,
        new_name: &str,
        result: Result<(), crate::error::ApiError>,
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
                tracing::warn!(target: "adbkeys::tui", "rename: {}", error.message);
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

    fn on_written(&mut self, result: Result<WriteOutcome, String>, private: bool) -> Vec<Effect> {
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
                    self.info(format!(
                        "saved the private key to {} (mode 0600)",
                        shown.join(" and ")
                    ));
                } else {
                    self.info(format!("exported adb_keys to {}", shown.join(", ")));
                }
            }
            Ok(WriteOutcome::Exists(path)) => {
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
                    Some(Dialog::Path(_)) => Some(Confirmable::OverwritePrivateKey { path }),
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

    // ----- helpers -----

    fn reveal_mut(&mut self) -> Option<&mut Reveal> {
        self.dialogs
            .iter_mut()
            .rev()
            .find_map(|dialog| match dialog {
                Dialog::Reveal(reveal) => Some(reveal),
                _ => None,
            })
    }

    fn take_generation_id(&mut self) -> u64 {
        let id = self.next_generation;
        self.next_generation += 1;
        id
    }

    /// What is wrong with a typed name: the naming rule, a duplicate in the tenant (other than
    /// `own_id`), or a full tenant. An empty field is only a problem once submitted.
    fn name_problem(
        &self,
        name: &str,
        own_id: Option<&str>,
        submitted: bool,
    ) -> Option<FieldProblem> {
        if name.is_empty() && !submitted {
            return None;
        }
        if let Err(error) = validate_key_pair_name(name) {
            return Some(error.into());
        }
        if let Some(existing) = self
            .items
            .iter()
            .find(|item| item.key_pair_name == name && Some(item.key_pair_id.as_str()) != own_id)
        {
            return Some(FieldProblem {
                message: format!(
                    "tenant '{}' already has a key pair named '{name}' ({})",
                    self.tenant, existing.key_pair_id
                ),
                position: None,
            });
        }
        if own_id.is_none() && self.items.len() >= KEY_PAIR_QUOTA {
            return Some(FieldProblem {
                message: format!(
                    "tenant '{}' already holds {KEY_PAIR_QUOTA} key pairs, the most it may hold",
                    self.tenant
                ),
                position: None,
            });
        }
        None
    }

    fn toggle_mark(&mut self) {
        let Some(id) = self.selected_item().map(|item| item.key_pair_id.clone()) else {
            return;
        };
        if !self.marked.remove(&id) {
            self.marked.insert(id);
        }
        self.select_by(1);
    }

    /// Applies the filter, keeping the selected key pair selected when it still shows.
    fn refilter(&mut self) {
        let selected_id = self.selected_item().map(|item| item.key_pair_id.clone());
        let needle = self.filter.value().to_lowercase();
        let bare_needle: String = needle.chars().filter(|c| *c != ':').collect();

        self.visible = self
            .items
            .iter()
            .enumerate()
            .filter(|(_, item)| {
                needle.is_empty()
                    || item.key_pair_name.to_lowercase().contains(&needle)
                    || item.key_pair_id.to_lowercase().contains(&needle)
                    || (!bare_needle.is_empty()
                        && item
                            .fingerprint_md5
                            .to_lowercase()
                            .replace(':', "")
                            .contains(&bare_needle))
            })
            .map(|(index, _)| index)
            .collect();

        let position = selected_id.and_then(|id| {
            self.visible
                .iter()
                .position(|&index| self.items[index].key_pair_id == id)
        });
        self.select(position.unwrap_or(self.selected));
    }

    fn select_by(&mut self, delta: isize) {
        let target = self.selected.saturating_add_signed(delta);
        self.select(target);
    }

    fn select(&mut self, index: usize) {
        self.selected = index.min(self.visible.len().saturating_sub(1));
        self.keep_selection_visible();
    }

    fn keep_selection_visible(&mut self) {
        let rows = self.table_rows().max(1);
        if self.selected < self.offset {
            self.offset = self.selected;
        } else if self.selected >= self.offset + rows {
            self.offset = self.selected + 1 - rows;
        }
        let last_start = self.visible.len().saturating_sub(rows);
        self.offset = self.offset.min(last_start);
    }

    /// Rows of key pairs the table shows at the current size.
    pub fn table_rows(&self) -> usize {
        render::table_rows(Rect::new(0, 0, self.width, self.height))
    }

    fn info(&mut self, text: impl Into<String>) {
        self.toast = Some(Toast {
            text: text.into(),
            error: false,
            until: self.now + INFO_TOAST,
        });
    }

    /// The one way errors reach the user: logged, and shown in the status line.
    fn report_error(&mut self, operation: &str, message: &str) {
        tracing::warn!(target: "adbkeys::tui", "{operation}: {message}");
        self.toast = Some(Toast {
            text: format!("{operation}: {message}"),
            error: true,
            until: self.now + ERROR_TOAST,
        });
    }
}

fn signed(value: usize) -> isize {
    isize::try_from(value).unwrap_or(isize::MAX)
}

/// Feeds a key to a text field; true when its value changed.
fn edit(input: &mut Input, key: KeyEvent) -> bool {
    input
        .handle_event(&TerminalEvent::Key(key))
        .is_some_and(|response| response.value)
}

fn insert(input: &mut Input, text: &str) {
    for character in text.chars() {
        input.handle(InputRequest::InsertChar(character));
    }
}
