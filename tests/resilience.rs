//! Resilience of the store and the binary: SIGKILL in the middle of writes, rapid reopening,
//! a full disk, a store of another user, bounded growth, no private key left on disk and no
//! core dumps; plus proptests over every parser of user input (in `resilience/properties.rs`).
//!
//! Long versions and the commands to repeat them are in docs/resilience.md.

#[path = "support/child.rs"]
mod child;
#[path = "resilience/properties.rs"]
mod properties;
#[path = "support/secrets.rs"]
mod secrets;
#[path = "support/store_data.rs"]
mod store_data;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use adbkeys::keys::generate_key_pair;
use adbkeys::keys::import::ImportInput;
use adbkeys::rules::KEY_PAIR_QUOTA;
use adbkeys::service::{CreateKeyPairRequest, ImportKeyPairRequest, KeyPairService};
use adbkeys::store::{KeyPairRecord, Store, StoreError};
use tempfile::TempDir;
use zeroize::Zeroizing;

use child::{ChildProcess, ChildRequest};
use secrets::{assert_none_in_store_or_log, files_holding, secret_windows};
use store_data::{directory_size, synthetic_record};

// Shared helpers.

fn new_store() -> (TempDir, Store) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let store = Store::new(dir.path().join("store")).expect("a new store");
    (dir, store)
}

/// Panics with every problem when the store does not hold together.
fn assert_consistent(store: &Store) -> adbkeys::store::ConsistencyReport {
    let report = store
        .check_consistency()
        .expect("the store opens and can be walked");
    assert!(
        report.is_consistent(),
        "the store is inconsistent:\n{}",
        report.problems.join("\n")
    );
    report
}

/// A small seeded generator (xorshift64*), so a failing round can be told by its seed.
struct Random(u64);

impl Random {
    fn from_clock() -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_nanos() as u64;
        Self(nanos | 1)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % bound
    }
}

// Child processes: the test binary runs itself (see `child_process_entry`).

/// Not a test: what a child process started by the tests below does, chosen by its
/// [`ChildRequest`]. Run without one, it does nothing.
#[test]
#[ignore = "run only as a child process of the tests in this file"]
fn child_process_entry() {
    let Some(ChildRequest { role, dir, arg }) = ChildRequest::of_this_process() else {
        return;
    };

    match role.as_str() {
        "create-and-import" => create_and_import_until_killed(&dir, &arg),
        "cycle" => {
            let (seed, cycles) = arg.split_once(':').expect("SEED:CYCLES");
            let store = Store::new(&dir).expect("the store");
            let seed: u64 = seed.parse().expect("a seed");
            open_close_cycles(&store, seed, cycles.parse().expect("a number of cycles"));
            println!("cycled {cycles}");
        }
        "core-limit" => {
            adbkeys::secrets::disable_core_dumps().expect("setrlimit");
            let limit = rustix::process::getrlimit(rustix::process::Resource::Core);
            println!("core limit {:?} {:?}", limit.current, limit.maximum);
        }
        other => panic!("unknown child role '{other}'"),
    }
}

/// Imports the public keys listed in `pool` (one `adbkey.pub` line each) into `tenant`, and
/// creates key pairs, in turn, forever; prints `done TENANT ID OPENS` after each success, with
/// the number of times it has opened the store. After about half of its operations (drawn from
/// `seed`) it releases the store, so that the next one opens it again and a kill can land in
/// an open, not only in the writes of a store held open while busy.
fn create_and_import_until_killed(dir: &Path, arg: &str) {
    let (tenant, rest) = arg.split_once(':').expect("TENANT:SEED:POOL_FILE");
    let (seed, pool) = rest.split_once(':').expect("TENANT:SEED:POOL_FILE");
    let mut random = Random(seed.parse().expect("a seed"));
    let pool = std::fs::read_to_string(pool).expect("the key pool");
    let lines: Vec<&str> = pool.lines().collect();
    let service = KeyPairService::new(Store::new(dir).expect("the store"));
    println!("started");

    for index in 0.. {
        let name = format!("k{index}");
        let id = if index % 3 == 2 {
            let request = CreateKeyPairRequest {
                tenant: tenant.to_string(),
                key_pair_name: name,
            };
            let summary = service.create_key_pair(&request).expect("create");
            Some(summary.key_pair_id)
        } else {
            let request = ImportKeyPairRequest {
                tenant: tenant.to_string(),
                key_pair_name: name,
                input: ImportInput::PublicKey,
                body: Zeroizing::new(lines[index % lines.len()].as_bytes().to_vec()),
            };
            match service.import_key_pair(&request) {
                Ok(summary) => Some(summary.key_pair_id),
                // The pool is smaller than a long round: a key already imported is skipped.
                Err(error) if error.code == adbkeys::error::ErrorCode::DuplicatePublicKey => None,
                Err(error) => panic!("import: {error}"),
            }
        };
        if let Some(id) = id {
            println!("done {tenant} {id} {}", service.store().open_count());
        }
        if random.below(2) == 0 {
            service.store().release();
        }
    }
}

