//! The console's key bindings: one table, from which key handling, the footer hints and the
//! help overlay are all derived, so the three can never disagree.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// Where a binding applies. Text fields take every key no binding of their context claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// Everywhere, before anything else.
    Global,
    /// The key-pair table with no dialog open.
    List,
    /// The filter line while it is being typed.
    Filter,
    /// The creation, import and rename forms and the path prompts.
    Form,
    /// The one-time reveal of a private key.
    Reveal,
    /// A yes/no confirmation.
    Confirm,
    /// The tenant picker.
    Tenants,
    /// The help overlay.
    Help,
}

impl Context {
    /// The heading of this context in the help overlay.
    pub fn title(self) -> &'static str {
        match self {
            Self::Global => "Anywhere",
            Self::List => "Key-pair list",
            Self::Filter => "Filter line",
            Self::Form => "Forms and prompts",
            Self::Reveal => "Private key (shown once)",
            Self::Confirm => "Confirmation",
            Self::Tenants => "Tenant picker",
            Self::Help => "Help",
        }
    }
}

/// What a key asks for. The app's `update` gives each its meaning in the current context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Quit,
    ForceQuit,
    Help,
    Close,
    Up,
    Down,
    Top,
    Bottom,
    PageUp,
    PageDown,
    HalfPageUp,
    HalfPageDown,
    Create,
    Import,
    Delete,
    Rename,
    Filter,
    Tenants,
    CopyPublicKey,
    Export,
    Mark,
    Submit,
    NextField,
    CopyPrivateKey,
    SavePrivateKey,
    ToggleFocus,
}

/// One key in readable notation: a character, a control chord or a named key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Char(char),
    Ctrl(char),
    Code(KeyCode),
}

impl Key {
    /// Whether a terminal key event is this key. Shift is ignored for characters (it is part
    /// of the character itself), other modifiers are not.
    pub fn matches(self, event: &KeyEvent) -> bool {
        if event.kind == KeyEventKind::Release {
            return false;
        }
        let modifiers = event.modifiers - KeyModifiers::SHIFT;
        match self {
            Self::Char(wanted) => event.code == KeyCode::Char(wanted) && modifiers.is_empty(),
            Self::Ctrl(wanted) => {
                event.code == KeyCode::Char(wanted) && modifiers == KeyModifiers::CONTROL
            }
            Self::Code(code) => event.code == code && modifiers.is_empty(),
        }
    }

    /// How the footer and help show the key: `j`, `C-d`, `PgDn`, `↑`.
    pub fn label(self) -> String {
        match self {
            Self::Char(' ') => "Space".to_owned(),
            Self::Char(character) => character.to_string(),
            Self::Ctrl(character) => format!("C-{character}"),
            Self::Code(code) => match code {
                KeyCode::Up => "↑".to_owned(),
                KeyCode::Down => "↓".to_owned(),
                KeyCode::Left => "←".to_owned(),
                KeyCode::Right => "→".to_owned(),
                KeyCode::PageUp => "PgUp".to_owned(),
                KeyCode::PageDown => "PgDn".to_owned(),
                KeyCode::Home => "Home".to_owned(),
                KeyCode::End => "End".to_owned(),
                KeyCode::Enter => "Enter".to_owned(),
                KeyCode::Esc => "Esc".to_owned(),
                KeyCode::Tab => "Tab".to_owned(),
                KeyCode::BackTab => "S-Tab".to_owned(),
                KeyCode::Delete => "Del".to_owned(),
                KeyCode::F(number) => format!("F{number}"),
                other => format!("{other:?}"),
            },
        }
    }
}

/// One row of the table.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    pub context: Context,
    pub keys: &'static [Key],
    pub action: Action,
    /// The footer's word for it ("move", "new").
    pub hint: &'static str,
    /// The help overlay's description.
    pub help: &'static str,
    /// Whether the footer shows it (the 3-6 hints that matter most there).
    pub footer: bool,
}

use Action as A;
use Context as X;
use Key::{Char as C, Code, Ctrl};
use KeyCode::{
    BackTab, Delete, Down, End, Enter, Esc, F, Home, Left, PageDown, PageUp, Right, Tab, Up,
};

