//! Drawing the console from `&App`: the header, the key-pair table, the detail pane, the status
//! line and the footer. Pure and infallible; dialogs are drawn by [`popups`](super::popups).

use chrono::NaiveDateTime;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Row, Table};
use tui_input::Input;

use crate::rules::KEY_PAIR_QUOTA;
use crate::service::KeyPairDetail;
use crate::tui::app::{App, GenerationPhase, MIN_HEIGHT, MIN_WIDTH};
use crate::tui::keymap::{Context, footer_hints};
use crate::tui::popups;
use crate::tui::text::{fit, fit_left, sanitize, width, wrap_hard};

/// From this many key pairs the quota gauge warns.
pub const QUOTA_WARNING: usize = 450;
/// From this width the detail pane sits beside the table rather than below it.
const SIDE_BY_SIDE_WIDTH: u16 = 110;
const DETAIL_WIDTH: u16 = 50;
const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/// The screen's regions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    pub header: Rect,
    pub table: Rect,
    pub detail: Rect,
    pub status: Rect,
    pub footer: Rect,
}

/// Splits the screen: header, table and detail (beside or below), status, footer.
pub fn areas(area: Rect, status_rows: u16) -> Areas {
    let [header, main, status, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(status_rows),
        Constraint::Length(1),
    ])
    .areas(area);

    let (table, detail) = if area.width >= SIDE_BY_SIDE_WIDTH {
        let [table, detail] =
            Layout::horizontal([Constraint::Fill(1), Constraint::Length(DETAIL_WIDTH)]).areas(main);
        (table, detail)
    } else {
        let detail_height = (main.height * 2 / 5).max(5);
        let [table, detail] =
            Layout::vertical([Constraint::Fill(1), Constraint::Length(detail_height)]).areas(main);
        (table, detail)
    };

    Areas {
        header,
        table,
        detail,
        status,
        footer,
    }
}

/// How many key pairs fit in the table (inside its border, under its header row).
pub fn table_rows(area: Rect, status_rows: u16) -> usize {
    usize::from(areas(area, status_rows).table.height.saturating_sub(3))
}

/// Colours and emphasis, reduced to emphasis alone under `NO_COLOR`.
#[derive(Debug, Clone, Copy)]
pub struct Theme {
    color: bool,
}

impl Theme {
    pub fn new(color: bool) -> Self {
        Self { color }
    }

    fn fg(self, color: Color) -> Style {
        if self.color {
            Style::new().fg(color)
        } else {
            Style::new()
        }
    }