/// Opens and closes the store `cycles` times, each time with an operation: inserts, a count,
/// a list, a deletion. Any error fails.
fn open_close_cycles(store: &Store, seed: u64, cycles: u64) {
    let tenant = format!("cycles-{seed}");
    let mut live: Vec<String> = Vec::new();
    for cycle in 0..cycles {
        match cycle % 4 {
            0 | 1 => {
                let record =
                    synthetic_record(&tenant, &format!("k{cycle}"), seed * 100_000 + cycle);
                store.insert(&record, KEY_PAIR_QUOTA).expect("insert");
                live.push(record.key_pair_id);
            }
            2 => assert_eq!(store.count(&tenant).expect("count"), live.len()),
            _ => {
                assert_eq!(store.list(&tenant).expect("list").len(), live.len());
                let id = live.remove(0);
                store.delete(&tenant, &[id]).expect("delete");
            }
        }

        // Close after every operation, so that each cycle opens the database anew rather than
        // reusing the one a busy process holds.
        store.release();
    }
}

// Crash safety.

/// The public key lines of `count` freshly generated key pairs.
fn key_pool(count: usize) -> String {
    (0..count)
        .map(|_| {
            let generated = generate_key_pair().expect("a key pair");
            generated.public.to_line("pool@test") + "\n"
        })
        .collect()
}

#[test]
fn sigkill_at_random_moments_loses_no_reported_write_and_leaves_no_half_record() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let store = Store::new(dir.path().join("store")).expect("a store");
    let pool_path = dir.path().join("pool.pub");
    std::fs::write(&pool_path, key_pool(24)).expect("write the key pool");

    let mut random = Random::from_clock();
    println!("random seed {}", random.0);
    let mut reported: Vec<(String, String)> = Vec::new();
    let mut killed_while_running = 0;
    let mut opens = 0;

    for round in 0..20 {
        let tenant = format!("round-{round}");
        let child_seed = random.below(u64::MAX) | 1;
        let arg = format!("{tenant}:{child_seed}:{}", pool_path.display());
        let mut child = ChildProcess::spawn("create-and-import", store.path(), &arg);

        // Let it get going, then kill it somewhere in its writes or its opens of the store.
        let started = Instant::now();
        let delay = Duration::from_millis(30 + random.below(400));
        thread::sleep(delay);
        let still_running = child.child.try_wait().expect("the child's state").is_none();
        child.child.kill().expect("SIGKILL the child");
        let status = child.child.wait().expect("the child ends");
        let lines = child.lines_with("done ");
        assert!(
            still_running,
            "round {round}: the child ended before it was killed ({status}): {}",
            child.stderr()
        );
        killed_while_running += 1;

        let mut round_opens = 0;
        for line in &lines {
            let fields: Vec<&str> = line.split(' ').collect();
            let [line_tenant, id, opened] = fields[..] else {
                panic!("round {round}: not TENANT ID OPENS: '{line}'");
            };
            reported.push((line_tenant.to_string(), id.to_string()));
            round_opens = opened.parse().expect("a number of opens");
        }
        opens += round_opens;
        println!(
            "round {round}: child seed {child_seed}, killed after {:?}, {} successes and {} \
             opens of the store reported in this round",
            started.elapsed(),
            lines.len(),
            round_opens
        );

        // The store opens, holds together, and keeps every write that reported success.
        let report = assert_consistent(&store);
        for (tenant, id) in &reported {
            assert!(
                store.get(tenant, id).expect("get").is_some(),
                "round {round}: '{id}' in '{tenant}' was reported as stored but is missing"
            );
        }
        for tenant_count in &report.tenants {
            assert_eq!(
                store.count(&tenant_count.tenant).expect("count"),
                tenant_count.key_pair_count,
                "round {round}: the counter of '{}' differs from its records",
                tenant_count.tenant
            );
        }
    }

    assert_eq!(killed_while_running, 20);
    assert!(
        reported.len() >= 20,
        "only {} successes in 20 rounds: the kills came too early to test anything",
        reported.len()
    );
    // Without the releases the child opens the store about once a round.
    assert!(
        opens >= 40,
        "only {opens} opens reported in 20 rounds: the kills can hardly land in an open"
    );
}