const fn bind(
    context: Context,
    keys: &'static [Key],
    action: Action,
    hint: &'static str,
    help: &'static str,
    footer: bool,
) -> Binding {
    Binding {
        context,
        keys,
        action,
        hint,
        help,
        footer,
    }
}

/// Every binding of the console, in the order the help overlay lists them.
#[rustfmt::skip]
pub const BINDINGS: &[Binding] = &[
    bind(X::Global, &[Ctrl('c')], A::ForceQuit, "quit",
        "quit (asks first for an unsaved private key)", false),
    bind(X::Global, &[Code(F(1))], A::Help, "help", "show every binding", false),

    bind(X::List, &[C('j'), Code(Down)], A::Down, "down", "next key pair", false),
    bind(X::List, &[C('k'), Code(Up)], A::Up, "up", "previous key pair", false),
    bind(X::List, &[C('g'), Code(Home)], A::Top, "top", "first key pair", false),
    bind(X::List, &[C('G'), Code(End)], A::Bottom, "bottom", "last key pair", false),
    bind(X::List, &[Code(PageUp), Ctrl('b')], A::PageUp, "page up", "one page up", false),
    bind(X::List, &[Code(PageDown), Ctrl('f')], A::PageDown, "page down", "one page down", false),
    bind(X::List, &[Ctrl('u')], A::HalfPageUp, "half up", "half a page up", false),
    bind(X::List, &[Ctrl('d')], A::HalfPageDown, "half down", "half a page down", false),
    bind(X::List, &[C('n')], A::Create, "new", "create a key pair", true),
    bind(X::List, &[C('i')], A::Import, "import",
        "import from a public key or a private key PEM", true),
    bind(X::List, &[C('d'), Code(Delete)], A::Delete, "delete",
        "delete the marked or selected key pairs", true),
    bind(X::List, &[C('r')], A::Rename, "rename", "rename the selected key pair", false),
    bind(X::List, &[C(' ')], A::Mark, "mark", "mark or unmark the selected row", false),
    bind(X::List, &[C('/')], A::Filter, "filter", "filter by name, ID or fingerprint", true),
    bind(X::List, &[C('y')], A::CopyPublicKey, "copy",
        "copy the selected ADB public key line", true),
    bind(X::List, &[C('e')], A::Export, "export", "export the tenant's adb_keys file", false),
    bind(X::List, &[C('t')], A::Tenants, "tenant", "switch tenant", false),
    bind(X::List, &[Code(Esc)], A::Close, "clear",
        "clear the filter, cancel a key generation", false),
    bind(X::List, &[C('?')], A::Help, "help", "show every binding", true),
    bind(X::List, &[C('q')], A::Quit, "quit", "quit", true),

    bind(X::Filter, &[Code(Enter)], A::Submit, "keep",
        "keep the filter and return to the list", true),
    bind(X::Filter, &[Code(Esc)], A::Close, "clear", "clear the filter", true),

    bind(X::Form, &[Code(Enter)], A::Submit, "submit", "next field, or submit on the last", true),
    bind(X::Form, &[Code(Tab), Code(BackTab)], A::NextField, "next field", "switch field", true),
    bind(X::Form, &[Code(Esc)], A::Close, "cancel", "close without changes", true),

    bind(X::Reveal, &[C('c')], A::CopyPrivateKey, "copy",
        "copy the private key (cleared after 30 s)", true),
    bind(X::Reveal, &[C('s')], A::SavePrivateKey, "save",
        "save the private key and its .pub", true),
    bind(X::Reveal, &[C('j'), Code(Down)], A::Down, "scroll", "scroll down", false),
    bind(X::Reveal, &[C('k'), Code(Up)], A::Up, "scroll up", "scroll up", false),
    bind(X::Reveal, &[Code(Esc)], A::Close, "close", "close (the key is not shown again)", true),

    bind(X::Confirm, &[Code(Tab), Code(Left), Code(Right)], A::ToggleFocus, "switch",
        "switch between Cancel and the action", true),
    bind(X::Confirm, &[Code(Enter)], A::Submit, "choose", "choose the focused button", true),
    bind(X::Confirm, &[Code(Esc)], A::Close, "cancel", "cancel", true),

    bind(X::Tenants, &[Code(Down)], A::Down, "down", "next tenant", false),
    bind(X::Tenants, &[Code(Up)], A::Up, "up", "previous tenant", false),
    bind(X::Tenants, &[Code(Enter)], A::Submit, "switch",
        "switch to the selected or typed tenant", true),
    bind(X::Tenants, &[Code(Esc)], A::Close, "cancel", "keep the current tenant", true),

    bind(X::Help, &[C('j'), Code(Down)], A::Down, "scroll", "scroll down", true),
    bind(X::Help, &[C('k'), Code(Up)], A::Up, "scroll up", "scroll up", false),
    bind(X::Help, &[Code(Esc), C('q'), C('?')], A::Close, "close", "close help", true),
];