    pub fn title(self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    pub fn dim(self) -> Style {
        self.fg(Color::DarkGray)
    }

    pub fn error(self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    pub fn warning(self) -> Style {
        self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
    }

    pub fn good(self) -> Style {
        self.fg(Color::Green)
    }

    pub fn key(self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    /// The selected row: reversed, so it shows without colour too (with a `>` marker).
    pub fn selected(self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
    }
}

/// Draws the whole console.
pub fn render(app: &App, frame: &mut Frame) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        render_too_small(app, area, frame);
        return;
    }

    let theme = Theme::new(app.color);
    let regions = areas(area, status_rows(app, area.width));
    render_header(app, theme, regions.header, frame);
    render_table(app, theme, regions.table, frame);
    render_detail(app, theme, regions.detail, frame);
    render_status(app, theme, regions.status, frame);
    render_footer(app, theme, regions.footer, frame);
    popups::render_dialogs(app, theme, dialog_area(app, area), frame);
}

/// Where dialogs are drawn: between the header and the status line, so the header, toasts,
/// the countdown and the footer's hints stay in view.
pub fn dialog_area(app: &App, area: Rect) -> Rect {
    let regions = areas(area, status_rows(app, area.width));
    Rect {
        y: regions.table.y,
        height: regions.status.y.saturating_sub(regions.table.y),
        ..area
    }
}

fn render_too_small(app: &App, area: Rect, frame: &mut Frame) {
    let keys = if app.dialogs.is_empty() {
        "q quits, Ctrl-C anywhere"
    } else {
        "Esc closes the dialog, Ctrl-C quits"
    };
    let lines = [
        format!("terminal too small: {}x{}", area.width, area.height),
        format!("adbkeys needs {MIN_WIDTH}x{MIN_HEIGHT}"),
        keys.to_owned(),
    ];
    let text: Vec<Line> = lines
        .iter()
        .map(|line| Line::from(fit(line, usize::from(area.width))))
        .collect();
    frame.render_widget(Paragraph::new(text), area);
}

fn render_header(app: &App, theme: Theme, area: Rect, frame: &mut Frame) {
    let count = app.items.len();
    let (quota_style, quota_note) = if count >= KEY_PAIR_QUOTA {
        (theme.error(), " FULL")
    } else if count >= QUOTA_WARNING {
        (theme.warning(), " ! nearly full")
    } else {
        (Style::new(), "")
    };
    let gauge_cells = 10;
    let filled = (count * gauge_cells)
        .div_ceil(KEY_PAIR_QUOTA)
        .min(gauge_cells);
    let gauge = format!("{}{}", "■".repeat(filled), "□".repeat(gauge_cells - filled));
    let quota = format!("{gauge} {count}/{KEY_PAIR_QUOTA}{quota_note} ");

    let tenant = fit(&sanitize(&app.tenant), 24);
    let fixed = width(" adbkeys │ tenant  │ store  │ ") + width(&tenant) + width(&quota);
    let store = fit_left(
        &app.store_label,
        usize::from(area.width).saturating_sub(fixed),
    );

    let line = Line::from(vec![
        Span::styled(" adbkeys", theme.title()),
        Span::styled(" │ ", theme.dim()),
        Span::raw("tenant "),
        Span::styled(tenant, Style::new().add_modifier(Modifier::BOLD)),
        Span::styled(" │ ", theme.dim()),
        Span::raw("store "),
        Span::raw(store),
        Span::styled(" │ ", theme.dim()),
    ]);
    let used = line.width();
    let padding = usize::from(area.width).saturating_sub(used + width(&quota));
    let mut spans = line.spans;
    spans.push(Span::raw(" ".repeat(padding)));
    spans.push(Span::styled(quota, quota_style));
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The columns of the table, dropped from the right of the list when the table is narrow.
struct Columns {
    name: u16,
    created: bool,
    source: bool,
}

const MARKER_WIDTH: u16 = 2;
const ID_WIDTH: u16 = 20;
const CREATED_WIDTH: u16 = 16;
const SOURCE_WIDTH: u16 = 8;
const FINGERPRINT_WIDTH: u16 = 12;
const MIN_NAME_WIDTH: u16 = 12;

fn columns(inner_width: u16) -> Columns {
    let fixed = MARKER_WIDTH + ID_WIDTH + FINGERPRINT_WIDTH + 3;
    let mut columns = Columns {
        name: 0,
        created: true,
        source: true,
    };
    let mut extra = CREATED_WIDTH + 1 + SOURCE_WIDTH + 1;
    if inner_width.saturating_sub(fixed + extra) < MIN_NAME_WIDTH {
        columns.source = false;
        extra -= SOURCE_WIDTH + 1;
    }
    if inner_width.saturating_sub(fixed + extra) < MIN_NAME_WIDTH {
        columns.created = false;
        extra -= CREATED_WIDTH + 1;
    }
    columns.name = inner_width.saturating_sub(fixed + extra).max(4);
    columns
}

fn render_table(app: &App, theme: Theme, area: Rect, frame: &mut Frame) {
    let mut title = vec![Span::styled(
        format!(" Key pairs {} ", app.items.len()),
        theme.title(),
    )];
    if !app.filter.value().is_empty() {
        title.push(Span::raw(format!(
            "filter '{}': {} shown ",
            fit(&sanitize(app.filter.value()), 20),
            app.visible.len()
        )));
    }
    if !app.marked.is_empty() {
        title.push(Span::styled(
            format!("{} marked ", app.marked.len()),
            theme.warning(),
        ));
    }
    let block = Block::bordered().title(Line::from(title));
    let inner = block.inner(area);
    frame.render_widget(block, area);

    if let Some(message) = empty_table_message(app) {
        let lines: Vec<Line> = wrap_words(&message, usize::from(inner.width.saturating_sub(2)))
            .into_iter()
            .map(|line| Line::from(format!(" {line}")))
            .collect();
        let style = if app.load_error.is_some() {
            theme.error()
        } else {
            theme.dim()
        };
        frame.render_widget(Paragraph::new(lines).style(style), inner);
        return;
    }

    let columns = columns(inner.width);
    let mut widths = vec![
        Constraint::Length(MARKER_WIDTH),
        Constraint::Length(columns.name),
        Constraint::Length(ID_WIDTH),
    ];
    let mut header = vec!["", "Name", "KeyPairId"];
    if columns.created {
        widths.push(Constraint::Length(CREATED_WIDTH));
        header.push("Created");
    }
    if columns.source {
        widths.push(Constraint::Length(SOURCE_WIDTH));
        header.push("Source");
    }
    widths.push(Constraint::Length(FINGERPRINT_WIDTH));
    header.push("MD5");

    let rows_shown = usize::from(inner.height.saturating_sub(1));
    let offset = visible_offset(app.offset, app.selected, rows_shown, app.visible.len());
    let rows = app
        .visible
        .iter()
        .enumerate()
        .skip(offset)
        .take(rows_shown)
        .filter_map(|(position, &index)| {
            let item = app.items.get(index)?;
            let selected = position == app.selected;
            let marked = app.marked.contains(&item.key_pair_id);
            Some(table_row(app, item, selected, marked, &columns, theme))
        });

    let table = Table::new(rows, widths)
        .header(Row::new(header).style(Style::new().add_modifier(Modifier::BOLD)))
        .column_spacing(1);
    frame.render_widget(table, inner);
}

fn empty_table_message(app: &App) -> Option<String> {
    if let Some(error) = &app.load_error
        && app.items.is_empty()
    {
        return Some(format!("error: cannot read the store: {error}"));
    }
    if !app.loaded {
        return Some("loading…".to_owned());
    }
    if app.items.is_empty() {
        return Some(format!(
            "No key pairs in tenant '{}' yet. Press n to create one, i to import one, \
             t to switch tenant.",
            sanitize(&app.tenant)
        ));
    }
    if app.visible.is_empty() {
        return Some(format!(
            "No key pair matches '{}'. Esc clears the filter.",
            sanitize(app.filter.value())
        ));
    }
    None
}

/// The first row to show: the app's offset, moved only as far as needed to show the
/// selection at this size (the app computed it for the same layout, so it rarely moves).
fn visible_offset(offset: usize, selected: usize, rows: usize, total: usize) -> usize {
    let rows = rows.max(1);
    let mut offset = offset.min(total.saturating_sub(rows));
    if selected < offset {
        offset = selected;
    } else if selected >= offset + rows {
        offset = selected + 1 - rows;
    }
    offset
}

fn table_row<'a>(
    app: &App,
    item: &'a KeyPairDetail,
    selected: bool,
    marked: bool,
    columns: &Columns,
    theme: Theme,
) -> Row<'a> {
    let marker = format!(
        "{}{}",
        if selected { '>' } else { ' ' },
        if marked { '*' } else { ' ' }
    );
    let mut cells = vec![
        marker,
        fit(&sanitize(&item.key_pair_name), usize::from(columns.name)),
        item.key_pair_id.clone(),
    ];
    if columns.created {
        cells.push(local_time(app, &item.gmt_created, "%Y-%m-%d %H:%M"));
    }
    if columns.source {
        cells.push(fit(&item.source, usize::from(SOURCE_WIDTH)));
    }
    cells.push(short_fingerprint(&item.fingerprint_md5));