// Rapid reopening.

#[test]
fn one_thousand_open_close_cycles_in_one_process() {
    let (_dir, store) = new_store();
    let opened_before = store.open_count();

    open_close_cycles(&store, 1, 1000);

    assert_eq!(store.open_count() - opened_before, 1000);
    assert_consistent(&store);
}

#[test]
fn one_thousand_open_close_cycles_in_each_of_two_processes_at_once() {
    let (_dir, store) = new_store();
    let mut children: Vec<ChildProcess> = [2, 3]
        .iter()
        .map(|seed| ChildProcess::spawn("cycle", store.path(), &format!("{seed}:1000")))
        .collect();

    for child in &mut children {
        let done = child.lines_with("cycled ");
        let status = child.child.wait().expect("the child ends");
        assert!(
            status.success() && done == ["1000"],
            "a child failed ({status}): {}",
            child.stderr()
        );
    }
    // Each child's cycles insert twice and delete once in every four.
    let report = assert_consistent(&store);
    assert_eq!(report.records, 2 * 1000 / 4);
}

// A full disk.

/// A tmpfs mounted for one test and unmounted when it ends, also when it fails.
struct TmpfsMount {
    dir: TempDir,
}

impl TmpfsMount {
    fn new(size: &str) -> Self {
        let dir = tempfile::tempdir().expect("a temp dir");
        let output = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir.path())
            .output()
            .expect("run mount");
        assert!(
            output.status.success(),
            "this test mounts a {size} tmpfs to fill it, which needs root (or CAP_SYS_ADMIN): \
             mount said: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
        Self { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for TmpfsMount {
    fn drop(&mut self) {
        let unmounted = Command::new("umount").arg(self.dir.path()).status();
        if !unmounted.is_ok_and(|status| status.success()) {
            let _ = Command::new("umount")
                .arg("-l")
                .arg(self.dir.path())
                .status();
        }
    }
}

/// Writes zeros to `path` until the file system refuses.
fn fill_until_full(path: &Path) {
    use std::io::Write;

    let mut file = std::fs::File::create(path).expect("the filler file");
    let chunk = vec![0u8; 16 * 1024];
    loop {
        if let Err(error) = file.write_all(&chunk).and_then(|()| file.sync_all()) {
            assert_eq!(
                error.raw_os_error(),
                Some(rustix::io::Errno::NOSPC.raw_os_error()),
                "{error}"
            );
            break;
        }
    }
    // What fits in the last partial chunk, byte by byte would be slow; small ones are enough.
    let small = [0u8; 512];
    while file
        .write_all(&small)
        .and_then(|()| file.sync_all())
        .is_ok()
    {}
}

#[test]
fn a_full_disk_fails_the_insert_clearly_and_keeps_earlier_keys() {
    let mount = TmpfsMount::new("8m");
    let store = Store::new(mount.path().join("store")).expect("a store on the tmpfs");
    let earlier: Vec<KeyPairRecord> = (0..20)
        .map(|seed| synthetic_record("default", &format!("early{seed}"), seed))
        .collect();
    for record in &earlier {
        store
            .insert(record, KEY_PAIR_QUOTA)
            .expect("insert while there is room");
    }

    let filler = mount.path().join("filler");
    fill_until_full(&filler);

    // sled may still have room in a segment it already holds: insert until it runs out.
    let mut inserted_after = Vec::new();
    let mut failure = None;
    for seed in 100..2100 {
        let record = synthetic_record("default", &format!("late{seed}"), seed);
        match store.insert(&record, KEY_PAIR_QUOTA) {
            Ok(()) => inserted_after.push(record),
            Err(error) => {
                failure = Some(error);
                break;
            }
        }
        if inserted_after.len() + earlier.len() >= KEY_PAIR_QUOTA {
            break;
        }
    }
    let failure = failure.expect("an insert on a full disk fails");
    println!(
        "{} inserts fitted after the disk was full; then: {failure}",
        inserted_after.len()
    );

    let message = failure.to_string();
    assert!(
        matches!(failure, StoreError::Io { .. } | StoreError::Corrupt { .. }),
        "{failure:?}"
    );
    assert!(
        message.contains(&store.path().display().to_string()),
        "the error does not name the store: {message}"
    );
    assert!(
        message.contains("No space left on device"),
        "the error does not say the disk is full: {message}"
    );

    // A read on the full disk is refused as clearly (sled writes while it opens, and a failed
    // write would damage the store), and damages nothing.
    let refused = store.list("default").expect_err("a read on a full disk");
    assert_eq!(refused.to_string(), message);

    // With room again, the store opens and holds every key that was reported stored.
    std::fs::remove_file(&filler).expect("free the space");
    let report = assert_consistent(&store);
    assert_eq!(report.records, earlier.len() + inserted_after.len());
    for record in earlier.iter().chain(&inserted_after) {
        assert_eq!(
            store
                .get("default", &record.key_pair_id)
                .expect("get")
                .as_ref(),
            Some(record)
        );
    }
    store
        .insert(&synthetic_record("default", "after", 9999), KEY_PAIR_QUOTA)
        .expect("insert once there is room again");
}

// A store directory owned by another user.

/// The adbkeys binary, copied where the user `nobody` can run it.
fn binary_for_nobody(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;

    let copy = dir.join("adbkeys");
    std::fs::copy(env!("CARGO_BIN_EXE_adbkeys"), &copy).expect("copy the binary");
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    copy
}

/// Runs `binary ARGS` as the user nobody, with HOME pointing nowhere useful.
fn run_as_nobody(binary: &Path, args: &[&str]) -> std::process::Output {
    let output = Command::new("setpriv")
        .args([
            "--reuid",
            "nobody",
            "--regid",
            "nogroup",
            "--clear-groups",
            "--",
        ])
        .arg(binary)
        .args(args)
        .env("HOME", "/nonexistent")
        .env_remove("ADBKEYS_STORE")
        .output()
        .expect("setpriv (util-linux) runs; install util-linux");
    assert!(
        !String::from_utf8_lossy(&output.stderr).contains("setpriv:"),
        "this test runs adbkeys as nobody, which needs root: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[test]
fn a_store_directory_of_another_user_is_an_error_naming_it() {
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().expect("a temp dir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let binary = binary_for_nobody(dir.path());

    // A store of root's (mode 0700, as Store::new makes it) with a key pair in it.
    let store = Store::new(dir.path().join("store")).expect("a store");
    store
        .insert(&synthetic_record("default", "roots", 1), KEY_PAIR_QUOTA)
        .expect("insert");
    let path = store.path().display().to_string();

    for args in [
        vec!["--store", &path, "list"],
        vec!["--store", &path, "--json", "list"],
        vec!["--store", &path, "tenants"],
    ] {
        let output = run_as_nobody(&binary, &args);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        println!("{args:?}: {} / {stdout} / {stderr}", output.status);

        assert!(!output.status.success(), "{args:?} succeeded: {stdout}");
        let said = format!("{stdout}{stderr}");
        assert!(
            said.contains(&path),
            "{args:?} does not name '{path}': {said}"
        );
        assert!(
            said.contains("Permission denied"),
            "{args:?} does not say why: {said}"
        );
        assert!(!said.contains("panicked"), "{args:?} panicked: {said}");
    }

    // Nothing was changed for root.
    assert_eq!(store.list("default").expect("list").len(), 1);
    assert_consistent(&store);
}

// Space.

/// Fills a tenant with `per_round` records and deletes them all, `rounds` times; returns the
/// store's size after each round.
fn churn(store: &Store, rounds: u64, per_round: u64) -> Vec<u64> {
    let mut sizes = Vec::new();
    for round in 0..rounds {
        let records: Vec<KeyPairRecord> = (0..per_round)
            .map(|index| synthetic_record("churn", &format!("k{index}"), index))
            .collect();
        for record in &records {
            store.insert(record, KEY_PAIR_QUOTA).expect("insert");
        }
        assert_eq!(store.count("churn").expect("count"), per_round as usize);

        for batch in records.chunks(50) {
            let ids: Vec<String> = batch.iter().map(|r| r.key_pair_id.clone()).collect();
            store.delete("churn", &ids).expect("delete");
        }
        assert_eq!(store.count("churn").expect("count"), 0);

        let size = directory_size(store.path());
        println!("round {round}: {size} bytes on disk");
        sizes.push(size);
    }
    sizes
}

#[test]
fn twenty_rounds_of_filling_and_emptying_a_tenant_keep_the_store_bounded() {
    let (_dir, store) = new_store();
    // A neighbour that stays, so the store is never trivially empty.
    for seed in 0..10 {
        let record = synthetic_record("stays", &format!("s{seed}"), 1_000_000 + seed);
        store.insert(&record, KEY_PAIR_QUOTA).expect("insert");
    }

    let sizes = churn(&store, 20, 500);
    let first = sizes[0];
    for (round, size) in sizes.iter().enumerate() {
        assert!(
            *size < 3 * first,
            "after round {round} the store is {size} bytes, over 3x the first round's {first}"
        );
    }
    let report = assert_consistent(&store);
    assert_eq!(report.records, 10);
}

/// The long version with real keys: 20 rounds of creating 500 key pairs through the service
/// (10,000 RSA generations, several minutes) and deleting them.
#[test]
#[ignore = "long: run with --ignored, see docs/resilience.md"]
fn twenty_rounds_of_creating_500_real_key_pairs_keep_the_store_bounded() {
    let (_dir, store) = new_store();
    let service = KeyPairService::new(store.clone());
    let mut sizes = Vec::new();
    for round in 0..20 {
        let mut ids = Vec::new();
        for index in 0..500 {
            let request = CreateKeyPairRequest {
                tenant: "churn".to_string(),
                key_pair_name: format!("k{index}"),
            };
            ids.push(
                service
                    .create_key_pair(&request)
                    .expect("create")
                    .key_pair_id,
            );
        }
        for batch in ids.chunks(50) {
            service.delete_key_pairs("churn", batch).expect("delete");
        }
        let size = directory_size(store.path());
        println!("round {round}: {size} bytes on disk");
        sizes.push(size);
    }
    assert!(sizes.iter().all(|size| *size < 3 * sizes[0]), "{sizes:?}");
    assert_consistent(&store);
}

// Secrets (the hunt itself is in support/secrets.rs, shared with tests/console_tmux.rs).

fn adbkeys_command(store: &Path, state: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_adbkeys"));
    command
        .arg("--store")
        .arg(store)
        .env("XDG_STATE_HOME", state)
        .env("HOME", state)
        .env_remove("ADBKEYS_STORE");
    command
}

fn run_ok(mut command: Command) -> String {
    let output = command.output().expect("adbkeys runs");
    assert!(
        output.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

#[test]
fn no_private_key_is_left_under_the_store_or_the_log_directory() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let store_path = dir.path().join("store");
    let state = dir.path().join("state");
    let saved = dir.path().join("saved");
    std::fs::create_dir_all(&state).expect("the state directory");
    std::fs::create_dir_all(&saved).expect("the saved-keys directory");
    let mut secrets = HashSet::new();

    // The CLI: create with the key printed, create with it saved, import a private key.
    let mut create = adbkeys_command(&store_path, &state);
    create.args(["--json", "create", "printed"]);
    let printed: serde_json::Value = serde_json::from_str(&run_ok(create)).expect("JSON");
    let printed_pem = printed["Data"]["PrivateKeyBody"]
        .as_str()
        .unwrap_or_else(|| panic!("no PrivateKeyBody in {printed}"))
        .to_string();
    secret_windows(&printed_pem, &mut secrets);

    let saved_key = saved.join("adbkey");
    let mut create = adbkeys_command(&store_path, &state);
    create
        .args(["create", "saved", "--save-private"])
        .arg(&saved_key);
    run_ok(create);
    secret_windows(
        &std::fs::read_to_string(&saved_key).expect("the saved key"),
        &mut secrets,
    );

    let case_key = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/cases/adbkey");
    let mut import = adbkeys_command(&store_path, &state);
    import
        .args(["import", "imported", "--private-key"])
        .arg(&case_key);
    run_ok(import);
    secret_windows(
        &std::fs::read_to_string(&case_key).expect("the case key"),
        &mut secrets,
    );

    // The service in this process: create and import.
    let service = KeyPairService::new(Store::new(&store_path).expect("the store"));
    let created = service
        .create_key_pair(&CreateKeyPairRequest {
            tenant: "default".to_string(),
            key_pair_name: "in-process".to_string(),
        })
        .expect("create");
    secret_windows(&created.private_key_body, &mut secrets);
    let generated = generate_key_pair().expect("a key pair");
    secret_windows(&generated.private_pem, &mut secrets);
    service
        .import_key_pair(&ImportKeyPairRequest {
            tenant: "default".to_string(),
            key_pair_name: "in-process-import".to_string(),
            input: ImportInput::PrivateKey,
            body: Zeroizing::new(generated.private_pem.as_bytes().to_vec()),
        })
        .expect("import");

    // Reads that touch every record.
    for args in [vec!["list"], vec!["tenants"], vec!["export-adb-keys"]] {
        let mut command = adbkeys_command(&store_path, &state);
        command.args(&args);
        run_ok(command);
    }
    assert_eq!(store_with_count(&store_path), 5);

    // The hunt is meaningful: it finds the keys where they were knowingly written.
    assert_eq!(files_holding(&saved, &secrets).len(), 1);
    assert_none_in_store_or_log(&store_path, &state, &secrets);
}

fn store_with_count(path: &Path) -> usize {
    let store = Store::new(path).expect("the store");
    assert_consistent(&store);
    store.count("default").expect("count")
}

/// Run in a child process, so that the limit it lowers for good is not the test binary's
/// (the other tests start processes that must be able to raise theirs).
#[test]
fn disable_core_dumps_sets_both_limits_to_zero() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut child = ChildProcess::spawn("core-limit", dir.path(), "");
    let limits = child.lines_with("core limit ");
    let status = child.child.wait().expect("the child ends");
    assert!(status.success(), "{}", child.stderr());
    assert_eq!(limits, ["Some(0) Some(0)"]);
}

/// The binary turns core dumps off before it does anything else: while it waits for a store
/// this test holds locked (before it has generated a key), /proc shows its limit at 0, though
/// it was started with unlimited core dumps.
#[test]
fn the_binary_runs_with_core_dumps_off() {
    let (_dir, store) = new_store();
    store.count("default").expect("the store is set up");
    let lock = std::fs::OpenOptions::new()
        .write(true)
        .open(store.path().join("adbkeys.lock"))
        .expect("the store's lock file");
    lock.lock().expect("hold the store");

    let child = Command::new("prlimit")
        .args(["--core=unlimited", "--"])
        .arg(env!("CARGO_BIN_EXE_adbkeys"))
        .arg("--store")
        .arg(store.path())
        .args(["create", "waiting"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("prlimit (util-linux) runs; install util-linux");
    let mut child = ChildProcess::new(child);
    let limits_path = format!("/proc/{}/limits", child.child.id());

    let deadline = Instant::now() + Duration::from_secs(10);
    let core_line = loop {
        let limits = std::fs::read_to_string(&limits_path).unwrap_or_default();
        let line = limits
            .lines()
            .find(|line| line.starts_with("Max core file size"))
            .map(str::to_string);
        // prlimit execs adbkeys: wait until the process is adbkeys and has set its limit.
        let comm =
            std::fs::read_to_string(format!("/proc/{}/comm", child.child.id())).unwrap_or_default();
        if comm.trim() == "adbkeys"
            && let Some(line) = line.as_ref().filter(|line| !line.contains("unlimited"))
        {
            break line.clone();
        }
        assert!(
            Instant::now() < deadline && child.child.try_wait().expect("its state").is_none(),
            "adbkeys did not turn core dumps off within 10 s: {line:?} (process {comm:?}): {}",
            child.stderr()
        );
        thread::sleep(Duration::from_millis(5));
    };
    let fields: Vec<&str> = core_line.split_whitespace().collect();
    assert_eq!(fields[4..6], ["0", "0"], "{core_line}");

    lock.unlock().expect("release the store");
    let status = child.child.wait().expect("adbkeys ends");
    assert!(status.success(), "create failed: {}", child.stderr());
    assert_eq!(store.count("default").expect("count"), 1);
}
