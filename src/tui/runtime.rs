//! The event loop: terminal input, ticks, signals and background results become app events;
//! the app's effects become blocking jobs, clipboard writes and redraws. Also the terminal's
//! set-up and its restoration on every way out, the log file and the core-dump limit.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use crossterm::event::{
    DisableBracketedPaste, EnableBracketedPaste, Event as TerminalEvent, EventStream, KeyEventKind,
};
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use futures::{FutureExt, Stream, StreamExt};
use ratatui::Terminal;
use ratatui::backend::{Backend, CrosstermBackend};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use zeroize::Zeroizing;

use crate::service::KeyPairService;
use crate::store::Store;
use crate::tui::ConsoleOptions;
use crate::tui::app::{App, AppOptions};
use crate::tui::clipboard::Clipboard;
use crate::tui::event::{AppEvent, Effect, JobResult};
use crate::tui::jobs;
use crate::tui::render::render;

/// How often the clock ticks (spinner, toasts, countdown, reload timer).
pub const TICK: Duration = Duration::from_millis(100);
/// At most this many waiting events are handled before a frame is drawn.
const MAX_EVENTS_PER_FRAME: usize = 64;

/// The app with everything it needs to act: a terminal to draw on, the service for jobs, the
/// clipboard, and the channel on which jobs report back.
pub struct Console<B: Backend> {
    pub terminal: Terminal<B>,
    pub app: App,
    service: KeyPairService,
    clipboard: Clipboard,
    /// Where clipboard escape sequences go: the terminal.
    out: Box<dyn Write + Send>,
    sender: UnboundedSender<AppEvent>,
    receiver: UnboundedReceiver<AppEvent>,
}

impl<B: Backend> Console<B> {
    pub fn new(
        terminal: Terminal<B>,
        app: App,
        service: KeyPairService,
        clipboard: Clipboard,
        out: Box<dyn Write + Send>,
    ) -> Self {
        let (sender, receiver) = unbounded_channel();
        Self {
            terminal,
            app,
            service,
            clipboard,
            out,
            sender,
            receiver,
        }
    }

    /// Starts the app (its first list read) and draws the first frame.
    ///
    /// # Errors
    /// When the terminal cannot be drawn on.
    pub fn start(&mut self) -> anyhow::Result<()> {
        let effects = self.app.start();
        self.apply(effects);
        self.draw()
    }

    /// Feeds one event to the app and carries out the effects (and any events they cause).
    pub fn handle(&mut self, event: AppEvent) {
        let mut queue = VecDeque::from([event]);
        while let Some(event) = queue.pop_front() {
            let effects = self.app.update(event);
            queue.extend(self.apply(effects));
        }
    }

    /// Redraws the screen from the app.
    ///
    /// # Errors
    /// When the terminal cannot be written.
    pub fn draw(&mut self) -> anyhow::Result<()> {
        let app = &self.app;
        self.terminal
            .draw(|frame| render(app, frame))
            .map_err(|error| anyhow::anyhow!("cannot draw: {error}"))?;
        Ok(())
    }

    /// Waits for the next background result (for tests and benchmarks that drive the console
    /// without the full loop).
    pub async fn next_result(&mut self) -> Option<AppEvent> {
        self.receiver.recv().await
    }

    fn apply(&mut self, effects: Vec<Effect>) -> Vec<AppEvent> {
        let mut follow_ups = Vec::new();
        for effect in effects {
            match effect {
                Effect::Run(job) => self.spawn(job),
                Effect::Copy { text, secret } => {
                    let mut bytes = Zeroizing::new(Vec::new());
                    let outcome = self.clipboard.copy(text.expose(), &mut *bytes);
                    self.write_terminal(&bytes);
                    follow_ups.push(AppEvent::Done(JobResult::Copied { outcome, secret }));
                }
                Effect::ClearSecret(secret) => {
                    let mut bytes = Zeroizing::new(Vec::new());
                    self.clipboard.clear_secret(secret.expose(), &mut *bytes);
                    self.write_terminal(&bytes);
                }
                Effect::Quit => {}
            }
        }
        follow_ups
    }

    /// Writes a clipboard sequence in one write, between frames.
    fn write_terminal(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if let Err(error) = self.out.write_all(bytes).and_then(|()| self.out.flush()) {
            tracing::warn!(target: "adbkeys::tui", "cannot write to the terminal: {error}");
        }
    }