    let row = Row::new(cells);
    if selected {
        row.style(theme.selected())
    } else if marked {
        row.style(theme.warning())
    } else {
        row
    }
}

/// The first four bytes of the MD5 fingerprint, enough to tell keys apart at a glance.
pub fn short_fingerprint(fingerprint: &str) -> String {
    let short: String = fingerprint.chars().take(11).collect();
    if fingerprint.chars().count() > 11 {
        format!("{short}…")
    } else {
        short
    }
}

/// GmtCreated (`2024-06-30 08:45:09.0`, UTC) in the app's local offset.
pub fn local_time(app: &App, gmt: &str, format: &str) -> String {
    match NaiveDateTime::parse_from_str(gmt, "%Y-%m-%d %H:%M:%S%.f") {
        Ok(time) => time
            .and_utc()
            .with_timezone(&app.utc_offset)
            .format(format)
            .to_string(),
        Err(_) => sanitize(gmt),
    }
}

fn render_detail(app: &App, theme: Theme, area: Rect, frame: &mut Frame) {
    let block = Block::bordered().title(Span::styled(" Details ", theme.title()));
    let inner = block.inner(area);
    frame.render_widget(block, area);

    let Some(item) = app.selected_item() else {
        frame.render_widget(
            Paragraph::new(Line::styled(" nothing selected", theme.dim())),
            inner,
        );
        return;
    };

    let text_width = usize::from(inner.width.saturating_sub(1)).max(1);
    let fields = [
        ("Name", sanitize(&item.key_pair_name)),
        ("KeyPairId", item.key_pair_id.clone()),
        (
            "Created",
            local_time(app, &item.gmt_created, "%Y-%m-%d %H:%M:%S %:z"),
        ),
        ("GMT", sanitize(&item.gmt_created)),
        ("Source", sanitize(&item.source)),
        ("MD5", item.fingerprint_md5.clone()),
        ("SHA256", item.fingerprint_sha256.clone()),
    ];

    let mut lines = Vec::new();
    for (label, value) in fields {
        let label_text = format!("{label:<10}");
        if width(&label_text) + width(&value) <= text_width {
            lines.push(Line::from(vec![
                Span::styled(label_text, theme.dim()),
                Span::raw(value),
            ]));
        } else {
            lines.push(Line::styled(label.to_owned(), theme.dim()));
            for part in wrap_hard(&value, text_width) {
                lines.push(Line::from(part));
            }
        }
    }
    lines.push(Line::styled("ADB public key (y copies it)", theme.dim()));
    for part in wrap_hard(&sanitize(&item.public_key_body), text_width) {
        lines.push(Line::from(part));
    }

    let padded = Rect {
        x: inner.x.saturating_add(1),
        width: inner.width.saturating_sub(1),
        ..inner
    };
    frame.render_widget(Paragraph::new(lines), padded);
}

