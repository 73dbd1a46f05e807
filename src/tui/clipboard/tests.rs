//! The clipboard's decision table, with a scripted tmux and a stand-in desktop clipboard.

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex};

use zeroize::Zeroizing;

use super::*;

/// What the scripted tmux answers and what it was asked.
#[derive(Default)]
struct TmuxState {
    /// Answers to option queries, keyed by the arguments joined with spaces.
    answers: HashMap<String, String>,
    buffers: Vec<(String, Vec<u8>)>,
    calls: Vec<String>,
    unreachable: bool,
}

#[derive(Clone, Default)]
struct ScriptedTmux(Arc<Mutex<TmuxState>>);

impl ScriptedTmux {
    fn answering(answers: &[(&str, &str)]) -> Self {
        let tmux = Self::default();
        tmux.state().answers = answers
            .iter()
            .map(|(args, value)| (args.to_string(), format!("{value}\n")))
            .collect();
        tmux
    }

    fn state(&self) -> std::sync::MutexGuard<'_, TmuxState> {
        self.0
            .lock()
            .expect("no test thread panics while holding the lock")
    }
}

impl TmuxCommand for ScriptedTmux {
    fn output(&self, args: &[&str]) -> Option<Zeroizing<Vec<u8>>> {
        let mut state = self.state();
        let joined = args.join(" ");
        state.calls.push(joined.clone());
        if state.unreachable {
            return None;
        }

        match args {
            ["list-buffers", "-F", "#{buffer_size} #{buffer_name}"] => {
                let listing: String = state
                    .buffers
                    .iter()
                    .map(|(name, content)| format!("{} {name}\n", content.len()))
                    .collect();
                Some(Zeroizing::new(listing.into_bytes()))
            }
            ["show-buffer", "-b", name] => state
                .buffers
                .iter()
                .find(|(buffer, _)| buffer == name)
                .map(|(_, content)| Zeroizing::new(content.clone())),
            ["delete-buffer", "-b", name] => {
                let before = state.buffers.len();
                state.buffers.retain(|(buffer, _)| buffer != name);
                (state.buffers.len() < before).then(|| Zeroizing::new(Vec::new()))
            }
            // tmux prints nothing (and succeeds) for an unset option under -q.
            _ => Some(Zeroizing::new(
                state
                    .answers
                    .get(&joined)
                    .cloned()
                    .unwrap_or_default()
                    .into_bytes(),
            )),
        }
    }
}

#[derive(Default)]
struct DesktopState {
    content: Option<String>,
    failing: bool,
    calls: Vec<&'static str>,
}

#[derive(Clone, Default)]
struct Desktop(Arc<Mutex<DesktopState>>);

impl Desktop {
    fn failing() -> Self {
        let desktop = Self::default();
        desktop.state().failing = true;
        desktop
    }

    fn state(&self) -> std::sync::MutexGuard<'_, DesktopState> {
        self.0
            .lock()
            .expect("no test thread panics while holding the lock")
    }
}

impl SystemClipboard for Desktop {
    fn set_text(&mut self, text: &str) -> Result<(), String> {
        let mut state = self.state();
        state.calls.push("set");
        if state.failing {
            return Err("X11 server connection timed out".to_owned());
        }
        state.content = Some(text.to_owned());
        Ok(())
    }

    fn holds(&mut self, text: &str) -> Result<bool, String> {
        let mut state = self.state();
        state.calls.push("holds");
        Ok(state.content.as_deref() == Some(text))
    }

    fn clear(&mut self) -> Result<(), String> {
        let mut state = self.state();
        state.calls.push("clear");
        state.content = None;
        Ok(())
    }
}

struct BrokenTerminal;

impl io::Write for BrokenTerminal {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::Error::new(io::ErrorKind::BrokenPipe, "pipe closed"))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Counts write calls, to show that a sequence goes out in one piece.
#[derive(Default)]
struct Terminal {
    bytes: Vec<u8>,
    writes: usize,
}

