//! End-to-end: the console in a real tmux copies a new private key over OSC 52, plain to a tmux
//! with `set-clipboard on` and through passthrough from a nested tmux, and the clipboard asks a
//! real tmux for its options and paste buffers. A whole session in the console (create, copy,
//! save, import) leaves no private key in the store or in the console's log.

#[path = "support/secrets.rs"]
mod secrets;

use std::collections::HashSet;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use adbkeys::tui::clipboard::{
    Arboard, Clipboard, ClipboardEnv, ClipboardMode, CopyOutcome, SystemTmux,
};
use serde_json::Value;
use tempfile::TempDir;

use secrets::{assert_none_in_store_or_log, files_holding, secret_windows};

const TIMEOUT: Duration = Duration::from_secs(20);

/// A tmux server on a private socket, killed when the guard goes, also when a test fails.
struct TmuxServer {
    socket: PathBuf,
}

impl TmuxServer {
    /// A server whose configuration is `config`, with a detached 120x40 session running
    /// `command` (through the shell).
    fn start(dir: &Path, name: &str, config: &str, command: &str) -> Self {
        let server = Self::on_socket(dir, name);
        let config_path = dir.join(format!("{name}.conf"));
        std::fs::write(&config_path, config).expect("the temp dir takes a tmux config");

        let started = Command::new("tmux")
            .arg("-S")
            .arg(&server.socket)
            .arg("-f")
            .arg(&config_path)
            .args([
                "new-session",
                "-d",
                "-s",
                name,
                "-x",
                "120",
                "-y",
                "40",
                command,
            ])
            .env_remove("TMUX")
            .output()
            .expect("tmux runs");
        assert!(
            started.status.success(),
            "tmux '{name}' did not start: {}",
            stderr(&started)
        );
        server
    }