/// The status line's parts: the left text (generation, then toast) and the countdown.
fn status_parts(app: &App, theme: Theme) -> (Vec<Span<'static>>, Option<String>) {
    let mut spans = Vec::new();
    if let Some(generation) = &app.generation {
        let elapsed = app.now.saturating_duration_since(generation.started);
        let frame_index = usize::try_from(elapsed.as_millis() / 100).unwrap_or(0) % SPINNER.len();
        let text = match generation.phase {
            GenerationPhase::Generating => format!(
                "{} generating key pair '{}' {:.1} s (Esc cancels)",
                SPINNER[frame_index],
                sanitize(&generation.name),
                elapsed.as_secs_f64()
            ),
            GenerationPhase::Storing => format!(
                "{} storing key pair '{}' {:.1} s",
                SPINNER[frame_index],
                sanitize(&generation.name),
                elapsed.as_secs_f64()
            ),
        };
        spans.push(Span::styled(text, theme.warning()));
        if app.toast.is_some() {
            spans.push(Span::styled(" │ ", theme.dim()));
        }
    }
    if let Some(toast) = &app.toast {
        if toast.error {
            spans.push(Span::styled(
                format!("error: {}", sanitize(&toast.text)),
                theme.error(),
            ));
        } else {
            spans.push(Span::styled(sanitize(&toast.text), theme.good()));
        }
    }

    let countdown = app.secret_deadline.map(|deadline| {
        let left = deadline.saturating_duration_since(app.now);
        format!(
            " clipboard clears in {} s ",
            left.as_secs() + u64::from(left.subsec_nanos() > 0)
        )
    });
    (spans, countdown)
}

/// One status row, or two when a message does not fit in one (a tmux hint, a core error).
pub fn status_rows(app: &App, screen_width: u16) -> u16 {
    let (spans, countdown) = status_parts(app, Theme::new(false));
    let left: usize = spans.iter().map(|span| width(&span.content)).sum();
    let right = countdown.as_deref().map_or(0, width);
    if left + right + 1 > usize::from(screen_width) {
        2
    } else {
        1
    }
}

fn render_status(app: &App, theme: Theme, area: Rect, frame: &mut Frame) {
    let (spans, countdown) = status_parts(app, theme);
    let countdown_width = countdown.as_deref().map_or(0, width);
    let available = usize::from(area.width).saturating_sub(countdown_width + 1);

    let left_text: String = spans.iter().map(|span| span.content.as_ref()).collect();
    let mut lines = if width(&left_text) > available {
        // Two rows: the message word-wrapped, the second row cut if it still does not fit.
        let style = spans.last().map_or(Style::new(), |span| span.style);
        let text_width = available.saturating_sub(1);
        let mut wrapped = wrap_words(&left_text, text_width).into_iter();
        let first = wrapped.next().unwrap_or_default();
        let rest: Vec<String> = wrapped.collect();
        let mut lines = vec![Line::styled(format!(" {first}"), style)];
        if !rest.is_empty() && area.height > 1 {
            let second = fit(&rest.join(" "), text_width);
            lines.push(Line::styled(format!(" {second}"), style));
        }
        lines
    } else {
        let mut all = vec![Span::raw(" ")];
        all.extend(spans);
        vec![Line::from(all)]
    };
    if let Some(countdown) = countdown
        && let Some(line) = lines.first_mut()
    {
        let padding = usize::from(area.width).saturating_sub(line.width() + countdown_width);
        line.spans.push(Span::raw(" ".repeat(padding)));
        line.spans.push(Span::styled(countdown, theme.warning()));
    }
    frame.render_widget(Paragraph::new(lines), area);
}