    fn spawn(&self, job: crate::tui::event::Job) {
        let service = self.service.clone();
        let sender = self.sender.clone();
        tokio::task::spawn_blocking(move || {
            lower_thread_priority();
            let name = job.name();
            let result =
                std::panic::catch_unwind(AssertUnwindSafe(|| jobs::perform(&service, job)))
                    .unwrap_or(JobResult::Failed { job: name });
            // The receiver is gone only when the console is quitting.
            let _ = sender.send(AppEvent::Done(result));
        });
    }

    /// Runs until the app quits, the input ends, or `shutdown` resolves (SIGTERM, SIGHUP).
    /// However it ends, a copied private key is cleared first.
    ///
    /// # Errors
    /// When the terminal input fails or the screen cannot be drawn (a terminal that went away
    /// shows up as either).
    pub async fn run<S, F>(&mut self, input: S, shutdown: F) -> anyhow::Result<()>
    where
        S: Stream<Item = io::Result<TerminalEvent>> + Unpin,
        F: Future<Output = ()>,
    {
        let result = self.run_until_quit(input, shutdown).await;
        if let Err(error) = &result {
            tracing::warn!(target: "adbkeys::tui", "console stops: {error:#}");
            if !self.app.quitting {
                self.handle(AppEvent::Shutdown);
            }
        }
        result
    }

    async fn run_until_quit<S, F>(&mut self, mut input: S, shutdown: F) -> anyhow::Result<()>
    where
        S: Stream<Item = io::Result<TerminalEvent>> + Unpin,
        F: Future<Output = ()>,
    {
        let mut ticker = tokio::time::interval(TICK);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut shutdown = std::pin::pin!(shutdown);

        while !self.app.quitting {
            let event = tokio::select! {
                terminal_event = input.next() => match terminal_event {
                    Some(Ok(event)) => terminal_to_app(event),
                    Some(Err(error)) => return Err(error).context("cannot read the terminal"),
                    None => Some(AppEvent::Shutdown),
                },
                Some(result) = self.receiver.recv() => Some(result),
                _ = ticker.tick() => Some(AppEvent::Tick(Instant::now())),
                () = &mut shutdown => Some(AppEvent::Shutdown),
            };
            let Some(event) = event else {
                continue;
            };

            self.handle(event);

            // Everything already waiting is handled before the next frame, so a burst of keys
            // (or a slow frame on a busy machine) never builds a queue behind the drawing.
            for _ in 0..MAX_EVENTS_PER_FRAME {
                if self.app.quitting {
                    break;
                }
                let ready = match input.next().now_or_never() {
                    Some(Some(Ok(event))) => terminal_to_app(event),
                    Some(Some(Err(error))) => {
                        return Err(error).context("cannot read the terminal");
                    }
                    Some(None) => Some(AppEvent::Shutdown),
                    None => match self.receiver.try_recv() {
                        Ok(result) => Some(result),
                        Err(_) => break,
                    },
                };
                if let Some(event) = ready {
                    self.handle(event);
                }
            }

            if !self.app.quitting {
                self.draw()?;
            }
        }
        Ok(())
    }
}

/// The app's view of a terminal event; `None` for those it ignores (focus, mouse, releases).
pub fn terminal_to_app(event: TerminalEvent) -> Option<AppEvent> {
    match event {
        TerminalEvent::Key(key) if key.kind != KeyEventKind::Release => Some(AppEvent::Key(key)),
        TerminalEvent::Paste(text) => Some(AppEvent::Paste(text)),
        TerminalEvent::Resize(width, height) => Some(AppEvent::Resize { width, height }),
        _ => None,
    }
}

/// Opens the console on a real terminal; see [`crate::tui::run`].
pub fn run(options: ConsoleOptions) -> anyhow::Result<()> {
    if let Err(error) = crate::secrets::disable_core_dumps() {
        eprintln!("adbkeys: cannot disable core dumps: {error}");
    }
    let _log_guard = init_logging();
    let store_shown = options.store.display();
    tracing::info!(target: "adbkeys::tui", "console starting on store '{store_shown}'");

    let store = Store::new(&options.store)
        .with_context(|| format!("cannot open the store '{}'", options.store.display()))?;
    let service = KeyPairService::new(store);
    let clipboard = Clipboard::detect(options.clipboard);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the event loop")?;

    install_panic_hook();
    let guard = TerminalGuard::enter().context("cannot set up the terminal")?;
    let terminal =
        Terminal::new(CrosstermBackend::new(io::stdout())).context("cannot set up the terminal")?;
    let size = terminal.size().context("cannot read the terminal size")?;
    let app = App::new(AppOptions {
        tenant: options.tenant.clone(),
        store_label: shorten_home(&options.store),
        utc_offset: *chrono::Local::now().offset(),
        color: std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty()),
        now: Instant::now(),
        width: size.width,
        height: size.height,
    });
    let mut console = Console::new(terminal, app, service, clipboard, Box::new(io::stdout()));

    let result = runtime.block_on(async {
        console.start()?;
        console.run(EventStream::new(), termination_signal()).await
    });

    drop(console);
    drop(guard);
    runtime.shutdown_timeout(Duration::from_secs(1));
    tracing::info!(target: "adbkeys::tui", "console closed");
    result
}