    /// The guard for a server that something else starts on `DIR/NAME.sock`.
    fn on_socket(dir: &Path, name: &str) -> Self {
        Self {
            socket: dir.join(format!("{name}.sock")),
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .env_remove("TMUX")
            .output()
            .expect("tmux runs")
    }

    fn checked(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "tmux {args:?} failed: {}",
            stderr(&output)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn pane(&self) -> String {
        self.checked(&["display-message", "-p", "#{pane_id}"])
            .trim()
            .to_owned()
    }

    fn screen(&self) -> String {
        let output = self.run(&["capture-pane", "-p", "-J"]);
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Whether the pane's program still runs, for failure messages.
    fn pane_state(&self) -> String {
        let state = self.run(&["display-message", "-p", "#{pane_dead}:#{pane_dead_status}"]);
        match String::from_utf8_lossy(&state.stdout).trim() {
            "1:" => "the program in the pane exited on a signal".to_owned(),
            dead if dead.starts_with("1:") => {
                format!("the program in the pane exited with status {}", &dead[2..])
            }
            _ => "the program in the pane still runs after the timeout".to_owned(),
        }
    }

    fn keys(&self, keys: &[&str]) {
        self.checked(&[&["send-keys"][..], keys].concat());
    }

    fn type_text(&self, text: &str) {
        self.checked(&["send-keys", "-l", text]);
    }

    /// The name and content of every paste buffer.
    fn buffers(&self) -> Vec<(String, String)> {
        let names = self.run(&["list-buffers", "-F", "#{buffer_name}"]);
        String::from_utf8_lossy(&names.stdout)
            .lines()
            .map(|name| (name.to_owned(), self.checked(&["show-buffer", "-b", name])))
            .collect()
    }

    /// The names of the paste buffers holding a private key.
    fn buffers_with_private_keys(&self) -> Vec<String> {
        self.buffers()
            .into_iter()
            .filter(|(_, content)| content.contains("PRIVATE KEY"))
            .map(|(name, _)| name)
            .collect()
    }

    /// Polls the pane until `ready` holds for its text; fails at once if its program ended.
    fn wait_for_screen(&self, what: &str, ready: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let screen = self.screen();
            if ready(&screen) {
                return screen;
            }

            let state = self.pane_state();
            assert!(
                Instant::now() < deadline && !state.contains("pane exited"),
                "waiting for {what}: {state}; the pane shows:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for TmuxServer {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Fails the test with what to install when a tool is missing.
fn require(tool: &str, version_args: &[&str]) -> String {
    let output = Command::new(tool)
        .args(version_args)
        .output()
        .unwrap_or_else(|error| {
            panic!(
                "this test needs '{tool}' ({error}): install it, e.g. 'apt-get install -y {tool}'"
            )
        });
    assert!(
        output.status.success(),
        "'{tool} {}' failed: {}",
        version_args.join(" "),
        stderr(&output)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// tmux 3.3 brought `allow-passthrough`.
fn require_tmux_with_passthrough() {
    let version = require("tmux", &["-V"]);
    let number = version
        .trim()
        .trim_start_matches("tmux ")
        .trim_start_matches("next-");
    let mut parts = number.split('.');
    let major: u32 = parts.next().and_then(|part| part.parse().ok()).unwrap_or(0);
    let minor: u32 = parts
        .next()
        .map(|part| {
            part.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
        })
        .and_then(|digits| digits.parse().ok())
        .unwrap_or(0);
    assert!(
        (major, minor) >= (3, 3),
        "this test needs tmux 3.3 or later for allow-passthrough, found '{}'",
        version.trim()
    );
}

fn quoted(path: &Path) -> String {
    format!("'{}'", path.to_string_lossy().replace('\'', r"'\''"))
}

/// The console as an operator on a jump host runs it: over SSH, without a display, with
/// everything it writes inside `home`.
fn console_command(home: &Path) -> String {
    console_command_logging(home, home, "")
}

/// [`console_command`] with its log directory (`XDG_STATE_HOME`) at `state` and, unless
/// `level` is empty, its log level (`ADBKEYS_LOG`) set to `level`.
fn console_command_logging(home: &Path, state: &Path, level: &str) -> String {
    let log = if level.is_empty() {
        String::new()
    } else {
        format!("ADBKEYS_LOG={level} ")
    };
    format!(
        "env -u DISPLAY -u WAYLAND_DISPLAY -u SSH_TTY -u ADBKEYS_CLIPBOARD -u ADBKEYS_TENANT \
         SSH_CONNECTION='1 2 3 4' HOME={home} XDG_STATE_HOME={state} XDG_DATA_HOME={home} \
         XDG_CONFIG_HOME={home} ADBKEYS_STORE={store} {log}{bin}",
        home = quoted(home),
        state = quoted(state),
        store = quoted(&home.join("store")),
        bin = quoted(Path::new(env!("CARGO_BIN_EXE_adbkeys"))),
    )
}

/// Creates a key pair named `name` in the console and copies its private key with `c`.
fn create_and_copy(console: &TmuxServer, name: &str) {
    console.wait_for_screen("the console to start", |screen| screen.contains("adbkeys"));
    console.keys(&["n"]);
    console.type_text(name);
    console.wait_for_screen("the name in the creation form", |screen| {
        screen.contains(name)
    });
    console.keys(&["Enter"]);
    console.wait_for_screen("the private key reveal", |screen| {
        screen.contains("BEGIN PRIVATE KEY")
    });
    console.keys(&["c"]);
}

/// The last 40 characters of a typed path: what a form's field shows of it however long it is
/// (the field scrolls to keep the end, where the caret is, in view).
fn tail(path: &str) -> &str {
    let start = path
        .char_indices()
        .rev()
        .nth(39)
        .map_or(0, |(index, _)| index);
    &path[start..]
}

/// Polls until the program in `console`'s pane has ended (its pane stays, with
/// `remain-on-exit on`).
fn wait_for_exit(console: &TmuxServer) {
    let deadline = Instant::now() + TIMEOUT;
    while console
        .checked(&["display-message", "-p", "#{pane_dead}"])
        .trim()
        != "1"
    {
        assert!(
            Instant::now() < deadline,
            "the console did not quit:\n{}",
            console.screen()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Saves the private key in the open reveal with `s`, to `path` typed over the prompt's
/// default, and waits until the console says it saved it and the prompt has closed.
fn save_from_reveal(console: &TmuxServer, path: &Path) {
    console.keys(&["s"]);
    console.wait_for_screen("the prompt for the path of the private key", |screen| {
        screen.contains("Save the private key")
    });
    console.keys(&["C-u"]);
    console.wait_for_screen("C-u to empty the prompt", |screen| {
        screen.contains("and '.pub'")
    });
    let path = path.to_str().expect("a UTF-8 temp path");
    console.type_text(path);
    console.wait_for_screen("the typed path in the prompt", |screen| {
        screen.contains(tail(path))
    });
    console.keys(&["Enter"]);
    console.wait_for_screen("the private key to be saved", |screen| {
        screen.contains("saved the private key to") && !screen.contains("Save the private key")
    });
}

/// Imports the key file at `path` as the key pair `name` through the import form (`i`: the
/// name, Enter, the path, Enter), and waits until the console says it imported it and the
/// form has closed.
fn import_file(console: &TmuxServer, name: &str, path: &Path) {
    console.keys(&["i"]);
    console.wait_for_screen("the import form", |screen| {
        screen.contains("Import a key pair into tenant")
    });
    console.type_text(name);
    console.wait_for_screen("the name in the import form", |screen| {
        screen.contains(name)
    });
    console.keys(&["Enter"]);
    let path = path.to_str().expect("a UTF-8 path");
    console.type_text(path);
    console.wait_for_screen("the key file's path in the import form", |screen| {
        screen.contains(tail(path))
    });
    console.keys(&["Enter"]);
    console.wait_for_screen("the import to finish", |screen| {
        screen.contains(&format!("'{name}'"))
            && screen.contains("imported")
            && !screen.contains("Import a key pair into tenant")
    });
}

/// Polls `server`'s paste buffers until one holds a private key PEM.
fn wait_for_pem_buffer(server: &TmuxServer, console: &TmuxServer) -> String {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let pem = server
            .buffers()
            .into_iter()
            .map(|(_, content)| content)
            .find(|content| content.contains("-----BEGIN PRIVATE KEY-----"));
        if let Some(pem) = pem {
            return pem;
        }
        assert!(
            Instant::now() < deadline,
            "no tmux paste buffer got the private key; the console shows:\n{}",
            console.screen()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn adbkeys_json(home: &Path, args: &[&str]) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_adbkeys"))
        .args(args)
        .arg("--json")
        .env("ADBKEYS_STORE", home.join("store"))
        .env("HOME", home)
        .env("XDG_STATE_HOME", home)
        .env("XDG_DATA_HOME", home)
        .env_remove("ADBKEYS_TENANT")
        .output()
        .expect("adbkeys runs");
    assert!(
        output.status.success(),
        "adbkeys {args:?} failed: {}",
        stderr(&output)
    );
    serde_json::from_slice(&output.stdout).expect("adbkeys --json prints one JSON document")
}

/// Checks the copied PEM against the store: the real `adb pubkey` on it prints the public key
/// that `adbkeys show` holds for the key pair named `name`.
fn check_pem_matches_the_store(home: &Path, pem: &str, name: &str) {
    assert!(
        pem.starts_with("-----BEGIN PRIVATE KEY-----\n"),
        "the buffer holds a PEM"
    );
    assert!(
        pem.ends_with("-----END PRIVATE KEY-----\n"),
        "the buffer holds the whole PEM"
    );

    let listing = adbkeys_json(home, &["list", "--name", name]);
    let entries = listing["Data"]
        .as_array()
        .expect("list --json has a Data array");
    assert_eq!(
        entries.len(),
        1,
        "list shows the new key pair once: {listing}"
    );
    assert_eq!(entries[0]["KeyPairName"], name);
    let id = entries[0]["KeyPairId"]
        .as_str()
        .expect("a KeyPairId string");

    let shown = adbkeys_json(home, &["show", id]);
    let stored = shown["Data"]["PublicKeyBody"]
        .as_str()
        .expect("show --json has PublicKeyBody");

    let pem_path = home.join(format!("{name}.adbkey"));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&pem_path)
        .expect("the temp dir takes the copied key");
    file.write_all(pem.as_bytes())
        .expect("the copied key is written");
    drop(file);
    let adb = Command::new("adb")
        .arg("pubkey")
        .arg(&pem_path)
        .env("HOME", home)
        .output()
        .expect("adb runs");
    assert!(
        adb.status.success(),
        "adb pubkey refused the copied PEM: {}",
        stderr(&adb)
    );
    let adb_line = String::from_utf8_lossy(&adb.stdout);

    let key_part = |line: &str| {
        line.split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(
        key_part(stored).len(),
        700,
        "an ADB public key is 700 base64 characters"
    );
    assert_eq!(key_part(&adb_line), key_part(stored));
}

#[test]
fn console_copies_a_new_private_key_into_a_tmux_with_set_clipboard_on() {
    require_tmux_with_passthrough();
    require("adb", &["version"]);
    let dir = TempDir::new().expect("a temp dir");
    let name = "e2e_tmux-plain";

    let console = TmuxServer::start(
        dir.path(),
        "plain",
        "set -s set-clipboard on\nset -g status off\nset -g remain-on-exit on\n",
        &console_command(dir.path()),
    );
    create_and_copy(&console, name);

    let pem = wait_for_pem_buffer(&console, &console);
    check_pem_matches_the_store(dir.path(), &pem, name);

    // Quitting clears the copy: the paste buffer holding the key goes.
    // Esc and q sent together would read as Alt-q: wait for the reveal to close first.
    console.keys(&["Escape"]);
    console.wait_for_screen("the reveal to close", |screen| {
        !screen.contains("PRIVATE KEY")
    });
    console.keys(&["q"]);
    wait_for_exit(&console);
    let left = console.buffers_with_private_keys();
    assert!(
        left.is_empty(),
        "quitting left the key in tmux buffers {left:?}"
    );
}

#[test]
fn console_in_a_nested_tmux_reaches_the_outer_buffer_through_passthrough() {
    require_tmux_with_passthrough();
    require("adb", &["version"]);
    let dir = TempDir::new().expect("a temp dir");
    let name = "e2e_tmux-nested";

    // The outer pane starts the inner server; its guard comes first so that it is killed
    // whatever happens.
    let inner = TmuxServer::on_socket(dir.path(), "inner");
    let inner_config = dir.path().join("inner.conf");
    std::fs::write(
        &inner_config,
        "set -g allow-passthrough on\nset -s set-clipboard off\nset -g status off\n\
         set -g remain-on-exit on\n",
    )
    .expect("the temp dir takes a tmux config");
    let console = console_command(dir.path());
    let inner_command = format!(
        "env -u TMUX tmux -S {} -f {} new-session -s inner \"{}\"",
        quoted(&inner.socket),
        quoted(&inner_config),
        console
            .replace('\\', r"\\")
            .replace('"', "\\\"")
            .replace('$', "\\$")
    );
    let outer = TmuxServer::start(
        dir.path(),
        "outer",
        "set -s set-clipboard on\nset -g status off\nset -g remain-on-exit on\n",
        &inner_command,
    );

    let deadline = Instant::now() + TIMEOUT;
    while !inner.run(&["has-session"]).status.success() {
        assert!(
            Instant::now() < deadline,
            "the inner tmux did not start:\n{}",
            outer.screen()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    create_and_copy(&inner, name);

    let pem = wait_for_pem_buffer(&outer, &inner);
    check_pem_matches_the_store(dir.path(), &pem, name);
    let kept = inner.buffers_with_private_keys();
    assert!(
        kept.is_empty(),
        "the inner tmux kept the key in buffers {kept:?}"
    );
}

/// A whole session in the console, logging at trace level: create a key pair, copy its private
/// key and save it from the reveal, import a private key file; then no file under the store or
/// the log directory holds any piece of any of those keys. The log directory is apart from the
/// store and from where the key was saved, so each is hunted alone.
#[test]
fn a_console_session_leaves_no_private_key_in_the_store_or_the_log() {
    require_tmux_with_passthrough();
    let dir = TempDir::new().expect("a temp dir");
    let home = dir.path().join("home");
    let state = dir.path().join("state");
    let saved = dir.path().join("saved");
    for directory in [&home, &state, &saved] {
        std::fs::create_dir(directory).expect("the temp dir takes a directory");
    }
    let store = home.join("store");
    let saved_key = saved.join("adbkey");
    let case_key = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/cases/adbkey");
    let created = "e2e_tmux-secrets";
    let imported = "e2e_tmux-imported";

    let console = TmuxServer::start(
        dir.path(),
        "secrets",
        "set -s set-clipboard on\nset -g status off\nset -g remain-on-exit on\n",
        &console_command_logging(&home, &state, "trace"),
    );
    create_and_copy(&console, created);
    let copied = wait_for_pem_buffer(&console, &console);
    save_from_reveal(&console, &saved_key);

    // Esc and q sent together would read as Alt-q: wait for the reveal to close first.
    console.keys(&["Escape"]);
    console.wait_for_screen("the reveal to close", |screen| {
        !screen.contains("PRIVATE KEY")
    });
    import_file(&console, imported, &case_key);
    console.keys(&["q"]);
    wait_for_exit(&console);

    let saved_pem = std::fs::read_to_string(&saved_key).expect("the console saved the key");
    assert_eq!(saved_pem, copied, "the saved key is the one copied");

    let mut secrets = HashSet::new();
    secret_windows(&copied, &mut secrets);
    secret_windows(&saved_pem, &mut secrets);
    secret_windows(
        &std::fs::read_to_string(&case_key).expect("the case key"),
        &mut secrets,
    );

    // The hunt is meaningful: it finds the key where it was knowingly written, and the log it
    // searches was written at trace level.
    assert_eq!(
        files_holding(&saved, &secrets),
        [saved_key.display().to_string()],
        "the hunt finds the saved key, and only it (not its .pub)"
    );
    let log = state.join("adbkeys/console.log");
    let log_text = std::fs::read_to_string(&log)
        .unwrap_or_else(|error| panic!("the console writes its log to {}: {error}", log.display()));
    assert!(
        log_text.contains(" TRACE "),
        "the console's log {} ({} bytes) has no trace-level line",
        log.display(),
        log_text.len()
    );
    for done in [
        "created kp-".to_owned(),
        format!("'{created}' tenant=default"),
        "imported kp-".to_owned(),
        format!("'{imported}' tenant=default"),
        format!("saved the private key to '{}'", saved_key.display()),
    ] {
        assert!(log_text.contains(&done), "the log does not say '{done}'");
    }

    assert_none_in_store_or_log(&store, &state, &secrets);

    // Only now, so that the hunt saw the store as the console left it: the store does hold
    // both key pairs.
    let listing = adbkeys_json(&home, &["list"]);
    let mut names: Vec<&str> = listing["Data"]
        .as_array()
        .expect("list --json has a Data array")
        .iter()
        .filter_map(|entry| entry["KeyPairName"].as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [imported, created],
        "the store holds both key pairs: {listing}"
    );
}

/// The clipboard reads a real tmux's options for its pane and deletes only the paste buffer
/// holding exactly the secret.
#[test]
fn clipboard_follows_the_options_of_a_real_tmux() {
    require_tmux_with_passthrough();
    let dir = TempDir::new().expect("a temp dir");
    let server = TmuxServer::start(dir.path(), "options", "set -g status off\n", "sleep 600");
    let pane = server.pane();
    let env = ClipboardEnv {
        ssh: true,
        tmux: true,
        tmux_pane: Some(pane.clone()),
        ..ClipboardEnv::default()
    };
    let mut clipboard = Clipboard::with_parts(
        ClipboardMode::Auto,
        env,
        Box::new(SystemTmux::with_socket(&server.socket)),
        Box::new(Arboard::default()),
    );
    let copy = |clipboard: &mut Clipboard| {
        let mut terminal = Vec::new();
        let outcome = clipboard.copy("hello", &mut terminal);
        (outcome, terminal)
    };

    // tmux's defaults: set-clipboard external, no passthrough.
    let (outcome, sent) = copy(&mut clipboard);
    assert!(!outcome.delivered && sent.is_empty(), "{outcome:?}");
    let warning = outcome.warning.unwrap_or_default();
    assert!(
        warning.contains("allow-passthrough 'off', set-clipboard 'external'"),
        "{warning}"
    );

    server.checked(&["set", "-s", "set-clipboard", "on"]);
    let (outcome, sent) = copy(&mut clipboard);
    assert_eq!(sent, b"\x1b]52;c;aGVsbG8=\x07");
    assert_eq!(
        outcome.message,
        "sent to the terminal via OSC 52 through tmux"
    );

    // A window option reaches the pane by inheritance.
    server.checked(&["set", "-w", "-t", &pane, "allow-passthrough", "on"]);
    let (outcome, sent) = copy(&mut clipboard);
    assert_eq!(sent, b"\x1bPtmux;\x1b\x1b]52;c;aGVsbG8=\x07\x1b\\");
    assert_eq!(
        outcome,
        CopyOutcome {
            delivered: true,
            message: "sent to the terminal via OSC 52 through tmux passthrough".to_owned(),
            warning: None,
        }
    );

    server.checked(&["set-buffer", "-b", "holds-it", "hello"]);
    server.checked(&["set-buffer", "-b", "same-size", "hellO"]);
    server.checked(&["set-buffer", "-b", "longer", "hello world"]);
    let mut terminal = Vec::new();
    clipboard.clear_secret("hello", &mut terminal);
    let mut left: Vec<String> = server.buffers().into_iter().map(|(name, _)| name).collect();
    left.sort();
    assert_eq!(left, ["longer", "same-size"]);
    assert_eq!(terminal, b"\x1bPtmux;\x1b\x1b]52;c;\x07\x1b\\");
}