/// The action a key asks for in `context`, if the table binds it there.
pub fn lookup(context: Context, event: &KeyEvent) -> Option<Action> {
    BINDINGS
        .iter()
        .filter(|binding| binding.context == context)
        .find(|binding| binding.keys.iter().any(|key| key.matches(event)))
        .map(|binding| binding.action)
}

/// The keys of a binding joined for display: `j/↓`.
pub fn keys_label(binding: &Binding) -> String {
    binding
        .keys
        .iter()
        .map(|key| key.label())
        .collect::<Vec<_>>()
        .join("/")
}

/// The footer's hints for a context, in table order: `(keys, hint)`.
pub fn footer_hints(context: Context) -> Vec<(String, &'static str)> {
    BINDINGS
        .iter()
        .filter(|binding| binding.context == context && binding.footer)
        .map(|binding| {
            let first_key = binding
                .keys
                .first()
                .map(|key| key.label())
                .unwrap_or_default();
            (first_key, binding.hint)
        })
        .collect()
}

/// The help overlay's lines, grouped by context: `(heading, [(keys, description)])`.
pub fn help_sections() -> Vec<(&'static str, Vec<(String, &'static str)>)> {
    let mut sections: Vec<(Context, Vec<(String, &'static str)>)> = Vec::new();
    for binding in BINDINGS {
        let entry = (keys_label(binding), binding.help);
        match sections
            .iter_mut()
            .find(|(context, _)| *context == binding.context)
        {
            Some((_, entries)) => entries.push(entry),
            None => sections.push((binding.context, vec![entry])),
        }
    }
    sections
        .into_iter()
        .map(|(context, entries)| (context.title(), entries))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn no_key_is_bound_twice_in_one_context() {
        for (index, binding) in BINDINGS.iter().enumerate() {
            for other in &BINDINGS[index + 1..] {
                if other.context != binding.context {
                    continue;
                }
                for key in binding.keys {
                    assert!(
                        !other.keys.contains(key),
                        "{key:?} bound twice in {:?}",
                        binding.context
                    );
                }
            }
        }
    }

    #[test]
    fn control_chords_and_shifted_letters_resolve() {
        let half_down = press(KeyCode::Char('d'), KeyModifiers::CONTROL);
        assert_eq!(
            lookup(Context::List, &half_down),
            Some(Action::HalfPageDown)
        );

        let delete = press(KeyCode::Char('d'), KeyModifiers::NONE);
        assert_eq!(lookup(Context::List, &delete), Some(Action::Delete));

        let bottom = press(KeyCode::Char('G'), KeyModifiers::SHIFT);
        assert_eq!(lookup(Context::List, &bottom), Some(Action::Bottom));

        let alt_q = press(KeyCode::Char('q'), KeyModifiers::ALT);
        assert_eq!(lookup(Context::List, &alt_q), None);
    }

    #[test]
    fn no_core_action_needs_altgr() {
        for binding in BINDINGS {
            for key in binding.keys {
                if let Key::Char(character) = key {
                    assert!(
                        !"[]{}".contains(*character),
                        "{character} needs AltGr on some layouts"
                    );
                }
            }
        }
    }
}