/// Resolves on SIGTERM or SIGHUP (a dropped SSH connection). Never resolves if the handlers
/// cannot be installed (the terminal is then still restored by the guard on exit).
async fn termination_signal() {
    use tokio::signal::unix::{SignalKind, signal};

    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) {
        (Ok(mut terminate), Ok(mut hangup)) => {
            tokio::select! {
                _ = terminate.recv() => tracing::info!(target: "adbkeys::tui", "SIGTERM"),
                _ = hangup.recv() => tracing::info!(target: "adbkeys::tui", "SIGHUP"),
            }
        }
        _ => {
            tracing::warn!(target: "adbkeys::tui", "cannot install signal handlers");
            std::future::pending::<()>().await;
        }
    }
}

/// The store path with the home directory written as `~`.
pub fn shorten_home(path: &Path) -> String {
    let home = directories::BaseDirs::new().map(|dirs| dirs.home_dir().to_owned());
    if let Some(home) = home
        && let Ok(rest) = path.strip_prefix(&home)
    {
        return Path::new("~").join(rest).display().to_string();
    }
    path.display().to_string()
}

/// Raw mode, the alternate screen and bracketed paste while it lives; restored when dropped.
/// Mouse capture stays off so the terminal's own selection keeps working.
struct TerminalGuard;

impl TerminalGuard {
    fn enter() -> io::Result<Self> {
        let guard = Self;
        enable_raw_mode()?;
        crossterm::execute!(io::stdout(), EnterAlternateScreen, EnableBracketedPaste)?;
        Ok(guard)
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

fn restore_terminal() {
    // Each step is tried even if an earlier one failed (the terminal may be gone after SIGHUP).
    let mut stdout = io::stdout();
    let _ = crossterm::execute!(stdout, DisableBracketedPaste);
    let _ = crossterm::execute!(stdout, LeaveAlternateScreen);
    let _ = crossterm::execute!(stdout, crossterm::cursor::Show);
    let _ = disable_raw_mode();
}

/// A panic on the main thread restores the terminal before the message is printed. A panic in
/// a background job is only logged: the job is caught and reported, and the screen stays.
fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().name() == Some("main") {
            restore_terminal();
            previous(info);
        } else {
            tracing::error!(target: "adbkeys::tui", "background job panicked: {info}");
        }
    }));
}

/// Logs to `console.log` in the XDG state directory (created with mode 0700), at the level
/// of `ADBKEYS_LOG` or `RUST_LOG` (default `info`). Never to the terminal. Without a usable
/// directory the console runs without a log.
fn init_logging() -> Option<tracing_appender::non_blocking::WorkerGuard> {
    let directory = log_directory()?;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&directory)
        .ok()?;

    let filter = std::env::var("ADBKEYS_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".to_owned());
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));

    let appender = tracing_appender::rolling::never(&directory, "console.log");
    let (writer, guard) = tracing_appender::non_blocking(appender);
    tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_env_filter(filter)
        .try_init()
        .ok()?;
    Some(guard)
}

use std::os::unix::fs::DirBuilderExt;

/// `$XDG_STATE_HOME/adbkeys` (where platforms have no state directory, the local data one).
pub fn log_directory() -> Option<PathBuf> {
    let dirs = directories::ProjectDirs::from("", "", "adbkeys")?;
    Some(
        dirs.state_dir()
            .unwrap_or_else(|| dirs.data_local_dir())
            .to_owned(),
    )
}

/// Lowers the calling thread's scheduling priority a little (nice 5), so that key generation
/// and store reads yield the CPU to the thread that handles keys and draws. Not further: on a
/// jump host busy with other users' work, a lower priority starves the key generation itself.
/// Linux applies nice values per thread. Failing to lower it changes nothing else.
fn lower_thread_priority() {
    let _ = rustix::process::setpriority_process(None, 5);
}
