//! Drawing the dialogs over the list: forms, the one-time reveal, prompts, confirmations, the
//! tenant picker and the help overlay (generated from the binding table).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
use tui_input::Input;

use crate::files::public_key_path;
use crate::tui::app::App;
use crate::tui::app::forms::quoted_paths;
use crate::tui::dialogs::{
    Confirm, Confirmable, CreateForm, Dialog, FieldProblem, ImportField, ImportForm, PathPrompt,
    PathPurpose, PendingKey, RenameForm, Reveal, TenantPicker,
};
use crate::tui::jobs::looks_like_private_key;
use crate::tui::keymap::help_sections;
use crate::tui::render::{Theme, input_view, scrolled_cells, to_u16, wrap_words};
use crate::tui::text::{fit, key_pairs_noun, pasted_lines, sanitize, width, wrap_hard};

const NAME_RULE: &str = "2-128 characters: ASCII letters, Chinese characters, digits, ':', \
                         '_', '-'; the first a letter or a Chinese character";

/// Draws every open dialog, innermost last (so on top).
pub fn render_dialogs(app: &App, theme: Theme, area: Rect, frame: &mut Frame) {
    for (index, dialog) in app.dialogs.iter().enumerate() {
        let innermost = index + 1 == app.dialogs.len();
        let mut canvas = Canvas::new(theme, innermost, area);
        match dialog {
            Dialog::Create(form) => create_form(app, form, &mut canvas),
            Dialog::Import(form) => import_form(app, form, &mut canvas),
            Dialog::Rename(form) => rename_form(form, &mut canvas),
            Dialog::Reveal(reveal) => reveal_key(reveal, area, &mut canvas),
            Dialog::Path(prompt) => path_prompt(prompt, &mut canvas),
            Dialog::Confirm(confirm) => confirmation(confirm, &mut canvas),
            Dialog::Tenants(picker) => tenant_picker(app, picker, area, &mut canvas),
            Dialog::Help { scroll } => help(*scroll, area, &mut canvas),
        }
        canvas.draw(area, frame);
    }
}

/// A dialog's title, lines and optional text field, laid out and drawn centred.
struct Canvas {
    theme: Theme,
    innermost: bool,
    /// The screen the dialog is centred in: a narrow one shrinks the dialog, its fields and the
    /// width its text wraps to.
    area: Rect,
    title: String,
    width: u16,
    /// Fixed height, or `None` to fit the lines.
    height: Option<u16>,
    lines: Vec<Line<'static>>,
    /// `(line index, column, field)`: a text field drawn on that line, with the caret.
    field: Option<(usize, usize, usize, (String, usize))>,
}

impl Canvas {
    fn new(theme: Theme, innermost: bool, area: Rect) -> Self {
        Self {
            theme,
            innermost,
            area,
            title: String::new(),
            width: 60,
            height: None,
            lines: Vec::new(),
            field: None,
        }
    }

    fn inner_width(&self) -> usize {
        Self::inner_width_for(self.width, self.area)
    }

    /// A field of `wanted` cells after its two-cell marker, narrowed to fit the dialog.
    fn field_width(&self, wanted: usize) -> usize {
        wanted.min(self.inner_width().saturating_sub(2)).max(1)
    }

    /// The cells inside a dialog `width` wide in `area`, within its border and padding.
    fn inner_width_for(width: u16, area: Rect) -> usize {
        usize::from(width.min(area.width.saturating_sub(2)).saturating_sub(4))
    }

    fn text(&mut self, text: impl Into<String>) {
        self.lines.push(Line::from(text.into()));
    }

    fn styled(&mut self, text: impl Into<String>, style: Style) {
        self.lines.push(Line::styled(text.into(), style));
    }

    /// `text` wrapped at word boundaries to `max` cells, or to the dialog's width if narrower.
    fn wrapped(&mut self, text: &str, style: Style, max: usize) {
        for line in wrap_words(text, max.min(self.inner_width())) {
            self.styled(line, style);
        }
    }

