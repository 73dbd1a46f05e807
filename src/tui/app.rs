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

use crate::rules::{KEY_PAIR_QUOTA, validate_key_pair_name};
use crate::service::KeyPairDetail;
use crate::tui::dialogs::{Dialog, FieldProblem, ImportField, ImportForm, Reveal};
use crate::tui::event::{AppEvent, Effect, Job, Secret};
use crate::tui::keymap::{Action, Context, lookup};
use crate::tui::{popups, render};

pub mod forms;
mod results;

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
        let effects = self.apply(event);
        self.scroll_tenant_picker();
        effects
    }

    fn apply(&mut self, event: AppEvent) -> Vec<Effect> {
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
            Some(Action::ForceQuit) => return self.quit_by_key(),
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

        // Too small to draw: only the keys that need no screen act, as they would on a normal
        // one: the current context's close (Esc closes the innermost dialog) and q from the list.
        if self.too_small() && lookup(self.context(), &key) != Some(Action::Close) {
            let quit = KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE);
            if self.dialogs.is_empty() && key.code == quit.code && key.modifiers == quit.modifiers {
                return self.quit_by_key();
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
            Action::Quit => return self.quit_by_key(),
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

    /// `q` or Ctrl-C. While a new key pair is being stored (milliseconds, or until the store's
    /// 5 s wait gives up) quitting waits: the key pair would be stored with its private key
    /// never shown. Its reveal follows. A private key neither copied nor saved, shown or
    /// waiting beneath another dialog, comes to the top with the reveal's close question, and
    /// a second Ctrl-C quits. A hang-up still quits at once.
    fn quit_by_key(&mut self) -> Vec<Effect> {
        if let Some(generation) = &self.generation
            && generation.phase == GenerationPhase::Storing
        {
            let name = generation.name.clone();
            self.info(format!(
                "key pair '{name}' is being stored; its private key shows next, then q quits"
            ));
            return Vec::new();
        }

        let unsecured = self.dialogs.iter().position(|dialog| {
            matches!(dialog, Dialog::Reveal(reveal) if !reveal.secured && !reveal.confirm_close)
        });
        if let Some(index) = unsecured {
            let reveal = self.dialogs.remove(index);
            self.dialogs.push(reveal);
            if let Some(reveal) = self.reveal_mut() {
                reveal.confirm_close = true;
                let name = reveal.name.clone();
                self.info(format!(
                    "the private key of '{name}' is not copied or saved yet; Ctrl-C again quits \
                     without it"
                ));
            }
            return Vec::new();
        }
        self.quit()
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

    /// Opens a dialog that a background job brings (the reveal of a new key pair, or the
    /// creation form back with a refusal) beneath any dialog opened meanwhile, which keeps the
    /// keys typed for it and its job's result; it shows when those close.
    fn arrive(&mut self, dialog: Dialog) {
        self.dialogs.insert(0, dialog);
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
        if own_id.is_none()
            && let Some(message) = self.quota_full()
        {
            return Some(FieldProblem {
                message,
                position: None,
            });
        }
        None
    }

    /// Why no key pair can be added, when the tenant already holds its quota (as last read;
    /// the store checks again when the key pair is added).
    fn quota_full(&self) -> Option<String> {
        (self.items.len() >= KEY_PAIR_QUOTA).then(|| {
            format!(
                "tenant '{}' already holds {} key pairs: a tenant holds at most \
                 {KEY_PAIR_QUOTA} key pairs; delete some first",
                self.tenant,
                self.items.len()
            )
        })
    }

    /// Space: marks or unmarks the selected row, as the help and docs/console.md say; the
    /// cursor stays on it.
    fn toggle_mark(&mut self) {
        let Some(id) = self.selected_item().map(|item| item.key_pair_id.clone()) else {
            return;
        };
        if !self.marked.remove(&id) {
            self.marked.insert(id);
        }
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

    /// Keeps the tenant picker's selected entry in view at the current size (the picker's
    /// height depends on the screen, so this runs after every event).
    fn scroll_tenant_picker(&mut self) {
        let area = render::dialog_area(self, Rect::new(0, 0, self.width, self.height));
        for dialog in &mut self.dialogs {
            if let Dialog::Tenants(picker) = dialog {
                let rows = popups::tenant_picker_rows(picker, area);
                picker.offset = picker.first_shown(rows);
            }
        }
    }

    /// Rows of key pairs the table shows at the current size.
    pub fn table_rows(&self) -> usize {
        let status_rows = render::status_rows(self, self.width);
        render::table_rows(Rect::new(0, 0, self.width, self.height), status_rows)
    }

    /// Shows a result in the status line and logs it with the tenant, so that the log keeps a
    /// record of what was done. No message carries key material.
    fn info(&mut self, text: impl Into<String>) {
        let text = text.into();
        tracing::info!(target: "adbkeys::tui", tenant = %self.tenant, "{text}");
        self.toast = Some(Toast {
            text,
            error: false,
            until: self.now + INFO_TOAST,
        });
    }

    /// The one way errors reach the user: logged, and shown in the status line. The service's
    /// messages already begin with their operation ("delete: ..."); the console's own do not,
    /// so the operation is added only when the message does not name it already.
    fn report_error(&mut self, operation: &str, message: &str) {
        let names_operation = message
            .strip_prefix(operation)
            .is_some_and(|rest| rest.starts_with(": "));
        let text = if names_operation {
            message.to_owned()
        } else {
            format!("{operation}: {message}")
        };

        tracing::warn!(target: "adbkeys::tui", "{text}");
        self.toast = Some(Toast {
            text,
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
