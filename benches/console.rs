//! Console figures (`cargo bench --bench console`): time to the first frame with 500 key pairs
//! in the tenant, the time to render a frame, the longest gap between handled key events while
//! keys are generated in the background, and the time from Enter to the reveal. Prints each
//! figure with its ratio to the target; it is a measurement, not a pass/fail test.

#[path = "support/machine.rs"]
mod machine;

use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use adbkeys::keys::generate_key_pair;
use adbkeys::service::{CreateKeyPairRequest, KeyPairService};
use adbkeys::store::Store;
use adbkeys::tui::app::{App, AppOptions};
use adbkeys::tui::clipboard::{Arboard, Clipboard, ClipboardEnv, ClipboardMode, SystemTmux};
use adbkeys::tui::dialogs::{Dialog, PendingKey};
use adbkeys::tui::event::{AppEvent, JobResult};
use adbkeys::tui::render::render;
use adbkeys::tui::runtime::Console;
use chrono::FixedOffset;
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use futures::StreamExt;
use machine::{cores, cpu_model, load_average};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const KEY_PAIRS: usize = 500;
const FIRST_FRAME_TARGET: Duration = Duration::from_millis(30);
const RENDER_TARGET: Duration = Duration::from_millis(2);
const GAP_TARGET: Duration = Duration::from_millis(16);
/// How often the synthetic typist presses a key.
const KEY_INTERVAL: Duration = Duration::from_millis(2);

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store_path = dir.path().join("store");
    let service = KeyPairService::new(Store::new(&store_path).expect("store"));

    eprintln!("filling tenant 'default' with {KEY_PAIRS} key pairs (generating keys)...");
    fill(&service);

    println!("load average at the start: {}", load_average());
    println!(
        "adbkeys console benchmark ({} CPUs, {})",
        cores(),
        cpu_model()
    );
    first_frame(&store_path);
    frame_render(&service);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(key_gaps_while_generating(&service));
    runtime.block_on(enter_to_reveal(&service));
    println!("load average at the end: {}", load_average());
}

fn fill(service: &KeyPairService) {
    let keys = Arc::new(Mutex::new(Vec::with_capacity(KEY_PAIRS)));
    std::thread::scope(|scope| {
        for _ in 0..2 {
            let keys = Arc::clone(&keys);
            scope.spawn(move || {
                loop {
                    if keys.lock().expect("keys").len() >= KEY_PAIRS {
                        break;
                    }
                    let key = generate_key_pair().expect("key generation");
                    keys.lock().expect("keys").push(key);
                }
            });
        }
    });

    let keys = std::mem::take(&mut *keys.lock().expect("keys"));
    for (number, key) in keys.into_iter().take(KEY_PAIRS).enumerate() {
        let name = if number % 10 == 0 {
            format!("测试手机-{number:03}")
        } else {
            format!("phone-{number:03}")
        };
        let request = CreateKeyPairRequest {
            tenant: "default".to_owned(),
            key_pair_name: name,
        };
        service.create_key_pair_with(&request, key).expect("create");
    }
}

fn new_app(width: u16, height: u16) -> App {
    App::new(AppOptions {
        tenant: "default".to_owned(),
        store_label: "~/.local/share/adbkeys".to_owned(),
        utc_offset: FixedOffset::east_opt(0).expect("offset"),
        color: true,
        now: Instant::now(),
        width,
        height,
    })
}

/// The console on a 120x40 test screen with its clipboard off, first frame drawn.
fn started_console(app: App, service: &KeyPairService) -> Console<TestBackend> {
    let terminal = Terminal::new(TestBackend::new(120, 40)).expect("terminal");
    let clipboard = Clipboard::with_parts(
        ClipboardMode::Off,
        ClipboardEnv::default(),
        Box::new(SystemTmux::default()),
        Box::new(Arboard::default()),
    );
    let mut console = Console::new(
        terminal,
        app,
        service.clone(),
        clipboard,
        Box::new(io::sink()),
    );
    console.start().expect("start");
    console
}