    /// A labelled text field on the next line; `active` puts the terminal cursor in it.
    fn input(&mut self, input: &Input, field_width: usize, active: bool) {
        let field_width = self.field_width(field_width);
        let (shown, cursor) = input_view(input, field_width);
        let marker = if active { "> " } else { "  " };
        let pad = field_width.saturating_sub(width(&shown));
        self.lines.push(Line::from(vec![
            Span::raw(marker),
            Span::styled(
                format!("{shown}{}", " ".repeat(pad)),
                Style::new().add_modifier(Modifier::UNDERLINED),
            ),
        ]));
        if active {
            self.field = Some((self.lines.len() - 1, 2, field_width, (shown, cursor)));
        }
    }

    /// The problem with a name: a `^` under the offending character, then the message.
    fn problem(&mut self, input: &Input, problem: Option<&FieldProblem>, field_width: usize) {
        let Some(problem) = problem else {
            self.wrapped(NAME_RULE, self.theme.dim(), field_width + 2);
            return;
        };
        if let Some(position) = problem.position {
            let field_width = self.field_width(field_width);
            let (shown, _) = input_view(input, field_width);
            let before: String = input
                .value()
                .chars()
                .take(position.saturating_sub(1))
                .collect();

            // A character scrolled out of the field, on either side, gets no caret; the message
            // names it. One just past the end of what is shown is an invisible character there.
            let scrolled = scrolled_cells(input, field_width);
            let cut_on_the_right = width(&sanitize(input.value())) > scrolled + width(&shown);
            if let Some(column) = width(&before).checked_sub(scrolled)
                && (column < width(&shown) || (column == width(&shown) && !cut_on_the_right))
            {
                self.styled(format!("  {}^", " ".repeat(column)), self.theme.error());
            }
        }
        self.wrapped(
            &format!("error: {}", problem.message),
            self.theme.error(),
            field_width + 2,
        );
    }

    fn draw(self, area: Rect, frame: &mut Frame) {
        let width = self.width.min(area.width.saturating_sub(2)).max(1);
        let wanted = self
            .height
            .unwrap_or_else(|| to_u16(self.lines.len()).saturating_add(2));
        let height = wanted.min(area.height).max(1);
        let rect = Rect {
            x: area.x + (area.width.saturating_sub(width)) / 2,
            y: area.y + (area.height.saturating_sub(height)) / 2,
            width,
            height,
        };

        let border = if self.innermost {
            self.theme.title()
        } else {
            self.theme.dim()
        };
        let block = Block::bordered().border_style(border).title(Span::styled(
            format!(" {} ", self.title),
            self.theme.title(),
        ));
        let inner = block.inner(rect);
        let padded = Rect {
            x: inner.x.saturating_add(1),
            width: inner.width.saturating_sub(2),
            ..inner
        };
        frame.render_widget(Clear, rect);
        frame.render_widget(block, rect);
        frame.render_widget(Paragraph::new(self.lines), padded);

        if self.innermost
            && let Some((line, column, _, (_, cursor))) = self.field
        {
            let y = padded.y.saturating_add(to_u16(line));
            if y < padded.bottom() {
                let x = padded.x.saturating_add(to_u16(column + cursor));
                frame.set_cursor_position((x.min(padded.right().saturating_sub(1)), y));
            }
        }
    }
}

fn create_form(app: &App, form: &CreateForm, canvas: &mut Canvas) {
    canvas.title = format!("New key pair in tenant '{}'", sanitize(&app.tenant));
    canvas.width = 70;
    let field_width = 60;

    canvas.text("Name");
    canvas.input(&form.name, field_width, true);
    canvas.problem(&form.name, form.problem.as_ref(), field_width);
    canvas.text("");
    match &form.key {
        PendingKey::Generating => {
            canvas.styled(
                "RSA-2048 key: generating in the background…",
                canvas.theme.dim(),
            );
        }
        PendingKey::Ready(_) => canvas.styled("RSA-2048 key: ready", canvas.theme.good()),
        PendingKey::Failed(message) => canvas.wrapped(
            &format!("error: key generation failed ({message}); Enter tries again"),
            canvas.theme.error(),
            field_width + 2,
        ),
    }
    canvas.styled(
        "Enter creates it; the private key is then shown once.",
        canvas.theme.dim(),
    );
}

