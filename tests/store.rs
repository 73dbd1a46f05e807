//! The key-pair store through its public interface: operations, uniqueness, the quota under
//! concurrency, reopening, holding the store open while busy and releasing it, the wait on
//! another process's lock, and damaged stores.

#[path = "support/child.rs"]
mod child;

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;
use std::thread;
use std::time::{Duration as StdDuration, Instant};

use adbkeys::rules::{KEY_PAIR_QUOTA, new_key_pair_id};
use adbkeys::store::{KeyPairRecord, SCHEMA_VERSION, Source, Store, StoreError, TenantCount};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Duration, TimeZone, Utc};
use tempfile::TempDir;

use child::{ChildProcess, ChildRequest};

/// A distinct 524-byte stand-in for an ADB public key structure. The store only hashes it,
/// so its content need not be a valid RSA key.
fn blob(seed: u32) -> Vec<u8> {
    let mut bytes = vec![0u8; 524];
    for (index, byte) in bytes.iter_mut().enumerate() {
        *byte = (seed.wrapping_mul(31).wrapping_add(index as u32) % 251) as u8;
    }
    bytes[..4].copy_from_slice(&seed.to_le_bytes());
    bytes
}

fn base_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 6, 30, 8, 45, 9)
        .single()
        .expect("a valid time")
}

fn record(tenant: &str, name: &str, seed: u32) -> KeyPairRecord {
    KeyPairRecord {
        schema: SCHEMA_VERSION,
        tenant: tenant.to_string(),
        key_pair_id: new_key_pair_id(),
        key_pair_name: name.to_string(),
        public_key_line: format!("{} user@host", BASE64.encode(blob(seed))),
        source: Source::Imported,
        created: base_time() + Duration::seconds(i64::from(seed)),
    }
}

fn new_store() -> (TempDir, Store) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let store = Store::new(dir.path().join("store")).expect("a new store");
    (dir, store)
}

fn ids(records: &[KeyPairRecord]) -> Vec<String> {
    records.iter().map(|r| r.key_pair_id.clone()).collect()
}

/// Inserts a record named `k{seed}` into tenant `default` for each seed, in turn; gives them.
fn insert_numbered(store: &Store, seeds: std::ops::Range<u32>) -> Vec<KeyPairRecord> {
    let records: Vec<KeyPairRecord> = seeds
        .map(|seed| record("default", &format!("k{seed}"), seed))
        .collect();
    for r in &records {
        store.insert(r, KEY_PAIR_QUOTA).expect("insert");
    }
    records
}

#[test]
fn new_creates_the_directory_and_parents_with_mode_0700() {
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("a/b/store");
    let store = Store::new(&path).expect("a new store");
    assert_eq!(store.path(), path);

    let mode = std::fs::metadata(&path)
        .expect("the directory")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);

    // Usable at once, and empty.
    assert_eq!(store.list("default").expect("list"), vec![]);
    assert_eq!(store.tenants().expect("tenants"), vec![]);
}

#[test]
fn default_path_is_under_xdg_data_home() {
    // Read only: the variable is not changed, so tests running in parallel are not disturbed.
    let path = Store::default_path().expect("a home directory");
    assert!(path.ends_with("adbkeys"), "{}", path.display());
    if let Some(data_home) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        assert_eq!(path, Path::new(&data_home).join("adbkeys"));
    } else {
        let home = std::env::var_os("HOME").expect("HOME is set");
        assert_eq!(path, Path::new(&home).join(".local/share/adbkeys"));
    }
}

#[test]
fn insert_get_list_rename_delete_and_tenants() {
    let (_dir, store) = new_store();
    let later = record("default", "later", 20);
    let earlier = record("default", "中文key", 10);
    let other = record("team-b", "later", 30);
    for r in [&later, &earlier, &other] {
        store.insert(r, KEY_PAIR_QUOTA).expect("insert");
    }

    // Oldest first, whatever the insertion order.
    let listed = store.list("default").expect("list");
    assert_eq!(listed, vec![earlier.clone(), later.clone()]);
    assert_eq!(
        store.get("default", &later.key_pair_id).expect("get"),
        Some(later.clone())
    );
    assert_eq!(store.get("team-b", &later.key_pair_id).expect("get"), None);
    assert_eq!(store.count("default").expect("count"), 2);
    assert_eq!(store.count("nobody").expect("count"), 0);
    assert_eq!(
        store.tenants().expect("tenants"),
        vec![
            TenantCount {
                tenant: "default".into(),
                key_pair_count: 2
            },
            TenantCount {
                tenant: "team-b".into(),
                key_pair_count: 1
            },
        ]
    );

    // Rename frees the old name and takes the new one.
    store
        .rename("default", &later.key_pair_id, "renamed")
        .expect("rename");
    let renamed = store
        .get("default", &later.key_pair_id)
        .expect("get")
        .expect("present");
    assert_eq!(renamed.key_pair_name, "renamed");
    assert_eq!(renamed.public_key_line, later.public_key_line);
    store
        .insert(&record("default", "later", 21), KEY_PAIR_QUOTA)
        .expect("old name is free");
    store
        .rename("default", &later.key_pair_id, "renamed")
        .expect("same name is no change");

    // Delete several at once.
    let all = ids(&store.list("default").expect("list"));
    assert_eq!(all.len(), 3);
    store.delete("default", &all).expect("delete");
    assert_eq!(store.list("default").expect("list"), vec![]);
    assert_eq!(store.count("default").expect("count"), 0);
    assert_eq!(
        store.tenants().expect("tenants"),
        vec![TenantCount {
            tenant: "team-b".into(),
            key_pair_count: 1
        }]
    );

    // Deleting frees the name and the key for reuse.
    store
        .insert(&record("default", "later", 20), KEY_PAIR_QUOTA)
        .expect("reinsert");
}