fn report(label: &str, value: Duration, target: Duration) {
    println!(
        "{label:<52} {:>9.3} ms   target {:>6.1} ms   ratio {:.3}",
        value.as_secs_f64() * 1e3,
        target.as_secs_f64() * 1e3,
        value.as_secs_f64() / target.as_secs_f64()
    );
}

fn percentile(samples: &mut [Duration], fraction: f64) -> Duration {
    samples.sort();
    let index = ((samples.len() as f64 - 1.0) * fraction).round() as usize;
    samples[index.min(samples.len() - 1)]
}

/// From nothing to a drawn frame listing the tenant: store handle, app, the list read, render.
fn first_frame(store_path: &std::path::Path) {
    let mut samples = Vec::new();
    let mut list_samples = Vec::new();
    for _ in 0..20 {
        let started = Instant::now();
        let service = KeyPairService::new(Store::new(store_path).expect("store"));
        let mut app = new_app(120, 40);
        let _ = app.start();
        let list_started = Instant::now();
        let items = service.list_details("default").expect("list");
        list_samples.push(list_started.elapsed());
        assert_eq!(items.len(), KEY_PAIRS);
        app.update(AppEvent::Done(JobResult::Listed {
            tenant: "default".to_owned(),
            request: 1,
            result: Ok(items),
        }));
        let mut terminal = Terminal::new(TestBackend::new(120, 40)).expect("terminal");
        terminal.draw(|frame| render(&app, frame)).expect("draw");
        samples.push(started.elapsed());
    }
    let first_run = samples[0];
    report(
        "first frame, 500 key pairs (first run)",
        first_run,
        FIRST_FRAME_TARGET,
    );
    report(
        "first frame, 500 key pairs (median of 20)",
        percentile(&mut samples, 0.5),
        FIRST_FRAME_TARGET,
    );
    report(
        "  of which service.list_details (median of 20)",
        percentile(&mut list_samples, 0.5),
        FIRST_FRAME_TARGET,
    );
}

/// Redraws while the selection moves through 500 rows.
fn frame_render(service: &KeyPairService) {
    let items = service.list_details("default").expect("list");
    for (width, height) in [(80, 24), (120, 40)] {
        let mut app = new_app(width, height);
        let _ = app.start();
        app.update(AppEvent::Done(JobResult::Listed {
            tenant: "default".to_owned(),
            request: 1,
            result: Ok(items.clone()),
        }));
        let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("terminal");
        let mut samples = Vec::with_capacity(1000);
        for step in 0..1000 {
            let code = if step % 250 < 200 {
                KeyCode::Down
            } else {
                KeyCode::PageUp
            };
            app.update(AppEvent::Key(KeyEvent::new(code, KeyModifiers::NONE)));
            let started = Instant::now();
            terminal.draw(|frame| render(&app, frame)).expect("draw");
            samples.push(started.elapsed());
        }
        let mean = samples.iter().sum::<Duration>() / 1000;
        report(
            &format!("frame render {width}x{height} (mean of 1000)"),
            mean,
            RENDER_TARGET,
        );
        report(
            &format!("frame render {width}x{height} (p99)"),
            percentile(&mut samples, 0.99),
            RENDER_TARGET,
        );
    }
}