fn import_form(app: &App, form: &ImportForm, canvas: &mut Canvas) {
    canvas.title = format!("Import a key pair into tenant '{}'", sanitize(&app.tenant));
    canvas.width = 76;
    let field_width = 66;

    canvas.text("Name");
    canvas.input(&form.name, field_width, form.focus == ImportField::Name);
    canvas.problem(&form.name, form.problem.as_ref(), field_width);
    canvas.text("");
    canvas.wrapped(
        "Key: paste an adbkey.pub line (or a private key PEM), or type a file path",
        Style::new(),
        field_width + 2,
    );
    match &form.pasted {
        Some(pasted) => {
            let text = pasted.expose();
            let pasted_lines = pasted_lines(text);
            let count = pasted_lines.len();
            let lines = if count == 1 {
                "1 line".to_owned()
            } else {
                format!("{count} lines")
            };
            let summary = if looks_like_private_key(text.as_bytes()) {
                format!("pasted a private key PEM ({lines}); only its public half is kept")
            } else {
                let first = sanitize(pasted_lines.first().copied().unwrap_or(""));
                format!("pasted ({lines}): {first}")
            };
            let marker = if form.focus == ImportField::Key {
                "> "
            } else {
                "  "
            };
            canvas.text(format!("{marker}{}", fit(&summary, field_width)));
            canvas.styled("  Backspace clears the pasted key", canvas.theme.dim());
        }
        None => canvas.input(&form.path, field_width, form.focus == ImportField::Key),
    }
    if form.busy {
        canvas.styled("importing…", canvas.theme.warning());
    }
    if let Some(error) = &form.error {
        canvas.wrapped(
            &format!("error: {error}"),
            canvas.theme.error(),
            field_width + 2,
        );
    }
}

fn rename_form(form: &RenameForm, canvas: &mut Canvas) {
    canvas.title = format!("Rename {}", form.key_pair_id);
    canvas.width = 70;
    let field_width = 60;

    canvas.text(format!(
        "Current name: {}",
        fit(&sanitize(&form.old_name), field_width)
    ));
    canvas.text("New name");
    canvas.input(&form.name, field_width, true);
    canvas.problem(&form.name, form.problem.as_ref(), field_width);
    if form.busy {
        canvas.styled("renaming…", canvas.theme.warning());
    }
    if let Some(error) = &form.error {
        canvas.wrapped(
            &format!("error: {error}"),
            canvas.theme.error(),
            field_width + 2,
        );
    }
}

fn reveal_key(reveal: &Reveal, area: Rect, canvas: &mut Canvas) {
    canvas.width = 72;
    canvas.title = reveal_title(reveal, canvas.width.min(area.width.saturating_sub(2)));
    canvas.height = Some(area.height);
    let inner_width = canvas.inner_width();

    canvas.wrapped(
        "This is the only time this private key is shown: copy it (c) or save it (s) now.",
        canvas.theme.warning(),
        inner_width,
    );
    let state = if reveal.secured {
        Line::styled("✓ copied or saved; Esc closes", canvas.theme.good())
    } else {
        Line::styled("not copied or saved yet", canvas.theme.dim())
    };
    canvas.lines.push(state);

    if reveal.confirm_close {
        canvas.wrapped(
            "The private key will not be shown again. Close anyway? (y/N)",
            canvas.theme.error().add_modifier(Modifier::REVERSED),
            inner_width,
        );
    } else {
        canvas.text("");
    }

    let body_rows = usize::from(canvas.height.unwrap_or(0).saturating_sub(2))
        .saturating_sub(canvas.lines.len());
    let pem_lines: Vec<String> = reveal
        .pem
        .expose()
        .lines()
        .flat_map(|line| wrap_hard(line, inner_width))
        .collect();
    let scroll = usize::from(reveal.scroll).min(pem_lines.len().saturating_sub(body_rows));
    for line in pem_lines.iter().skip(scroll).take(body_rows) {
        canvas.text(line.clone());
    }
}

/// "Private key of 'NAME' (KeyPairId)" for a dialog `dialog_width` cells wide: the name is cut
/// with `…` (by cells, so Chinese names too) to keep the whole KeyPairId in the top border.
fn reveal_title(reveal: &Reveal, dialog_width: u16) -> String {
    let id = sanitize(&reveal.key_pair_id);
    let frame = "Private key of '' ()";
    // The border's two corners and the spaces around the title take four cells.
    let room = usize::from(dialog_width).saturating_sub(4 + width(frame) + width(&id));
    format!(
        "Private key of '{}' ({id})",
        fit(&sanitize(&reveal.name), room)
    )
}

