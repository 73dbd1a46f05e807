//! The console: snapshots of every screen at 80x24 and 120x40 (ratatui's TestBackend, insta),
//! key-sequence tests of the state machine fed with fixed results, and runs against the real
//! service on a temporary store.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use adbkeys::keys::AdbPublicKey;
use adbkeys::service::{CreatedKeyPair, KeyPairDetail, KeyPairService, TenantSummary};
use adbkeys::store::Store;
use adbkeys::tui::app::{App, AppOptions, GenerationPhase};
use adbkeys::tui::clipboard::CopyOutcome;
use adbkeys::tui::dialogs::{
    Confirm, Confirmable, CreateForm, Dialog, FieldProblem, ImportField, ImportForm, PathPrompt,
    PendingKey,
};
use adbkeys::tui::event::{
    AppEvent, Effect, ImportSource, Job, JobResult, NewKeyPair, WriteOutcome,
};
use adbkeys::tui::jobs;
use adbkeys::tui::render::render;
use chrono::FixedOffset;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use unicode_width::UnicodeWidthStr;
use zeroize::Zeroizing;

// ----- fixtures -----

/// A key pair with fixed, made-up values (rendering never parses them).
fn detail(number: usize, name: &str, source: &str) -> KeyPairDetail {
    let hex: Vec<String> = (0..16)
        .map(|byte| format!("{:02X}", (number * 37 + byte * 11) % 256))
        .collect();
    let body: String = "QAAAAKtTn1mWb4F2"
        .chars()
        .cycle()
        .skip(number % 16)
        .take(700)
        .collect();
    KeyPairDetail {
        key_pair_id: format!("kp-{:017}", number * 7919),
        key_pair_name: name.to_owned(),
        gmt_created: format!("2024-06-{:02} {:02}:45:09.0", 1 + number % 28, number % 24),
        source: source.to_owned(),
        public_key_body: format!("{body} user@host"),
        fingerprint_md5: hex.join(":"),
        fingerprint_sha256: format!("SHA256:{}", "3YLpHFMEwHuy3l6tWgCxMOEUFQiXlZxVkaapfp9+bVI"),
    }
}

fn sample_items() -> Vec<KeyPairDetail> {
    vec![
        detail(1, "build-farm-01", "Created"),
        detail(2, "生产环境密钥", "Imported"),
        detail(
            3,
            "ci:release_signing-key-for-the-nightly-phone-fleet",
            "Created",
        ),
        detail(4, "测试手机集群调试用的很长很长的名字", "Created"),
        detail(5, "qa-lab", "Imported"),
    ]
}

/// A tenant as the store lists it.
fn tenant(name: &str, key_pair_count: usize) -> TenantSummary {
    TenantSummary {
        tenant: name.to_owned(),
        key_pair_count,
        quota: 500,
    }
}

/// A PEM-shaped text that is not a key, for screens that show one.
fn fake_pem() -> Zeroizing<String> {
    let mut text = String::from("-----BEGIN PRIVATE KEY-----\n");
    for line in 0..25 {
        let body: String = "FAKEKEYFORSNAPSHOTSONLY0123456789"
            .chars()
            .cycle()
            .skip(line)
            .take(64)
            .collect();
        text.push_str(&body);
        text.push('\n');
    }
    text.push_str("-----END PRIVATE KEY-----\n");
    Zeroizing::new(text)
}

fn press(code: KeyCode) -> AppEvent {
    AppEvent::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn ctrl(character: char) -> AppEvent {
    AppEvent::Key(KeyEvent::new(
        KeyCode::Char(character),
        KeyModifiers::CONTROL,
    ))
}

fn char_key(character: char) -> AppEvent {
    press(KeyCode::Char(character))
}

/// The app driven by events, with the effects it asked for collected.
struct Drive {
    app: App,
    base: Instant,
    effects: Vec<Effect>,
}

impl Drive {
    fn new(width: u16, height: u16) -> Self {
        let base = Instant::now();
        let mut app = App::new(AppOptions {
            tenant: "default".to_owned(),
            store_label: "~/.local/share/adbkeys".to_owned(),
            utc_offset: FixedOffset::east_opt(8 * 3600).expect("valid offset"),
            color: false,
            now: base,
            width,
            height,
        });
        let effects = app.start();
        Self { app, base, effects }
    }

    /// A console showing `items` in tenant `default`.
    fn with_items(width: u16, height: u16, items: Vec<KeyPairDetail>) -> Self {
        let mut drive = Self::new(width, height);
        drive.answer_list(items);
        drive
    }

    fn send(&mut self, event: AppEvent) {
        let effects = self.app.update(event);
        self.effects.extend(effects);
    }

    fn key(&mut self, code: KeyCode) {
        self.send(press(code));
    }

    fn ch(&mut self, character: char) {
        self.send(char_key(character));
    }

    fn ctrl(&mut self, character: char) {
        self.send(ctrl(character));
    }

    fn type_text(&mut self, text: &str) {
        for character in text.chars() {
            self.ch(character);
        }
    }

    /// Moves the clock to `base + seconds`.
    fn at(&mut self, seconds: f64) {
        self.send(AppEvent::Tick(self.base + Duration::from_secs_f64(seconds)));
    }

    fn take_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }

    /// The jobs asked for since the last call (other effects are kept).
    fn take_jobs(&mut self) -> Vec<Job> {
        let mut jobs = Vec::new();
        let mut rest = Vec::new();
        for effect in self.take_effects() {
            match effect {
                Effect::Run(job) => jobs.push(job),
                other => rest.push(other),
            }
        }
        self.effects = rest;
        jobs
    }

    /// Takes the jobs asked for since the last call and gives the last of them, which must be
    /// a `kind` job (as [`Job::name`] names it).
    #[track_caller]
    fn take_last_job(&mut self, kind: &str) -> Job {
        match self.take_jobs().pop() {
            Some(job) if job.name() == kind => job,
            other => panic!("expected a {kind} job last, got {other:?}"),
        }
    }

    /// Runs `job` against the real `service` and hands the console its result.
    fn perform(&mut self, service: &KeyPairService, job: Job) {
        self.send(AppEvent::Done(jobs::perform(service, job)));
    }

    /// Runs the last job asked for, which must be a `kind` job, against the real `service` and
    /// hands the console its result.
    #[track_caller]
    fn perform_last_job(&mut self, kind: &str, service: &KeyPairService) {
        let job = self.take_last_job(kind);
        self.perform(service, job);
    }

    /// Replaces the text of the open path prompt with `path` and presses Enter.
    fn submit_path(&mut self, path: &Path) {
        self.ctrl('u');
        self.type_text(&path.display().to_string());
        self.key(KeyCode::Enter);
    }

    /// The tenant and request number of the one job asked for since the last call, which must
    /// be a list request.
    #[track_caller]
    fn take_list_request(&mut self) -> (String, u64) {
        match self.take_jobs().as_slice() {
            [Job::List { tenant, request }] => (tenant.clone(), *request),
            other => panic!("expected one list request, got {other:?}"),
        }
    }

    /// The name and the pasted text of the one job asked for since the last call, which must
    /// be an import of a pasted key.
    #[track_caller]
    fn take_pasted_import(&mut self) -> (String, String) {
        match self.take_jobs().as_slice() {
            [
                Job::Import {
                    name,
                    source: ImportSource::Pasted(text),
                    ..
                },
            ] => (name.clone(), text.expose().to_owned()),
            other => panic!("expected one import of a pasted key, got {other:?}"),
        }
    }

    /// How many clears of a copied key were asked for since the last call (the other effects
    /// are dropped).
    fn take_clears(&mut self) -> usize {
        self.take_effects()
            .iter()
            .filter(|effect| matches!(effect, Effect::ClearSecret(_)))
            .count()
    }

    /// Marks the first two rows (Space, j, Space, j), leaving the cursor on the third.
    fn mark_the_first_two_rows(&mut self) {
        for character in [' ', 'j', ' ', 'j'] {
            self.ch(character);
        }
    }

    /// Asks to delete with the Delete key and confirms (Right to the Delete button, Enter).
    fn delete_confirmed(&mut self) {
        self.key(KeyCode::Delete);
        self.key(KeyCode::Right);
        self.key(KeyCode::Enter);
    }

    /// Copies the revealed private key (`c`) and answers the copy: `delivered` or not, with
    /// `message`.
    fn copy_private_key(&mut self, delivered: bool, message: &str) {
        self.ch('c');
        self.take_effects();
        self.answer_copy(delivered, message, None, true);
    }

    /// The phase of the key generation under way, if one is.
    fn generation_phase(&self) -> Option<GenerationPhase> {
        self.app
            .generation
            .as_ref()
            .map(|generation| generation.phase)
    }

    /// The name of the selected key pair, if a row is selected.
    fn selected_name(&self) -> Option<&str> {
        self.app
            .selected_item()
            .map(|item| item.key_pair_name.as_str())
    }

    /// Whether a message shows and holds `text`.
    fn toast_holds(&self, text: &str) -> bool {
        self.app
            .toast
            .as_ref()
            .is_some_and(|toast| toast.text.contains(text))
    }

    /// Answers the pending list request(s) with `items`.
    fn answer_list(&mut self, items: Vec<KeyPairDetail>) {
        let requests: Vec<(String, u64)> = self
            .take_jobs()
            .into_iter()
            .filter_map(|job| match job {
                Job::List { tenant, request } => Some((tenant, request)),
                _ => None,
            })
            .collect();
        let (tenant, request) = requests.last().cloned().expect("a list request is pending");
        self.send(AppEvent::Done(JobResult::Listed {
            tenant,
            request,
            result: Ok(items),
        }));
    }

    fn resize(&mut self, width: u16, height: u16) {
        self.send(AppEvent::Resize { width, height });
    }

    fn screen(&self, width: u16, height: u16) -> String {
        screen_of(&self.app, width, height)
    }

    fn top(&self) -> Option<&Dialog> {
        self.app.dialogs.last()
    }

    /// The creation form, which must be the dialog on top.
    #[track_caller]
    fn create_form(&self) -> &CreateForm {
        match self.top() {
            Some(Dialog::Create(form)) => form,
            other => panic!("expected the creation form on top, got {other:?}"),
        }
    }

    /// What the creation form on top finds wrong with the typed name; `why` says why it must
    /// find something.
    #[track_caller]
    fn name_problem(&self, why: &str) -> FieldProblem {
        self.create_form().problem.clone().expect(why)
    }

    /// The import form, which must be the dialog on top.
    #[track_caller]
    fn import_form(&self) -> &ImportForm {
        match self.top() {
            Some(Dialog::Import(form)) => form,
            other => panic!("expected the import form on top, got {other:?}"),
        }
    }

    /// The path prompt, which must be the dialog on top.
    #[track_caller]
    fn path_prompt(&self) -> &PathPrompt {
        match self.top() {
            Some(Dialog::Path(prompt)) => prompt,
            other => panic!("expected a path prompt on top, got {other:?}"),
        }
    }

    /// The confirmation question, which must be the dialog on top.
    #[track_caller]
    fn confirmation(&self) -> &Confirm {
        match self.top() {
            Some(Dialog::Confirm(confirm)) => confirm,
            other => panic!("expected a confirmation on top, got {other:?}"),
        }
    }

    /// The sample key pairs at 80x24, the set-up most tests start from.
    fn sample() -> Self {
        Self::with_items(80, 24, sample_items())
    }

    /// The generation the creation form just asked for (the only job pending).
    fn take_generation(&mut self) -> u64 {
        match self.take_jobs().as_slice() {
            [Job::Generate { generation }] => *generation,
            other => panic!("opening the form starts a key generation, got {other:?}"),
        }
    }

    /// Answers key generation `generation` with a real new key; gives its public half.
    fn answer_generated(&mut self, generation: u64) -> AdbPublicKey {
        let key = adbkeys::keys::generate_key_pair().expect("key generation");
        let public = key.public.clone();
        self.send(AppEvent::Done(JobResult::Generated {
            generation,
            result: Ok(Box::new(key)),
        }));
        public
    }

    /// Answers a copy with how it went.
    fn answer_copy(&mut self, delivered: bool, message: &str, warning: Option<&str>, secret: bool) {
        self.send(AppEvent::Done(JobResult::Copied {
            outcome: CopyOutcome {
                delivered,
                message: message.to_owned(),
                warning: warning.map(str::to_owned),
            },
            secret,
        }));
    }

    /// Opens the tenant picker and answers its read of the store with `tenants`.
    fn open_tenants(&mut self, tenants: Vec<TenantSummary>) {
        self.ch('t');
        self.take_jobs();
        self.send(AppEvent::Done(JobResult::Tenants(Ok(tenants))));
    }
}