fn key(code: KeyCode) -> io::Result<Event> {
    Ok(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

/// The real event loop on a test screen, fed a key every 2 ms; each round opens the creation
/// form (which generates a key in the background), types into it while the key is made, and
/// closes it. Records when each key event is taken for handling.
async fn key_gaps_while_generating(service: &KeyPairService) {
    let mut console = started_console(new_app(120, 40), service);

    let (sender, receiver) = futures::channel::mpsc::unbounded();
    let handled = Arc::new(Mutex::new(Vec::new()));
    let recorder = Arc::clone(&handled);
    let input = receiver.map(move |event| {
        recorder.lock().expect("times").push(Instant::now());
        event
    });

    let rounds = 20;
    let sent = Arc::new(Mutex::new(Vec::new()));
    let sent_by_typist = Arc::clone(&sent);
    let typist = tokio::spawn(async move {
        let send = |event: io::Result<Event>| {
            sent_by_typist.lock().expect("times").push(Instant::now());
            let _ = sender.unbounded_send(event);
        };
        for _ in 0..rounds {
            send(key(KeyCode::Char('n')));
            for index in 0..150 {
                tokio::time::sleep(KEY_INTERVAL).await;
                let character = if index % 2 == 0 { 'a' } else { 'b' };
                send(key(KeyCode::Char(character)));
            }
            send(key(KeyCode::Esc));
            tokio::time::sleep(KEY_INTERVAL).await;
        }
        send(Ok(Event::Key(KeyEvent::new(
            KeyCode::Char('c'),
            KeyModifiers::CONTROL,
        ))));
    });

    console
        .run(input, std::future::pending())
        .await
        .expect("event loop");
    typist.await.expect("typist");

    let times = handled.lock().expect("times").clone();
    let mut gaps: Vec<Duration> = times.windows(2).map(|pair| pair[1] - pair[0]).collect();
    let longest = gaps.iter().copied().max().unwrap_or_default();
    println!(
        "key events handled: {} over {rounds} key generations, one sent every {} ms",
        times.len(),
        KEY_INTERVAL.as_millis()
    );
    report(
        "longest gap between handled keys, keys generating",
        longest,
        GAP_TARGET,
    );
    report(
        "p99 gap between handled keys",
        percentile(&mut gaps, 0.99),
        GAP_TARGET,
    );

    // The gap above also counts the typist's own delays (it shares the two cores with the
    // key generation); the wait from sending a key to its handling is the loop's alone.
    let sent = sent.lock().expect("times").clone();
    let mut waits: Vec<Duration> = sent
        .iter()
        .zip(&times)
        .map(|(sent, handled)| handled.saturating_duration_since(*sent))
        .collect();
    let longest_wait = waits.iter().copied().max().unwrap_or_default();
    report(
        "longest wait from key sent to key handled",
        longest_wait,
        GAP_TARGET,
    );
    report(
        "p99 wait from key sent to key handled",
        percentile(&mut waits, 0.99),
        GAP_TARGET,
    );
}

/// Enter in the creation form (with the key made while the name was typed) to the reveal.
async fn enter_to_reveal(service: &KeyPairService) {
    let mut samples = Vec::new();
    for round in 0..10 {
        // A fresh tenant each round keeps the 500 quota out of the way.
        let mut app = new_app(120, 40);
        app.tenant = format!("reveal-{round}");
        let mut console = started_console(app, service);

        console.handle(AppEvent::Key(KeyEvent::new(
            KeyCode::Char('n'),
            KeyModifiers::NONE,
        )));
        for character in "bench-key".chars() {
            console.handle(AppEvent::Key(KeyEvent::new(
                KeyCode::Char(character),
                KeyModifiers::NONE,
            )));
        }
        while !matches!(console.app.dialogs.last(),
            Some(Dialog::Create(form)) if matches!(form.key, PendingKey::Ready(_)))
        {
            let event = console.next_result().await.expect("result");
            console.handle(event);
        }

        let started = Instant::now();
        console.handle(AppEvent::Key(KeyEvent::new(
            KeyCode::Enter,
            KeyModifiers::NONE,
        )));
        while !matches!(console.app.dialogs.last(), Some(Dialog::Reveal(_))) {
            let event = console.next_result().await.expect("result");
            console.handle(event);
        }
        console.draw().expect("draw");
        samples.push(started.elapsed());
    }
    let median = percentile(&mut samples, 0.5);
    println!(
        "{:<52} {:>9.3} ms   (key generated while the name was typed; median of 10)",
        "Enter to the reveal",
        median.as_secs_f64() * 1e3
    );
}