#[test]
fn list_breaks_ties_on_key_pair_id() {
    let (_dir, store) = new_store();
    let mut same_time: Vec<KeyPairRecord> = (0..5)
        .map(|i| record("default", &format!("k{i}"), i))
        .collect();
    for r in &mut same_time {
        r.created = base_time();
        store.insert(r, KEY_PAIR_QUOTA).expect("insert");
    }

    let mut expected = ids(&same_time);
    expected.sort();
    assert_eq!(ids(&store.list("default").expect("list")), expected);
}

#[test]
fn a_tenant_does_not_see_another() {
    let (_dir, store) = new_store();
    // "ab" is a prefix of "abc": the separator keeps their keys apart.
    store
        .insert(&record("ab", "one", 1), KEY_PAIR_QUOTA)
        .expect("insert");
    store
        .insert(&record("abc", "two", 2), KEY_PAIR_QUOTA)
        .expect("insert");

    assert_eq!(store.list("ab").expect("list").len(), 1);
    assert_eq!(store.list("abc").expect("list").len(), 1);
    assert_eq!(store.list("a").expect("list"), vec![]);
}

#[test]
fn duplicate_names_and_keys_are_refused_with_the_existing_id() {
    let (_dir, store) = new_store();
    let first = record("default", "phone", 1);
    store.insert(&first, KEY_PAIR_QUOTA).expect("insert");

    let same_name = record("default", "phone", 2);
    match store.insert(&same_name, KEY_PAIR_QUOTA) {
        Err(StoreError::DuplicateName {
            name, existing_id, ..
        }) => {
            assert_eq!(name, "phone");
            assert_eq!(existing_id, first.key_pair_id);
        }
        other => panic!("expected DuplicateName, got {other:?}"),
    }

    // Names are case-sensitive.
    store
        .insert(&record("default", "Phone", 3), KEY_PAIR_QUOTA)
        .expect("other case");

    // The same key with another comment is the same key: identity is the key bytes.
    let mut same_key = record("default", "phone2", 1);
    same_key.public_key_line = format!("{} other@comment", BASE64.encode(blob(1)));
    match store.insert(&same_key, KEY_PAIR_QUOTA) {
        Err(StoreError::DuplicateKey { existing_id, .. }) => {
            assert_eq!(existing_id, first.key_pair_id);
        }
        other => panic!("expected DuplicateKey, got {other:?}"),
    }

    // Another tenant may hold the same name and key.
    store
        .insert(&record("other", "phone", 1), KEY_PAIR_QUOTA)
        .expect("other tenant");

    // Renaming onto a taken name is refused and changes nothing.
    let phone_upper = store.list("default").expect("list")[1].clone();
    match store.rename("default", &phone_upper.key_pair_id, "phone") {
        Err(StoreError::DuplicateName { existing_id, .. }) => {
            assert_eq!(existing_id, first.key_pair_id);
        }
        other => panic!("expected DuplicateName, got {other:?}"),
    }
    let unchanged = store.get("default", &phone_upper.key_pair_id).expect("get");
    assert_eq!(unchanged.expect("present").key_pair_name, "Phone");

    // Refusals left the counter alone.
    assert_eq!(store.count("default").expect("count"), 2);
}

#[test]
fn rename_of_an_unknown_id_is_not_found() {
    let (_dir, store) = new_store();
    assert!(matches!(
        store.rename("default", "kp-doesnotexist0000", "name"),
        Err(StoreError::NotFound { .. })
    ));
}

#[test]
fn find_by_public_key_uses_the_decoded_structure() {
    let (_dir, store) = new_store();
    let mine = record("default", "mine", 7);
    let theirs = record("team-b", "theirs", 7);
    store.insert(&mine, KEY_PAIR_QUOTA).expect("insert");
    store.insert(&theirs, KEY_PAIR_QUOTA).expect("insert");
    store
        .insert(&record("default", "unrelated", 8), KEY_PAIR_QUOTA)
        .expect("insert");

    let found = store
        .find_by_public_key(Some("default"), &blob(7))
        .expect("find");
    assert_eq!(found, vec![mine.clone()]);
    assert_eq!(
        store
            .find_by_public_key(Some("nobody"), &blob(7))
            .expect("find"),
        vec![]
    );
    assert_eq!(
        store.find_by_public_key(None, &blob(7)).expect("find"),
        vec![mine, theirs]
    );
    assert_eq!(
        store.find_by_public_key(None, &blob(9)).expect("find"),
        vec![]
    );
}

#[test]
fn a_record_without_base64_is_refused() {
    let (_dir, store) = new_store();
    let mut bad = record("default", "bad", 1);
    bad.public_key_line = "not*base64 comment".to_string();
    assert!(
        matches!(
            store.insert(&bad, KEY_PAIR_QUOTA),
            Err(StoreError::InvalidRecord { .. })
        ),
        "a line without base64 must be refused"
    );
    assert_eq!(store.count("default").expect("count"), 0);
}