fn path_prompt(prompt: &PathPrompt, canvas: &mut Canvas) {
    canvas.width = 72;
    let field_width = 62;
    match &prompt.purpose {
        PathPurpose::SavePrivateKey => {
            canvas.title = "Save the private key".to_owned();
            canvas.text("File (mode 0600; the public key goes beside it as .pub)");
        }
        PathPurpose::Export {
            tenant,
            key_pair_ids,
        } => {
            canvas.title = format!("Export adb_keys of tenant '{}'", sanitize(tenant));
            let which = if key_pair_ids.is_empty() {
                "every key pair of the tenant".to_owned()
            } else {
                let count = key_pair_ids.len();
                format!("the {count} marked {}", key_pairs_noun(count))
            };
            canvas.text(format!("File for the public keys of {which}"));
        }
    }
    canvas.input(&prompt.input, field_width, true);
    if let PathPurpose::SavePrivateKey = prompt.purpose {
        let public = public_key_path(std::path::Path::new(prompt.input.value()));
        canvas.styled(
            fit(
                &format!("and '{}'", sanitize(&public.to_string_lossy())),
                field_width + 2,
            ),
            canvas.theme.dim(),
        );
    }
    if prompt.busy {
        canvas.styled("writing…", canvas.theme.warning());
    }
    if let Some(error) = &prompt.error {
        canvas.wrapped(
            &format!("error: {error}"),
            canvas.theme.error(),
            field_width + 2,
        );
    }
}

fn confirmation(confirm: &Confirm, canvas: &mut Canvas) {
    canvas.title = confirm.action.title().to_owned();
    canvas.width = 70;
    let text_width = 62;

    match &confirm.action {
        Confirmable::Delete { tenant, targets } => {
            let noun = key_pairs_noun(targets.len());
            canvas.text(format!(
                "Delete {} {noun} from tenant '{}'?",
                targets.len(),
                sanitize(tenant)
            ));
            let shown = 6;
            for (id, name) in targets.iter().take(shown) {
                canvas.text(format!(
                    "  {} ({id})",
                    fit(&sanitize(name), text_width - 26)
                ));
            }
            if targets.len() > shown {
                canvas.text(format!("  and {} more", targets.len() - shown));
            }
            canvas.styled(
                "Phones that trust these keys keep them; the store forgets them.",
                canvas.theme.dim(),
            );
        }
        Confirmable::OverwritePrivateKey { .. } | Confirmable::OverwriteExport { .. } => {
            let existing = confirm.action.existing_files();
            let names = sanitize(&quoted_paths(&existing));
            let question = if existing.len() == 1 {
                format!("{names} exists. Overwrite it?")
            } else {
                format!("{names} exist. Overwrite both?")
            };
            canvas.wrapped(&question, Style::new(), text_width);
        }
    }
    canvas.text("");

    let cancel = button("Cancel", !confirm.confirm_focused, canvas.theme);
    let verb = button(confirm.action.verb(), confirm.confirm_focused, canvas.theme);
    canvas
        .lines
        .push(Line::from(vec![cancel, Span::raw("   "), verb]));
}

fn button(label: &str, focused: bool, theme: Theme) -> Span<'static> {
    if focused {
        Span::styled(format!("> {label} <"), theme.selected())
    } else {
        Span::raw(format!("  {label}  "))
    }
}

const TENANT_PICKER_WIDTH: u16 = 72;
/// The picker's lines above the list: the label, the field and a blank line.
const TENANT_PICKER_HEAD: usize = 3;

/// The picker's lines below the list: the selected tenant's whole name when its row shortens
/// it, then why a typed name cannot be used, or the last error.
fn tenant_picker_notes(picker: &TenantPicker, inner_width: usize) -> Vec<(String, bool)> {
    let mut notes = Vec::new();
    let selected = picker.entries.get(picker.selected);
    if let Some(entry) = selected
        && entry.key_pair_count.is_some()
        && width(&sanitize(&entry.tenant)) > tenant_name_width(inner_width)
    {
        let text = format!("selected: {}", sanitize(&entry.tenant));
        notes.extend(
            wrap_hard(&text, inner_width)
                .into_iter()
                .map(|line| (line, false)),
        );
    }

    let problem = picker
        .error
        .clone()
        .or_else(|| selected.and_then(|entry| entry.problem.clone()));
    if let Some(problem) = problem {
        let text = format!("error: {problem}");
        notes.extend(
            wrap_words(&text, inner_width)
                .into_iter()
                .map(|line| (line, true)),
        );
    }
    notes
}