impl io::Write for Terminal {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.writes += 1;
        self.bytes.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn env(vars: &[(&str, &str)]) -> ClipboardEnv {
    let vars: HashMap<String, OsString> = vars
        .iter()
        .map(|(name, value)| (name.to_string(), OsString::from(value)))
        .collect();
    ClipboardEnv::from_lookup(|name| vars.get(name).cloned())
}

fn clipboard(
    mode: ClipboardMode,
    env: ClipboardEnv,
    tmux: &ScriptedTmux,
    desktop: &Desktop,
) -> Clipboard {
    Clipboard::with_parts(mode, env, Box::new(tmux.clone()), Box::new(desktop.clone()))
}

/// A clipboard in auto mode under `env`, with a tmux and a desktop clipboard that no test
/// looks at.
fn auto_clipboard(env: ClipboardEnv) -> Clipboard {
    clipboard(
        ClipboardMode::Auto,
        env,
        &ScriptedTmux::default(),
        &Desktop::default(),
    )
}

/// Copies `text` through `clipboard` to a new terminal: how it went, and what the terminal got.
fn copy_to_terminal(clipboard: &mut Clipboard, text: &str) -> (CopyOutcome, Terminal) {
    let mut terminal = Terminal::default();
    let outcome = clipboard.copy(text, &mut terminal);
    (outcome, terminal)
}

/// Clears `secret` through `clipboard`; what the clear wrote to a new terminal.
fn clear_written(clipboard: &mut Clipboard, secret: &str) -> Vec<u8> {
    let mut terminal = Terminal::default();
    clipboard.clear_secret(secret, &mut terminal);
    terminal.bytes
}

const PANE_PASSTHROUGH: &str = "show-options -Apqv -t %3 allow-passthrough";
const GLOBAL_PASSTHROUGH: &str = "show-options -gqv allow-passthrough";
const SET_CLIPBOARD: &str = "show-options -sqv set-clipboard";

/// `hello` as OSC 52: base64 aGVsbG8= worked by hand (68 65 6c | 6c 6f).
const HELLO_PLAIN: &[u8] = b"\x1b]52;c;aGVsbG8=\x07";
const HELLO_PASSTHROUGH: &[u8] = b"\x1bPtmux;\x1b\x1b]52;c;aGVsbG8=\x07\x1b\\";

fn in_tmux() -> ClipboardEnv {
    env(&[
        ("SSH_CONNECTION", "1 2 3 4"),
        ("TMUX", "/tmp/tmux-1000/default,42,0"),
        ("TMUX_PANE", "%3"),
    ])
}

#[test]
fn environment_lookup_reads_ssh_display_tmux_and_screen() {
    let over_ssh_tty = env(&[("SSH_TTY", "/dev/pts/3"), ("DISPLAY", ":0")]);
    assert!(over_ssh_tty.ssh && over_ssh_tty.display && !over_ssh_tty.tmux);

    let wayland = env(&[("WAYLAND_DISPLAY", "wayland-0")]);
    assert!(wayland.display && !wayland.ssh);

    let empty_values = env(&[("DISPLAY", ""), ("SSH_CONNECTION", ""), ("TMUX", "")]);
    assert_eq!(empty_values, ClipboardEnv::default());

    let tmux = in_tmux();
    assert!(tmux.tmux && !tmux.screen);
    assert_eq!(tmux.tmux_pane.as_deref(), Some("%3"));

    assert!(env(&[("STY", "1234.pts-0.host")]).screen);
    assert!(env(&[("TERM", "screen.xterm-256color")]).screen);
    assert!(!env(&[("TERM", "screen-256color"), ("TMUX", "/tmp/t,1,0")]).screen);
    assert!(!env(&[("TERM", "xterm-256color")]).screen);
}

#[test]
fn auto_over_ssh_sends_plain_osc52_in_one_write_and_leaves_the_desktop_alone() {
    let (tmux, desktop) = (ScriptedTmux::default(), Desktop::default());
    let vars = env(&[("SSH_CONNECTION", "1 2 3 4"), ("DISPLAY", ":0")]);
    let mut clipboard = clipboard(ClipboardMode::Auto, vars, &tmux, &desktop);
    let (outcome, terminal) = copy_to_terminal(&mut clipboard, "hello");

    assert_eq!(terminal.bytes, HELLO_PLAIN);
    assert_eq!(terminal.writes, 1);
    assert_eq!(
        outcome,
        CopyOutcome::delivered("sent to the terminal via OSC 52", None)
    );
    assert!(desktop.state().calls.is_empty());
    assert!(tmux.state().calls.is_empty(), "no tmux outside tmux");
}

#[test]
fn auto_without_any_display_sends_osc52() {
    let (tmux, desktop) = (ScriptedTmux::default(), Desktop::default());
    let mut clipboard = clipboard(ClipboardMode::Auto, env(&[]), &tmux, &desktop);
    let (outcome, terminal) = copy_to_terminal(&mut clipboard, "hello");

    assert_eq!(terminal.bytes, HELLO_PLAIN);
    assert!(outcome.delivered);
    assert!(desktop.state().calls.is_empty());
}

#[test]
fn auto_on_a_local_desktop_uses_the_system_clipboard() {
    let (tmux, desktop) = (ScriptedTmux::default(), Desktop::default());
    let mut clipboard = clipboard(
        ClipboardMode::Auto,
        env(&[("DISPLAY", ":0")]),
        &tmux,
        &desktop,
    );
    let (outcome, terminal) = copy_to_terminal(&mut clipboard, "hello");

    assert_eq!(
        outcome,
        CopyOutcome::delivered("copied to the system clipboard", None)
    );
    assert_eq!(desktop.state().content.as_deref(), Some("hello"));
    assert!(terminal.bytes.is_empty());
}

#[test]
fn auto_falls_back_to_osc52_when_the_system_clipboard_fails() {
    let (tmux, desktop) = (ScriptedTmux::default(), Desktop::failing());
    let vars = env(&[("WAYLAND_DISPLAY", "wayland-0")]);
    let mut clipboard = clipboard(ClipboardMode::Auto, vars, &tmux, &desktop);
    let (outcome, terminal) = copy_to_terminal(&mut clipboard, "hello");

    assert_eq!(terminal.bytes, HELLO_PLAIN);
    assert!(outcome.delivered);
    assert_eq!(outcome.message, "sent to the terminal via OSC 52");
    assert_eq!(
        outcome.warning.as_deref(),
        Some("system clipboard unavailable (X11 server connection timed out), used OSC 52")
    );
}

#[test]
fn forced_system_mode_reports_failure_without_touching_the_terminal() {
    let (tmux, desktop) = (ScriptedTmux::default(), Desktop::failing());
    let vars = env(&[("SSH_CONNECTION", "1 2 3 4")]);
    let mut clipboard = clipboard(ClipboardMode::System, vars, &tmux, &desktop);
    let (outcome, terminal) = copy_to_terminal(&mut clipboard, "hello");

    assert!(!outcome.delivered);
    assert_eq!(
        outcome.message,
        "system clipboard: X11 server connection timed out"
    );
    assert!(terminal.bytes.is_empty());
}

#[test]
fn forced_system_mode_copies_even_over_ssh() {
    let (tmux, desktop) = (ScriptedTmux::default(), Desktop::default());
    let vars = env(&[("SSH_CONNECTION", "1 2 3 4")]);
    let mut clipboard = clipboard(ClipboardMode::System, vars, &tmux, &desktop);

    let outcome = clipboard.copy("hello", &mut Terminal::default());

    assert_eq!(outcome.message, "copied to the system clipboard");
    assert_eq!(desktop.state().content.as_deref(), Some("hello"));
}

#[test]
fn forced_osc52_mode_skips_an_available_desktop_clipboard() {
    let (tmux, desktop) = (ScriptedTmux::default(), Desktop::default());
    let mut clipboard = clipboard(
        ClipboardMode::Osc52,
        env(&[("DISPLAY", ":0")]),
        &tmux,
        &desktop,
    );
    let (_, terminal) = copy_to_terminal(&mut clipboard, "hello");

    assert_eq!(terminal.bytes, HELLO_PLAIN);
    assert!(desktop.state().calls.is_empty());
}

#[test]
fn off_mode_does_nothing_and_says_so() {
    let (tmux, desktop) = (ScriptedTmux::default(), Desktop::default());
    let mut clipboard = clipboard(ClipboardMode::Off, in_tmux(), &tmux, &desktop);
    let (outcome, terminal) = copy_to_terminal(&mut clipboard, "hello");

    assert!(!outcome.delivered);
    assert_eq!(outcome.message, "clipboard is off (--clipboard off)");
    assert!(terminal.bytes.is_empty());
    assert!(tmux.state().calls.is_empty() && desktop.state().calls.is_empty());
}

#[test]
fn tmux_with_passthrough_on_gets_the_wrapped_sequence() {
    for value in ["on", "all"] {
        let tmux = ScriptedTmux::answering(&[(PANE_PASSTHROUGH, value), (SET_CLIPBOARD, "on")]);
        let mut clipboard = clipboard(ClipboardMode::Auto, in_tmux(), &tmux, &Desktop::default());
        let (outcome, terminal) = copy_to_terminal(&mut clipboard, "hello");

        assert_eq!(
            terminal.bytes, HELLO_PASSTHROUGH,
            "allow-passthrough {value}"
        );
        assert_eq!(terminal.writes, 1);
        assert_eq!(
            outcome,
            CopyOutcome::delivered(
                "sent to the terminal via OSC 52 through tmux passthrough",
                None
            )
        );
    }
}

#[test]
fn tmux_without_a_pane_id_is_asked_for_the_global_option() {
    let tmux = ScriptedTmux::answering(&[(GLOBAL_PASSTHROUGH, "on"), (SET_CLIPBOARD, "external")]);
    let vars = env(&[("TMUX", "/tmp/tmux-1000/default,42,0")]);
    let mut clipboard = clipboard(ClipboardMode::Osc52, vars, &tmux, &Desktop::default());
    let (_, terminal) = copy_to_terminal(&mut clipboard, "hello");

    assert_eq!(terminal.bytes, HELLO_PASSTHROUGH);
    assert!(tmux.state().calls.contains(&GLOBAL_PASSTHROUGH.to_owned()));
}

#[test]
fn tmux_with_set_clipboard_on_gets_the_plain_sequence_and_a_buffer_warning() {
    let tmux = ScriptedTmux::answering(&[(PANE_PASSTHROUGH, "off"), (SET_CLIPBOARD, "on")]);
    let mut clipboard = clipboard(ClipboardMode::Auto, in_tmux(), &tmux, &Desktop::default());
    let (outcome, terminal) = copy_to_terminal(&mut clipboard, "hello");

    assert_eq!(terminal.bytes, HELLO_PLAIN);
    assert!(outcome.delivered);
    assert_eq!(
        outcome.message,
        "sent to the terminal via OSC 52 through tmux"
    );
    let warning = outcome.warning.expect("a warning about the paste buffer");
    assert!(warning.contains("paste buffer"), "{warning}");
}

#[test]
fn tmux_that_drops_osc52_gets_nothing_and_the_user_learns_which_option_to_set() {
    for set_clipboard in ["external", "off"] {
        let tmux = ScriptedTmux::answering(&[(SET_CLIPBOARD, set_clipboard)]);
        let mut clipboard = clipboard(ClipboardMode::Auto, in_tmux(), &tmux, &Desktop::default());
        let (outcome, terminal) = copy_to_terminal(&mut clipboard, "hello");

        assert!(terminal.bytes.is_empty());
        assert!(!outcome.delivered);
        assert_eq!(
            outcome.message,
            "tmux drops OSC 52: run 'tmux set -g allow-passthrough on' and copy again, or save \
             to a file"
        );
        assert_eq!(
            outcome.warning,
            Some(format!(
                "'tmux set -g set-clipboard on' works too but keeps a paste buffer (now \
                 allow-passthrough 'off', set-clipboard '{set_clipboard}')"
            ))
        );
    }
}

#[test]
fn tmux_that_cannot_be_asked_gets_the_plain_sequence_with_a_hint() {
    let tmux = ScriptedTmux::default();
    tmux.state().unreachable = true;
    let mut clipboard = clipboard(ClipboardMode::Auto, in_tmux(), &tmux, &Desktop::default());
    let (outcome, terminal) = copy_to_terminal(&mut clipboard, "hello");

    assert_eq!(terminal.bytes, HELLO_PLAIN);
    assert_eq!(outcome.message, "sent to the terminal via OSC 52");
    assert!(
        outcome
            .warning
            .is_some_and(|warning| warning.contains("allow-passthrough on"))
    );
}

#[test]
fn gnu_screen_gets_dcs_chunks_of_at_most_768_bytes_in_one_write() {
    let vars = env(&[("SSH_CONNECTION", "1 2 3 4"), ("STY", "1234.pts-0.host")]);
    let mut clipboard = auto_clipboard(vars);
    let pem_sized = "k".repeat(1704);

    let (outcome, terminal) = copy_to_terminal(&mut clipboard, &pem_sized);

    assert_eq!(
        outcome.message,
        "sent to the terminal via OSC 52 through GNU screen"
    );
    assert_eq!(terminal.writes, 1);
    let plain = osc52::plain(pem_sized.as_bytes());
    let mut expected = Vec::new();
    for chunk in [&plain[..764], &plain[764..1528], &plain[1528..]] {
        expected.extend_from_slice(b"\x1bP");
        expected.extend_from_slice(chunk);
        expected.extend_from_slice(b"\x1b\\");
    }
    assert_eq!(terminal.bytes, expected);
}

#[test]
fn a_failed_terminal_write_is_not_reported_as_sent() {
    let vars = env(&[("SSH_CONNECTION", "1 2 3 4")]);
    let mut clipboard = auto_clipboard(vars);

    let outcome = clipboard.copy("hello", &mut BrokenTerminal);

    assert!(!outcome.delivered);
    assert_eq!(
        outcome.message,
        "could not write to the terminal: pipe closed"
    );
}

#[test]
fn clearing_empties_the_desktop_clipboard_only_while_it_holds_the_secret() {
    let desktop = Desktop::default();
    let tmux = ScriptedTmux::default();
    let mut clipboard = clipboard(
        ClipboardMode::Auto,
        env(&[("DISPLAY", ":0")]),
        &tmux,
        &desktop,
    );
    clipboard.copy("secret", &mut Terminal::default());

    desktop.state().content = Some("something the user copied since".to_owned());
    clipboard.clear_secret("secret", &mut Terminal::default());
    assert_eq!(
        desktop.state().content.as_deref(),
        Some("something the user copied since")
    );

    desktop.state().content = Some("secret".to_owned());
    clipboard.clear_secret("secret", &mut Terminal::default());
    assert_eq!(desktop.state().content, None);
}

#[test]
fn clearing_never_connects_to_an_unused_desktop_clipboard() {
    let desktop = Desktop::default();
    let vars = env(&[("SSH_CONNECTION", "1 2 3 4"), ("DISPLAY", ":0")]);
    let mut clipboard = clipboard(
        ClipboardMode::Auto,
        vars,
        &ScriptedTmux::default(),
        &desktop,
    );
    clipboard.copy("secret", &mut Terminal::default());

    clipboard.clear_secret("secret", &mut Terminal::default());

    assert!(desktop.state().calls.is_empty());
}

#[test]
fn clearing_sends_an_empty_osc52_selection_once_while_the_secret_was_sent_last() {
    let vars = env(&[("SSH_CONNECTION", "1 2 3 4")]);
    let mut clipboard = auto_clipboard(vars);
    clipboard.copy("secret", &mut Terminal::default());

    assert_eq!(clear_written(&mut clipboard, "secret"), b"\x1b]52;c;\x07");

    assert!(
        clear_written(&mut clipboard, "secret").is_empty(),
        "a second clear has nothing left to clear"
    );
}

#[test]
fn clearing_leaves_a_later_osc52_copy_alone() {
    let vars = env(&[("SSH_CONNECTION", "1 2 3 4")]);
    let mut clipboard = auto_clipboard(vars);
    clipboard.copy("secret", &mut Terminal::default());
    clipboard.copy("a public key copied since", &mut Terminal::default());

    let written = clear_written(&mut clipboard, "secret");

    assert!(written.is_empty());
}

#[test]
fn clearing_through_tmux_passthrough_wraps_the_empty_selection() {
    let tmux = ScriptedTmux::answering(&[(PANE_PASSTHROUGH, "on"), (SET_CLIPBOARD, "off")]);
    let mut clipboard = clipboard(ClipboardMode::Auto, in_tmux(), &tmux, &Desktop::default());
    clipboard.copy("secret", &mut Terminal::default());

    let written = clear_written(&mut clipboard, "secret");

    assert_eq!(written, b"\x1bPtmux;\x1b\x1b]52;c;\x07\x1b\\");
}

#[test]
fn clearing_in_screen_wraps_the_empty_selection() {
    let vars = env(&[("TERM", "screen"), ("SSH_TTY", "/dev/pts/1")]);
    let mut clipboard = auto_clipboard(vars);
    clipboard.copy("secret", &mut Terminal::default());

    let written = clear_written(&mut clipboard, "secret");

    assert_eq!(written, b"\x1bP\x1b]52;c;\x07\x1b\\");
}

#[test]
fn clearing_deletes_only_the_tmux_buffers_holding_exactly_the_secret() {
    let tmux = ScriptedTmux::answering(&[(PANE_PASSTHROUGH, "off"), (SET_CLIPBOARD, "on")]);
    tmux.state().buffers = vec![
        ("buffer2".to_owned(), b"secret".to_vec()),
        ("buffer1".to_owned(), b"secreT".to_vec()),
        ("notes with spaces".to_owned(), b"secret".to_vec()),
        ("buffer0".to_owned(), b"secret and more".to_vec()),
    ];
    let mut clipboard = clipboard(ClipboardMode::Auto, in_tmux(), &tmux, &Desktop::default());
    clipboard.copy("secret", &mut Terminal::default());

    let written = clear_written(&mut clipboard, "secret");

    let state = tmux.state();
    let left: Vec<&str> = state
        .buffers
        .iter()
        .map(|(name, _)| name.as_str())
        .collect();
    assert_eq!(left, ["buffer1", "buffer0"]);
    assert!(
        !state.calls.contains(&"show-buffer -b buffer0".to_owned()),
        "a buffer of another size is never read"
    );
    assert_eq!(
        written, b"\x1b]52;c;\x07",
        "tmux gets the empty selection too"
    );
}

#[test]
fn clearing_in_tmux_that_drops_osc52_still_deletes_buffers_and_sends_nothing() {
    let tmux = ScriptedTmux::answering(&[(SET_CLIPBOARD, "external")]);
    tmux.state().buffers = vec![("buffer0".to_owned(), b"secret".to_vec())];
    let mut clipboard = clipboard(ClipboardMode::Auto, in_tmux(), &tmux, &Desktop::default());
    clipboard.copy("secret", &mut Terminal::default());

    let written = clear_written(&mut clipboard, "secret");

    assert!(written.is_empty());
    assert!(tmux.state().buffers.is_empty());
}

#[test]
fn clipboard_modes_parse_from_their_names_only() {
    assert_eq!("auto".parse(), Ok(ClipboardMode::Auto));
    assert_eq!("osc52".parse(), Ok(ClipboardMode::Osc52));
    assert_eq!("system".parse(), Ok(ClipboardMode::System));
    assert_eq!("off".parse(), Ok(ClipboardMode::Off));
    assert_eq!(
        "OSC52".parse::<ClipboardMode>(),
        Err("clipboard mode 'OSC52' is not one of auto, osc52, system, off".to_owned())
    );
}