#[test]
fn delete_is_all_or_nothing() {
    let (_dir, store) = new_store();
    let kept = insert_numbered(&store, 0..3);

    let mut request = ids(&kept);
    request.insert(1, "kp-doesnotexist0000".to_string());
    match store.delete("default", &request) {
        Err(StoreError::NotFound {
            key_pair_id,
            tenant,
        }) => {
            assert_eq!(key_pair_id, "kp-doesnotexist0000");
            assert_eq!(tenant, "default");
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
    assert_eq!(store.list("default").expect("list"), kept);
    assert_eq!(store.count("default").expect("count"), 3);

    // An ID of another tenant is unknown here.
    let elsewhere = record("other", "x1", 99);
    store.insert(&elsewhere, KEY_PAIR_QUOTA).expect("insert");
    assert!(matches!(
        store.delete("default", std::slice::from_ref(&elsewhere.key_pair_id)),
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(store.count("other").expect("count"), 1);

    // An ID named twice is deleted once, and the counter stays right.
    let twice = vec![kept[0].key_pair_id.clone(), kept[0].key_pair_id.clone()];
    store.delete("default", &twice).expect("delete");
    assert_eq!(store.count("default").expect("count"), 2);
    assert_eq!(store.list("default").expect("list"), kept[1..].to_vec());
}

#[test]
fn the_501st_insert_is_refused() {
    let (_dir, store) = new_store();
    let mut refused = 0;
    for seed in 0..=KEY_PAIR_QUOTA as u32 {
        match store.insert(
            &record("default", &format!("k{seed}"), seed),
            KEY_PAIR_QUOTA,
        ) {
            Ok(()) => {}
            Err(StoreError::QuotaExceeded { tenant, limit }) => {
                assert_eq!((tenant.as_str(), limit), ("default", 500));
                refused += 1;
            }
            Err(other) => panic!("unexpected error: {other}"),
        }
    }
    assert_eq!(refused, 1);
    assert_eq!(store.list("default").expect("list").len(), 500);
    assert_eq!(store.count("default").expect("count"), 500);

    // Another tenant has its own quota; a deletion makes room again.
    store
        .insert(&record("other", "k0", 0), KEY_PAIR_QUOTA)
        .expect("other tenant");
    let first = store.list("default").expect("list")[0].key_pair_id.clone();
    store.delete("default", &[first]).expect("delete");
    store
        .insert(&record("default", "again", 9999), KEY_PAIR_QUOTA)
        .expect("room again");
    assert_eq!(store.count("default").expect("count"), 500);
}

#[test]
fn records_survive_reopening_as_written() {
    let (_dir, store) = new_store();
    let written = record("default", "durable", 1);
    store.insert(&written, KEY_PAIR_QUOTA).expect("insert");
    store.release();

    let reopened = Store::new(store.path()).expect("the same store");
    assert_eq!(
        reopened.get("default", &written.key_pair_id).expect("get"),
        Some(written)
    );
    assert_eq!(
        reopened.open_count(),
        2,
        "the database was not opened again"
    );
}

/// Runs `work` on eight threads at once, each given a handle on `store` and its worker number
/// (0 to 7); gives their results in worker order.
fn on_eight_threads<T: Send + 'static>(store: &Store, work: fn(&Store, u32) -> T) -> Vec<T> {
    let threads: Vec<_> = (0..8u32)
        .map(|worker| {
            let store = store.clone();
            thread::spawn(move || work(&store, worker))
        })
        .collect();
    threads
        .into_iter()
        .map(|t| t.join().expect("a worker"))
        .collect()
}

#[test]
fn concurrent_inserts_stop_at_the_quota() {
    let (_dir, store) = new_store();

    let outcomes = on_eight_threads(&store, |store, worker| {
        let mut outcomes = (0, 0);
        for n in 0..70u32 {
            let seed = worker * 1000 + n;
            match store.insert(&record("default", &format!("w{worker}n{n}"), seed), 500) {
                Ok(()) => outcomes.0 += 1,
                Err(StoreError::QuotaExceeded { .. }) => outcomes.1 += 1,
                Err(other) => panic!("unexpected error: {other}"),
            }
        }
        outcomes
    });

    let (stored, refused) = outcomes
        .into_iter()
        .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    assert_eq!((stored, refused), (500, 8 * 70 - 500));
    assert_eq!(store.count("default").expect("count"), 500);
    assert_eq!(store.list("default").expect("list").len(), 500);
}

#[test]
fn concurrent_inserts_of_one_name_have_one_winner() {
    let (_dir, store) = new_store();

    let results = on_eight_threads(&store, |store, worker| {
        store.insert(&record("default", "contested", worker), 500)
    });
    let winners = results.iter().filter(|r| r.is_ok()).count();
    let duplicates = results
        .iter()
        .filter(|r| matches!(r, Err(StoreError::DuplicateName { .. })))
        .count();
    assert_eq!((winners, duplicates), (1, 7), "{results:?}");
    assert_eq!(store.count("default").expect("count"), 1);
}

#[test]
fn one_hundred_rapid_close_and_reopen_cycles() {
    let (_dir, store) = new_store();
    let mut written = HashSet::new();
    for cycle in 0..100u32 {
        if cycle % 2 == 0 {
            let r = record("default", &format!("c{cycle}"), cycle);
            store
                .insert(&r, KEY_PAIR_QUOTA)
                .expect("a write after a close");
            written.insert(r.key_pair_id);
        } else {
            let listed = store.list("default").expect("a read after a close");
            assert_eq!(listed.len(), written.len());
        }
        store.release();
    }
    assert_eq!(store.open_count(), 100);
    let listed: HashSet<String> = ids(&store.list("default").expect("list"))
        .into_iter()
        .collect();
    assert_eq!(listed, written);
}

// ---------------------------------------------------------------------------------------------
// Other processes: the test binary runs itself as a child (see `child_process_entry`).

/// Not a test: what a child process started by the tests below does, chosen by its
/// [`ChildRequest`]. Run without one, it does nothing.
#[test]
#[ignore = "run only as a child process of the tests in this file"]
fn child_process_entry() {
    let Some(ChildRequest { role, dir, arg }) = ChildRequest::of_this_process() else {
        return;
    };

    match role.as_str() {
        // Holds the store open, as another adbkeys process in the middle of an operation would,
        // for `arg` milliseconds.
        "hold" => {
            let db = sled::Config::new()
                .path(&dir)
                .flush_every_ms(None)
                .open()
                .expect("the child opens the store");
            println!("HELD");
            thread::sleep(std::time::Duration::from_millis(
                arg.parse().expect("milliseconds"),
            ));
            drop(db);
        }
        // Holds the store's own lock file, as another adbkeys process does from before it opens
        // sled until after it has closed it, for `arg` milliseconds.
        "hold-lock-file" => {
            let lock = std::fs::File::create(dir.join("adbkeys.lock")).expect("the lock file");
            lock.lock().expect("the child takes the lock");
            println!("HELD");
            thread::sleep(std::time::Duration::from_millis(
                arg.parse().expect("milliseconds"),
            ));
            drop(lock);
        }
        // Inserts records; `arg` is `worker,count,name` (an empty name: one per record).
        "insert" => {
            let parts: Vec<&str> = arg.split(',').collect();
            let worker: u32 = parts[0].parse().expect("a worker number");
            let count: u32 = parts[1].parse().expect("a count");
            let store = Store::new(&dir).expect("the store");
            let (mut stored, mut quota, mut duplicate) = (0, 0, 0);
            for n in 0..count {
                let name = if parts[2].is_empty() {
                    format!("w{worker}n{n}")
                } else {
                    parts[2].into()
                };
                match store.insert(&record("default", &name, worker * 1000 + n), KEY_PAIR_QUOTA) {
                    Ok(()) => stored += 1,
                    Err(StoreError::QuotaExceeded { .. }) => quota += 1,
                    Err(StoreError::DuplicateName { .. }) => duplicate += 1,
                    Err(other) => panic!("unexpected error in worker {worker}: {other}"),
                }
            }
            println!("RESULT {stored} {quota} {duplicate}");
        }
        // Alternates `arg` writes and reads, as a busy console would.
        "cycles" => {
            let cycles: u32 = arg.parse().expect("a number of cycles");
            let store = Store::new(&dir).expect("the store");
            let worker = std::process::id();
            for cycle in 0..cycles {
                if cycle % 2 == 0 {
                    let seed = worker.wrapping_mul(1000) + cycle;
                    let r = record("default", &format!("p{worker}c{cycle}"), seed);
                    store.insert(&r, KEY_PAIR_QUOTA).expect("a write");
                } else {
                    store.list("default").expect("a read");
                }
            }
            println!("RESULT done");
        }
        // Opens sled itself, bypassing adbkeys' lock files and turnstile, retrying for up to
        // `arg` milliseconds: it gets in only once the store's holder has closed it.
        "open-directly" => {
            let patience = std::time::Duration::from_millis(arg.parse().expect("milliseconds"));
            let started = Instant::now();
            loop {
                match sled::Config::new().path(&dir).flush_every_ms(None).open() {
                    Ok(db) => {
                        println!("OPENED {}", started.elapsed().as_millis());
                        drop(db);
                        break;
                    }
                    Err(error) if started.elapsed() < patience => {
                        let _ = error;
                        thread::sleep(std::time::Duration::from_millis(2));
                    }
                    Err(error) => panic!("the store stayed held for {patience:?}: {error}"),
                }
            }
        }
        // Lists through the store, printing how long it took.
        "list" => {
            let store = Store::new(&dir).expect("the store");
            let started = Instant::now();
            let listed = store.list("default").expect("the list");
            println!("LISTED {} {}", listed.len(), started.elapsed().as_millis());
        }
        // `arg` is `bursts,operations`: bursts of back-to-back operations (an insert into the
        // process's own tenant, a list, a count, in turn) with pauses of 0-30 ms between them.
        "bursts" => {
            let parts: Vec<u32> = arg
                .split(',')
                .map(|part| part.parse().expect("a number"))
                .collect();
            let store = Store::new(&dir).expect("the store");
            let worker = std::process::id();
            let tenant = format!("p{worker}");
            let mut inserted = 0;
            for burst in 0..parts[0] {
                for operation in 0..parts[1] {
                    match operation % 3 {
                        0 => {
                            let seed = worker.wrapping_mul(10_000) + burst * 1000 + operation;
                            let r = record(&tenant, &format!("b{burst}o{operation}"), seed);
                            store.insert(&r, KEY_PAIR_QUOTA).expect("a write");
                            inserted += 1;
                        }
                        1 => {
                            store.list(&tenant).expect("a read");
                        }
                        _ => assert_eq!(store.count(&tenant).expect("a count"), inserted),
                    }
                }
                thread::sleep(std::time::Duration::from_millis(u64::from(
                    (worker + burst * 7) % 31,
                )));
            }
            println!("RESULT {tenant} {inserted} {}", store.open_count());
        }
        other => panic!("unknown child role '{other}'"),
    }
}

fn run_children(store: &Store, role: &str, args: &[String]) -> Vec<String> {
    let mut children: Vec<ChildProcess> = args
        .iter()
        .map(|arg| ChildProcess::spawn(role, store.path(), arg))
        .collect();
    let results: Vec<String> = children.iter_mut().map(|c| c.wait_for("RESULT")).collect();
    for child in children {
        assert!(child.succeeded(), "a child process failed");
    }
    results
}

fn sum_results(results: &[String]) -> (u32, u32, u32) {
    results.iter().fold((0, 0, 0), |total, line| {
        let n: Vec<u32> = line
            .split(' ')
            .map(|v| v.parse().expect("a number"))
            .collect();
        (total.0 + n[0], total.1 + n[1], total.2 + n[2])
    })
}

#[test]
fn eight_processes_racing_past_the_quota_store_exactly_500() {
    let (_dir, store) = new_store();
    let args: Vec<String> = (0..8).map(|worker| format!("{worker},70,")).collect();

    let (stored, refused, duplicate) = sum_results(&run_children(&store, "insert", &args));
    assert_eq!((stored, refused, duplicate), (500, 8 * 70 - 500, 0));
    assert_eq!(store.count("default").expect("count"), 500);
    assert_eq!(store.list("default").expect("list").len(), 500);
}

#[test]
fn eight_processes_inserting_one_name_have_one_winner() {
    let (_dir, store) = new_store();
    let args: Vec<String> = (0..8)
        .map(|worker| format!("{worker},1,contested"))
        .collect();

    let (stored, refused, duplicate) = sum_results(&run_children(&store, "insert", &args));
    assert_eq!((stored, refused, duplicate), (1, 0, 7));
    assert_eq!(store.count("default").expect("count"), 1);
}

/// sled reads its `conf` file before it takes its lock, so processes that all open a new store
/// at once once read each other's half-written `conf` and failed with "corrupt data".
#[test]
fn eight_processes_opening_a_new_store_at_once_see_no_error() {
    for round in 0..15 {
        let (_dir, store) = new_store();
        let args: Vec<String> = (0..8).map(|worker| format!("{worker},1,")).collect();

        let (stored, refused, duplicate) = sum_results(&run_children(&store, "insert", &args));
        assert_eq!((stored, refused, duplicate), (8, 0, 0), "round {round}");
    }
}

#[test]
fn two_processes_cycling_open_and_close_see_no_error() {
    let (_dir, store) = new_store();
    let args = vec!["100".to_string(), "100".to_string()];

    run_children(&store, "cycles", &args);
    assert_eq!(store.count("default").expect("count"), 100);
}

#[test]
fn a_store_held_by_another_process_is_busy_after_5_seconds() {
    let (_dir, store) = new_store();
    store
        .insert(&record("default", "kept", 1), KEY_PAIR_QUOTA)
        .expect("insert");
    store.release();
    let mut holder = ChildProcess::spawn("hold", store.path(), "9000");
    holder.wait_for("HELD");

    let started = Instant::now();
    let result = store.list("default");
    let waited = started.elapsed();

    match result {
        Err(error @ StoreError::Busy { .. }) => {
            let message = error.to_string();
            assert!(
                message.contains(&store.path().display().to_string()),
                "{message}"
            );
        }
        other => panic!("expected Busy, got {other:?}"),
    }
    // The holder keeps the lock for 9 s, so only the 5 s limit can have ended the wait.
    assert!(
        waited >= StdDuration::from_secs(5),
        "gave up after {waited:?}"
    );
    assert!(
        waited < StdDuration::from_secs(9),
        "gave up after {waited:?}"
    );

    // Once the holder is gone the store works again, with nothing lost.
    drop(holder);
    assert_eq!(store.list("default").expect("list").len(), 1);
}

/// Has a child process in `role` (`hold` or `hold-lock-file`) hold the store for a second, then
/// inserts a record: checks that the insert waited for the holder (`what` it holds names it in
/// the failure) and then stored the record. Gives the holder, to be checked or dropped.
#[track_caller]
fn insert_waiting_for_a_holder(store: &Store, role: &str, what: &str) -> ChildProcess {
    let mut holder = ChildProcess::spawn(role, store.path(), "1000");
    holder.wait_for("HELD");

    let started = Instant::now();
    let written = record("default", "patient", 1);
    store
        .insert(&written, KEY_PAIR_QUOTA)
        .expect("the insert waits, then succeeds");

    assert!(
        started.elapsed() >= StdDuration::from_millis(500),
        "it did not wait for {what}"
    );
    assert_eq!(
        store.get("default", &written.key_pair_id).expect("get"),
        Some(written)
    );
    holder
}

/// Another process is inside its turn (possibly still in sled's unlocked start-up) as long as it
/// holds the lock file: nobody may touch sled meanwhile.
#[test]
fn the_store_lock_file_is_waited_for() {
    let (_dir, store) = new_store();
    insert_waiting_for_a_holder(&store, "hold-lock-file", "the lock file");
}

#[test]
fn a_lock_released_after_a_second_is_waited_for() {
    let (_dir, store) = new_store();
    let holder = insert_waiting_for_a_holder(&store, "hold", "the open store");
    assert!(holder.succeeded(), "the holder failed");
}

// ---------------------------------------------------------------------------------------------
// Holding the store open while the process is busy.

#[test]
fn a_burst_of_operations_opens_the_store_once() {
    let (_dir, store) = new_store();
    assert_eq!(store.open_count(), 0);

    for seed in 0..60u32 {
        let r = record("default", &format!("k{seed}"), seed);
        store.insert(&r, KEY_PAIR_QUOTA).expect("insert");
        assert_eq!(store.list("default").expect("list").len() as u32, seed + 1);
        assert_eq!(store.get("default", &r.key_pair_id).expect("get"), Some(r));
    }
    // A refusal leaves the store held too.
    assert!(matches!(
        store.insert(&record("default", "k0", 999), KEY_PAIR_QUOTA),
        Err(StoreError::DuplicateName { .. })
    ));
    // Another handle on the same directory shares what this one holds.
    let other = Store::new(store.path()).expect("a second handle");
    assert_eq!(other.count("default").expect("count"), 60);

    assert_eq!(
        store.open_count(),
        1,
        "the burst opened the store more than once"
    );
    assert_eq!(other.open_count(), 1);
}

#[test]
fn after_50_ms_idle_another_process_can_open_the_store() {
    let (_dir, store) = new_store();
    let written = record("default", "held", 1);
    store.insert(&written, KEY_PAIR_QUOTA).expect("insert");

    // The child opens sled itself, past the lock files and the turnstile, so only the idle
    // release can let it in; it gives up after a second.
    let mut child = ChildProcess::spawn("open-directly", store.path(), "1000");
    let waited = child.wait_for("OPENED");
    assert!(child.succeeded(), "the child could not open the store");
    println!("the child opened the store after {waited} ms");

    // This process opens it again for its next operation, and nothing was lost.
    assert_eq!(
        store.get("default", &written.key_pair_id).expect("get"),
        Some(written)
    );
    assert_eq!(store.open_count(), 2);
}

#[test]
fn a_waiting_process_gets_its_turn_from_a_store_kept_open() {
    let (_dir, store) = new_store();
    store
        .insert(&record("default", "kept", 1), KEY_PAIR_QUOTA)
        .expect("insert");
    // Kept open without limit of time, as during a slow key generation: only the waiting
    // process's turnstile can make this process release it.
    let guard = store.keep_open();
    store.count("default").expect("count");

    let mut child = ChildProcess::spawn("list", store.path(), "");
    let listed = child.wait_for("LISTED");
    assert!(child.succeeded(), "the child failed");
    let (count, waited) = listed.split_once(' ').expect("a count and a time");
    assert_eq!(count, "1");
    let waited: u64 = waited.parse().expect("milliseconds");
    assert!(waited < 1000, "the child waited {waited} ms for its turn");

    // The store is this process's again at its next operation.
    assert_eq!(store.count("default").expect("count"), 1);
    assert_eq!(store.open_count(), 2);
    drop(guard);
}

#[test]
fn another_thread_of_the_process_uses_the_held_store() {
    let (_dir, store) = new_store();
    let guard = store.keep_open();
    store.count("default").expect("count");

    let other = store.clone();
    let inserted = thread::spawn(move || {
        other
            .insert(&record("default", "from-a-thread", 1), KEY_PAIR_QUOTA)
            .map(|()| other.open_count())
    })
    .join()
    .expect("the thread");
    assert_eq!(inserted.expect("insert"), 1);
    drop(guard);
}

#[test]
fn a_store_kept_open_survives_idleness_and_closes_after_it() {
    let (_dir, store) = new_store();
    let guard = store.keep_open();
    store.count("default").expect("count");
    thread::sleep(StdDuration::from_millis(300));
    store.count("default").expect("count");
    assert_eq!(
        store.open_count(),
        1,
        "the store was closed while kept open"
    );

    // Without the guard, 50 ms of idleness close it: 300 ms leave the closer ample time.
    drop(guard);
    thread::sleep(StdDuration::from_millis(300));
    store.count("default").expect("count");
    assert_eq!(store.open_count(), 2, "the store stayed open while idle");
}

/// A creation checks the store while its key is generated and inserts once the key is ready,
/// however long that takes: one open for the whole creation.
#[test]
fn a_creation_through_the_service_opens_the_store_once() {
    use adbkeys::error::ErrorCode;
    use adbkeys::service::{CreateKeyPairRequest, KeyPairService};

    let (_dir, store) = new_store();
    let service = KeyPairService::new(store.clone());
    let request = CreateKeyPairRequest {
        tenant: "default".to_string(),
        key_pair_name: "phone".to_string(),
    };

    let created = service.create_key_pair(&request).expect("a creation");
    assert_eq!(
        store.open_count(),
        1,
        "the creation opened the store more than once"
    );
    let stored = store
        .get("default", &created.key_pair_id)
        .expect("get")
        .expect("the created key pair is stored");
    assert_eq!(stored.public_key_line, created.public_key_line);

    // The same name again fails in the check, before a key is used.
    let refused = service
        .create_key_pair(&request)
        .err()
        .expect("a duplicate name is refused");
    assert_eq!(refused.code, ErrorCode::DuplicateKeyPairName);
    assert!(
        refused.message.contains(&created.key_pair_id),
        "{}",
        refused.message
    );
    assert_eq!(store.count("default").expect("count"), 1);
}

#[test]
fn two_processes_alternating_bursts_never_get_busy() {
    let (_dir, store) = new_store();
    let args = vec!["12,30".to_string(), "12,30".to_string()];

    let results = run_children(&store, "bursts", &args);
    for result in &results {
        let fields: Vec<&str> = result.split(' ').collect();
        let inserted: usize = fields[1].parse().expect("a count");
        assert_eq!(inserted, 12 * 10);
        assert_eq!(store.count(fields[0]).expect("count"), inserted);
        println!("{} made 360 operations with {} opens", fields[0], fields[2]);
    }
    assert_eq!(
        store.check_consistency().expect("a check").problems,
        Vec::<String>::new()
    );
}

// ---------------------------------------------------------------------------------------------
// Damaged stores: an error naming the path, never a panic, never an empty list.

fn store_with_records(count: u32) -> (TempDir, Store) {
    let (dir, store) = new_store();
    insert_numbered(&store, 0..count);
    (dir, store)
}

/// [`store_with_records`], then opened once more and released, as a store is between sessions:
/// sled writes a snapshot of where its log ends at each open, and that is what lets it tell a
/// damaged log from a short one. Records written since the last open are not covered by it
/// (docs/architecture.md, "Held while busy").
fn reopened_store_with_records(count: u32) -> (TempDir, Store) {
    let (dir, store) = store_with_records(count);
    store.release();
    assert_eq!(store.count("default").expect("count"), count as usize);
    store.release();
    (dir, store)
}

/// Checks that reading and writing `store` both fail with an error of the expected kind whose
/// message names the store's path.
fn assert_fails_naming_path(store: &Store, expected: fn(&StoreError) -> bool) {
    let path = store.path().display().to_string();
    let read = store
        .list("default")
        .expect_err("a damaged store cannot be listed");
    let write = store
        .insert(&record("default", "new", 9999), KEY_PAIR_QUOTA)
        .expect_err("nor written");
    for error in [read, write] {
        assert!(expected(&error), "unexpected kind of error: {error:?}");
        assert!(
            error.to_string().contains(&path),
            "'{error}' does not name '{path}'"
        );
    }
}

#[test]
fn a_file_where_the_directory_should_be_is_an_error_naming_it() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("store");
    std::fs::write(&path, b"not a directory").expect("a file");
    match Store::new(&path) {
        Err(error @ StoreError::Io { .. }) => {
            assert_eq!(
                error.to_string(),
                format!("store '{}': not a directory", path.display())
            );
        }
        other => panic!("expected Io, got {other:?}"),
    }

    // Replaced after the handle was made: the operations say so rather than start afresh.
    let (_dir, store) = store_with_records(3);
    std::fs::remove_dir_all(store.path()).expect("remove the store");
    std::fs::write(store.path(), b"not a directory").expect("a file");
    assert_fails_naming_path(&store, |e| matches!(e, StoreError::Io { .. }));
}

#[test]
fn a_read_only_store_directory_is_an_error_naming_it() {
    use std::os::unix::fs::PermissionsExt;

    let (_dir, store) = store_with_records(3);
    store.release();
    let set_mode = |mode| {
        std::fs::set_permissions(store.path(), std::fs::Permissions::from_mode(mode))
            .expect("chmod the store");
    };
    set_mode(0o500);

    // Root ignores mode bits (these tests usually run as root in CI), so there the directory is
    // made immutable with chattr instead, which binds root too.
    let probe = store.path().join("probe");
    let root_bypasses_modes = std::fs::write(&probe, b"").is_ok();
    let mut immutable = false;
    if root_bypasses_modes {
        std::fs::remove_file(&probe).expect("remove the probe");
        set_mode(0o700);
        let chattr = Command::new("chattr").arg("+i").arg(store.path()).status();
        assert!(
            matches!(chattr, Ok(status) if status.success()),
            "running as root, this test needs 'chattr +i' (e2fsprogs, CAP_LINUX_IMMUTABLE and \
             a file system that supports it) to make a directory read-only: {chattr:?}"
        );
        immutable = true;
    }

    let outcome = std::panic::catch_unwind(|| {
        assert_fails_naming_path(&store, |e| matches!(e, StoreError::Io { .. }));
    });

    // Made writable again, so that the temp dir can be removed, and the records are intact.
    if immutable {
        let _ = Command::new("chattr").arg("-i").arg(store.path()).status();
    }
    set_mode(0o700);
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
    assert_eq!(store.list("default").expect("list").len(), 3);
}

/// The names of the store's sled snapshot files, sorted.
fn snapshot_files(store: &Store) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(store.path())
        .expect("the store directory")
        .map(|entry| {
            entry
                .expect("a directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.starts_with("snap."))
        .collect();
    names.sort();
    names
}

#[test]
fn a_snapshot_cut_short_by_a_kill_is_set_aside_and_nothing_is_lost() {
    // sled writes a snapshot at each open as snap.LSN.generating and renames it to snap.LSN
    // once synced; a process killed in between leaves the first, empty or cut short, and sled
    // 0.34.7 alone then refuses every later open as corrupt (sled issue 1527).
    for cut_at in [0, 100] {
        let (_dir, store) = reopened_store_with_records(50);
        // Three more after the last snapshot.
        insert_numbered(&store, 50..53);
        store.release();

        let complete = snapshot_files(&store);
        assert_eq!(complete.len(), 1, "one complete snapshot: {complete:?}");
        let lsn = u64::from_str_radix(&complete[0]["snap.".len()..], 16).expect("a hex LSN");
        let snapshot = std::fs::read(store.path().join(&complete[0])).expect("the snapshot");
        assert!(
            snapshot.len() > cut_at,
            "the snapshot is longer than the cut"
        );
        let interrupted = format!("snap.{:016X}.generating", lsn + 1);
        std::fs::write(store.path().join(&interrupted), &snapshot[..cut_at])
            .expect("write an interrupted snapshot");

        assert_eq!(
            store.list("default").expect("list").len(),
            53,
            "cut at {cut_at}"
        );
        assert!(
            !snapshot_files(&store).contains(&interrupted),
            "the interrupted snapshot is still there: {:?}",
            snapshot_files(&store)
        );
        store.release();
        assert_eq!(store.count("default").expect("count"), 53);
    }
}

/// Rewrites the store's database file with `damage` done to its bytes, behind the store's back.
fn damage_db_file(store: &Store, damage: impl FnOnce(&mut [u8])) {
    let db_file = store.path().join("db");
    let mut bytes = std::fs::read(&db_file).expect("the db file");
    damage(&mut bytes);
    std::fs::write(&db_file, &bytes).expect("damage the db file");
}

#[test]
fn a_zeroed_database_file_is_corrupt_not_empty() {
    let (_dir, store) = reopened_store_with_records(50);
    damage_db_file(&store, |bytes| bytes[..4096].fill(0));

    assert_fails_naming_path(&store, |e| matches!(e, StoreError::Corrupt { .. }));
}

#[test]
fn flipped_bytes_in_the_log_are_corrupt_not_empty() {
    let (_dir, store) = reopened_store_with_records(50);
    damage_db_file(&store, |bytes| {
        for byte in &mut bytes[100..2000] {
            *byte ^= 0xA5;
        }
    });

    assert_fails_naming_path(&store, |e| matches!(e, StoreError::Corrupt { .. }));
}

#[test]
fn a_truncated_database_file_is_corrupt_not_empty() {
    let (_dir, store) = reopened_store_with_records(50);
    let db_file = std::fs::OpenOptions::new()
        .write(true)
        .open(store.path().join("db"))
        .expect("the db file");
    db_file.set_len(0).expect("truncate the db file");

    assert_fails_naming_path(&store, |e| matches!(e, StoreError::Corrupt { .. }));
}

/// Releases `store` and writes `value` under `key` in its sled tree `tree` directly, behind the
/// store's back, as a bug or a stray tool might.
fn write_behind_the_stores_back(store: &Store, tree: &str, key: &[u8], value: &[u8]) {
    store.release();
    let db = sled::open(store.path()).expect("open directly");
    db.open_tree(tree)
        .expect("the tree")
        .insert(key, value)
        .expect("damage the tree");
    db.flush().expect("flush");
}

#[test]
fn an_unreadable_record_or_counter_is_corrupt_and_named() {
    let (_dir, store) = store_with_records(2);
    let victim = store.list("default").expect("list")[0].key_pair_id.clone();

    write_behind_the_stores_back(
        &store,
        "records",
        format!("default\0{victim}").as_bytes(),
        b"{not json",
    );

    let path = store.path().display().to_string();
    match store.list("default") {
        Err(error @ StoreError::Corrupt { .. }) => {
            let message = error.to_string();
            assert!(
                message.contains(&path) && message.contains(&victim),
                "{message}"
            );
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    assert!(matches!(
        store.get("default", &victim),
        Err(StoreError::Corrupt { .. })
    ));
    assert!(matches!(
        store.delete("default", &[victim]),
        Err(StoreError::Corrupt { .. })
    ));

    write_behind_the_stores_back(&store, "counts", b"default", b"\x01\x02");
    assert!(matches!(
        store.count("default"),
        Err(StoreError::Corrupt { .. })
    ));
    assert!(matches!(store.tenants(), Err(StoreError::Corrupt { .. })));
    assert!(matches!(
        store.insert(&record("default", "new", 77), KEY_PAIR_QUOTA),
        Err(StoreError::Corrupt { .. })
    ));
}

/// Prints what one open-operate-close costs at 1,000 records (500 in each of two tenants).
/// Figures, not a pass/fail check: run with `cargo test --release --test store -- --ignored
/// --nocapture open_per_operation`.
#[test]
#[ignore = "a measurement, not a check"]
fn open_per_operation_latency_at_1k_records() {
    let (_dir, store) = new_store();
    for seed in 0..1000u32 {
        let tenant = if seed % 2 == 0 { "even" } else { "odd" };
        store
            .insert(&record(tenant, &format!("k{seed}"), seed), KEY_PAIR_QUOTA)
            .expect("insert");
    }

    let measure = |label: &str, runs: usize, operation: &dyn Fn()| {
        let mut times: Vec<StdDuration> = (0..runs)
            .map(|_| {
                let started = Instant::now();
                operation();
                started.elapsed()
            })
            .collect();
        times.sort();
        let mean = times.iter().sum::<StdDuration>() / runs as u32;
        println!(
            "{label}: mean {mean:?}, median {:?}, p95 {:?} over {runs} runs",
            times[runs / 2],
            times[runs * 95 / 100]
        );
    };

    let id = store.list("even").expect("list")[0].key_pair_id.clone();
    measure("count (open, one lookup, close)", 200, &|| {
        store.count("even").expect("count");
    });
    measure("get", 200, &|| {
        store.get("even", &id).expect("get");
    });
    measure("list of 500", 100, &|| {
        store.list("even").expect("list");
    });
    let mut seed = 10_000u32;
    let insert_and_delete = || {
        seed += 1;
        let r = record("spare", "k", seed);
        store.insert(&r, KEY_PAIR_QUOTA).expect("insert");
        store.delete("spare", &[r.key_pair_id]).expect("delete");
    };
    let cell = std::cell::RefCell::new(insert_and_delete);
    measure("insert then delete (two flushed writes)", 100, &|| {
        (cell.borrow_mut())()
    });
}