fn render_footer(app: &App, theme: Theme, area: Rect, frame: &mut Frame) {
    let context = app.context();
    let mode = match context {
        Context::List => "LIST",
        Context::Filter => "FILTER",
        Context::Form => "FORM",
        Context::Reveal => "KEY",
        Context::Confirm => "CONFIRM",
        Context::Tenants => "TENANT",
        Context::Help | Context::Global => "HELP",
    };

    let mut spans = vec![Span::styled(format!(" {mode} "), theme.selected())];
    let mut used = width(mode) + 2;

    if context == Context::Filter {
        let field_width = 24;
        let prefix = " /";
        spans.push(Span::raw(prefix));
        let (shown, cursor) = input_view(&app.filter, field_width);
        let shown_width = width(&shown);
        spans.push(Span::styled(
            shown,
            Style::new().add_modifier(Modifier::UNDERLINED),
        ));
        spans.push(Span::raw(
            " ".repeat(field_width.saturating_sub(shown_width)),
        ));
        let cursor_x = area.x.saturating_add(to_u16(used + width(prefix) + cursor));
        frame.set_cursor_position((cursor_x.min(area.right().saturating_sub(1)), area.y));
        used += width(prefix) + field_width;
    }

    for (keys, hint) in footer_hints(context) {
        let piece = width(&keys) + width(hint) + 3;
        if used + piece > usize::from(area.width) {
            break;
        }
        spans.push(Span::raw("  "));
        spans.push(Span::styled(keys, theme.key()));
        spans.push(Span::raw(format!(" {hint}")));
        used += piece;
    }
    let help_hint = if context == Context::List {
        ""
    } else {
        "  F1 help"
    };
    if used + width(help_hint) <= usize::from(area.width) {
        spans.push(Span::styled(help_hint, theme.dim()));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The visible part of a text field `field_width` cells wide, and the caret's cell in it.
pub fn input_view(input: &Input, field_width: usize) -> (String, usize) {
    let field_width = field_width.max(1);
    let skipped = scrolled_cells(input, field_width);
    let mut passed = 0;
    let mut shown = String::new();
    for character in sanitize(input.value()).chars() {
        let cells = width(&character.to_string());
        if passed < skipped {
            passed += cells;
            continue;
        }
        if width(&shown) + cells > field_width {
            break;
        }
        shown.push(character);
    }
    let cursor = input.visual_cursor().saturating_sub(skipped);
    (shown, cursor.min(field_width.saturating_sub(1)))
}

/// The cells of `input` scrolled out to the left of a field `field_width` cells wide, in whole
/// characters (a wide character is never cut in half).
pub fn scrolled_cells(input: &Input, field_width: usize) -> usize {
    let scroll = input.visual_scroll(field_width.max(1).saturating_sub(1));
    let mut skipped = 0;
    for character in sanitize(input.value()).chars() {
        if skipped >= scroll {
            break;
        }
        skipped += width(&character.to_string());
    }
    skipped
}

/// Word wrap for messages (by spaces; a word longer than the width is cut hard).
pub fn wrap_words(text: &str, max: usize) -> Vec<String> {
    let max = max.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let candidate = if line.is_empty() {
            word.to_owned()
        } else {
            format!("{line} {word}")
        };
        if width(&candidate) <= max {
            line = candidate;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        let mut parts = wrap_hard(word, max);
        line = parts.pop().unwrap_or_default();
        lines.extend(parts);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// A cell count as a terminal coordinate (saturating; terminals are far below `u16::MAX`).
pub fn to_u16(value: usize) -> u16 {
    u16::try_from(value).unwrap_or(u16::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_region_underflows_on_tiny_or_empty_screens() {
        for (width, height) in [(0, 0), (1, 1), (3, 2), (59, 14), (60, 15), (80, 24)] {
            for status_rows in [1, 2] {
                let regions = areas(Rect::new(0, 0, width, height), status_rows);
                assert!(regions.table.bottom() <= height.max(regions.table.y));
                let _ = table_rows(Rect::new(0, 0, width, height), status_rows);
            }
        }
    }

    #[test]
    fn the_selection_stays_in_view() {
        assert_eq!(visible_offset(0, 30, 10, 100), 21);
        assert_eq!(visible_offset(25, 3, 10, 100), 3);
        assert_eq!(visible_offset(95, 99, 10, 100), 90);
        assert_eq!(visible_offset(5, 0, 10, 0), 0);
    }

    #[test]
    fn words_wrap_at_spaces() {
        assert_eq!(wrap_words("aa bb cc", 5), vec!["aa bb", "cc"]);
        assert_eq!(wrap_words("abcdefgh", 3), vec!["abc", "def", "gh"]);
    }
}