/// `count` key pairs named `phone-000`, `phone-001`, ...
fn phones(count: usize) -> Vec<KeyPairDetail> {
    (0..count)
        .map(|number| detail(number, &format!("phone-{number:03}"), "Created"))
        .collect()
}

/// A service on a store in a new temporary directory (kept while the first value lives).
fn temp_service() -> (tempfile::TempDir, KeyPairService) {
    let dir = tempfile::tempdir().expect("temp dir");
    let service = KeyPairService::new(Store::new(dir.path().join("store")).expect("store"));
    (dir, service)
}

/// The text of the screen, one line per row, trailing spaces removed; wide characters are
/// written once (their second cell is not repeated).
fn screen_of(app: &App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
    terminal.draw(|frame| render(app, frame)).expect("draw");
    let buffer = terminal.backend().buffer();

    let mut text = String::new();
    for y in 0..buffer.area.height {
        let mut line = String::new();
        let mut skip = 0;
        for x in 0..buffer.area.width {
            let symbol = buffer[(x, y)].symbol();
            if skip == 0 {
                line.push_str(symbol);
                skip = symbol.width().saturating_sub(1);
            } else {
                skip -= 1;
            }
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

/// Snapshots the screen at 80x24 and at 120x40.
fn snapshot_both(name: &str, drive: &mut Drive) {
    for (width, height) in [(80, 24), (120, 40)] {
        drive.resize(width, height);
        let screen = drive.screen(width, height);
        for line in screen.lines() {
            assert!(
                line.width() <= usize::from(width),
                "line wider than the screen: {line}"
            );
        }
        insta::assert_snapshot!(format!("{name}_{width}x{height}"), screen);
    }
}

// ----- snapshots -----

#[test]
fn snapshot_list() {
    let mut drive = Drive::sample();
    drive.key(KeyCode::Down);
    snapshot_both("list", &mut drive);
}

#[test]
fn snapshot_empty_store() {
    let mut drive = Drive::with_items(80, 24, Vec::new());
    snapshot_both("empty_store", &mut drive);
}

#[test]
fn snapshot_loading_before_the_first_list() {
    let mut drive = Drive::new(80, 24);
    snapshot_both("loading", &mut drive);
}

#[test]
fn snapshot_marked_rows_and_filter() {
    let mut drive = Drive::sample();
    drive.mark_the_first_two_rows();
    drive.ch('/');
    drive.type_text("e");
    snapshot_both("filter_typing", &mut drive);
}

#[test]
fn snapshot_quota_warning_and_many_rows() {
    let items = phones(460);
    let mut drive = Drive::with_items(80, 24, items);
    drive.key(KeyCode::End);
    snapshot_both("quota_warning", &mut drive);
}

#[test]
fn snapshot_create_form_with_a_rule_broken() {
    let mut drive = Drive::sample();
    drive.ch('n');
    drive.type_text("prod phone");
    snapshot_both("create_form_invalid", &mut drive);
}

#[test]
fn snapshot_create_form_duplicate_and_key_ready() {
    let mut drive = Drive::sample();
    drive.ch('n');
    drive.type_text("qa-lab");
    let generation = drive.create_form().generation;
    drive.answer_generated(generation);
    snapshot_both("create_form_duplicate", &mut drive);
}

#[test]
fn snapshot_generation_in_progress() {
    let mut drive = Drive::sample();
    drive.ch('n');
    drive.type_text("new-phone");
    drive.key(KeyCode::Enter);
    drive.at(1.25);
    snapshot_both("generating", &mut drive);
}

fn reveal_drive() -> Drive {
    reveal_drive_with(fake_pem(), "QAAAAFAKE user@host")
}

/// The reveal of a new key pair with this private key PEM and public key line.
fn reveal_drive_with(pem: Zeroizing<String>, public_key_line: &str) -> Drive {
    reveal_drive_of("new-phone", pem, public_key_line)
}

/// The reveal of a new key pair named `name`, with this private key PEM and public key line.
fn reveal_drive_of(name: &str, pem: Zeroizing<String>, public_key_line: &str) -> Drive {
    let mut drive = Drive::sample();
    drive.ch('n');
    drive.type_text(name);
    drive.key(KeyCode::Enter);
    let generation = drive.app.generation.as_ref().expect("generation").id;
    drive.take_jobs();
    drive.send(AppEvent::Done(created(
        generation,
        name,
        pem,
        public_key_line,
    )));
    drive.take_jobs();
    drive
}

/// The result of creation `generation`: key pair `kp-0000000000new001` named `name`, with this
/// private key PEM and public key line.
fn created(
    generation: u64,
    name: &str,
    pem: Zeroizing<String>,
    public_key_line: &str,
) -> JobResult {
    JobResult::Created {
        generation,
        result: Ok(NewKeyPair(CreatedKeyPair {
            key_pair_id: "kp-0000000000new001".to_owned(),
            key_pair_name: name.to_owned(),
            private_key_body: pem,
            gmt_created: "2024-06-30 08:45:09.0".to_owned(),
            public_key_line: public_key_line.to_owned(),
        })),
    }
}

#[test]
fn the_reveal_title_keeps_the_key_pair_id_for_a_128_character_name() {
    for name in ["密".repeat(128), format!("a{}", "b".repeat(127))] {
        let mut drive = reveal_drive_of(&name, fake_pem(), "QAAAAFAKE user@host");
        for (width, height) in [(80, 24), (60, 15), (120, 40)] {
            drive.resize(width, height);
            let screen = drive.screen(width, height);
            let title = screen
                .lines()
                .find(|line| line.contains("Private key of"))
                .unwrap_or_else(|| panic!("no reveal title:\n{screen}"));
            assert!(
                title.contains("…' (kp-0000000000new001) "),
                "{width}x{height}: the name is cut with an ellipsis, the ID whole: {title}"
            );
            assert!(title.width() <= usize::from(width), "{title}");
        }
    }
}

#[test]
fn snapshot_reveal_and_close_question() {
    let mut drive = reveal_drive();
    snapshot_both("reveal", &mut drive);
    drive.key(KeyCode::Esc);
    snapshot_both("reveal_close_question", &mut drive);
}

#[test]
fn snapshot_save_prompt_and_overwrite_question() {
    let mut drive = reveal_drive();
    drive.ch('s');
    snapshot_both("save_prompt", &mut drive);
    drive.key(KeyCode::Enter);
    drive.take_jobs();
    drive.send(AppEvent::Done(JobResult::SavedPrivateKey(Ok(
        WriteOutcome::Exists(vec![PathBuf::from("./new-phone.adb_key")]),
    ))));
    snapshot_both("save_overwrite_question", &mut drive);
}

#[test]
fn snapshot_copied_countdown() {
    let mut drive = reveal_drive();
    drive.copy_private_key(true, "sent to the terminal via OSC 52");
    drive.key(KeyCode::Esc);
    drive.at(2.5);
    snapshot_both("copied_countdown", &mut drive);
}

#[test]
fn snapshot_a_long_error_takes_two_status_rows() {
    let mut drive = Drive::sample();
    drive.ch('y');
    drive.take_effects();
    drive.answer_copy(
        false,
        "tmux drops OSC 52 here (allow-passthrough 'off', set-clipboard 'external'): \
         run 'tmux set -g allow-passthrough on' (or 'tmux set -g set-clipboard on') \
         and copy again, or save to a file instead",
        None,
        false,
    );
    snapshot_both("long_error", &mut drive);
}

#[test]
fn snapshot_import_form_pasted_and_refused() {
    let mut drive = Drive::sample();
    drive.ch('i');
    drive.type_text("laptop-key");
    drive.key(KeyCode::Enter);
    snapshot_both("import_form_empty", &mut drive);
    let public = std::fs::read_to_string(cases().join("adbkey.pub")).expect("case file");
    drive.send(AppEvent::Paste(public));
    snapshot_both("import_form_pasted", &mut drive);
    drive.key(KeyCode::Enter);
    drive.take_jobs();
    drive.send(AppEvent::Done(JobResult::Imported(Err(
        "tenant 'default' already holds this public key as kp-00000000000007919".to_owned(),
    ))));
    snapshot_both("import_form_refused", &mut drive);
}

#[test]
fn snapshot_rename_form() {
    let mut drive = Drive::sample();
    drive.key(KeyCode::Down);
    drive.ch('r');
    drive.type_text("-2");
    snapshot_both("rename_form", &mut drive);
}

#[test]
fn snapshot_delete_confirmation() {
    let mut drive = Drive::sample();
    drive.mark_the_first_two_rows();
    drive.ch('d');
    snapshot_both("delete_confirmation", &mut drive);
}

#[test]
fn snapshot_tenant_picker() {
    let mut drive = Drive::sample();
    drive.open_tenants(vec![tenant("default", 5), tenant("staging", 12)]);
    snapshot_both("tenant_picker", &mut drive);
    drive.type_text("sta");
    snapshot_both("tenant_picker_typed", &mut drive);
}

#[test]
fn snapshot_help() {
    let mut drive = Drive::sample();
    drive.ch('?');
    snapshot_both("help", &mut drive);
}

#[test]
fn snapshot_export_prompt() {
    let mut drive = Drive::sample();
    drive.ch('e');
    snapshot_both("export_prompt", &mut drive);
}

#[test]
fn snapshot_terminal_too_small_and_zero_size() {
    let mut drive = Drive::with_items(50, 10, sample_items());
    insta::assert_snapshot!("too_small_50x10", drive.screen(50, 10));

    for (width, height) in [(0, 0), (1, 1), (5, 3), (59, 15), (60, 14), (60, 15)] {
        drive.resize(width, height);
        drive.ch('n');
        let _ = drive.screen(width, height);
    }
}

// ----- state machine -----

fn cases() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/cases")
}

/// The MD5 fingerprint of the cases' adbkey.pub (and so of adbkey), as their README gives it.
const CASE_MD5: &str = "10:57:97:18:C7:7C:68:7E:70:97:99:32:E8:42:1A:5A";

/// The MD5 fingerprint of the key pair that an import job's `result` stored in `service`;
/// panics unless the import succeeded.
#[track_caller]
fn imported_fingerprint(result: JobResult, service: &KeyPairService) -> String {
    match result {
        JobResult::Imported(Ok(summary)) => {
            service
                .show_key_pair("default", &summary.key_pair_id)
                .expect("stored")
                .fingerprint_md5
        }
        other => panic!("expected a successful import, got {other:?}"),
    }
}

#[test]
fn moving_through_the_list() {
    let items = phones(100);
    let mut drive = Drive::with_items(80, 24, items);
    let rows = drive.app.table_rows();
    assert!(rows > 3, "the table shows {rows} rows at 80x24");

    drive.ch('j');
    drive.key(KeyCode::Down);
    assert_eq!(drive.app.selected, 2);
    drive.ch('k');
    assert_eq!(drive.app.selected, 1);
    drive.ch('G');
    assert_eq!(drive.app.selected, 99);
    assert_eq!(drive.app.offset, 100 - rows);
    drive.ch('g');
    assert_eq!(drive.app.selected, 0);
    drive.key(KeyCode::End);
    drive.key(KeyCode::Home);
    assert_eq!(drive.app.selected, 0);
    drive.key(KeyCode::PageDown);
    assert_eq!(drive.app.selected, rows);
    drive.key(KeyCode::PageUp);
    assert_eq!(drive.app.selected, 0);
    drive.ctrl('d');
    assert_eq!(drive.app.selected, rows.div_ceil(2));
    drive.ctrl('u');
    assert_eq!(drive.app.selected, 0);
    drive.key(KeyCode::Up);
    assert_eq!(drive.app.selected, 0, "no wrap above the first row");
}

#[test]
fn escape_never_quits_and_q_quits_only_from_the_list() {
    let mut drive = Drive::sample();
    for _ in 0..3 {
        drive.key(KeyCode::Esc);
    }
    assert!(!drive.app.quitting);

    drive.ch('n');
    drive.ch('q');
    assert!(!drive.app.quitting, "q in a form is typed, not a quit");
    drive.key(KeyCode::Esc);
    assert!(drive.app.dialogs.is_empty());
    drive.ch('q');
    assert!(drive.app.quitting);
    assert!(
        drive
            .take_effects()
            .iter()
            .any(|effect| matches!(effect, Effect::Quit))
    );
}

#[test]
fn control_c_quits_from_a_dialog_and_clears_a_copied_key() {
    let mut drive = reveal_drive();
    drive.ch('c');
    let copies: Vec<Effect> = drive.take_effects();
    assert!(matches!(
        copies.as_slice(),
        [Effect::Copy { secret: true, .. }]
    ));
    drive.answer_copy(true, "sent to the terminal via OSC 52", None, true);
    drive.ch('s');
    drive.ctrl('c');
    let effects = drive.take_effects();
    assert!(drive.app.quitting);
    match effects.as_slice() {
        [Effect::ClearSecret(secret), Effect::Quit] => {
            assert_eq!(secret.expose(), fake_pem().as_str());
        }
        other => panic!("expected a clear then quit, got {other:?}"),
    }
}

#[test]
fn a_hangup_clears_the_copied_key_before_quitting() {
    let mut drive = reveal_drive();
    drive.copy_private_key(true, "sent");
    drive.send(AppEvent::Shutdown);
    let effects = drive.take_effects();
    assert!(matches!(
        effects.as_slice(),
        [Effect::ClearSecret(_), Effect::Quit]
    ));
}

#[test]
fn create_uses_the_key_generated_while_typing() {
    let mut drive = Drive::sample();
    drive.ch('n');
    let generation = drive.take_generation();

    drive.type_text("new-phone");
    let public = drive.answer_generated(generation);
    assert!(matches!(
        drive.top(),
        Some(Dialog::Create(form)) if matches!(form.key, PendingKey::Ready(_))
    ));

    drive.key(KeyCode::Enter);
    match drive.take_jobs().as_slice() {
        [
            Job::Create {
                tenant, name, key, ..
            },
        ] => {
            assert_eq!(tenant, "default");
            assert_eq!(name, "new-phone");
            assert_eq!(
                key.public, public,
                "the pre-generated key is the one stored"
            );
        }
        other => panic!("expected one create, got {other:?}"),
    }
    assert!(
        drive.app.dialogs.is_empty(),
        "the form closes; the console stays usable"
    );
    assert_eq!(drive.generation_phase(), Some(GenerationPhase::Storing));
}

#[test]
fn create_waits_for_a_key_still_generating_and_esc_cancels_it() {
    let mut drive = Drive::sample();
    drive.ch('n');
    let first = drive.take_generation();
    drive.type_text("slow-key");
    drive.key(KeyCode::Enter);
    assert!(
        drive.take_jobs().is_empty(),
        "nothing to store until the key exists"
    );
    assert_eq!(drive.generation_phase(), Some(GenerationPhase::Generating));

    // The list stays usable while the key is made.
    drive.ch('j');
    assert_eq!(drive.app.selected, 1);

    drive.key(KeyCode::Esc);
    assert!(drive.app.generation.is_none(), "Esc cancels the generation");
    drive.answer_generated(first);
    assert!(
        drive.take_jobs().is_empty(),
        "a cancelled key is dropped, never stored"
    );
}

/// The creation form submitted with its key ready: the key pair is being stored.
fn storing_drive(name: &str) -> (Drive, u64) {
    let mut drive = Drive::sample();
    drive.ch('n');
    let generation = drive.take_generation();
    drive.type_text(name);
    drive.answer_generated(generation);
    drive.key(KeyCode::Enter);
    assert!(matches!(drive.take_jobs().as_slice(), [Job::Create { .. }]));
    assert_eq!(drive.generation_phase(), Some(GenerationPhase::Storing));
    (drive, generation)
}

#[test]
fn a_reveal_arriving_under_an_open_dialog_waits_beneath_it() {
    let (mut drive, generation) = storing_drive("new-phone");

    // Keys typed before the key pair is stored act on what is on screen: the list.
    drive.ch('e');
    assert_eq!(drive.path_prompt().input.value(), "./adb_keys");
    drive.send(AppEvent::Done(created(
        generation,
        "new-phone",
        fake_pem(),
        "QAAAAFAKE user@host",
    )));
    assert!(
        matches!(drive.top(), Some(Dialog::Path(_))),
        "the prompt keeps the keys"
    );
    assert!(drive.toast_holds("its private key shows when this dialog closes"));

    // The export's result reaches its own prompt, which closes and uncovers the reveal.
    drive.key(KeyCode::Enter);
    assert!(
        drive
            .take_jobs()
            .iter()
            .any(|job| matches!(job, Job::Export { .. }))
    );
    drive.send(AppEvent::Done(JobResult::Exported(Ok(
        WriteOutcome::Written(vec![PathBuf::from("./adb_keys")]),
    ))));
    match drive.top() {
        Some(Dialog::Reveal(reveal)) => assert_eq!(reveal.pem.expose(), fake_pem().as_str()),
        other => panic!("expected the reveal once the prompt closed, got {other:?}"),
    }
    assert_eq!(drive.app.dialogs.len(), 1);
}

#[test]
fn q_and_control_c_wait_while_a_new_key_pair_is_stored() {
    let (mut drive, generation) = storing_drive("new-phone");

    drive.ch('q');
    drive.ctrl('c');
    assert!(
        !drive.app.quitting,
        "quitting now would lose the private key"
    );
    assert!(
        !drive
            .take_effects()
            .iter()
            .any(|effect| matches!(effect, Effect::Quit)),
        "no quit effect while storing"
    );
    assert!(drive.toast_holds("is being stored"));

    drive.send(AppEvent::Done(created(
        generation,
        "new-phone",
        fake_pem(),
        "QAAAAFAKE user@host",
    )));
    assert!(matches!(drive.top(), Some(Dialog::Reveal(_))));

    // A hang-up does not wait.
    let (mut drive, _) = storing_drive("other-phone");
    drive.send(AppEvent::Shutdown);
    assert!(drive.app.quitting);
}

#[test]
fn control_c_brings_up_an_unsaved_private_key_before_quitting() {
    let (mut drive, generation) = storing_drive("new-phone");
    drive.ch('?');
    drive.send(AppEvent::Done(created(
        generation,
        "new-phone",
        fake_pem(),
        "QAAAAFAKE user@host",
    )));
    assert!(matches!(drive.top(), Some(Dialog::Help { .. })));

    drive.ctrl('c');
    assert!(!drive.app.quitting, "the key was never shown");
    match drive.top() {
        Some(Dialog::Reveal(reveal)) => assert!(reveal.confirm_close, "the close question shows"),
        other => panic!("expected the reveal on top, got {other:?}"),
    }
    assert_eq!(drive.app.dialogs.len(), 2, "the help stays open beneath");
    assert!(drive.toast_holds("Ctrl-C again quits without it"));

    drive.ctrl('c');
    assert!(drive.app.quitting, "a second Ctrl-C quits");
}

#[test]
fn the_caret_points_at_the_offending_character_in_a_scrolled_field() {
    let mut drive = Drive::sample();
    drive.ch('n');
    drive.type_text(&format!("{} {}", "a".repeat(70), "b".repeat(20)));
    assert_eq!(
        drive
            .create_form()
            .problem
            .as_ref()
            .and_then(|problem| problem.position),
        Some(71)
    );

    let screen = drive.screen(120, 40);
    let lines: Vec<Vec<char>> = screen.lines().map(|line| line.chars().collect()).collect();
    let field = lines
        .iter()
        .position(|line| line.iter().collect::<String>().contains("> aaa"))
        .expect("the name field");
    let caret = lines[field + 1]
        .iter()
        .position(|&character| character == '^')
        .expect("a caret under the field");
    assert_eq!(
        &lines[field][caret - 1..=caret + 1],
        &['a', ' ', 'b'],
        "the caret sits under the space:\n{screen}"
    );

    // Moved to the start, the field shows the first characters; the space is out of view.
    drive.key(KeyCode::Home);
    let screen = drive.screen(120, 40);
    assert!(
        !screen.contains('^'),
        "no caret for a character out of view:\n{screen}"
    );
}

#[test]
fn the_close_question_wraps_whole_on_a_narrow_screen() {
    let mut drive = reveal_drive();
    drive.key(KeyCode::Esc);
    let text = dialog_rows(&drive.screen(64, 30), "Private key of").join(" ");
    assert!(text.contains("Close anyway? (y/N)"), "{text}");
}

#[test]
fn a_key_pair_stored_after_a_tenant_switch_names_its_tenant() {
    let (mut drive, generation) = storing_drive("new-phone");
    drive.app.tenant = "team-b".to_owned();
    drive.send(AppEvent::Done(created(
        generation,
        "new-phone",
        fake_pem(),
        "QAAAAFAKE user@host",
    )));
    assert!(drive.toast_holds("created kp-0000000000new001 'new-phone' in tenant 'default'"));
}

#[test]
fn a_key_made_for_a_closed_form_never_reaches_another_form() {
    let mut drive = Drive::sample();
    drive.ch('n');
    let first = drive.take_generation();
    drive.key(KeyCode::Esc);
    drive.ch('n');
    let second = drive.take_generation();
    assert_ne!(first, second);

    drive.answer_generated(first);
    assert!(matches!(
        drive.top(),
        Some(Dialog::Create(form)) if matches!(form.key, PendingKey::Generating)
    ));
}

#[test]
fn a_full_tenant_says_so_on_n_and_generates_no_key() {
    let quota = adbkeys::rules::KEY_PAIR_QUOTA;
    assert_eq!(quota, 500, "the API's quota: 500 key pairs per tenant");
    let items = phones(quota);
    let mut drive = Drive::with_items(80, 24, items);
    drive.ch('n');

    assert!(drive.take_jobs().is_empty(), "no key generation starts");
    assert!(drive.app.dialogs.is_empty(), "no form to fill in vain");
    let toast = drive.app.toast.as_ref().expect("a message");
    assert!(toast.error);
    assert_eq!(
        toast.text,
        "create: tenant 'default' already holds 500 key pairs: a tenant holds at most 500 \
         key pairs; delete some first"
    );
    let screen = drive.screen(80, 24);
    let words: Vec<&str> = screen.split_whitespace().collect();
    assert!(
        words.join(" ").contains(&format!("error: {}", toast.text)),
        "the whole message shows in the status line:\n{screen}"
    );

    // One below the quota the form opens and the key generation starts.
    let items = phones(quota - 1);
    let mut drive = Drive::with_items(80, 24, items);
    drive.ch('n');
    assert!(matches!(
        drive.take_jobs().as_slice(),
        [Job::Generate { .. }]
    ));
}

#[test]
fn the_name_is_checked_as_it_is_typed() {
    let mut drive = Drive::sample();
    drive.ch('n');
    drive.type_text("1phone");
    let problem = drive.name_problem("a leading digit is refused");
    assert_eq!(problem.position, Some(1));
    assert!(
        problem.message.contains("character 1"),
        "{}",
        problem.message
    );

    drive.key(KeyCode::Home);
    drive.key(KeyCode::Delete);
    assert!(matches!(drive.top(), Some(Dialog::Create(form)) if form.problem.is_none()));

    drive.key(KeyCode::End);
    drive.type_text(" x");
    let problem = drive.name_problem("a space is refused");
    assert_eq!(
        problem.position,
        Some(6),
        "'phone x': the space is the sixth character"
    );

    drive.ctrl('u');
    drive.type_text("qa-lab");
    let problem = drive.name_problem("a duplicate is refused");
    assert!(problem.message.contains("'qa-lab'"), "{}", problem.message);

    drive.key(KeyCode::Enter);
    assert!(
        matches!(drive.top(), Some(Dialog::Create(_))),
        "Enter keeps a refused form"
    );
    assert!(drive.app.generation.is_none());
}

#[test]
fn the_naming_rule_wraps_whole_in_a_narrow_terminal() {
    let mut drive = Drive::sample();
    drive.ch('n');
    for columns in [120, 64, 60] {
        let screen = drive.screen(columns, 30);
        // The dialog's rows joined: a rule cut at the border loses words.
        let text = dialog_rows(&screen, "New key pair").join(" ");
        assert!(
            text.contains("digits, ':', '_', '-'; the first a letter or a Chinese character"),
            "at {columns} columns the rule reads: {text}"
        );
    }
}

#[test]
fn shift_tab_switches_the_import_forms_field_as_tab_does() {
    let mut drive = Drive::sample();
    drive.ch('i');
    let focus = |drive: &Drive| match drive.top() {
        Some(Dialog::Import(form)) => form.focus,
        other => panic!("expected the import form, got {other:?}"),
    };
    assert_eq!(focus(&drive), ImportField::Name);

    drive.send(AppEvent::Key(KeyEvent::new(
        KeyCode::BackTab,
        KeyModifiers::SHIFT,
    )));
    assert_eq!(focus(&drive), ImportField::Key);
    drive.send(AppEvent::Key(KeyEvent::new(
        KeyCode::BackTab,
        KeyModifiers::SHIFT,
    )));
    assert_eq!(focus(&drive), ImportField::Name);
}

#[test]
fn the_tenant_picker_counts_one_key_pair_in_the_singular() {
    let mut drive = Drive::sample();
    drive.open_tenants(vec![tenant("default", 5), tenant("solo", 1)]);
    let rows = dialog_rows(&drive.screen(120, 40), "Switch tenant");
    let solo = rows
        .iter()
        .find(|row| row.contains("solo"))
        .expect("the solo row");
    let default = rows
        .iter()
        .find(|row| row.contains("default"))
        .expect("the default row");
    assert!(solo.ends_with("1 key pair"), "{solo}");
    assert!(default.ends_with("5 key pairs (current)"), "{default}");
    // Rows are trimmed, so the columns are measured from each row's tenant name.
    let column = |row: &str, name: &str, count: &str| {
        row.find(count).expect("the count") - row.find(name).expect("the name")
    };
    assert_eq!(
        column(solo, "solo", "1 key"),
        column(default, "default", "5 key"),
        "the counts line up"
    );
}

#[test]
fn a_pasted_newline_never_submits_a_form() {
    let mut drive = Drive::sample();
    drive.ch('n');
    drive.send(AppEvent::Paste("pasted-name\n".to_owned()));
    assert_eq!(drive.create_form().name.value(), "pasted-name");
    assert!(drive.app.generation.is_none());
}

#[test]
fn the_reveal_asks_before_closing_an_unsaved_key() {
    let mut drive = reveal_drive();
    drive.key(KeyCode::Esc);
    assert!(matches!(drive.top(), Some(Dialog::Reveal(reveal)) if reveal.confirm_close));
    drive.ch('n');
    assert!(matches!(drive.top(), Some(Dialog::Reveal(reveal)) if !reveal.confirm_close));
    drive.key(KeyCode::Esc);
    drive.key(KeyCode::Enter);
    assert!(
        matches!(drive.top(), Some(Dialog::Reveal(_))),
        "the default answer is No"
    );
    drive.key(KeyCode::Esc);
    drive.ch('y');
    assert!(drive.app.dialogs.is_empty());
}

#[test]
fn copying_the_private_key_counts_down_then_clears_it() {
    let mut drive = reveal_drive();
    drive.ch('c');
    match drive.take_effects().as_slice() {
        [Effect::Copy { text, secret: true }] => assert_eq!(text.expose(), fake_pem().as_str()),
        other => panic!("{other:?}"),
    }
    drive.answer_copy(
        true,
        "sent to the terminal via OSC 52",
        Some("tmux keeps it in a paste buffer"),
        true,
    );
    assert!(drive.toast_holds("paste buffer"));

    drive.key(KeyCode::Esc);
    assert!(
        drive.app.dialogs.is_empty(),
        "a copied key closes without a question"
    );

    drive.at(29.0);
    assert_eq!(drive.take_clears(), 0);
    assert!(drive.screen(80, 24).contains("clipboard clears in 1 s"));
    drive.at(30.1);
    assert_eq!(drive.take_clears(), 1);
    assert!(drive.app.secret_deadline.is_none());
}

#[test]
fn copying_a_second_private_key_clears_the_first_from_the_clipboard() {
    let mut drive = reveal_drive();
    drive.copy_private_key(true, "sent");
    drive.key(KeyCode::Esc);

    let second_pem =
        Zeroizing::new(fake_pem().replace("BEGIN PRIVATE KEY-----\n", "BEGIN PRIVATE KEY-----\nB"));
    assert_ne!(second_pem.as_str(), fake_pem().as_str());
    drive.ch('n');
    drive.type_text("second-phone");
    drive.key(KeyCode::Enter);
    let generation = drive.app.generation.as_ref().expect("generation").id;
    drive.take_jobs();
    drive.send(AppEvent::Done(created(
        generation,
        "second-phone",
        second_pem.clone(),
        "QAAAAFAKE2 user@host",
    )));
    drive.take_effects();

    drive.ch('c');
    match drive.take_effects().as_slice() {
        [
            Effect::ClearSecret(earlier),
            Effect::Copy { text, secret: true },
        ] => {
            assert_eq!(earlier.expose(), fake_pem().as_str());
            assert_eq!(text.expose(), second_pem.as_str());
        }
        other => panic!("expected the first key cleared, then the second copied: {other:?}"),
    }
    drive.answer_copy(true, "sent", None, true);

    drive.ch('c');
    assert!(
        matches!(drive.take_effects().as_slice(), [Effect::Copy { .. }]),
        "copying the same key again clears nothing"
    );
}

#[test]
fn a_copy_that_reached_nothing_is_an_error_and_needs_the_question() {
    let mut drive = reveal_drive();
    drive.copy_private_key(false, "clipboard is off (--clipboard off)");
    assert!(drive.app.toast.as_ref().is_some_and(|toast| toast.error));
    drive.key(KeyCode::Esc);
    assert!(matches!(drive.top(), Some(Dialog::Reveal(reveal)) if reveal.confirm_close));
    drive.send(AppEvent::Shutdown);
    assert_eq!(
        drive.take_clears(),
        0,
        "nothing to clear when nothing was copied"
    );
}

#[test]
fn saving_writes_the_pair_and_overwrites_only_when_confirmed() {
    let (dir, service) = temp_service();
    let target = dir.path().join("new-phone.adb_key");

    let mut drive = reveal_drive();
    drive.ch('s');
    assert_eq!(drive.path_prompt().input.value(), "./new-phone.adb_key");
    drive.submit_path(&target);
    let job = drive.take_last_job("save");
    let Job::SavePrivateKey { overwrite, .. } = &job else {
        unreachable!("take_last_job gives a save")
    };
    assert!(!overwrite, "{job:?}");
    drive.perform(&service, job);

    assert_eq!(
        std::fs::read_to_string(&target).expect("saved"),
        fake_pem().as_str()
    );
    let public = std::fs::read_to_string(dir.path().join("new-phone.adb_key.pub")).expect("pub");
    assert_eq!(public, "QAAAAFAKE user@host");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&target)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    assert!(matches!(drive.top(), Some(Dialog::Reveal(reveal)) if reveal.secured));
    let public_path = dir.path().join("new-phone.adb_key.pub");
    assert!(
        drive.toast_holds(&format!(
            "saved the private key to '{}' (mode 0600) and its public key to '{}'",
            target.display(),
            public_path.display()
        )),
        "{:?}",
        drive.app.toast
    );

    // Again: the file exists, so a question with Cancel focused.
    save_through_the_prompt(&mut drive, &service, &target);
    assert!(matches!(
        drive.top(),
        Some(Dialog::Confirm(confirm))
            if !confirm.confirm_focused
                && matches!(confirm.action, Confirmable::OverwritePrivateKey { .. })
    ));
    drive.key(KeyCode::Enter);
    assert!(
        drive.take_jobs().is_empty(),
        "Enter on Cancel writes nothing"
    );
    assert!(matches!(drive.top(), Some(Dialog::Path(prompt)) if prompt.error.is_some()));

    drive.key(KeyCode::Enter);
    drive.perform_last_job("save", &service);
    drive.key(KeyCode::Tab);
    drive.key(KeyCode::Enter);
    match drive.take_jobs().as_slice() {
        [
            Job::SavePrivateKey {
                overwrite: true,
                path,
                ..
            },
        ] => assert_eq!(path, &target),
        other => panic!("{other:?}"),
    }
}

/// Saves the revealed key to `path` through the prompt and runs the write for real.
#[track_caller]
fn save_through_the_prompt(drive: &mut Drive, service: &KeyPairService, path: &Path) {
    drive.ch('s');
    drive.submit_path(path);
    drive.perform_last_job("save", service);
}

#[test]
fn the_overwrite_question_names_the_pub_file_it_would_overwrite() {
    let (dir, service) = temp_service();
    let target = dir.path().join("new-phone.adb_key");
    let public = dir.path().join("new-phone.adb_key.pub");

    // Both exist: the question names both.
    let mut drive = reveal_drive();
    save_through_the_prompt(&mut drive, &service, &target);
    save_through_the_prompt(&mut drive, &service, &target);
    assert_eq!(
        drive.confirmation().action.existing_files(),
        [target.as_path(), public.as_path()]
    );
    let screen = drive.screen(120, 40);
    assert!(screen.contains("new-phone.adb_key' and"), "{screen}");
    assert!(screen.contains("new-phone.adb_key.pub' exist"), "{screen}");
    drive.key(KeyCode::Esc);
    drive.key(KeyCode::Esc);

    // Only the .pub exists: the question names it, not the free private key path.
    std::fs::remove_file(&target).expect("remove");
    save_through_the_prompt(&mut drive, &service, &target);
    assert_eq!(
        drive.confirmation().action.existing_files(),
        [public.as_path()]
    );
    assert!(
        drive
            .screen(120, 40)
            .contains("new-phone.adb_key.pub' exists")
    );
    drive.key(KeyCode::Tab);
    drive.key(KeyCode::Enter);
    match drive.take_jobs().as_slice() {
        [
            Job::SavePrivateKey {
                path,
                overwrite: true,
                ..
            },
        ] => assert_eq!(
            path, &target,
            "the private key still goes to the typed path"
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn saving_to_a_directory_is_refused_without_writing() {
    let (dir, service) = temp_service();
    let keys = dir.path().join("keys");
    std::fs::create_dir(&keys).expect("mkdir");

    let mut drive = reveal_drive();
    for typed in [keys.clone(), dir.path().join("missing/")] {
        save_through_the_prompt(&mut drive, &service, &typed);
        // Refused in the prompt, without a question.
        let prompt = drive.path_prompt();
        let error = prompt.error.as_deref().expect("refused in the prompt");
        assert!(error.contains("directory"), "{error}");
        assert!(error.contains(&format!("'{}'", typed.display())), "{error}");
        assert!(!prompt.busy);
        drive.key(KeyCode::Esc);
    }
    let entries: Vec<_> = std::fs::read_dir(&keys).expect("list").collect();
    assert!(
        entries.is_empty(),
        "nothing written in the directory: {entries:?}"
    );
    assert!(!dir.path().join("missing").exists());
    assert!(!dir.path().join("keys.pub").exists());
}

#[test]
fn delete_names_the_marked_key_pairs_and_cancel_is_the_default() {
    let mut drive = Drive::sample();
    drive.mark_the_first_two_rows();
    assert_eq!(drive.app.marked.len(), 2);
    drive.ch('d');
    let confirm = drive.confirmation();
    assert!(!confirm.confirm_focused);
    let Confirmable::Delete { targets, .. } = &confirm.action else {
        panic!("{:?}", confirm.action)
    };
    let names: Vec<&str> = targets.iter().map(|(_, name)| name.as_str()).collect();
    assert_eq!(names, ["build-farm-01", "生产环境密钥"]);
    assert!(drive.screen(80, 24).contains("生产环境密钥"));

    drive.key(KeyCode::Enter);
    assert!(drive.take_jobs().is_empty());
    assert!(drive.app.dialogs.is_empty());

    drive.delete_confirmed();
    match drive.take_jobs().as_slice() {
        [
            Job::Delete {
                tenant,
                key_pair_ids,
            },
        ] => {
            assert_eq!(tenant, "default");
            assert_eq!(
                key_pair_ids,
                &[detail(1, "", "").key_pair_id, detail(2, "", "").key_pair_id]
            );
        }
        other => panic!("{other:?}"),
    }
    drive.send(AppEvent::Done(JobResult::Deleted {
        count: 2,
        result: Ok(()),
    }));
    assert!(drive.app.marked.is_empty());
    assert!(
        drive
            .take_jobs()
            .iter()
            .any(|job| matches!(job, Job::List { .. }))
    );
}

#[test]
fn space_marks_the_selected_row_and_leaves_the_cursor_on_it() {
    // docs/console.md and the help: "mark or unmark the selected row"; nothing about moving.
    let mut drive = Drive::sample();
    drive.ch('j');
    drive.ch(' ');
    assert_eq!(drive.app.selected, 1, "Space does not move the cursor");
    assert_eq!(
        drive.app.marked.iter().collect::<Vec<_>>(),
        [&detail(2, "", "").key_pair_id]
    );
    drive.ch(' ');
    assert!(
        drive.app.marked.is_empty(),
        "Space again unmarks the same row"
    );
    assert_eq!(drive.app.selected, 1);
}

#[test]
fn filter_narrows_by_name_id_or_fingerprint_and_esc_clears() {
    let mut drive = Drive::sample();
    drive.ch('/');
    drive.type_text("生产");
    assert_eq!(drive.app.visible.len(), 1);
    assert_eq!(drive.selected_name(), Some("生产环境密钥"));
    drive.key(KeyCode::Enter);
    assert!(!drive.app.filter_editing);
    drive.key(KeyCode::Esc);
    assert_eq!(drive.app.visible.len(), 5);
    assert_eq!(
        drive.selected_name(),
        Some("生产环境密钥"),
        "the selection survives the filter"
    );

    let fingerprint = detail(5, "", "").fingerprint_md5;
    for typed in [
        fingerprint[..8].to_owned(),
        fingerprint[..8].replace(':', "").to_lowercase(),
    ] {
        drive.ch('/');
        drive.type_text(&typed);
        assert_eq!(drive.app.visible, vec![4], "fingerprint filter '{typed}'");
        drive.key(KeyCode::Esc);
    }

    drive.ch('/');
    drive.type_text(&detail(3, "", "").key_pair_id);
    assert_eq!(drive.app.visible, vec![2]);
    drive.key(KeyCode::Esc);
    assert!(drive.app.filter.value().is_empty());
}

#[test]
fn reloads_keep_the_selection_by_key_pair_id() {
    let mut drive = Drive::sample();
    drive.ch('j');
    drive.ch('j');
    let selected = drive
        .app
        .selected_item()
        .expect("selection")
        .key_pair_id
        .clone();

    drive.at(1.6);
    let mut items = sample_items();
    items.insert(0, detail(9, "made-elsewhere", "Created"));
    items.remove(1);
    drive.answer_list(items);
    assert_eq!(
        drive
            .app
            .selected_item()
            .map(|item| item.key_pair_id.clone()),
        Some(selected)
    );
    assert_eq!(drive.app.items[0].key_pair_name, "made-elsewhere");
}

#[test]
fn the_list_is_read_again_within_two_seconds() {
    let mut drive = Drive::sample();
    drive.at(0.5);
    assert!(drive.take_jobs().is_empty());
    drive.at(1.6);
    assert!(matches!(drive.take_jobs().as_slice(), [Job::List { .. }]));
    drive.at(3.5);
    assert!(
        drive.take_jobs().is_empty(),
        "no second read while one is in flight"
    );
}

#[test]
fn an_older_list_answer_never_replaces_a_newer_one() {
    let mut drive = Drive::sample();
    drive.at(1.6);
    let (_, old) = drive.take_list_request();
    drive.send(AppEvent::Done(JobResult::Deleted {
        count: 1,
        result: Ok(()),
    }));
    let (_, new) = drive.take_list_request();
    drive.send(AppEvent::Done(JobResult::Listed {
        tenant: "default".into(),
        request: new,
        result: Ok(sample_items()[1..].to_vec()),
    }));
    drive.send(AppEvent::Done(JobResult::Listed {
        tenant: "default".into(),
        request: old,
        result: Ok(sample_items()),
    }));
    assert_eq!(drive.app.items.len(), 4);
}

#[test]
fn rename_checks_the_name_and_shows_core_errors_in_the_form() {
    let mut drive = Drive::sample();
    drive.ch('r');
    match drive.top() {
        Some(Dialog::Rename(form)) => assert_eq!(form.name.value(), "build-farm-01"),
        other => panic!("{other:?}"),
    }
    drive.key(KeyCode::Enter);
    assert!(matches!(drive.top(), Some(Dialog::Rename(form)) if form.problem.is_some()));

    drive.ctrl('u');
    drive.type_text("qa-lab");
    assert!(matches!(drive.top(), Some(Dialog::Rename(form)) if form.problem.is_some()));
    drive.ctrl('u');
    drive.type_text("构建机-01");
    drive.key(KeyCode::Enter);
    match drive.take_jobs().as_slice() {
        [
            Job::Rename {
                key_pair_id,
                new_name,
                ..
            },
        ] => {
            assert_eq!(key_pair_id, &detail(1, "", "").key_pair_id);
            assert_eq!(new_name, "构建机-01");
        }
        other => panic!("{other:?}"),
    }
    drive.send(AppEvent::Done(JobResult::Renamed {
        old_name: "build-farm-01".into(),
        new_name: "构建机-01".into(),
        result: Err(adbkeys::error::ApiError::new(
            adbkeys::error::ErrorCode::DuplicateKeyPairName,
            "tenant 'default' already has a key pair named '构建机-01' (kp-x)",
        )),
    }));
    assert!(matches!(
        drive.top(),
        Some(Dialog::Rename(form)) if form.error.as_deref().is_some_and(|e| e.contains("already"))
    ));
    drive.key(KeyCode::Enter);
    drive.take_jobs();
    drive.send(AppEvent::Done(JobResult::Renamed {
        old_name: "build-farm-01".into(),
        new_name: "构建机-01".into(),
        result: Ok(()),
    }));
    assert!(drive.app.dialogs.is_empty());
    assert!(drive.toast_holds("构建机-01"));
}

#[test]
fn import_takes_a_paste_or_a_file_and_shows_refusals_in_the_form() {
    let mut drive = Drive::sample();
    drive.ch('i');
    drive.type_text("laptop");
    let public = std::fs::read_to_string(cases().join("adbkey.pub")).expect("case");
    // A long paste lands in the key field even while the name has the focus (which it keeps).
    drive.send(AppEvent::Paste(format!("{public}\n")));
    assert!(matches!(
        drive.top(),
        Some(Dialog::Import(form)) if form.pasted.is_some() && form.focus == ImportField::Name
    ));
    drive.key(KeyCode::Enter);
    let (name, text) = drive.take_pasted_import();
    assert_eq!(name, "laptop");
    assert_eq!(text, format!("{public}\n"));
    drive.send(AppEvent::Done(JobResult::Imported(Err(
        "the key is empty".into()
    ))));
    assert!(matches!(
        drive.top(),
        Some(Dialog::Import(form))
            if form.error.as_deref() == Some("the key is empty") && !form.busy
    ));

    // In the key field, Backspace drops the paste; a path is typed instead.
    drive.key(KeyCode::Tab);
    drive.key(KeyCode::Backspace);
    let path = cases().join("adbkey.pub");
    drive.type_text(&path.display().to_string());
    drive.key(KeyCode::Enter);
    match drive.take_jobs().as_slice() {
        [
            Job::Import {
                source: ImportSource::File(file),
                ..
            },
        ] => assert_eq!(file, &path),
        other => panic!("{other:?}"),
    }
}

#[test]
fn typing_after_a_paste_goes_to_the_field_with_the_focus() {
    let public = std::fs::read_to_string(cases().join("adbkey.pub")).expect("case");

    // A key pasted while the name is being typed: the name keeps the focus and the typing.
    let mut drive = Drive::sample();
    drive.ch('i');
    drive.type_text("lap");
    drive.send(AppEvent::Paste(public.clone()));
    drive.type_text("top");
    let form = drive.import_form();
    assert_eq!(form.focus, ImportField::Name);
    assert_eq!(form.name.value(), "laptop");
    assert!(form.pasted.is_some(), "the key is in the key field");
    assert!(
        drive.screen(80, 24).contains("> laptop"),
        "the focus marker stays on the name"
    );
    drive.key(KeyCode::Enter);
    let (name, text) = drive.take_pasted_import();
    assert_eq!(name, "laptop");
    assert_eq!(text, public);

    // A path pasted into the key field: typing goes on in that field.
    let mut drive = Drive::sample();
    drive.ch('i');
    drive.type_text("laptop");
    drive.key(KeyCode::Enter);
    drive.send(AppEvent::Paste("/home/op/.android/adbkey".to_owned()));
    drive.type_text(".pub");
    let form = drive.import_form();
    assert_eq!(form.focus, ImportField::Key);
    assert!(form.pasted.is_none(), "a short line is a path, not a key");
    assert_eq!(form.path.value(), "/home/op/.android/adbkey.pub");
}

#[test]
fn the_tenant_picker_switches_to_a_listed_or_a_new_valid_tenant() {
    let mut drive = Drive::sample();
    drive.ch('t');
    assert!(matches!(drive.take_jobs().as_slice(), [Job::Tenants]));
    drive.send(AppEvent::Done(JobResult::Tenants(Ok(vec![tenant(
        "staging", 3,
    )]))));

    drive.type_text(".bad");
    drive.key(KeyCode::Enter);
    assert!(matches!(drive.top(), Some(Dialog::Tenants(picker)) if picker.error.is_some()));
    assert_eq!(drive.app.tenant, "default");

    drive.ctrl('u');
    drive.type_text("stag");
    drive.key(KeyCode::Down);
    drive.key(KeyCode::Enter);
    assert_eq!(drive.app.tenant, "staging");
    assert!(drive.app.items.is_empty());
    let (tenant, _) = drive.take_list_request();
    assert_eq!(tenant, "staging");

    drive.ch('t');
    drive.take_jobs();
    drive.type_text("brand-new");
    drive.key(KeyCode::Enter);
    assert_eq!(drive.app.tenant, "brand-new");
}

/// The text inside the dialog titled `title`, row by row (the screen must hold no wide
/// characters left of the dialog, so that characters and columns agree).
fn dialog_rows(screen: &str, title: &str) -> Vec<String> {
    let lines: Vec<Vec<char>> = screen.lines().map(|line| line.chars().collect()).collect();
    let top = lines
        .iter()
        .position(|line| {
            line.iter()
                .collect::<String>()
                .contains(&format!("┌ {title} "))
        })
        .unwrap_or_else(|| panic!("no dialog '{title}' on screen:\n{screen}"));
    let title_line: String = lines[top].iter().collect();
    let corner = title_line
        .find(&format!("┌ {title} "))
        .expect("the title's corner");
    let left = title_line[..corner].chars().count();
    let right = left
        + 1
        + lines[top][left + 1..]
            .iter()
            .position(|&character| character == '┐')
            .expect("top-right corner");

    let mut rows = Vec::new();
    for line in &lines[top + 1..] {
        if line.get(left) == Some(&'└') {
            assert_eq!(
                line.get(right),
                Some(&'┘'),
                "the dialog's bottom is whole:\n{screen}"
            );
            return rows;
        }
        assert_eq!(
            line.get(left),
            Some(&'│'),
            "a dialog row lost its border:\n{screen}"
        );
        rows.push(
            line[left + 1..right]
                .iter()
                .collect::<String>()
                .trim()
                .to_owned(),
        );
    }
    panic!("the dialog '{title}' has no bottom border on screen:\n{screen}");
}

#[test]
fn the_tenant_picker_fits_80x24_with_long_names_and_many_tenants_and_scrolls() {
    let items: Vec<KeyPairDetail> = (0..5)
        .map(|number| detail(number, &format!("phone-{number}"), "Created"))
        .collect();
    let mut drive = Drive::with_items(80, 24, items);
    // 40 tenants of the longest allowed name (64 characters), "default" among them.
    let mut tenants: Vec<TenantSummary> = (0..40)
        .map(|number| {
            tenant(
                &format!("{number:02}-{}", "long-tenant-name-".repeat(4)),
                500,
            )
        })
        .map(|mut summary| {
            summary.tenant.truncate(64);
            summary
        })
        .collect();
    tenants.push(tenant("default", 5));
    drive.open_tenants(tenants.clone());

    let rows = dialog_rows(&drive.screen(80, 24), "Switch tenant");
    let current = rows
        .iter()
        .find(|row| row.starts_with("> default"))
        .expect("the current tenant is selected and shown");
    assert!(current.ends_with("5 key pairs (current)"), "{current}");

    // Down to the last tenant and back up: the selected row is always on screen, whole.
    let moves = std::iter::repeat_n(KeyCode::Down, tenants.len())
        .chain(std::iter::repeat_n(KeyCode::Up, tenants.len()));
    for code in moves {
        drive.key(code);
        let rows = dialog_rows(&drive.screen(80, 24), "Switch tenant");
        let selected: Vec<&String> = rows.iter().filter(|row| row.starts_with("> ")).collect();
        let [row] = selected.as_slice() else {
            panic!("one selected row expected: {rows:#?}")
        };
        assert!(
            row.ends_with("key pairs") || row.ends_with("(current)"),
            "{row}"
        );
    }

    // The selected tenant's whole name can be read, though its row shortens it.
    drive.key(KeyCode::Down);
    let Some(Dialog::Tenants(picker)) = drive.top() else {
        panic!("the picker is open")
    };
    let full = picker.entries[picker.selected].tenant.clone();
    assert_eq!(full.len(), 64);
    let text = dialog_rows(&drive.screen(80, 24), "Switch tenant").concat();
    assert!(text.contains(&full), "'{full}' is not readable in:\n{text}");

    // A typed name that is no valid tenant: the whole reason shows, from the rules.
    drive.type_text("a b");
    let reason = adbkeys::rules::validate_tenant("a b")
        .expect_err("a space is refused")
        .message;
    let text = dialog_rows(&drive.screen(80, 24), "Switch tenant").join(" ");
    assert!(
        text.contains(&reason),
        "'{reason}' is not shown whole in:\n{text}"
    );
}

#[test]
fn y_copies_the_public_key_line_and_export_asks_for_a_path() {
    let mut drive = Drive::sample();
    drive.ch('y');
    match drive.take_effects().as_slice() {
        [
            Effect::Copy {
                text,
                secret: false,
            },
        ] => {
            assert_eq!(text.expose(), detail(1, "", "").public_key_body);
        }
        other => panic!("{other:?}"),
    }

    drive.ch('e');
    assert_eq!(drive.path_prompt().input.value(), "./adb_keys");
    drive.key(KeyCode::Enter);
    match drive.take_jobs().as_slice() {
        [
            Job::Export {
                tenant,
                key_pair_ids,
                path,
                overwrite: false,
            },
        ] => {
            assert_eq!(tenant, "default");
            assert!(key_pair_ids.is_empty(), "no marks: the whole tenant");
            assert_eq!(path, Path::new("./adb_keys"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn help_lists_every_binding_of_the_table() {
    let mut drive = Drive::with_items(120, 40, sample_items());
    drive.send(press(KeyCode::F(1)));
    let mut shown = String::new();
    for _ in 0..20 {
        shown.push_str(&drive.screen(120, 40));
        drive.ch('j');
    }
    for binding in adbkeys::tui::keymap::BINDINGS {
        assert!(
            shown.contains(binding.help),
            "help misses '{}'",
            binding.help
        );
    }
    drive.key(KeyCode::Esc);
    assert!(drive.app.dialogs.is_empty());
}

#[test]
fn a_tiny_terminal_shows_a_note_and_still_quits() {
    let mut drive = Drive::with_items(40, 10, sample_items());
    assert!(drive.screen(40, 10).contains("terminal too small"));
    drive.ch('n');
    assert!(drive.app.dialogs.is_empty(), "keys other than q do nothing");
    drive.ch('q');
    assert!(drive.app.quitting);
}

#[test]
fn on_a_tiny_terminal_esc_closes_the_dialog_and_q_then_quits() {
    for open in ['n', '?', 'e', 't'] {
        let mut drive = Drive::sample();
        drive.ch(open);
        assert_eq!(drive.app.dialogs.len(), 1, "'{open}' opens a dialog");
        drive.resize(50, 10);
        let screen = drive.screen(50, 10);
        assert!(screen.contains("terminal too small"), "{screen}");
        assert!(screen.contains("Esc closes the dialog"), "{screen}");

        drive.ch('x');
        assert_eq!(drive.app.dialogs.len(), 1, "other keys do nothing unseen");
        drive.key(KeyCode::Esc);
        assert!(
            drive.app.dialogs.is_empty(),
            "Esc closes the '{open}' dialog"
        );
        drive.ch('q');
        assert!(drive.app.quitting, "q quits once no dialog is open");
    }

    // q with a form still open is not typed into it, and does not quit.
    let mut drive = Drive::sample();
    drive.ch('n');
    drive.resize(50, 10);
    drive.ch('q');
    assert!(!drive.app.quitting);
    assert!(matches!(drive.top(), Some(Dialog::Create(form)) if form.name.value().is_empty()));
}

#[test]
fn the_selection_shows_without_colour() {
    let drive = Drive::sample();
    let screen = drive.screen(80, 24);
    let row = screen
        .lines()
        .find(|line| line.contains("build-farm-01"))
        .expect("first row");
    assert!(row.trim_start_matches('│').starts_with('>'), "{row}");
}

// ----- against the real service -----

mod with_service {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use adbkeys::keys::AdbPublicKey;
    use adbkeys::keys::private_pem::parse_private_pem;
    use adbkeys::tui::clipboard::{Clipboard, ClipboardEnv, ClipboardMode};
    use adbkeys::tui::runtime::Console;
    use base64::Engine;

    use super::*;

    /// What the console wrote to its "terminal" for the clipboard.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("sink").extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    struct Live {
        console: Console<TestBackend>,
        service: KeyPairService,
        sink: Sink,
        _dir: tempfile::TempDir,
        dir: PathBuf,
    }

    impl Live {
        fn new() -> Self {
            let dir = tempfile::tempdir().expect("temp dir");
            let path = dir.path().to_owned();
            let service = KeyPairService::new(Store::new(path.join("store")).expect("store"));
            let clipboard = Clipboard::with_parts(
                ClipboardMode::Osc52,
                ClipboardEnv::default(),
                Box::new(adbkeys::tui::clipboard::SystemTmux::default()),
                Box::new(adbkeys::tui::clipboard::Arboard::default()),
            );
            let sink = Sink::default();
            let app = App::new(AppOptions {
                tenant: "default".into(),
                store_label: "store".into(),
                utc_offset: FixedOffset::east_opt(0).expect("offset"),
                color: false,
                now: Instant::now(),
                width: 120,
                height: 40,
            });
            let terminal = Terminal::new(TestBackend::new(120, 40)).expect("terminal");
            let console = Console::new(
                terminal,
                app,
                service.clone(),
                clipboard,
                Box::new(sink.clone()),
            );
            Self {
                console,
                service,
                sink,
                _dir: dir,
                dir: path,
            }
        }

        fn send(&mut self, event: AppEvent) {
            self.console.handle(event);
        }

        fn keys(&mut self, text: &str) {
            for character in text.chars() {
                self.send(char_key(character));
            }
        }

        /// Replaces the text of the open path prompt with `path` and presses Enter.
        fn submit_path(&mut self, path: &Path) {
            self.send(ctrl('u'));
            self.keys(&path.display().to_string());
            self.send(press(KeyCode::Enter));
        }

        /// Handles background results until `done` holds (at most 60 s: a key generation on a
        /// machine busy with other work can take several seconds).
        async fn settle(&mut self, done: impl Fn(&App) -> bool) {
            let deadline = Instant::now() + Duration::from_secs(60);
            while !done(&self.console.app) {
                let left = deadline.saturating_duration_since(Instant::now());
                match tokio::time::timeout(left, self.console.next_result()).await {
                    Ok(Some(event)) => self.console.handle(event),
                    _ => panic!(
                        "the console did not reach the expected state in time: dialogs {:?}, \
                         generation {:?}, toast {:?}",
                        self.console.app.dialogs,
                        self.console.app.generation,
                        self.console.app.toast
                    ),
                }
            }
        }
    }

    fn no_dialog_busy(app: &App) -> bool {
        !app.dialogs.iter().any(|dialog| match dialog {
            Dialog::Import(form) => form.busy,
            Dialog::Rename(form) => form.busy,
            Dialog::Path(prompt) => prompt.busy,
            _ => false,
        })
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn create_copy_save_rename_import_export_delete_against_the_store() {
        let mut live = Live::new();
        live.console.start().expect("start");
        live.settle(|app| app.loaded).await;
        assert!(live.console.app.items.is_empty());

        // Create: the key is made while the name is typed, then revealed once.
        live.keys("n");
        live.keys("门禁-phone");
        live.settle(|app| {
            matches!(app.dialogs.last(), Some(Dialog::Create(form))
                if matches!(form.key, PendingKey::Ready(_)))
        })
        .await;
        live.send(press(KeyCode::Enter));
        live.settle(|app| matches!(app.dialogs.last(), Some(Dialog::Reveal(_))))
            .await;
        let stored = live.service.list_details("default").expect("list");
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].key_pair_name, "门禁-phone");

        // Copy: one OSC 52 sequence whose payload is a PEM of the stored key.
        live.keys("c");
        let written = live.sink.0.lock().expect("sink").clone();
        let text = String::from_utf8(written).expect("utf-8");
        let payload = text
            .strip_prefix("\u{1b}]52;c;")
            .and_then(|rest| rest.strip_suffix('\u{7}'))
            .expect("one OSC 52 sequence");
        let pem = base64::engine::general_purpose::STANDARD
            .decode(payload)
            .expect("base64");
        let private = parse_private_pem(&pem).expect("a PEM private key");
        let public = AdbPublicKey::from_rsa(&private.to_public_key()).expect("ADB public key");
        assert!(
            stored[0].public_key_body.starts_with(&public.to_base64()),
            "the copied private key belongs to the stored public key"
        );
        assert!(live.console.app.secret_deadline.is_some());

        // Save beside it: mode 0600 and the .pub line.
        live.keys("s");
        let saved = live.dir.join("door.adbkey");
        live.submit_path(&saved);
        live.settle(no_dialog_busy).await;
        assert_eq!(std::fs::read(&saved).expect("saved"), pem);
        let public_file =
            std::fs::read_to_string(live.dir.join("door.adbkey.pub")).expect("pub file");
        assert_eq!(public_file.trim_end(), stored[0].public_key_body);
        live.send(press(KeyCode::Esc));
        assert!(
            live.console.app.dialogs.is_empty(),
            "saved and copied: closes at once"
        );

        // Rename (once the list read after the create has come back).
        live.settle(|app| app.items.len() == 1).await;
        live.keys("r");
        live.send(ctrl('u'));
        live.keys("door-phone");
        live.send(press(KeyCode::Enter));
        live.settle(|app| app.dialogs.is_empty()).await;
        let renamed = live.service.list_details("default").expect("list");
        assert_eq!(renamed[0].key_pair_name, "door-phone");

        // Import a pasted adbkey.pub, then the same key again from a file: refused in the form.
        live.keys("i");
        live.keys("laptop");
        live.send(press(KeyCode::Enter));
        let pasted = std::fs::read_to_string(cases().join("adbkey.pub")).expect("case");
        live.send(AppEvent::Paste(pasted));
        live.send(press(KeyCode::Enter));
        live.settle(|app| app.dialogs.is_empty()).await;
        let imported = live.service.list_details("default").expect("list");
        let laptop = imported
            .iter()
            .find(|item| item.key_pair_name == "laptop")
            .expect("imported");
        assert_eq!(laptop.fingerprint_md5, CASE_MD5);

        live.keys("i");
        live.keys("laptop-again");
        live.send(press(KeyCode::Enter));
        live.keys(&cases().join("adbkey").display().to_string());
        live.send(press(KeyCode::Enter));
        live.settle(no_dialog_busy).await;
        match live.console.app.dialogs.last() {
            Some(Dialog::Import(form)) => {
                let error = form.error.as_deref().expect("a duplicate is refused");
                assert!(error.contains(&laptop.key_pair_id), "{error}");
            }
            other => panic!("{other:?}"),
        }
        live.send(press(KeyCode::Esc));

        // Export the tenant's adb_keys.
        live.settle(|app| app.items.len() == 2).await;
        live.keys("e");
        let exported = live.dir.join("adb_keys");
        live.submit_path(&exported);
        live.settle(|app| app.dialogs.is_empty()).await;
        let expected = live
            .service
            .export_adb_keys("default", &[])
            .expect("export");
        assert_eq!(
            std::fs::read_to_string(&exported).expect("adb_keys"),
            expected
        );
        assert_eq!(expected.lines().count(), 2);

        // Delete both, confirmed.
        live.keys("g j ");
        live.keys("d");
        live.send(press(KeyCode::Tab));
        live.send(press(KeyCode::Enter));
        live.settle(|app| app.loaded && app.items.is_empty() && app.marked.is_empty())
            .await;
        assert!(
            live.service
                .list_details("default")
                .expect("list")
                .is_empty()
        );

        // Quit clears the copied key: an empty OSC 52 selection follows.
        live.sink.0.lock().expect("sink").clear();
        live.send(ctrl('c'));
        assert!(live.console.app.quitting);
        let cleared = live.sink.0.lock().expect("sink").clone();
        assert_eq!(cleared, b"\x1b]52;c;\x07");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_terminal_that_goes_away_still_gets_the_copied_key_cleared() {
        let mut live = Live::new();
        live.console.start().expect("start");
        live.send(AppEvent::Done(created(
            1,
            "new-phone",
            fake_pem(),
            "QAAAAFAKE user@host",
        )));
        live.keys("c");
        assert!(
            live.console.app.secret_deadline.is_some(),
            "the key was sent by OSC 52"
        );
        live.sink.0.lock().expect("sink").clear();

        // The terminal is gone (EIO on read, as after a dropped SSH connection).
        let input = futures::stream::iter(vec![Err(std::io::Error::from_raw_os_error(5))]);
        let result = live.console.run(input, std::future::pending()).await;
        assert!(result.is_err());
        assert!(live.console.app.quitting);
        assert_eq!(
            live.sink.0.lock().expect("sink").as_slice(),
            b"\x1b]52;c;\x07"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn another_sessions_changes_show_within_two_seconds() {
        let mut live = Live::new();
        live.console.start().expect("start");
        live.settle(|app| app.loaded).await;

        let other = live.service.clone();
        let body = std::fs::read(cases().join("adbkey.pub")).expect("case");
        other
            .import_key_pair(&adbkeys::service::ImportKeyPairRequest {
                tenant: "default".into(),
                key_pair_name: "from-a-script".into(),
                input: adbkeys::keys::import::ImportInput::PublicKey,
                body: Zeroizing::new(body),
            })
            .expect("import from another session");

        let started = Instant::now();
        let deadline = started + Duration::from_secs(2);
        let mut interval = tokio::time::interval(adbkeys::tui::runtime::TICK);
        while live.console.app.items.is_empty() {
            assert!(Instant::now() < deadline, "not shown within 2 s");
            tokio::select! {
                _ = interval.tick() => live.send(AppEvent::Tick(Instant::now())),
                Some(event) = live.console.next_result() => live.send(event),
            }
        }
        assert_eq!(live.console.app.items[0].key_pair_name, "from-a-script");
    }
}

#[test]
fn the_documented_bindings_are_the_binding_table() {
    let mut markdown = String::new();
    for (heading, entries) in adbkeys::tui::keymap::help_sections() {
        markdown.push_str(&format!(
            "\n**{heading}**\n\n| keys | action |\n|---|---|\n"
        ));
        for (keys, description) in entries {
            markdown.push_str(&format!(
                "| `{}` | {description} |\n",
                keys.replace('|', "\\|")
            ));
        }
    }
    let doc_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/console.md");
    let doc = std::fs::read_to_string(doc_path).expect("docs/console.md");
    assert!(
        doc.contains(markdown.trim()),
        "docs/console.md must list the bindings as the table has them:\n{markdown}"
    );
}

/// Pastes `text` into the import form named `name` and runs the import against a real store;
/// gives the screen after the paste, the result, the service and its temp dir.
fn import_pasted(
    name: &str,
    text: String,
) -> (String, JobResult, KeyPairService, tempfile::TempDir) {
    let (dir, service) = temp_service();
    let mut drive = Drive::sample();
    drive.ch('i');
    drive.type_text(name);
    drive.send(AppEvent::Paste(text));
    let screen = screen_of(&drive.app, 80, 24);

    drive.key(KeyCode::Enter);
    let result = jobs::perform(&service, drive.take_last_job("import"));
    (screen, result, service, dir)
}

#[test]
fn a_paste_with_cr_line_breaks_imports_a_private_key_or_a_wrapped_public_key() {
    // Terminals send pasted line breaks as CR.
    let pem = std::fs::read_to_string(cases().join("adbkey")).expect("case");
    let (screen, result, service, _dir) = import_pasted("laptop", pem.replace('\n', "\r"));
    assert!(
        screen.contains("pasted a private key PEM (28 lines)"),
        "{screen}"
    );
    assert_eq!(imported_fingerprint(result, &service), CASE_MD5);

    let public = std::fs::read_to_string(cases().join("adbkey.pub")).expect("case");
    let (base64, comment) = public.split_once(' ').expect("a comment");
    let wrapped: Vec<&str> = base64
        .as_bytes()
        .chunks(76)
        .map(|chunk| std::str::from_utf8(chunk).expect("ascii"))
        .collect();
    let text = format!("{} {comment}\r", wrapped.join("\r"));
    let (screen, result, service, _dir) = import_pasted("wrapped", text);
    assert!(screen.contains("pasted (10 lines)"), "{screen}");
    assert_eq!(imported_fingerprint(result, &service), CASE_MD5);
}

#[test]
fn a_saved_pair_is_byte_for_byte_what_adb_keygen_writes() {
    let (dir, service) = temp_service();
    let target = dir.path().join("adbkey");
    let pem = std::fs::read_to_string(cases().join("adbkey")).expect("case");
    let public = std::fs::read(cases().join("adbkey.pub")).expect("case");
    let line = std::str::from_utf8(&public).expect("text");

    let mut drive = reveal_drive_with(Zeroizing::new(pem.clone()), line);
    save_through_the_prompt(&mut drive, &service, &target);

    // `adb keygen` writes the .pub line without a final newline; the CLI's `create --output`
    // does the same.
    assert_eq!(std::fs::read(&target).expect("saved"), pem.as_bytes());
    assert_eq!(
        std::fs::read(dir.path().join("adbkey.pub")).expect("saved .pub"),
        public
    );
}

#[test]
fn an_error_names_its_operation_once() {
    // The rows are not in this empty store, so the real service refuses the deletion.
    let (_dir, service) = temp_service();
    let mut drive = Drive::sample();
    drive.delete_confirmed();
    let job = drive.take_last_job("delete");
    let Job::Delete { key_pair_ids, .. } = &job else {
        unreachable!("take_last_job gives a delete")
    };
    let id = key_pair_ids[0].clone();
    drive.perform(&service, job);

    let toast = drive.app.toast.as_ref().expect("an error toast");
    assert!(toast.error);
    assert_eq!(
        toast.text,
        format!("delete: no key pair '{id}' in tenant 'default'")
    );
}