/// The cells left for a tenant's name in a row: the row also holds the marker, the count and
/// " (current)".
fn tenant_name_width(inner_width: usize) -> usize {
    inner_width.saturating_sub("> ".len() + " 500 key pairs".len() + " (current)".len())
}

/// How many tenants the picker lists at once in `area` (the dialog area), leaving room for
/// its other lines and, when the list scrolls, the line saying which part is shown.
pub fn tenant_picker_rows(picker: &TenantPicker, area: Rect) -> usize {
    let inner_width = Canvas::inner_width_for(TENANT_PICKER_WIDTH, area);
    let reading = usize::from(picker.tenants.is_none());
    let fixed = 2 + TENANT_PICKER_HEAD + reading + tenant_picker_notes(picker, inner_width).len();
    let available = usize::from(area.height).saturating_sub(fixed);
    if picker.entries.len() > available {
        available.saturating_sub(1).max(1)
    } else {
        available.max(1)
    }
}

fn tenant_picker(app: &App, picker: &TenantPicker, area: Rect, canvas: &mut Canvas) {
    canvas.title = "Switch tenant".to_owned();
    canvas.width = TENANT_PICKER_WIDTH;
    let inner_width = canvas.inner_width();
    let name_width = tenant_name_width(inner_width);

    canvas.text("Tenant (type to narrow, or a new name)");
    canvas.input(&picker.input, inner_width.saturating_sub(2), true);
    canvas.text("");
    if picker.tenants.is_none() {
        canvas.styled("reading the store…", canvas.theme.dim());
    }

    let rows = tenant_picker_rows(picker, area);
    let first = picker.first_shown(rows);
    for (index, entry) in picker.entries.iter().enumerate().skip(first).take(rows) {
        let selected = index == picker.selected;
        let marker = if selected { "> " } else { "  " };
        let tenant = sanitize(&entry.tenant);
        let text = match (entry.key_pair_count, &entry.problem) {
            (Some(count), _) => {
                let name = fit(&tenant, name_width);
                let pad = " ".repeat(name_width.saturating_sub(width(&name)));
                let current = if entry.tenant == app.tenant {
                    " (current)"
                } else {
                    ""
                };
                // Padded to the plural's width, so the counts line up.
                let noun = key_pairs_noun(count);
                format!("{marker}{name}{pad} {count:>3} {noun:<9}{current}")
            }
            (None, None) => format!("{marker}new tenant '{tenant}'"),
            (None, Some(_)) => format!("{marker}'{tenant}' cannot be a tenant (below)"),
        };
        let style = if selected {
            canvas.theme.selected()
        } else if entry.problem.is_some() {
            canvas.theme.error()
        } else {
            Style::new()
        };
        canvas.styled(fit(&text, inner_width), style);
    }
    if picker.entries.len() > rows {
        let last = (first + rows).min(picker.entries.len());
        canvas.styled(
            format!(
                "  {}-{last} of {} (↑/↓ to scroll)",
                first + 1,
                picker.entries.len()
            ),
            canvas.theme.dim(),
        );
    }

    for (line, error) in tenant_picker_notes(picker, inner_width) {
        let style = if error {
            canvas.theme.error()
        } else {
            canvas.theme.dim()
        };
        canvas.styled(line, style);
    }
}

fn help(scroll: u16, area: Rect, canvas: &mut Canvas) {
    canvas.title = "Help: every binding (j/k scroll, Esc closes)".to_owned();
    canvas.width = 76;
    canvas.height = Some(area.height);
    let inner_width = canvas.inner_width();

    let mut lines: Vec<Line<'static>> = Vec::new();
    for (heading, entries) in help_sections() {
        lines.push(Line::styled(heading.to_owned(), canvas.theme.title()));
        for (keys, description) in entries {
            let text = format!("  {keys:<16} {description}");
            lines.push(Line::from(fit(&text, inner_width)));
        }
    }
    let rows = usize::from(canvas.height.unwrap_or(0).saturating_sub(2));
    let scroll = usize::from(scroll).min(lines.len().saturating_sub(rows));
    canvas.lines = lines.into_iter().skip(scroll).collect();
}
